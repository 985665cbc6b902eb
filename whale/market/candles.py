"""Candles as parallel numpy arrays: the one in-memory form every mode shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candles:
    """Closed candles in time order; `ts` is each candle's open time in UTC ms."""

    ts: np.ndarray  # int64
    open: np.ndarray  # float64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval: str

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice(self, start: int, stop: int) -> Candles:
        return Candles(self.ts[start:stop], self.open[start:stop], self.high[start:stop],
                       self.low[start:stop], self.close[start:stop], self.volume[start:stop], self.interval)

    @staticmethod
    def from_arrays(ts, open_, high, low, close, volume, interval: str) -> Candles:
        f = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        return Candles(np.ascontiguousarray(ts, dtype=np.int64), f(open_), f(high), f(low), f(close),
                       f(volume), interval)


def candles_from_rows(rows: list[tuple], interval: str) -> Candles:
    """Candles from (ts, o, h, l, c, v) rows already in ascending order."""
    if not rows:
        z = np.empty(0)
        return Candles.from_arrays(np.empty(0, dtype=np.int64), z, z, z, z, z, interval)
    a = np.array([r[1:6] for r in rows], dtype=np.float64)
    return Candles.from_arrays(np.array([r[0] for r in rows], dtype=np.int64), a[:, 0], a[:, 1], a[:, 2], a[:, 3],
                               a[:, 4], interval)
