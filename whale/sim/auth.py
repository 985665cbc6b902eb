"""Bybit V5 authentication, checked exactly as Bybit does against the wall clock.

REST: HMAC-SHA256(secret, timestamp + api_key + recv_window + raw query string | raw body), lower-case
hex, accepted when `server - recv_window <= timestamp < server + 1000`. WebSocket: `op: auth` with
args [api_key, expires, HMAC-SHA256(secret, "GET/realtime" + expires)], `expires` in the future.
"""

from __future__ import annotations

import hashlib
import hmac

from whale.sim import codes


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _same(given: object, expected: str) -> bool:
    """Constant-time equality for whatever a client sent: compare_digest refuses str with non-ASCII
    characters (a TypeError, once an HTTP 500), so compare their UTF-8 bytes."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


class Credentials:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret

    def check_rest(self, headers: dict[str, str], payload: str, server_ms: int) -> tuple[int, str] | None:
        """None when the request is authentic, else (retCode, retMsg). `headers` has lower-case names."""
        key = headers.get("x-bapi-api-key", "")
        if not key or not _same(key, self.api_key):
            return codes.API_KEY, "API key is invalid."
        ts_text = headers.get("x-bapi-timestamp", "")
        recv_raw = headers.get("x-bapi-recv-window", "")
        recv_text = recv_raw or "5000"
        try:
            ts = int(ts_text)
            recv = int(recv_text)
        except ValueError:
            return codes.TIMESTAMP, (f"invalid request, please check your server timestamp or recv_window param. "
                                     f"req_timestamp[{ts_text}],server_timestamp[{server_ms}],recv_window[{recv_text}]")
        if not (server_ms - recv <= ts < server_ms + 1000):
            return codes.TIMESTAMP, (f"invalid request, please check your server timestamp or recv_window param. "
                                     f"req_timestamp[{ts}],server_timestamp[{server_ms}],recv_window[{recv}]")
        given = headers.get("x-bapi-sign", "")
        origin = f"{ts_text}{key}{recv_raw}{payload}"
        if not given or not _same(given.lower(), sign(self.api_secret, origin)):
            return codes.SIGN, f"error sign! origin_string[{origin}]"
        return None

    def check_ws(self, args, server_ms: int) -> str | None:
        """None when the WebSocket auth args are valid, else the failure message."""
        if not isinstance(args, list) or len(args) != 3:
            return "Params Error: args must be [api_key, expires, signature]"
        key, expires, signature = args
        if not _same(key, self.api_key):
            return "Invalid apikey"
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return "Params Error: expires must be a timestamp in ms"
        if exp <= server_ms:
            return "Params Error: request expired"
        if not isinstance(signature, str) or not _same(signature.lower(), sign(self.api_secret, f"GET/realtime{exp}")):
            return "Invalid sign"
        return None
