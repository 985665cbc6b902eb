"""The simulator's two clocks (docs/architecture.md, principle 8).

The wall clock signs and checks requests (X-BAPI-TIMESTAMP, recv_window, WS `expires`) and answers
`/v5/market/time`; the replay clock stamps everything the market and the matching engine emit
(kline start, trade T, execTime, createdTime, orderbook ts). Both are injected objects, so a test
can skew the wall clock and the replay decides alone what time it is in the market.
"""

from __future__ import annotations

import time


class WallClock:
    """Real time. `monotonic()` paces the replay; `now_ms()` is what a client's clock should show."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()


class SkewedWallClock(WallClock):
    """A wall clock `offset_ms` ahead of (or behind, when negative) the machine's clock."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = int(offset_ms)

    def now_ms(self) -> int:
        return super().now_ms() + self.offset_ms

    def now_ns(self) -> int:
        return super().now_ns() + self.offset_ms * 1_000_000


class ReplayClock:
    """Market time in ms; only the replay moves it, and only forwards."""

    def __init__(self, start_ms: int) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def set(self, ms: int) -> None:
        if ms > self._now:
            self._now = int(ms)
