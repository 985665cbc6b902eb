"""The feature buffer: candles, indicator outputs and indicator state as rows of one matrix.

Every indicator kernel follows the range-kernel contract (results for [start, end) read only
indices <= i, state lives in rows), so appending one candle and running the kernels on the new
column gives bit-identical values to a computation over the whole history. The backtest appends
large chunks, the live loop one candle; when the buffer fills, the last `keep` columns — more
than any kernel looks back — move to the front.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

RunFn = Callable[["FeatureBuffer", int, int], None]


@dataclass
class Group:
    """One indicator (or a few computed together): the rows it writes and how to compute them."""

    name: str
    writes: tuple[str, ...]
    run: RunFn  # run(buffer, start, end): fill the rows for candles [start, end)
    lookback: int = 0  # how many columns before i it may read
    reads: tuple[str, ...] = ()
    history: int = 0  # candles a cold start needs to match a full-history run (docs/indicators.md)
    key: tuple = ()  # what its values depend on besides the candles (the optimiser's cache key)


@dataclass
class FeatureBuffer:
    candle_rows: tuple[str, ...]
    groups: list[Group]
    capacity: int  # the most candles appended at once; `keep` more columns are added for history
    keep: int = 0
    rows: dict[str, int] = field(init=False)
    X: np.ndarray = field(init=False)
    ts: np.ndarray = field(init=False)
    n: int = field(init=False, default=0)
    total: int = field(init=False, default=0)  # candles appended since creation

    def __post_init__(self) -> None:
        names = list(self.candle_rows)
        for g in self.groups:
            for w in g.writes:
                if w in names:
                    raise ValueError(f"row {w!r} written twice (group {g.name})")
                names.append(w)
        self.rows = {n: i for i, n in enumerate(names)}
        if self.keep <= 0:
            self.keep = 2 * max([g.lookback for g in self.groups] + [1]) + 64
        self.capacity = max(self.capacity, 1) + self.keep
        self.X = np.full((len(names), self.capacity), np.nan)
        self.ts = np.zeros(self.capacity, dtype=np.int64)

    def add_row(self, name: str) -> int:
        """An extra input row filled by the caller (e.g. live order-book imbalance), NaN by default."""
        return self.add_rows([name])[0]

    def add_rows(self, names: Sequence[str]) -> list[int]:
        """Extra rows, NaN by default, in one copy of the buffer (a copy per row cost the backtest a
        third of its time with the scorers' unit rows)."""
        new = [n for n in dict.fromkeys(names) if n not in self.rows]
        if new:
            for k, name in enumerate(new):
                self.rows[name] = self.X.shape[0] + k
            self.X = np.vstack([self.X, np.full((len(new), self.capacity), np.nan)])
        return [self.rows[n] for n in names]

    def row(self, name: str) -> np.ndarray:
        return self.X[self.rows[name]]

    def _make_room(self, m: int) -> None:
        if self.n + m <= self.capacity:
            return
        if self.n > self.keep:
            drop = self.n - self.keep
            self.X[:, : self.keep] = self.X[:, drop: self.n]
            self.ts[: self.keep] = self.ts[drop: self.n]
            # Columns past n are not cleared: kernels write a column before anything reads it.
            self.n = self.keep
        if self.n + m > self.capacity:
            new_cap = max(self.n + m, 2 * self.capacity)
            grown = np.full((self.X.shape[0], new_cap), np.nan)
            grown[:, : self.n] = self.X[:, : self.n]
            ts = np.zeros(new_cap, dtype=np.int64)
            ts[: self.n] = self.ts[: self.n]
            self.X, self.ts, self.capacity = grown, ts, new_cap

    def append(self, ts: np.ndarray, columns: dict[str, np.ndarray]) -> tuple[int, int]:
        """Copy new candles in and compute every group on them; returns their [start, end).
        ValueError, with nothing appended, for a candle that cannot be true (see check_candles)."""
        check_candles(ts, columns)
        m = int(len(ts))
        self._make_room(m)
        start, end = self.n, self.n + m
        self.ts[start:end] = ts
        for name in self.candle_rows:
            self.X[self.rows[name], start:end] = columns[name]
        for g in self.groups:
            g.run(self, start, end)
        self.n = end
        self.total += m
        return start, end


PRICE_ROWS = ("open", "high", "low", "close")


def check_candles(ts: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    """The last guard before the buffer: one NaN price would make every indicator that looks back
    over it NaN, and the strategy would warm up forever. Prices must be finite and above 0, the
    volume finite and not negative; the edges (stream, REST, candle files) refuse such candles
    first, so this only fires when a new path forgets to."""
    for name in (*PRICE_ROWS, "volume"):
        values = columns.get(name)
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(values) | ((values <= 0.0) if name in PRICE_ROWS else (values < 0.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            stamp = int(np.asarray(ts)[i]) if i < len(ts) else i
            raise ValueError(f"candle {stamp}: {name} {float(values[i])!r} cannot enter the feature buffer "
                             f"(prices must be finite and above 0, the volume finite and not negative)")
