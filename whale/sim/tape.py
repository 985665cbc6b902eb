"""The replayed candles, precomputed: intra-candle ticks along the core's bar path, per-tick trade
sizes, rolling 24 h statistics, and klines of every interval aggregated from the base candles.

Everything here is computed once with numpy (and one njit kernel that calls `whale.fills.bar_path`,
so the simulator's ticks follow the same path the backtest triggers stops on); the replay then
only indexes arrays.
"""

from __future__ import annotations

from itertools import accumulate

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from whale.fills import bar_path
from whale.market.candles import Candles
from whale.market.intervals import MONTH, bucket_end, bucket_start, interval_ms, is_multiple, label
from whale.market.resample import resample
from whale.sim.codes import params_error
from whale.sim.instrument import SimInstrument

KLINE_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@njit(cache=True)
def _path_ticks(o, h, lo, c, per_leg, tick):
    """Tick indices of every candle's intra-candle path: the four bar_path points joined by
    `per_leg` evenly spaced steps per leg, so a candle has 3 * per_leg + 1 ticks and visits its
    open, both extremes (in the bar path's order) and its close exactly."""
    n = o.shape[0]
    k_total = 3 * per_leg + 1
    out = np.empty((n, k_total), dtype=np.int64)
    for i in range(n):
        p0, p1, p2, p3 = bar_path(o[i], h[i], lo[i], c[i])
        pts = (p0, p1, p2, p3)
        for leg in range(3):
            a = pts[leg]
            b = pts[leg + 1]
            for j in range(per_leg):
                p = a + (b - a) * j / per_leg
                out[i, leg * per_leg + j] = int(np.round(p / tick))
        out[i, k_total - 1] = int(np.round(p3 / tick))
    return out


