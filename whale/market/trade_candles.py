"""Candles built from trade prints: the candles of `sim --book` and `backtest --book`.

A recording keeps every publicTrade print; its recorded klines (when it has any: Tardis imports
have none) are kept only as a check. So the candles the indicator scorers see come from one
function of the prints, on the recording's clock:

- a print belongs to the candle whose [open, close) holds its exchange time (the print's `T`);
- open is the candle's first print in the recording's order (Bybit's sequence), close its last,
  high and low the extremes, volume the sum of the sizes, turnover the sum of price x size;
- every candle between the first and the last is there: one without prints is flat at the close
  before it with volume 0, as Bybit's klines show a minute without trades. Candles before the
  first print are left out unless `prev_close` gives the price they stand at.

Pure: no I/O. Any Bybit interval (`whale.market.intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from whale.market.candles import Candles
from whale.market.intervals import MONTH, WEEK_MS, bucket_start, interval_ms


@dataclass(frozen=True)
class TradeCandles:
    candles: Candles
    turnover: np.ndarray  # sum of price x size per candle (quote currency)
    prints: np.ndarray  # prints per candle (0: a candle flat at the close before it)

    def __len__(self) -> int:
        return len(self.candles)


def _grid(first: int, last: int, interval: str) -> np.ndarray:
    """Open times of every `interval` candle from the one opening at `first` to the one at `last`."""
    if last < first:
        return np.zeros(0, dtype=np.int64)
    if interval == MONTH:
        months = np.arange(np.datetime64(first, "ms").astype("datetime64[M]"),
                           np.datetime64(last, "ms").astype("datetime64[M]") + 1)
        return months.astype("datetime64[ms]").astype(np.int64)
    step = WEEK_MS if interval == "W" else interval_ms(interval)
    return np.arange(first, last + 1, step, dtype=np.int64)


def trade_candles(ts_ms: np.ndarray, price: np.ndarray, size: np.ndarray, interval: str = "1", *,
                  start_ms: int | None = None, end_ms: int | None = None,
                  prev_close: float = float("nan")) -> TradeCandles:
    """Candles of `interval` from prints (their exchange times in ms, prices and sizes, in the
    recording's order). `start_ms` / `end_ms` bound the candles by open time (from the candle
    holding `start_ms`; candles opening before `end_ms`, exclusive); prints outside are left out.
    Without them the candles run from the first print's to the last print's. `prev_close` is the
    price before the first print (a candle before it is flat there; NaN: such candles are left out)."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    px = np.asarray(price, dtype=np.float64)
    sz = np.asarray(size, dtype=np.float64)
    if not (ts.shape == px.shape == sz.shape):
        raise ValueError("trade_candles: times, prices and sizes must have the same length")
    buckets = bucket_start(ts, interval)
    lo = int(bucket_start(np.array([start_ms]), interval)[0]) if start_ms is not None else \
        (int(buckets.min()) if buckets.size else 0)
    hi = int(bucket_start(np.array([end_ms - 1]), interval)[0]) if end_ms is not None else \
        (int(buckets.max()) if buckets.size else -1)
    grid = _grid(lo, hi, interval)
    n = grid.shape[0]
    inside = (buckets >= lo) & (buckets <= hi)
    if not inside.all():
        buckets, px, sz = buckets[inside], px[inside], sz[inside]
    o = np.full(n, np.nan)
    h = np.full(n, np.nan)
    low = np.full(n, np.nan)
    c = np.full(n, np.nan)
    v = np.zeros(n)
    turn = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    if buckets.size:
        order = np.argsort(buckets, kind="stable")  # by candle; within a candle, the recording's order
        b, p, s = buckets[order], px[order], sz[order]
        first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        last = np.r_[first[1:] - 1, b.shape[0] - 1]
        at = np.searchsorted(grid, b[first])
        o[at] = p[first]
        c[at] = p[last]
        h[at] = np.maximum.reduceat(p, first)
        low[at] = np.minimum.reduceat(p, first)
        v[at] = np.add.reduceat(s, first)
        turn[at] = np.add.reduceat(p * s, first)
        count[at] = np.diff(np.r_[first, b.shape[0]])
    # A candle without prints stands at the close before it.
    has = ~np.isnan(c)
    filled_at = np.maximum.accumulate(np.where(has, np.arange(n), -1)) if n else np.zeros(0, dtype=np.int64)
    before = np.where(filled_at >= 0, c[np.maximum(filled_at, 0)], prev_close)
    empty = ~has
    o[empty] = h[empty] = low[empty] = c[empty] = before[empty]
    keep = ~np.isnan(c)
    if not keep.all():
        grid, o, h, low, c, v, turn, count = (a[keep] for a in (grid, o, h, low, c, v, turn, count))
    return TradeCandles(Candles.from_arrays(grid, o, h, low, c, v, interval), turn, count)
