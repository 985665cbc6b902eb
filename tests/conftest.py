"""Fixtures shared by the simulator and Bybit-client suites: simulators on 127.0.0.1 port 0 that are
always stopped, and a leak check (a suite opts in with an autouse fixture that uses `no_leaks`).
The `net` and `soak` markers are enforced by tests/markers.py."""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest
from markers import net_marker_guard, pytest_collection_modifyitems  # noqa: F401 - a fixture and a hook for every test

from tests.paths import BUNDLED as DATA
from whale.candle_file import load_candle_file
from whale.sim import SimConfig, Simulator


def _sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


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
