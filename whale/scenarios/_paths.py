"""Synthetic 1-minute price paths for the scenarios, built deterministically with numpy.

The simulator plays each candle as 16 ticks along its bar path (`whale.fills.bar_path`): the open,
then 5 even steps to a first point, 5 to a second, 5 to the close — one tick about every 4 s of
replay time, each a taker trade of volume / 16 (a buy on an uptick, a sell on a downtick, the
previous side on a flat tick). So a scenario describes a candle by the four prices it visits, in
order, and `PathBuilder.bar` turns them into the candle that the simulator replays exactly that way
(and refuses four points no candle would visit in that order).

Prices are given in percent from the reference price (the close of the last history candle), so a
path reads as "+0.10 -> -0.05 -> +0.30 -> +0.25"; every price is rounded to the 0.1 USDT tick.
"""

from __future__ import annotations

import numpy as np

from whale.fills import bar_path
from whale.market.candles import Candles

MINUTE_MS = 60_000
TICK = 0.1  # BTCUSDT
REFERENCE_PRICE = 60_000.0
# Monday 3 March 2025 09:00 UTC: the replay that follows the history ends well before the 16:00
# funding time and stays inside one UTC day.
START_MS = 1_740_992_400_000
HISTORY = 300  # enough for every indicator's warm-up (79 one-minute candles) with room to spare
VOLUME = 16.0  # BTC per minute: 1 BTC per simulator tick
TICKS_PER_CANDLE = 16


def on_tick(price: float) -> float:
    return round(round(price / TICK) * TICK, 1)


class PathBuilder:
    """History (a seeded random walk of ordinary minutes ending at the reference price) followed
    by the scenario's own candles, each given as the four points of its bar path."""

    def __init__(self, *, price: float = REFERENCE_PRICE, history: int = HISTORY, seed: int = 1,
                 volume: float = VOLUME, range_pct: float = 0.15) -> None:
        self.price = price
        self.volume = volume
        rng = np.random.default_rng(seed)
        body = rng.normal(0.0, range_pct / 4.0, history)
        close = np.cumsum(body)
        close -= close[-1]  # the history ends exactly at the reference price
        open_ = np.concatenate(([close[0] - body[0]], close[:-1]))
        wick = range_pct / 2.0 * rng.uniform(0.5, 1.5, (2, history))
        high = np.maximum(open_, close) + wick[0]
        low = np.minimum(open_, close) - wick[1]
        self.rows: list[tuple[float, float, float, float, float]] = [
            (self.at(o), self.at(h), self.at(lo), self.at(c), v)
            for o, h, lo, c, v in zip(open_, high, low, close, volume * rng.uniform(0.6, 1.4, history), strict=True)]
        self.history = history

    def at(self, pct: float) -> float:
        """The price `pct` % from the reference price, on the tick grid."""
        return on_tick(self.price * (1.0 + pct / 100.0))

    def bar(self, o: float, p1: float, p2: float, c: float, volume: float | None = None) -> PathBuilder:
        """One candle visiting o -> p1 -> p2 -> c (percent from the reference price)."""
        pts = tuple(self.at(x) for x in (o, p1, p2, c))
        hi, lo = max(pts), min(pts)
        if bar_path(pts[0], hi, lo, pts[3]) != pts:
            raise ValueError(f"no candle visits {o} -> {p1} -> {p2} -> {c} in that order (the bar path of "
                             f"o={pts[0]} h={hi} l={lo} c={pts[3]} is {bar_path(pts[0], hi, lo, pts[3])})")
        self.rows.append((pts[0], hi, lo, pts[3], self.volume if volume is None else volume))
        return self

    def flat(self, n: int, level: float = 0.0, wiggle: float = 0.02, volume: float | None = None) -> PathBuilder:
        """`n` quiet candles around `level`: down by `wiggle`, up by `wiggle`, back."""
        for _ in range(n):
            self.bar(level, level - wiggle, level + wiggle, level, volume)
        return self

    @property
    def replayed(self) -> int:
        """Scenario candles added after the history (what the demo should replay)."""
        return len(self.rows) - self.history

    def candles(self) -> Candles:
        n = len(self.rows)
        cols = list(zip(*self.rows, strict=True))
        ts = START_MS + MINUTE_MS * np.arange(n, dtype=np.int64)
        return Candles.from_arrays(ts, cols[0], cols[1], cols[2], cols[3], cols[4], "1")


def tick_path(o: float, h: float, lo: float, c: float, ticks: int = TICKS_PER_CANDLE) -> list[float]:
    """The prices the simulator plays for one candle (for reading a scenario's path, and tests)."""
    per_leg = (ticks - 1) // 3
    pts = bar_path(o, h, lo, c)
    out = [pts[leg] + (pts[leg + 1] - pts[leg]) * j / per_leg for leg in range(3) for j in range(per_leg)]
    return [on_tick(p) for p in out + [pts[3]]]
