"""Fixtures for the Bybit client tests: simulators on 127.0.0.1 port 0, clients that are always
closed, a log capture without redaction (to prove nothing secret is ever logged), and a check that
every test leaves no thread and no socket behind."""

from __future__ import annotations

import logging

import pytest
from bybit_helpers import KEY, SECRET, SYM, Capture

from whale.bybit.endpoints import custom_endpoints
from whale.bybit.market_state import MarketState
from whale.bybit.rest import BybitRest
from whale.bybit.ws import BybitWebSocketManager


@pytest.fixture(autouse=True)
def _no_leaks(no_leaks):
    """The shared leak check (tests/conftest.py) for every test of this suite."""
    yield


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
