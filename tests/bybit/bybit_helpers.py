"""Helpers shared by the Bybit client tests."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.paths import BYBIT_EXAMPLES
from whale.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

KEY, SECRET = DEFAULT_API_KEY, DEFAULT_API_SECRET
SYM = "BTCUSDT"


class Capture(logging.Handler):
    """Every record, formatted WITHOUT redaction: what a careless handler would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._seen: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self._seen:  # attached to a logger and its ancestor: one line per record
            return
        self._seen.add(id(record))
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {record.levelname} {text}")

    def text(self) -> str:
        return "\n".join(self.lines)


def wait_for(pred, timeout: float = 5.0, step: float = 0.01):
    """Poll `pred` until it returns something truthy (returned) or the time is up (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


def example_json(name: str):
    """One of the Bybit example payloads in tests/fixtures/bybit."""
    return json.loads((BYBIT_EXAMPLES / name).read_text())


class SilentServer:
    """A loopback listener that accepts connections and never answers (a silent host)."""

    def __init__(self) -> None:
        import threading
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.accepted = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="silent-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.accepted:
            c.close()
        self._sock.close()


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on, for the length of the block: its socket is bound but never
    listens, so a connection is refused, and no other process (a parallel test worker) can take it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
