"""Fixtures shared by the simulator and Bybit-client suites: simulators on 127.0.0.1 port 0 that are
always stopped, and a leak check (a suite opts in with an autouse fixture that uses `no_leaks`)."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest

from whale.candle_file import load_candle_file
from whale.sim import SimConfig, Simulator

DATA = Path(__file__).resolve().parents[1] / "data" / "BTCUSDT-PERP_1m.csv.gz"


def _sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def pytest_collection_modifyitems(config, items):
    """The long soak (marker `soak`) runs only when asked for: `python -m pytest -m soak`."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="the long soak runs only with -m soak (WHALEBOT_SOAK_S sets its length)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
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