class Tape:
    """Base candles plus their precomputed ticks. Candle `i` has ticks `0..K-1`; tick k happens at
    replay time `ts[i] + offsets[k]` (the open at the candle's start, the close 1 ms before its end)."""

    def __init__(self, candles: Candles, instrument: SimInstrument, ticks_per_candle: int) -> None:
        if ticks_per_candle < 4 or (ticks_per_candle - 1) % 3:
            raise ValueError("ticks_per_candle must be 3*m+1 with m >= 1 (4, 7, 10, 13, 16, ...)")
        self.candles = candles
        self.instrument = instrument
        self.n = len(candles)
        self.interval = candles.interval
        self.base_ms = interval_ms(candles.interval)
        self.k = ticks_per_candle
        tick = instrument.tick
        ticks = _path_ticks(candles.open, candles.high, candles.low, candles.close, (ticks_per_candle - 1) // 3,
                            tick)
        # int32 where the prices allow (every common symbol): a third of the memory of the old int64 ticks
        # plus running extremes, which matters with 20 symbols or many ticks per candle.
        fits = ticks.size == 0 or (int(ticks.max()) < 2**31 and int(ticks.min()) >= 0)
        self.ticks = ticks.astype(np.int32) if fits else ticks
        self._run: tuple[int, list[int], list[int]] = (-1, [], [])  # the running extremes of the last candle asked
        self.offsets = (np.arange(self.k, dtype=np.int64) * (self.base_ms - 1)) // (self.k - 1)
        step = instrument.step
        self.trade_steps = np.maximum(1, np.round(candles.volume / self.k / step)).astype(np.int64)
        self.turnover = candles.volume * (candles.open + candles.high + candles.low + candles.close) / 4.0
        self._cum_turnover = np.concatenate(([0.0], np.cumsum(self.turnover)))
        self._cum_volume = np.concatenate(([0.0], np.cumsum(candles.volume)))
        self._stats_24h()
        self._agg: dict[str, tuple[Candles, np.ndarray, np.ndarray]] = {}

    def _running(self, i: int) -> tuple[int, list[int], list[int]]:
        """Candle i's running high and low ticks (kept for the one candle being asked about: the forming one)."""
        if self._run[0] != i:
            row = self.ticks[i].tolist()
            self._run = (i, list(accumulate(row, max)), list(accumulate(row, min)))
        return self._run

    def run_high(self, i: int, k: int) -> int:
        """Highest tick of candle i up to its tick k."""
        return self._running(i)[1][k]

    def run_low(self, i: int, k: int) -> int:
        return self._running(i)[2][k]

    # --- rolling statistics, as of the close of candle i-1 (the window before candle i) ---

    def _stats_24h(self) -> None:
        c = self.candles
        w = max(1, DAY_MS // self.base_ms)
        w1h = max(1, HOUR_MS // self.base_ms)
        idx = np.arange(self.n + 1)
        lo_i = np.maximum(0, idx - w)
        self.vol24 = self._cum_volume[idx] - self._cum_volume[lo_i]
        self.turn24 = self._cum_turnover[idx] - self._cum_turnover[lo_i]
        self.prev24 = c.open[np.minimum(lo_i, self.n - 1)]
        self.prev1h = c.open[np.minimum(np.maximum(0, idx - w1h), self.n - 1)]
        hi = np.full(self.n + 1, np.nan)
        lo = np.full(self.n + 1, np.nan)
        if self.n >= w:
            hi[w:] = sliding_window_view(c.high, w).max(axis=1)
            lo[w:] = sliding_window_view(c.low, w).min(axis=1)
        head = min(w, self.n + 1)
        hi[1:head] = np.maximum.accumulate(c.high[: head - 1])
        lo[1:head] = np.minimum.accumulate(c.low[: head - 1])
        hi[0] = c.high[0]
        lo[0] = c.low[0]
        self.high24 = hi
        self.low24 = lo

    # --- klines ---

    def check_interval(self, interval: str) -> None:
        if interval not in KLINE_INTERVALS:
            raise params_error(f"Invalid period: interval {interval!r} (one of {' '.join(KLINE_INTERVALS)})")
        if interval != self.interval and not is_multiple(interval, self.interval):
            raise params_error(f"simulator: interval {interval} ({label(interval)}) cannot be built from the "
                               f"replayed {label(self.interval)} candles")

    def span_ms(self, interval: str, start_ms: int) -> int:
        return int(bucket_end(np.array([start_ms]), interval)[0]) - start_ms

    def _aggregated(self, interval: str) -> tuple[Candles, np.ndarray, np.ndarray]:
        got = self._agg.get(interval)
        if got is None:
            agg = resample(self.candles, interval)
            first = np.searchsorted(self.candles.ts, agg.ts, side="left")
            stop = np.searchsorted(self.candles.ts, bucket_end(agg.ts, interval), side="left")
            got = (agg, first, stop)
            self._agg[interval] = got
        return got

    def forming_row(self, interval: str, closed: int, forming: tuple[int, int] | None):
        """(start, o, h, l, c, volume, turnover) of the `interval` candle in progress, or None.

        `closed` base candles are final; `forming` = (i, k) means candle i has played ticks 0..k."""
        c = self.candles
        if interval == self.interval:
            if forming is None:
                return None
            i, k = forming
            return (int(c.ts[i]), *self.forming_part(i, k))
        if forming is not None:
            i, k = forming
            ref = int(c.ts[i])
        elif closed > 0:
            i, k = -1, -1
            ref = int(c.ts[closed - 1])
        else:
            return None
        start = int(bucket_start(np.array([ref]), interval)[0])
        if forming is None and int(bucket_end(np.array([start]), interval)[0]) <= ref + self.base_ms:
            return None  # the last closed base candle closed this bucket too
        j0 = int(np.searchsorted(c.ts, start, side="left"))
        parts_o = []
        hi = -np.inf
        lo = np.inf
        close = None
        vol = 0.0
        turn = 0.0
        if j0 < closed:
            parts_o.append(c.open[j0])
            hi = float(c.high[j0:closed].max())
            lo = float(c.low[j0:closed].min())
            close = float(c.close[closed - 1])
            vol = float(self._cum_volume[closed] - self._cum_volume[j0])
            turn = float(self._cum_turnover[closed] - self._cum_turnover[j0])
        if forming is not None:
            f_open, f_high, f_low, close, f_vol, f_turn = self.forming_part(i, k)
            if not parts_o:
                parts_o.append(f_open)
            hi = max(hi, f_high)
            lo = min(lo, f_low)
            vol += f_vol
            turn += f_turn
        return start, float(parts_o[0]), hi, lo, close, vol, turn

    def forming_part(self, i: int, k: int) -> tuple[float, float, float, float, float, float]:
        """(open, high, low, close, volume, turnover) of base candle i after its tick k."""
        c = self.candles
        tick = self.instrument.tick
        frac = (k + 1) / self.k
        return (float(c.open[i]), float(self.run_high(i, k)) * tick, float(self.run_low(i, k)) * tick,
                float(self.ticks[i, k]) * tick, float(c.volume[i]) * frac, float(self.turnover[i]) * frac)

    def kline_rows(self, interval: str, closed: int, forming: tuple[int, int] | None,
                   start: int | None, end: int | None, limit: int) -> list[tuple]:
        """Rows (start, o, h, l, c, v, turnover), newest first, as /v5/market/kline serves them: candles
        opening in [start, end]; with only `start`, the oldest `limit` from there; else the newest."""
        if interval == self.interval:
            src = self.candles
            n_closed = closed
            turnover = self.turnover
        else:
            src, first, stop = self._aggregated(interval)
            close_time = int(self.candles.ts[closed - 1]) + self.base_ms if closed else -1
            n_closed = int(np.searchsorted(bucket_end(src.ts, interval), close_time, side="right"))
            turnover = self._cum_turnover[stop] - self._cum_turnover[first]
        ts = src.ts[:n_closed]
        lo_i = 0 if start is None else int(np.searchsorted(ts, start, side="left"))
        hi_i = n_closed if end is None else int(np.searchsorted(ts, end, side="right"))
        part = self.forming_row(interval, closed, forming)
        if part is not None and (start is not None and part[0] < start or end is not None and part[0] > end):
            part = None
        if part is not None and n_closed and part[0] <= int(ts[-1]):
            part = None
        rows: list[tuple] = []
        if start is not None and end is None:
            hi_i = min(hi_i, lo_i + limit)
            if hi_i - lo_i >= limit:
                part = None
        else:
            if part is not None:
                limit -= 1
            lo_i = max(lo_i, hi_i - limit)
        if part is not None:
            rows.append(part)
        c = src
        for j in range(hi_i - 1, lo_i - 1, -1):
            rows.append((int(c.ts[j]), c.open[j], c.high[j], c.low[j], c.close[j], c.volume[j], turnover[j]))
        return rows

    def end_of(self, interval: str, start_ms: int) -> int:
        if interval == MONTH:
            return int(bucket_end(np.array([start_ms]), interval)[0]) - 1
        return start_ms + interval_ms(interval) - 1

    def closes_bucket(self, interval: str, i: int) -> bool:
        """True when base candle i is the last one of its `interval` bucket."""
        if interval == self.interval:
            return True
        close_time = int(self.candles.ts[i]) + self.base_ms
        start = bucket_start(np.array([int(self.candles.ts[i])]), interval)
        return int(bucket_end(start, interval)[0]) == close_time
