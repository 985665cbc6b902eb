"""Fixtures for the Bybit client tests: simulators on 127.0.0.1 port 0, clients that are always
closed, a log capture without redaction (to prove nothing secret is ever logged), and a check that
every test leaves no thread and no socket behind."""

from __future__ import annotations

import logging

import pytest
from bybit_helpers import KEY, SECRET, SYM, Capture

from whale.bybit.endpoints import custom_endpoints
from whale.bybit.rest import BybitRest
from whale.bybit.ws import BybitWebSocketManager
from whale.market.state import Markets
from whale.venue.protocols import SymbolStreams


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

    def make(sim, markets: Markets | None = None, *, keys: bool = True, interval: str = "1",
             higher_intervals: tuple[str, ...] = (), book_depth: int = 50, **kw) -> BybitWebSocketManager:
        """One symbol's streams (SYM) into `markets` (a fresh one by default)."""
        markets = markets or Markets([SYM])
        kw.setdefault("stale_after_s", 30.0)
        wanted = [SymbolStreams(SYM, (interval, *higher_intervals), book_depth)]
        mgr = BybitWebSocketManager(custom_endpoints(sim.rest_url), markets, wanted,
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
