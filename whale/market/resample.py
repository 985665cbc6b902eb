"""Higher-timeframe candles from lower ones, counting a candle only once it has closed."""

from __future__ import annotations

import numpy as np

from whale.market.candles import Candles
from whale.market.intervals import MONTH, bucket_end, bucket_start, interval_ms


def resample(candles: Candles, target: str) -> Candles:
    """Aggregate into `target` candles; a bucket the data does not cover from its open to its close
    (the partial first and last ones) is dropped, while gaps inside a bucket are tolerated."""
    n = len(candles)
    if n == 0:
        return Candles.from_arrays([], [], [], [], [], [], target)
    src_ms = interval_ms(candles.interval) if candles.interval != MONTH else None
    starts = bucket_start(candles.ts, target)
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last = np.r_[first[1:] - 1, n - 1]
    keep = np.ones(first.shape[0], dtype=bool)
    # The first bucket is complete only if the data starts exactly at its open.
    if candles.ts[first[0]] != starts[first[0]]:
        keep[0] = False
    # The last bucket is complete only if its last source candle closes at the bucket's close.
    if src_ms is not None:
        end = bucket_end(starts[last[-1:]], target)[0]
        if candles.ts[last[-1]] + src_ms != end:
            keep[-1] = False
    ts = starts[first]
    o = candles.open[first]
    h = np.maximum.reduceat(candles.high, first)
    lo = np.minimum.reduceat(candles.low, first)
    c = candles.close[last]
    v = np.add.reduceat(candles.volume, first)
    return Candles.from_arrays(ts[keep], o[keep], h[keep], lo[keep], c[keep], v[keep], target)


def closed_index(primary_ts: np.ndarray, primary_interval: str, htf_ts: np.ndarray, htf_interval: str) -> np.ndarray:
    """For each primary candle, the index of the last higher-timeframe candle closed by the time the
    primary candle closes (-1 when none): the no-look-ahead join used by MTF confluence."""
    primary_close = bucket_end(primary_ts, primary_interval)
    htf_close = bucket_end(htf_ts, htf_interval)
    return np.searchsorted(htf_close, primary_close, side="right").astype(np.int64) - 1
