"""When a periodic check of the live loop is due (the safety monitor's).

On wall time by default: every `interval_s` seconds. A lockstep demo runs on market time instead, so
that a check that reads the account (equity, drawdown, the day's loss) falls on the same market step
in every run and the demo repeats: due every `market_interval_s` of market time (the demo passes at
least one candle of its interval: its market runs ~100x faster than the wall, and a REST call on
every step of the replay would be the demo's main cost). Wall time then only covers a market that
stands still, for `interval_s` or longer (a silent stream, a replay held by a scenario): the checks
must go on then, and the account has not moved with the market since the last one.
"""

from __future__ import annotations

from collections.abc import Callable


class Cadence:
    def __init__(self, interval_s: float, monotonic: Callable[[], float], market_ms: Callable[[], int], *,
                 market_interval_s: float | None = None) -> None:
        """`market_interval_s`: run on market time, a check every that many seconds of it (None: wall
        time only)."""
        self.interval_s = float(interval_s)
        self.monotonic = monotonic
        self.market_ms = market_ms
        self.market_time = market_interval_s is not None
        self.market_interval_ms = int((market_interval_s or 0.0) * 1000)
        self._next_wall = 0.0
        self._next_market = 0
        self._market_at_check: int | None = None

    def force(self) -> None:
        """The next pass checks (a stop failed to set: the monitor must count it at once)."""
        self._next_wall = 0.0
        self._next_market = 0

    def due(self) -> bool:
        if self.market_time:
            market = self.market_ms()
            if market >= self._next_market:
                self._next_market = market + self.market_interval_ms
                wall = self.monotonic()
            elif market != self._market_at_check:
                return False  # the market moved, by less than an interval (most passes: no wall clock read)
            else:
                wall = self.monotonic()
                if wall < self._next_wall:
                    return False
            self._market_at_check = market
        else:
            wall = self.monotonic()
            if wall < self._next_wall:
                return False
        self._next_wall = wall + self.interval_s
        return True
