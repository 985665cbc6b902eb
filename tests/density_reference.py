"""The density tracker's full recomputation, kept as the reference the incremental tracker is
tested against (tests/test_density_incremental.py): every update scans the whole book passed in
(band, median, candidates) and looks every tracked level up. This is the algorithm of
whale/strategy/density.py before it became incremental, unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from whale.config.model import Density as DensitySettings
from whale.strategy.density import (
    APPEARED,
    ASK,
    BID,
    CONSUMED,
    ERODED,
    EROSION_STEP_PERCENT,
    VANISHED,
    Density,
    DensityEvent,
    fmt_qty,
)


@njit(cache=False)
def _band(px, sz, bound, descending, work, n):
    """Levels of one side inside the band (prices on the mid's side of `bound`): how many, their
    volume, and their sizes appended to work[n:]. Returns (count, volume, new n)."""
    count = 0
    vol = 0.0
    for i in range(px.shape[0]):
        if (px[i] < bound) if descending else (px[i] > bound):
            break
        count = i + 1
        if sz[i] > 0.0:
            work[n] = sz[i]
            n += 1
            vol += sz[i]
    return count, vol, n


@njit(cache=False)
def _qualifying(px, sz, count, floor, min_notional, out):
    """Indices among the first `count` levels with size >= floor and notional >= min_notional."""
    k = 0
    for i in range(count):
        if sz[i] >= floor and sz[i] * px[i] >= min_notional:
            out[k] = i
            k += 1
    return k


@njit(cache=False)
def _scan(bid_px, bid_sz, ask_px, ask_sz, depth_frac, multiplier, min_notional, work, cand_bid, cand_ask):
    """One pass over the book: mid, the band's median level size, the band volumes per side and
    the qualifying levels (indices written to cand_bid / cand_ask). Returns
    (mid, median, bid_band_volume, ask_band_volume, n_cand_bid, n_cand_ask)."""
    nb = bid_px.shape[0]
    na = ask_px.shape[0]
    if nb > 0 and na > 0:
        mid = 0.5 * (bid_px[0] + ask_px[0])
    elif nb > 0:
        mid = bid_px[0]
    else:
        mid = ask_px[0]
    nbb, bvol, n = _band(bid_px, bid_sz, mid * (1.0 - depth_frac), True, work, 0)
    nab, avol, n = _band(ask_px, ask_sz, mid * (1.0 + depth_frac), False, work, n)
    if n == 0:
        return mid, np.nan, 0.0, 0.0, 0, 0
    median = np.median(work[:n])
    floor = multiplier * median
    cb = _qualifying(bid_px, bid_sz, nbb, floor, min_notional, cand_bid)
    ca = _qualifying(ask_px, ask_sz, nab, floor, min_notional, cand_ask)
    return mid, median, bvol, avol, cb, ca


@njit(cache=False)
def level_size(px, sz, price, descending):
    """Resting size at exactly `price` on one side of the book (0.0 when the level is absent)."""
    lo = 0
    hi = px.shape[0]
    while lo < hi:
        m = (lo + hi) // 2
        p = px[m]
        if p == price:
            return sz[m]
        if (p > price) == descending:
            lo = m + 1
        else:
            hi = m
    return 0.0



@dataclass(slots=True)
class _Track:
    side: str
    price: float
    first_ms: int
    initial: float  # the size when it first qualified
    qty: float
    peak: float
    stable: bool = False
    crossed: int = 0  # how many erosion thresholds have been announced

    def erosion(self) -> float:
        if self.initial <= 0.0:
            return 0.0
        return max(0.0, (self.initial - self.qty) / self.initial * 100.0)


class FullDensityTracker:
    """The tracker as it was before it became incremental: every update rescans the whole book."""

    def __init__(self, settings: DensitySettings) -> None:
        self.settings = settings
        self._depth_frac = settings.depth_percent / 100.0
        self._lifetime_ms = settings.min_lifetime_sec * 1000.0
        steps = {EROSION_STEP_PERCENT * k for k in range(1, 10)}
        steps.add(float(settings.breakout_erosion_percent))
        steps.add(float(settings.bounce_density_erosion_exit_percent))
        self.thresholds: tuple[float, ...] = tuple(sorted(t for t in steps if 0.0 < t <= 100.0))
        self._tracks: dict[tuple[str, float], _Track] = {}
        self._work = np.empty(0)
        self._cand_bid = np.empty(0, dtype=np.int64)
        self._cand_ask = np.empty(0, dtype=np.int64)
        self.mid = math.nan
        self.median = math.nan
        self.imbalance = math.nan  # (bid - ask) / (bid + ask) volume inside the band
        self.last_ms: int | None = None
        self.spoofs_filtered = 0

    @property
    def ready(self) -> bool:
        """True once a non-empty book has been seen."""
        return self.last_ms is not None

    def _buffers(self, nb: int, na: int) -> None:
        if self._work.shape[0] < nb + na:
            size = max(nb + na, 2 * self.settings.book_depth)
            self._work = np.empty(size)
            self._cand_bid = np.empty(size, dtype=np.int64)
            self._cand_ask = np.empty(size, dtype=np.int64)

    def update(self, now_ms: int, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray,
               ask_sz: np.ndarray) -> list[DensityEvent]:
        """Take one book (sorted float64 arrays, best first) and return what changed."""
        nb, na = bid_px.shape[0], ask_px.shape[0]
        if nb == 0 and na == 0:
            return []  # no data (a resync in progress), not a book without walls
        self._buffers(nb, na)
        mid, median, bvol, avol, cb, ca = _scan(bid_px, bid_sz, ask_px, ask_sz, self._depth_frac,
                                                 self.settings.multiplier, self.settings.min_notional,
                                                 self._work, self._cand_bid, self._cand_ask)
        self.mid, self.median, self.last_ms = mid, median, now_ms
        total = bvol + avol
        self.imbalance = (bvol - avol) / total if total > 0.0 else math.nan
        tracks = self._tracks
        qualifying: set[tuple[str, float]] = set()
        events: list[DensityEvent] = []
        for side, idx, count, px, sz in ((BID, self._cand_bid, cb, bid_px, bid_sz),
                                         (ASK, self._cand_ask, ca, ask_px, ask_sz)):
            for k in range(count):
                i = idx[k]
                key = (side, float(px[i]))
                qualifying.add(key)
                tr = tracks.get(key)
                if tr is None:
                    q = float(sz[i])
                    tracks[key] = _Track(side, key[1], now_ms, q, q, q)
        gone: list[tuple[str, float]] = []
        for key, tr in tracks.items():
            if tr.side == BID:
                qty = level_size(bid_px, bid_sz, tr.price, True)
            else:
                qty = level_size(ask_px, ask_sz, tr.price, False)
            if not tr.stable:
                if key not in qualifying:
                    gone.append(key)
                    self.spoofs_filtered += 1
                    continue
                tr.qty = qty
                tr.peak = max(tr.peak, qty)
                if now_ms - tr.first_ms >= self._lifetime_ms:
                    tr.stable = True
                    events.append(self._event(APPEARED, tr, now_ms, f"{qty / median:.1f}x the median level"))
                    self._erosion_event(tr, now_ms, events)
                continue
            if qty <= 0.0 or qty <= median:
                gone.append(key)
                events.append(self._gone_event(tr, qty, now_ms, bid_px, ask_px))
                continue
            tr.qty = qty
            if qty > tr.peak:
                tr.peak = qty
            self._erosion_event(tr, now_ms, events)
        for key in gone:
            del tracks[key]
        return events

    def _gone_event(self, tr: _Track, qty: float, now_ms: int, bid_px: np.ndarray,
                    ask_px: np.ndarray) -> DensityEvent:
        """`consumed` when the level is gone and the mid has passed its price, else `vanished`."""
        bid = tr.side == BID
        if qty > 0.0:
            tr.qty = qty
            return self._event(VANISHED, tr, now_ms,
                               f"shrunk to {fmt_qty(qty)}, no more than the median level {fmt_qty(self.median)}")
        if (bid and self.mid < tr.price) or (not bid and self.mid > tr.price):
            return self._event(CONSUMED, tr, now_ms, "the price traded through it")
        px = bid_px if bid else ask_px
        beyond = px.shape[0] == 0 or (tr.price < px[-1] if bid else tr.price > px[-1])
        return self._event(VANISHED, tr, now_ms, "out of the book depth" if beyond else "gone from the book")

    def _erosion_event(self, tr: _Track, now_ms: int, events: list[DensityEvent]) -> None:
        erosion = tr.erosion()
        th = self.thresholds
        k = tr.crossed
        while k < len(th) and erosion >= th[k]:
            k += 1
        if k > tr.crossed:
            tr.crossed = k
            events.append(self._event(ERODED, tr, now_ms, "", th[k - 1]))

    @staticmethod
    def _event(kind: str, tr: _Track, now_ms: int, detail: str, threshold: float | None = None) -> DensityEvent:
        return DensityEvent(kind, tr.side, tr.price, tr.qty, tr.initial, tr.erosion(), now_ms,
                            (now_ms - tr.first_ms) / 1000.0, detail, threshold)

    # ------------------------------------------------------------------------------------------
    # Accessors

    def _snapshot(self, tr: _Track, now_ms: int) -> Density:
        mid, median = self.mid, self.median
        return Density(tr.side, tr.price, tr.initial, tr.qty, tr.peak, tr.qty * tr.price, tr.first_ms,
                       (now_ms - tr.first_ms) / 1000.0, tr.erosion(),
                       abs(tr.price - mid) / mid * 100.0 if mid > 0 else math.nan,
                       tr.qty / median if median > 0 else math.nan, not tr.stable)

    def densities(self, now_ms: int | None = None, *, include_pending: bool = False) -> list[Density]:
        """Stable densities (and pending candidates when asked), nearest to the mid first."""
        now = self.last_ms if now_ms is None else now_ms
        if now is None:
            return []
        out = [self._snapshot(tr, now) for tr in self._tracks.values() if include_pending or tr.stable]
        out.sort(key=lambda d: d.distance_pct)
        return out

    def get(self, side: str, price: float, *, include_pending: bool = False) -> Density | None:
        """The tracked density at exactly (side, price), or None."""
        tr = self._tracks.get((side, float(price)))
        if tr is None or not (tr.stable or include_pending) or self.last_ms is None:
            return None
        return self._snapshot(tr, self.last_ms)

    def nearest(self, side: str, price: float, *, max_distance_pct: float = math.inf) -> Density | None:
        """The stable density on `side` nearest to `price` (within max_distance_pct % of it)."""
        best: _Track | None = None
        best_d = math.inf
        for tr in self._tracks.values():
            if tr.stable and tr.side == side:
                d = abs(tr.price - price)
                if d < best_d:
                    best, best_d = tr, d
        if best is None or self.last_ms is None or best_d / price * 100.0 > max_distance_pct:
            return None
        return self._snapshot(best, self.last_ms)

    def for_display(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Stable densities as the display's dicts (price, side, size, notional, age_sec,
        erosion_percent)."""
        return [{"side": d.side, "price": d.price, "size": d.qty, "notional": d.notional, "age_sec": d.age_s,
                 "erosion_percent": d.erosion_pct} for d in self.densities(now_ms)]

    def reset(self) -> None:
        """Forget everything (after a book resync that left a gap, if the caller prefers)."""
        self._tracks.clear()
        self.mid = self.median = self.imbalance = math.nan
        self.last_ms = None
