"""A local rate budget below Bybit's limits (docs/bybit.md#the-rate-budget), so the bot never meets 10006 in
normal operation, and the pauses Bybit orders (10006 reset time, HTTP 403 IP ban).

Bybit counts per endpoint over a rolling one-second window (10/s for order entry, trading-stop and
leverage; 50/s for queries) and per IP over five seconds (600). A token bucket refilled at N/s with
room for N tokens can let 2N calls through inside one window (a full bucket, then the refill), so
the budget here is an exact sliding window instead: at most `n` grants in any `per` seconds. The
defaults are 80 % of Bybit's figures.

`acquire(path)` first waits out a pause Bybit ordered for that path, then reserves the earliest slot
every applicable window allows (the endpoint's and the global one) and sleeps until it. Slots are
granted in request order (a slot is never earlier than the one granted before it), which keeps every
window's grants sorted so the check is exact and O(1). A wait longer than `max_wait_s` raises
RateLimitedError instead of blocking the caller (the main loop must keep managing exits). Waits use
the injected clock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from whale.bybit.clock import SYSTEM_CLOCK, Clock
from whale.bybit.errors import RateLimitedError


@dataclass(frozen=True)
class Limit:
    n: int
    per_s: float


ORDER_ENTRY = Limit(8, 1.0)
POSITION_CHANGE = Limit(8, 1.0)
QUERY = Limit(40, 1.0)
GLOBAL_IP = Limit(500, 5.0)

DEFAULT_LIMITS: dict[str, Limit] = {
    "order/create": ORDER_ENTRY, "order/amend": ORDER_ENTRY, "order/cancel": ORDER_ENTRY,
    "order/cancel-all": ORDER_ENTRY,
    "position/trading-stop": POSITION_CHANGE, "position/set-leverage": POSITION_CHANGE,
    "position/switch-mode": POSITION_CHANGE,
    "order/realtime": QUERY, "position/list": QUERY, "account/wallet-balance": QUERY, "execution/list": QUERY,
    "position/closed-pnl": QUERY,
}
GLOBAL_KEY = "*"


def short_path(path: str) -> str:
    """`/v5/order/create` -> `order/create`."""
    p = path.strip().strip("/")
    return p[3:] if p.startswith("v5/") else p


class _Window:
    __slots__ = ("limit", "grants", "blocked_until")

    def __init__(self, limit: Limit | None) -> None:
        self.limit = limit
        self.grants: deque[float] = deque()
        self.blocked_until = 0.0

    def earliest(self, now: float) -> float:
        """The earliest time >= now at which one more grant fits."""
        t = now
        lim = self.limit
        if lim is None:
            return t
        grants = self.grants
        while grants and grants[0] <= now - lim.per_s:
            grants.popleft()
        if len(grants) >= lim.n:
            t = max(t, grants[-lim.n] + lim.per_s)
        return t


class RateBudget:
    def __init__(self, limits: dict[str, Limit] | None = None, *, global_limit: Limit | None = GLOBAL_IP,
                 max_wait_s: float = 5.0, clock: Clock | None = None) -> None:
        self._limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._clock = clock or SYSTEM_CLOCK
        self.max_wait_s = float(max_wait_s)
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {GLOBAL_KEY: _Window(global_limit)}
        self._last_grant = float("-inf")
        self.waited_s = 0.0  # total time callers were held (for logs and tests)

    def _window(self, key: str) -> _Window:
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _Window(self._limits.get(key))
        return w

    def reserve(self, path: str) -> float:
        """Reserve a slot; returns the seconds to wait before using it (no sleeping here)."""
        key = short_path(path)
        with self._lock:
            now = self._clock.monotonic()
            windows = (self._window(key), self._windows[GLOBAL_KEY])
            t = max(max(w.earliest(now) for w in windows), self._last_grant)
            wait = t - now
            if wait > self.max_wait_s:
                raise RateLimitedError(
                    f"local rate budget: /v5/{key} would have to wait {wait:.1f} s (limit {self.max_wait_s:.1f} s)",
                    retry_after_s=wait, endpoint=f"/v5/{key}", code=10006)
            for w in windows:
                if w.limit is not None:
                    w.grants.append(t)
            self._last_grant = t
            return wait

    def acquire(self, path: str) -> float:
        """Wait (bounded by max_wait_s) until a call of `path` is within budget; returns the wait."""
        paused = self.blocked_for(path)
        if paused > self.max_wait_s:
            raise RateLimitedError(f"/v5/{short_path(path)} is paused by Bybit for another {paused:.1f} s",
                                   retry_after_s=paused, endpoint=f"/v5/{short_path(path)}", code=10006)
        if paused > 0:
            self._clock.sleep(paused)
        wait = self.reserve(path)
        if wait > 0:
            self._clock.sleep(wait)
        total = paused + wait
        self.waited_s += total
        return total

    def block(self, path: str | None, seconds: float) -> None:
        """No call of `path` (None = of any path) for `seconds` from now (10006 reset, IP ban)."""
        key = GLOBAL_KEY if path is None else short_path(path)
        with self._lock:
            w = self._window(key)
            w.blocked_until = max(w.blocked_until, self._clock.monotonic() + max(0.0, seconds))

    def blocked_for(self, path: str | None = None) -> float:
        """Seconds until `path` (None = any call) is unblocked (0 when it is not)."""
        key = GLOBAL_KEY if path is None else short_path(path)
        with self._lock:
            now = self._clock.monotonic()
            blocked = [self._windows[GLOBAL_KEY].blocked_until]
            if key in self._windows:
                blocked.append(self._windows[key].blocked_until)
            return max(0.0, max(blocked) - now)
