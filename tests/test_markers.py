"""The markers' rules (tests/markers.py), checked on a small test file run by pytester: a test not
marked `net` that starts a subprocess or binds a socket fails, even from a thread that swallows the
error; a `net` test may; a `soak` test runs only when asked for."""

from __future__ import annotations

import pytest
from markers import soak_wanted

pytestmark = pytest.mark.net  # the inner `net` test binds a loopback socket in this process

CONFTEST = "from markers import net_marker_guard, pytest_collection_modifyitems  # noqa: F401\n"
INI = "[pytest]\nmarkers =\n    net: network\n    soak: soak\n"
TESTS = '''
import socket
import subprocess
import sys
import threading

import pytest


def test_unmarked_subprocess():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_unmarked_socket_in_a_thread():
    def bind():
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
        except BaseException:
            pass  # swallowed: the teardown still fails the test

    t = threading.Thread(target=bind)
    t.start()
    t.join(5)


def test_unmarked_pure():
    assert sum([1, 2]) == 3


@pytest.mark.net
def test_marked_socket():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))


@pytest.mark.soak
def test_soak():
    pass
'''


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("WHALEBOT_SOAK", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=TESTS)
    return pytester


def test_unmarked_network_fails_and_soak_is_skipped_by_default(inner):
    result = inner.runpytest("-p", "no:cacheprovider", "-rs")
    # the thread's test passes its call and errors at teardown
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines(["*_ test_unmarked_subprocess _*",
                                 "it starts a subprocess, but the test is not marked `net`: add *"])
    result.stdout.fnmatch_lines(["*_ ERROR at teardown of test_unmarked_socket_in_a_thread _*",
                                 "it calls socket.bind(('127.0.0.1', 0)), but the test is not marked `net`*"])
    result.stdout.fnmatch_lines(["*soak test: run it with -m soak or WHALEBOT_SOAK=1*"])


def test_soak_runs_when_asked_for(inner, monkeypatch):
    inner.runpytest("-p", "no:cacheprovider", "-m", "soak").assert_outcomes(passed=1, deselected=4)
    monkeypatch.setenv("WHALEBOT_SOAK", "1")
    inner.runpytest("-p", "no:cacheprovider", "-k", "soak").assert_outcomes(passed=1, deselected=4)


def test_soak_wanted():
    assert not soak_wanted("", {}) and not soak_wanted("not net", {"WHALEBOT_SOAK": "0"})
    assert soak_wanted("soak", {}) and soak_wanted("net and soak", {}) and soak_wanted("", {"WHALEBOT_SOAK": "1"})
