"""The two markers (registered in pytest.ini; the README's development notes say how to use them).

- `net`: the test starts the simulator, a server, a subprocess or opens an IP socket. A test
  without it that does any of these fails (`net_marker_guard`), so `python -m pytest -m "not net"`
  stays a quick core run that really is free of them.
- `soak`: a long soak run. It is skipped unless asked for: `-m soak` (any -m expression that names
  soak) or the environment variable WHALEBOT_SOAK=1. Plain `python -m pytest` (and so CI) skips it.

tests/conftest.py imports the hook and the fixture so that they apply to every test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Mapping

import pytest

from whale.sim import Simulator

SOAK_ENV = "WHALEBOT_SOAK"


def soak_wanted(markexpr: str, environ: Mapping[str, str]) -> bool:
    """Soak tests run when the -m expression names them or WHALEBOT_SOAK=1."""
    return "soak" in markexpr or environ.get(SOAK_ENV) == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak_wanted(config.getoption("markexpr") or "", os.environ):
        return
    skip = pytest.mark.skip(reason=f"soak test: run it with -m soak or {SOAK_ENV}=1")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def net_marker_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A test not marked `net` may not start the simulator or a subprocess, nor connect or bind an
    IP socket: the attempt fails the test (one in another thread fails it at teardown)."""
    if request.node.get_closest_marker("net") is not None:
        yield
        return
    seen: list[str] = []

    def refuse(what: str) -> None:
        message = (f"{what}, but the test is not marked `net`: add `pytestmark = pytest.mark.net` to the "
                   f"module or `@pytest.mark.net` to the test (tests/markers.py)")
        if threading.current_thread() is not threading.main_thread():
            seen.append(message)  # the failure of another thread would be lost: teardown reports it
        pytest.fail(message, pytrace=False)

    def refusing(what: str):
        def call(*args, **kwargs):
            refuse(what)
        return call

    def ip_only(name: str):
        original = getattr(socket.socket, name)

        def call(sock: socket.socket, address, *args):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                refuse(f"it calls socket.{name}({address!r})")
            return original(sock, address, *args)
        return call

    monkeypatch.setattr(Simulator, "start", refusing("it starts the simulator"))
    monkeypatch.setattr(subprocess.Popen, "__init__", refusing("it starts a subprocess"))
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, ip_only(name))
    yield
    if seen:
        pytest.fail(seen[0], pytrace=False)
