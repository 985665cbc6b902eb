"""The throwaway PostgreSQL (tests/optimize/postgres.py), once per session for the tests that ask for it."""

import pytest

from tests.optimize.postgres import missing, skip_or_fail, throwaway_postgres


@pytest.fixture(scope="session")
def postgres_url():
    reason = missing()
    if reason:
        skip_or_fail(reason)
    with throwaway_postgres() as url:
        yield url
