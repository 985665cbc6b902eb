"""Helpers for the simulator tests: a small websocket-client wrapper, hand-signed REST requests and
the example-shape comparison (field names and JSON types against tests/fixtures/bybit)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests
import websocket

from tests.paths import BYBIT_EXAMPLES
from whale.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

KEY, SECRET = DEFAULT_API_KEY, DEFAULT_API_SECRET


def example(name: str):
    return json.loads((BYBIT_EXAMPLES / name).read_text())


def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def assert_shape(actual, expected, extra_ok=(), maps=("cumFeeDetail",), path="$") -> None:
    """Same keys (missing ones fail; extra ones only when listed in extra_ok) and the same JSON types,
    recursively; lists compare their first elements; `maps` are free-form objects."""
    ka, ke = _kind(actual), _kind(expected)
    assert ka == ke or (ke == "null" and path.endswith("preListingInfo")), f"{path}: {ka} != example's {ke}"
    if ke == "object":
        missing = set(expected) - set(actual)
        extra = set(actual) - set(expected) - set(extra_ok)
        assert not missing, f"{path}: missing {sorted(missing)}"
        assert not extra, f"{path}: unexpected {sorted(extra)}"
        for k, v in expected.items():
            if k in maps:
                assert isinstance(actual[k], dict), f"{path}.{k}: not an object"
                continue
            assert_shape(actual[k], v, extra_ok, maps, f"{path}.{k}")
    elif ke == "list" and expected and actual:
        assert_shape(actual[0], expected[0], extra_ok, maps, f"{path}[0]")


def sign(text: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def signed(base: str, method: str, path: str, params: dict | None = None, *, key: str = KEY, secret: str = SECRET,
           ts: int | None = None, recv_window: int = 5000, body_text: str | None = None, bad_sign: bool = False,
           timeout: float = 5.0) -> requests.Response:
    """A hand-built Bybit-signed request (raw query string or raw body), as tests of auth need."""
    ts = int(time.time() * 1000) if ts is None else ts
    params = params or {}
    if method == "GET":
        payload = "&".join(f"{k}={v}" for k, v in params.items())
    else:
        payload = body_text if body_text is not None else json.dumps(params)
    sig = sign(f"{ts}{key}{recv_window}{payload}", secret)
    if bad_sign:
        sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": str(ts), "X-BAPI-RECV-WINDOW": str(recv_window),
               "X-BAPI-SIGN": sig, "X-BAPI-SIGN-TYPE": "2", "Content-Type": "application/json"}
    with requests.Session() as s:
        if method == "GET":
            return s.get(f"{base}{path}?{payload}", headers=headers, timeout=timeout)
        return s.post(f"{base}{path}", data=payload, headers=headers, timeout=timeout)


class WsClient:
    """A websocket-client connection with bounded waits."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.timeout = timeout

    def send(self, obj) -> None:
        self.ws.send(json.dumps(obj))

    def recv(self, timeout: float | None = None):
        self.ws.settimeout(timeout or self.timeout)
        return json.loads(self.ws.recv())

    def recv_raw(self, timeout: float | None = None) -> str:
        self.ws.settimeout(timeout or self.timeout)
        return self.ws.recv()

    def until(self, pred, timeout: float = 5.0, limit: int = 100_000) -> tuple[dict, list[dict]]:
        """Receive until pred(msg); returns (that message, everything received before it)."""
        seen = []
        deadline = time.monotonic() + timeout
        for _ in range(limit):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; last messages: {seen[-3:]}"
            msg = self.recv(left)
            if pred(msg):
                return msg, seen
            seen.append(msg)
        raise AssertionError("message limit reached")

    def drain(self, quiet: float = 0.3, limit: int = 100_000) -> list[dict]:
        """Everything that arrives until the stream is quiet for `quiet` seconds."""
        out = []
        for _ in range(limit):
            try:
                out.append(self.recv(quiet))
            except websocket.WebSocketTimeoutException:
                return out
        raise AssertionError("message limit reached")

    def subscribe(self, *topics: str, req_id: str = "t") -> dict:
        self.send({"op": "subscribe", "req_id": req_id, "args": list(topics)})
        ack, _ = self.until(lambda m: m.get("op") == "subscribe")
        return ack

    def auth(self, key: str = KEY, secret: str = SECRET, expires: int | None = None) -> dict:
        expires = int(time.time() * 1000) + 5000 if expires is None else expires
        self.send({"op": "auth", "args": [key, expires, sign(f"GET/realtime{expires}", secret)]})
        ack, _ = self.until(lambda m: m.get("op") == "auth")
        return ack

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> WsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
