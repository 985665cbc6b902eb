"""One start-up deadline over DNS, connect and the first data (issue 4 item 10).

`connect_with_deadline(endpoints, deadline_s=25)` checks, within ONE deadline:
1. REST: the host resolves, accepts a connection and answers `/v5/market/time`;
2. the public WebSocket: the host resolves, accepts, upgrades, and sends a first message (the answer
   to a subscription to `tickers.{symbol}`, or to a JSON ping when no symbol is given).
On any failure (no DNS, refused, a silent host that accepts and never answers, TLS, an HTTP error)
it raises UnreachableError naming the host it tried and suggesting the offline demo. The checks
run in a worker thread whose every step is bounded by the remaining time; the caller waits at most
the deadline (plus a moment), so a hang anywhere (even in the resolver) cannot hold the bot.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import websocket

from whale.bybit.endpoints import Endpoints, host_of
from whale.bybit.errors import UnreachableError
from whale.bybit.ws import open_socket
from whale.errors import StartupCancelled

DEFAULT_DEADLINE_S = 25.0
"""The default start-up deadline: the promise is "exits 1 within 30 s", and interpreter start-up,
imports and the shutdown come on top of the deadline, so it leaves that much margin."""
STOP_POLL_S = 0.1  # how often a wait checks the stop event (Ctrl-C / SIGTERM during start-up)


def demo_hint(config_path: str = "config.json") -> str:
    """What to do when Bybit cannot be reached, naming the config file actually in use."""
    return (f"check the internet connection and `network` in {config_path}, or run the offline demo: "
            "python whalebot.py demo")



def unreachable(detail: str, host: str, config_path: str = "config.json") -> UnreachableError:
    """The start-up failure: `detail` (what failed where) plus the hint naming the config in use."""
    return UnreachableError(f"{detail}; {demo_hint(config_path)}", host=host)


@dataclass(frozen=True)
class Reachable:
    server_time_ms: int  # Bybit's clock from /v5/market/time
    offset_ms: int  # server - local (ms)
    rest_s: float  # seconds the REST check took
    ws_s: float  # seconds the WebSocket check took
    first_message: dict  # the first WebSocket message


class _Fail(Exception):
    def __init__(self, host: str, why: str) -> None:
        super().__init__(why)
        self.host = host
        self.why = why


def _resolve(host: str, port: int, left: float) -> None:
    """getaddrinfo bounded by `left` seconds (the resolver has no timeout of its own)."""
    out: list = []

    def work() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            out.append(None)
        except OSError as exc:
            out.append(exc)

    t = threading.Thread(target=work, name="whalebot-dns", daemon=True)
    t.start()
    t.join(max(0.0, left))
    if not out:
        raise _Fail(host, f"no DNS answer within {left:.0f} s")
    if out[0] is not None:
        raise _Fail(host, f"DNS lookup failed ({out[0].strerror or out[0]})")


def _rest_check(endpoints: Endpoints, deadline: float) -> tuple[int, int]:
    url = endpoints.rest_url.rstrip("/") + "/v5/market/time"
    host = host_of(endpoints.rest_url)
    parts = requests.utils.urlparse(endpoints.rest_url)
    _resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), deadline - time.monotonic())
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Fail(host, "no time left")
    t0 = time.time_ns() // 1_000_000
    try:
        with requests.Session() as s:
            r = s.get(url, timeout=(left, left))
    except requests.exceptions.ConnectTimeout:
        raise _Fail(host, "connection timed out") from None
    except requests.exceptions.ReadTimeout:
        raise _Fail(host, f"connected but no answer within {left:.0f} s") from None
    except requests.exceptions.SSLError as exc:
        raise _Fail(host, f"TLS failed ({_short(exc)})") from None
    except requests.exceptions.ConnectionError as exc:
        raise _Fail(host, _conn_why(exc)) from None
    except requests.exceptions.RequestException as exc:
        raise _Fail(host, _short(exc)) from None
    t1 = time.time_ns() // 1_000_000
    if r.status_code != 200:
        raise _Fail(host, f"HTTP {r.status_code} from /v5/market/time" +
                    (" (IP rate limit or restricted country)" if r.status_code == 403 else ""))
    try:
        body = r.json()
        result: dict[str, Any] = body.get("result") or {}
        server = int(body.get("time") or int(result["timeSecond"]) * 1000)
    except (ValueError, TypeError, AttributeError, KeyError):
        raise _Fail(host, "/v5/market/time did not answer like Bybit") from None
    return server, server - (t0 + t1) // 2


def _ws_check(url: str, symbol: str | None, deadline: float) -> dict:
    host = host_of(url)
    parts = requests.utils.urlparse(url)
    _resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80), deadline - time.monotonic())
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Fail(host, "no time left")
    try:
        sock = open_socket(url, left)
    except TimeoutError:
        raise _Fail(host, "connection timed out") from None
    except OSError as exc:
        raise _Fail(host, _short(exc)) from None
    ws = websocket.WebSocket(skip_utf8_validation=True)
    try:
        try:
            ws.connect(url, socket=sock, timeout=max(0.01, deadline - time.monotonic()))
        except (websocket.WebSocketException, OSError) as exc:
            raise _Fail(host, f"WebSocket handshake failed ({_short(exc)})") from None
        if symbol:
            ws.send(json.dumps({"op": "subscribe", "req_id": "startup", "args": [f"tickers.{symbol}"]}))
        else:
            ws.send(json.dumps({"op": "ping", "req_id": "startup"}))
        ws.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            raw = ws.recv()
        except (TimeoutError, websocket.WebSocketTimeoutException):
            raise _Fail(host, "connected but no WebSocket message arrived in time") from None
        except (websocket.WebSocketException, OSError) as exc:
            raise _Fail(host, f"WebSocket closed ({_short(exc)})") from None
        try:
            msg = json.loads(raw)
        except ValueError:
            raise _Fail(host, "the WebSocket's first message is not JSON") from None
        return msg if isinstance(msg, dict) else {"message": msg}
    finally:
        try:
            ws.close(timeout=0.2)
        except Exception:  # noqa: BLE001
            pass
        sock.close()


def connect_with_deadline(endpoints: Endpoints, deadline_s: float = DEFAULT_DEADLINE_S, *, symbol: str | None = None,
                          check_ws: bool = True, stop: threading.Event | None = None,
                          config_path: str = "config.json") -> Reachable:
    """Prove within `deadline_s` that Bybit's REST and public WebSocket hosts answer; raises
    UnreachableError (naming the host, suggesting `python whalebot.py demo` and `network` in
    `config_path`) otherwise. When `stop` is set meanwhile (Ctrl-C / SIGTERM) it raises
    StartupCancelled within about STOP_POLL_S instead of waiting out the deadline."""
    start = time.monotonic()
    deadline = start + float(deadline_s)
    result: list = []

    def work() -> None:
        try:
            t0 = time.monotonic()
            server, offset = _rest_check(endpoints, deadline)
            t1 = time.monotonic()
            first = _ws_check(endpoints.public_ws_url, symbol, deadline) if check_ws else {}
            result.append(Reachable(server, offset, t1 - t0, time.monotonic() - t1, first))
        except _Fail as exc:
            result.append(exc)
        except Exception as exc:  # noqa: BLE001 - anything else is still "could not reach"
            result.append(_Fail(host_of(endpoints.rest_url), _short(exc)))

    worker = threading.Thread(target=work, name="whalebot-startup-check", daemon=True)
    worker.start()
    _join_unless_stopped(worker, deadline + 0.5, stop)  # the worker is a daemon: left to its own deadline
    rest_host = host_of(endpoints.rest_url)
    if not result:
        raise unreachable(f"cannot reach Bybit ({endpoints.network}) at {rest_host}: no answer within "
                          f"{deadline_s:.0f} s", rest_host, config_path)
    got = result[0]
    if isinstance(got, _Fail):
        raise unreachable(f"cannot reach Bybit ({endpoints.network}) at {got.host}: {got.why} (gave up after "
                          f"{time.monotonic() - start:.1f} s)", got.host, config_path)
    return got


def _join_unless_stopped(worker: threading.Thread, until: float, stop: threading.Event | None) -> None:
    """Wait for `worker` until the monotonic time `until`, in short slices so that a set `stop`
    ends the wait at once (StartupCancelled) instead of after the whole deadline."""
    while worker.is_alive():
        left = until - time.monotonic()
        if left <= 0:
            return
        if stop is not None and stop.is_set():
            raise StartupCancelled("stopped during start-up (Ctrl-C or SIGTERM)")
        worker.join(min(left, STOP_POLL_S) if stop is not None else left)
    if stop is not None and stop.is_set():
        raise StartupCancelled("stopped during start-up (Ctrl-C or SIGTERM)")


def _conn_why(exc: BaseException) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "name resolution" in text.lower():
        return "DNS lookup failed"
    if "timed out" in text.lower():
        return "connection timed out"
    if "reset" in text.lower() or "aborted" in text.lower() or "closed" in text.lower():
        return "the connection was closed without an answer"
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
