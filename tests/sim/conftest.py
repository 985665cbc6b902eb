"""Fixtures that start and stop simulators on port 0 and check that nothing leaks."""

from __future__ import annotations

import pytest
from pybit.unified_trading import HTTP
from sim_helpers import KEY, SECRET

from whale.sim import Simulator


@pytest.fixture(autouse=True)
def _no_leaks(no_leaks):
    """The shared leak check (tests/conftest.py) for every test of this suite."""
    yield


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
