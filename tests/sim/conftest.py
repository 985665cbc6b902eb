"""Fixtures that start and stop simulators on port 0 and check that nothing leaks."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest
from pybit.unified_trading import HTTP

from whale.candle_file import load_candle_file
from whale.sim import SimConfig, Simulator
from sim_helpers import KEY, SECRET

DATA = Path(__file__).resolve().parents[2] / "data" / "BTCUSDT-PERP_1m.csv.gz"


def _sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


@pytest.fixture(autouse=True)
def no_leaks():
    """Every thread a test starts is gone, and every socket it opened is closed, after it."""
    threads = set(threading.enumerate())
    sockets = _sockets()
    yield
    deadline = time.monotonic() + 5.0
    while True:
        extra = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {extra}"
    while _sockets() > sockets and time.monotonic() < deadline:
        gc.collect()  # exceptions kept by pytest.raises hold frames that hold client responses
        time.sleep(0.05)
    assert _sockets() <= sockets, "sockets left open"


@pytest.fixture(scope="session")
def candles():
    """The first 3000 candles of the bundled file (2 days of 1m BTCUSDT)."""
    return load_candle_file(DATA).candles.slice(0, 3000)


@pytest.fixture
def make_sim(candles):
    sims = []

    def make(**overrides) -> Simulator:
        cfg = dict(data=candles, speed=0, lockstep=True, history_candles=1000, enforce_rate_limits=False)
        cfg.update(overrides)
        sim = Simulator(SimConfig(**cfg)).start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def sim(make_sim) -> Simulator:
    return make_sim()


@pytest.fixture
def make_http():
    sessions = []

    def make(sim: Simulator, **kw) -> HTTP:
        kw.setdefault("api_key", KEY)
        kw.setdefault("api_secret", SECRET)
        session = HTTP(**kw)
        session.endpoint = sim.rest_url
        sessions.append(session)
        return session

    yield make
    for s in sessions:
        s.client.close()


@pytest.fixture
def http(sim, make_http) -> HTTP:
    return make_http(sim)
