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
    "account/wallet-balance": 50, "execution/list": 50, "position/closed-pnl": 50,
}


class RateLimiter:
    def __init__(self, faults: Faults, clock: WallClock, enforce_bybit_limits: bool = True) -> None:
        self.faults = faults
        self.clock = clock
        self.enforce = enforce_bybit_limits
        self._calls: dict[str, deque[int]] = {}

    def check(self, path: str) -> tuple[bool, dict[str, str]]:
        """(allowed, headers) for one call of /v5/`path`; a refused call is not counted."""
        override = self.faults.spec.rate_limits.get(path)
        if override is not None:
            limit, per = override
        else:
            limit, per = BYBIT_LIMITS.get(path, 50), 1.0
        window = max(1, int(per * 1000))
        now = self.clock.now_ms()
        calls = self._calls.setdefault(path, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        enforced = override is not None or self.enforce
        if enforced and len(calls) >= limit:
            reset = max(calls[0] + window, now + 1)
            return False, {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": "0",
                           "X-Bapi-Limit-Reset-Timestamp": str(reset)}
        calls.append(now)
        return True, {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(0, limit - len(calls))),
                      "X-Bapi-Limit-Reset-Timestamp": str(now)}
