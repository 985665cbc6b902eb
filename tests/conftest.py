"""Fixtures shared by the simulator and Bybit-client suites: simulators on 127.0.0.1 port 0 that are
always stopped, a leak check (a suite opts in with an autouse fixture that uses `no_leaks`), and the
book recording built once per run. The `net` and `soak` markers are enforced by tests/markers.py; the
modules run longest first (tests/scheduling.py)."""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from markers import net_marker_guard  # noqa: F401 - a fixture for every test
from markers import pytest_collection_modifyitems as skip_soak_unless_asked
from scheduling import longest_first

from tests.book_recording import write_recording
from tests.paths import BUNDLED as DATA
from whale.candle_file import load_candle_file
from whale.sim import SimConfig, Simulator


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_soak_unless_asked(config, items)
    longest_first(items)


def _sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def _whalebot_loggers() -> dict[str, logging.Logger]:
    return {name: logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
            if name == "whalebot" or name.startswith("whalebot.")}


@pytest.fixture(autouse=True)
def no_stray_log_handlers():
    """A command run in process (`main([...])`) sets up the bot's logging with a console handler on its
    test's captured output; pytest closes that stream after the test, and a later simulator thread's log
    line ("whalebot.sim" propagates to "whalebot") then met a closed file ("--- Logging error ---" in the
    output). The bot's loggers are put back as they were after each test (pytest's own handlers live on
    the root logger, which is left alone)."""
    before = {name: (list(lg.handlers), lg.level, lg.propagate) for name, lg in _whalebot_loggers().items()}
    yield
    for name, lg in _whalebot_loggers().items():
        handlers, level, propagate = before.get(name, ([], logging.NOTSET, True))
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


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


@pytest.fixture(scope="session")
def book_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 36-minute book recording of tests/book_recording.py (about 20 s to write), written once per run
    and only read by the tests: under xdist the workers share it (the first writes it, under a lock, into
    the run's common temporary directory), without xdist it is this session's."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, done = shared / "book-recording", shared / "book-recording.done"
    with (shared / "book-recording.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            write_recording(out)
            done.touch()
    return out


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
