"""Per-endpoint rate limits with Bybit's headers (X-Bapi-Limit, -Status, -Reset-Timestamp) on every
private response, over a sliding window on the wall clock. The defaults are Bybit's per-UID limits
for linear; `rate_limit=PATH:N[/S]` faults replace them."""

from __future__ import annotations

from collections import deque

from whale.sim.clock import WallClock
from whale.sim.faults import Faults

BYBIT_LIMITS = {
    "order/create": 10, "order/amend": 10, "order/cancel": 10, "order/cancel-all": 10, "order/realtime": 50,
    "position/list": 50, "position/trading-stop": 10, "position/set-leverage": 10, "position/switch-mode": 10,
    "account/wallet-balance": 50, "execution/list": 50, "position/closed-pnl": 50, "order/history": 50,
    "account/info": 50, "account/fee-rate": 5, "asset/coin/query-info": 5, "user/query-api": 10,
}


class RateLimiter:
    def __init__(self, faults: Faults, clock: WallClock, enforce_bybit_limits: bool = True) -> None:
        self.faults = faults
        self.clock = clock
        self.enforce = enforce_bybit_limits
        self._calls: dict[str, deque[int]] = {}

    def check(self, path: str) -> tuple[bool, dict[str, str]]:
        """(allowed, headers) for one call of /v5/`path`; a refused call is not counted."""
        limit, window, now, calls = self._window(path)
        if self._enforced(path) and len(calls) >= limit:
            return False, _headers(limit, 0, _reset(calls, window, now))
        calls.append(now)
        return True, _headers(limit, max(0, limit - len(calls)), now)

    def peek(self, path: str) -> dict[str, str]:
        """The headers of /v5/`path`'s current window without counting a call: for requests that fail
        auth, which carry no verified UID, so they must not spend the account's per-UID budget."""
        limit, window, now, calls = self._window(path)
        if self._enforced(path) and len(calls) >= limit:
            return _headers(limit, 0, _reset(calls, window, now))
        return _headers(limit, max(0, limit - len(calls)), now)

    def _enforced(self, path: str) -> bool:
        return path in self.faults.spec.rate_limits or self.enforce

    def _window(self, path: str) -> tuple[int, int, int, deque[int]]:
        """(limit, window ms, now, the calls still inside the window) for /v5/`path`."""
        override = self.faults.spec.rate_limits.get(path)
        limit, per = override if override is not None else (BYBIT_LIMITS.get(path, 50), 1.0)
        window = max(1, int(per * 1000))
        now = self.clock.now_ms()
        calls = self._calls.setdefault(path, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        return limit, window, now, calls


def _headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}


def _reset(calls: deque[int], window: int, now: int) -> int:
    """When the window frees a call: the oldest call's expiry (a limit of 0 has none: a window from now)."""
    return max(calls[0] + window, now + 1) if calls else now + window
