"""Fixtures for the Bybit client tests: simulators on 127.0.0.1 port 0, clients that are always
closed, a log capture without redaction (to prove nothing secret is ever logged), and a check that
every test leaves no thread and no socket behind."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from whale.bybit.endpoints import custom_endpoints
from whale.bybit.market_state import MarketState
from whale.bybit.rest import BybitRest
from whale.bybit.ws import BybitWebSocketManager
from whale.candle_file import load_candle_file
from whale.sim import SimConfig, Simulator
from bybit_helpers import KEY, SECRET, SYM, Capture

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
        gc.collect()
        time.sleep(0.05)
    assert _sockets() <= sockets, "sockets left open"


@pytest.fixture(scope="session")
def candles():
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
def make_rest():
    clients = []

    def make(sim_or_url, key=KEY, secret=SECRET, **kw) -> BybitRest:
        url = sim_or_url if isinstance(sim_or_url, str) else sim_or_url.rest_url
        kw.setdefault("timeout", 5.0)
        client = BybitRest(custom_endpoints(url), key, secret, **kw)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def rest(sim, make_rest) -> BybitRest:
    return make_rest(sim)


@pytest.fixture
def make_ws():
    managers = []

    def make(sim, market: MarketState | None = None, *, keys: bool = True, **kw) -> BybitWebSocketManager:
        market = market or MarketState(SYM)
        kw.setdefault("interval", "1")
        kw.setdefault("book_depth", 50)
        kw.setdefault("stale_after_s", 30.0)
        mgr = BybitWebSocketManager(custom_endpoints(sim.rest_url), market, symbol=SYM,
                                    api_key=KEY if keys else None, api_secret=SECRET if keys else None, **kw)
        managers.append(mgr)
        return mgr

    yield make
    for m in managers:
        assert m.stop(10.0), "WebSocket threads did not stop"


@pytest.fixture
def capture_logs():
    cap = Capture()
    loggers = [logging.getLogger(n) for n in ("whalebot", "pybit", "websocket", "urllib3", "")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(cap)
        lg.setLevel(logging.DEBUG)
    yield cap
    for lg, level in saved:
        lg.removeHandler(cap)
        lg.setLevel(level)
