"""The clock the Bybit client is given (docs/architecture.md, principle 8): `monotonic()` for waits and
ages, `sleep(s)` for back-off, `now_ms()` for wall time (request signatures). The same three methods
as `whale.clock.Clock`, so the loop's clock can be passed in. Tests pass a fake one so back-off and
rate budgets run instantly and deterministically."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now_ms(self) -> int: ...


class SystemClock:
    """The machine's clocks."""

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    @staticmethod
    def sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that only moves when slept on or advanced (tests). Thread-safe enough for one writer."""

    def __init__(self, start_monotonic: float = 1000.0, start_ms: int = 1_700_000_000_000) -> None:
        self._mono = float(start_monotonic)
        self._wall0 = int(start_ms)
        self._mono0 = float(start_monotonic)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self._mono += seconds

    def advance(self, seconds: float) -> None:
        self._mono += seconds

    def now_ms(self) -> int:
        return self._wall0 + int(round((self._mono - self._mono0) * 1000))
