"""Order-book densities: large resting levels found on the live L2 book, tracked while they live.

A *density* is a price level whose resting size is at least `density.multiplier` x the median
level size of the levels within `density.depth_percent` % of the mid price, worth at least
`density.min_notional` (price x size), that has lived `density.min_lifetime_sec` (spoof filter).

Life of a level, keyed by (side, price):

- **pending**: it qualifies (inside the band, size and notional rules met) but is younger than
  the lifetime. A pending level that stops qualifying is dropped silently (a spoof, or noise):
  `spoofs_filtered` counts them.
- **stable**: it has qualified continuously for the lifetime -> event `appeared`. From now on it
  is tracked until it goes: while eroding it may drop under the multiplier rule (a 5x wall eroded
  by 30 % is 3.5x) and still be tracked, so the breakout and bounce rules can see its erosion.
- it goes -> `consumed` when the level is gone and the price traded through it (a bid wall
  with the mid below its price, an ask wall with the mid above), else `vanished`: gone from the
  book, out of the depth passed in, or shrunk to the band's median level size or below (an ordinary
  level again).

Erosion % = (initial - current) / initial x 100, never negative, with `initial` the size when the
level first qualified; `peak_qty` is kept too. `eroded` is emitted once per update in which the
erosion crosses one or more new thresholds: every 10 %, plus the strategy's
`breakout_erosion_percent` and `bounce_density_erosion_exit_percent`. A refilled wall does not
re-emit a threshold it already crossed.

Pure: time comes in as epoch ms, the book as float64 arrays. Two ways to feed it, with the same
results (tests/test_density_incremental.py proves it event by event):

- `update(now, bid_px, bid_sz, ask_px, ask_sz)`: the book's top levels, sorted best first (what the
  live loop passes); the tracker applies only the differences from the last call;
- `apply_delta(...)` / `apply_snapshot(...)` / `apply_levels(...)`: Bybit's messages as they come
  (changed levels, size 0 removes; a snapshot replaces), the tracker keeping its own copy of the
  book and using its first `density.book_depth` levels a side, as if `update` were called with them.

Either way the work is incremental (whale/strategy/density_band.py): a level change updates the
book copy, the band and its sorted sizes (so the median and the candidates) where it lands; Python
only touches the few candidate and tracked levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from whale.config.model import Density as DensitySettings
from whale.strategy import density_band as band

BID = "bid"
ASK = "ask"
EROSION_STEP_PERCENT = 10.0

APPEARED = "appeared"
ERODED = "eroded"
VANISHED = "vanished"
CONSUMED = "consumed"


def fmt_num(x: float) -> str:
    """A market number for messages: thousands separators, up to 10 significant digits."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return format(x, ",.10g")


def fmt_qty(x: float) -> str:
    return format(x, ",.6g")


@dataclass(frozen=True)
class Density:
    """A snapshot of one tracked density (stable, or pending when asked for)."""

    side: str  # "bid" or "ask"
    price: float
    initial_qty: float
    qty: float
    peak_qty: float
    notional: float
    first_seen_ms: int
    age_s: float
    erosion_pct: float
    distance_pct: float  # |price - mid| / mid x 100 on the last book
    multiple: float  # qty / the band's median level size on the last book
    pending: bool = False

    @property
    def label(self) -> str:
        return f"{self.side} density {fmt_num(self.price)}"


@dataclass(frozen=True)
class DensityEvent:
    kind: str  # appeared | eroded | vanished | consumed
    side: str
    price: float
    qty: float
    initial_qty: float
    erosion_pct: float
    ts_ms: int
    age_s: float
    detail: str = ""
    threshold: float | None = None  # eroded: the highest threshold crossed

    @property
    def text(self) -> str:
        head = f"{self.side} density {fmt_num(self.price)}"
        if self.kind == APPEARED:
            return (f"{head} appeared: {fmt_qty(self.qty)} ({self.qty * self.price:,.0f} USDT, {self.detail}), "
                    f"lived {self.age_s:.0f} s")
        if self.kind == ERODED:
            return (f"{head} eroded {self.erosion_pct:.1f} % (crossed {self.threshold:g} %): "
                    f"{fmt_qty(self.initial_qty)} -> {fmt_qty(self.qty)}")
        return (f"{head} {self.kind} ({self.detail}) after {self.age_s:.0f} s, "
                f"eroded {self.erosion_pct:.1f} % from {fmt_qty(self.initial_qty)}")

    def __str__(self) -> str:
        return self.text


def _erosion(initial: float, qty: float) -> float:
    """Erosion % = (initial - current) / initial x 100, never negative."""
    if initial <= 0.0:
        return 0.0
    return max(0.0, (initial - qty) / initial * 100.0)


_Row = tuple[str, float, float, float, float, int, bool]  # side, price, initial, qty, peak, first_ms, stable
_KINDS = {band.EV_APPEARED: APPEARED, band.EV_ERODED: ERODED, band.EV_VANISHED: VANISHED, band.EV_CONSUMED: CONSUMED}


class _TrackReads:
    """One update's reads of the tracks' arrays (DensityTracker._reads)."""

    __slots__ = ("version", "n", "stable", "prices")

    def __init__(self, version: int, n: int) -> None:
        self.version = version
        self.n = n  # tracked levels
        self.stable: list[int] | None = None  # indices of the stable ones
        self.prices: list[float] | None = None


class DensityTracker:
    """Finds and tracks densities; feed it every book update (see the module doc). The tracked
    levels live in the kernels' arrays (whale/strategy/density_band.py), in the order they were
    first found; Python only builds the events and the Density snapshots asked for."""

    def __init__(self, settings: DensitySettings) -> None:
        self.settings = settings
        self._book_depth = settings.book_depth
        self._depth_frac = settings.depth_percent / 100.0
        self._lifetime_ms = settings.min_lifetime_sec * 1000.0
        steps = {EROSION_STEP_PERCENT * k for k in range(1, 10)}
        steps.add(float(settings.breakout_erosion_percent))
        steps.add(float(settings.bounce_density_erosion_exit_percent))
        self.thresholds: tuple[float, ...] = tuple(sorted(t for t in steps if 0.0 < t <= 100.0))
        self._band = band.BandState(max(64, 2 * settings.book_depth), settings.book_depth, self._depth_frac,
                                    float(settings.multiplier), float(settings.min_notional), self._lifetime_ms,
                                    self.thresholds)
        self.mid = math.nan
        self.median = math.nan
        self.imbalance = math.nan  # (bid - ask) / (bid + ask) volume inside the band
        self.last_ms: int | None = None
        self._cache: list[Density] | None = None  # densities() of the last update
        self._rows: tuple[int, list[_Row], list[_Row]] | None = None
        self._track_reads = _TrackReads(-1, 0)
        self._memo: tuple[int, dict[tuple[str, float], Density]] = (-1, {})
        self.version = 0  # +1 on every update that saw a book
        self.stable_version = 0  # changes when the stable densities changed (any of their numbers but the age)

    @property
    def ready(self) -> bool:
        """True once a non-empty book has been seen."""
        return self.last_ms is not None

    @property
    def spoofs_filtered(self) -> int:
        """Pending levels dropped before they lived min_lifetime_sec."""
        return int(self._band.ist[band.I_SPOOFS])

    # ------------------------------------------------------------------------------------------
    # Feeding it

    def update(self, now_ms: int, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray,
               ask_sz: np.ndarray) -> list[DensityEvent]:
        """Take the book's top levels (sorted float64 arrays, best first: all of them count) and return
        what changed."""
        nb, na = bid_px.shape[0], ask_px.shape[0]
        if nb == 0 and na == 0:
            return []  # no data (a resync in progress), not a book without walls
        st = self._band
        st.ist[band.I_LIMIT] = max(nb, na, 1)
        st.reserve(max(nb, na))
        return self._after(now_ms, band.sync_levels(st.keys, st.sizes, st.ws, st.ist, st.fst,
                                                    np.concatenate((bid_px, ask_px)), np.concatenate((bid_sz, ask_sz)),
                                                    nb, na, st.cand, st.tf, st.ti, st.ev, st.th, now_ms, st.work_k,
                                                    st.work_s))

    def apply_snapshot(self, now_ms: int, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray,
                       ask_sz: np.ndarray) -> list[DensityEvent]:
        """A book snapshot (levels in any order; size 0 is no level): it replaces the tracker's book."""
        return self.apply_levels(now_ms, True, np.concatenate((bid_px, ask_px)), np.concatenate((bid_sz, ask_sz)),
                                 0, bid_px.shape[0], ask_px.shape[0])

    def apply_delta(self, now_ms: int, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray,
                    ask_sz: np.ndarray) -> list[DensityEvent]:
        """A book delta: the changed levels (size 0 removes the level)."""
        return self.apply_levels(now_ms, False, np.concatenate((bid_px, ask_px)), np.concatenate((bid_sz, ask_sz)),
                                 0, bid_px.shape[0], ask_px.shape[0])

    def apply_levels(self, now_ms: int, snapshot: bool, px: np.ndarray, sz: np.ndarray, start: int, nb: int,
                     na: int) -> list[DensityEvent]:
        """The fast form of apply_snapshot / apply_delta: px/sz[start:start + nb] are the bid levels and
        the next `na` the ask levels (a recording's decoded batch is passed as it is)."""
        st = self._band
        st.ist[band.I_LIMIT] = self.settings.book_depth
        st.reserve(max(nb, na))
        if snapshot:
            out = band.replace_levels(st.keys, st.sizes, st.ws, st.ist, st.fst, px, sz, start, nb, na, st.cand, st.tf,
                                      st.ti, st.ev, st.th, now_ms, st.work_k, st.work_s)
        else:
            out = band.apply_levels(st.keys, st.sizes, st.ws, st.ist, st.fst, px, sz, start, nb, na, st.cand, st.tf,
                                    st.ti, st.ev, st.th, now_ms)
        return self._after(now_ms, out)

    def apply_changes(self, now_ms: int, px: np.ndarray, sz: np.ndarray, nb: int, na: int) -> list[DensityEvent]:
        """apply_delta with the changes as a book's change log holds them (OrderBook.take_change_rows):
        2-D px/sz, the `nb` bid changes in row 0 and the `na` ask changes in row 1, each in the order applied."""
        st = self._band
        out = band.apply_rows(st.keys, st.sizes, st.ws, st.ist, st.fst, px, sz, nb, na, st.cand, st.tf, st.ti, st.ev,
                              st.th, now_ms, self._book_depth)
        if out[0] == band.NEED_ROOM:
            st.reserve(max(nb, na))
            out = band.apply_rows(st.keys, st.sizes, st.ws, st.ist, st.fst, px, sz, nb, na, st.cand, st.tf, st.ti,
                                  st.ev, st.th, now_ms, self._book_depth)
        return self._after(now_ms, out)

    def apply_book_changes(self, now_ms: int,
                           levels: tuple[bool, np.ndarray, np.ndarray, int, int]) -> list[DensityEvent]:
        """What MarketState.density_levels gives, `(whole, px, sz, nb, na)`: the whole book (1-D, bids then
        asks: apply_snapshot) or the changes since the last call (2-D rows: apply_changes)."""
        whole, px, sz, nb, na = levels
        if whole:
            return self.apply_levels(now_ms, True, px, sz, 0, nb, na)
        return self.apply_changes(now_ms, px, sz, nb, na)

    def _after(self, now_ms: int, out: tuple[int, float, float, float, float, int, int]) -> list[DensityEvent]:
        """The tracker's numbers after a kernel's update (its outcome: density_band._outcome), and its events as
        objects."""
        status, mid, median, bvol, avol, stable_changes, n = out
        if status != band.UPDATED:
            return []
        self.mid = mid
        self.median = median
        self.last_ms = now_ms
        self.version += 1
        self._cache = None
        total = bvol + avol
        self.imbalance = (bvol - avol) / total if total > 0.0 else math.nan
        self.stable_version = stable_changes
        if not n:
            return []
        rows = self._band.ev[:, :n].T.tolist()
        return [self._event(row, now_ms) for row in rows]

    def _event(self, row: list[float], now_ms: int) -> DensityEvent:
        code, side_code, price, qty, initial, first, aux = row
        kind = _KINDS[int(code)]
        side = BID if side_code == band.BID_SIDE else ASK
        erosion = _erosion(initial, qty)
        age = (now_ms - int(first)) / 1000.0
        threshold = None
        if kind == APPEARED:
            detail = f"{qty / self.median:.1f}x the median level"
        elif kind == ERODED:
            detail, threshold = "", aux
        elif aux == band.GONE_SHRUNK:
            detail = f"shrunk to {fmt_qty(qty)}, no more than the median level {fmt_qty(self.median)}"
        elif aux == band.GONE_TRADED:
            detail = "the price traded through it"
        elif aux == band.GONE_BEYOND:
            detail = "out of the book depth"
        else:
            detail = "gone from the book"
        return DensityEvent(kind, side, price, qty, initial, erosion, now_ms, age, detail, threshold)

    # ------------------------------------------------------------------------------------------
    # Accessors

    def _reads(self) -> _TrackReads:
        """This update's reads of the kernel's track arrays, each made when an accessor first needs it:
        most tracks are pending candidates, and the strategy asks about the one or two stable ones near
        the price, so reading every row as Python floats on every update (~2 us) is mostly waste."""
        reads = self._track_reads
        if reads.version != self.version:
            reads = self._track_reads = _TrackReads(self.version, int(self._band.ist[band.I_NTRACK]))
        return reads

    def _stable_indices(self, reads: _TrackReads) -> list[int]:
        if reads.stable is None:
            flags = self._band.ti[band.TI_STABLE, :reads.n].tolist()
            reads.stable = [j for j, s in enumerate(flags) if s == 1]
        return reads.stable

    def _prices(self, reads: _TrackReads) -> list[float]:
        if reads.prices is None:
            reads.prices = self._band.tf[band.T_PRICE, :reads.n].tolist()
        return reads.prices

    def _row_at(self, j: int) -> _Row:
        """Track j as a row (side, price, initial, qty, peak, first_ms, stable)."""
        st = self._band
        side, price, initial, qty, peak = st.tf[:band.T_SEEN, j].tolist()
        first, stable = st.ti[:band.TI_CROSSED, j].tolist()
        return (BID if side == band.BID_SIDE else ASK, price, initial, qty, peak, first, stable == 1)

    def _tracks(self, stable_only: bool) -> list[_Row]:
        """(side, price, initial, qty, peak, first_ms, stable) of the tracked levels, in order (built
        once per update)."""
        rows = self._rows
        if rows is None or rows[0] != self.version:
            st = self._band
            n = int(st.ist[band.I_NTRACK])
            tf = st.tf[:band.T_SEEN, :n].tolist()
            ti = st.ti[:band.TI_CROSSED, :n].tolist()
            every = [(BID if side == band.BID_SIDE else ASK, price, initial, qty, peak, first, stable == 1)
                     for side, price, initial, qty, peak, first, stable in zip(*tf, *ti, strict=True)]
            rows = self._rows = (self.version, every, [r for r in every if r[6]])
        return rows[2] if stable_only else rows[1]

    def _row(self, side: str, price: float) -> _Row | None:
        """The track at exactly (side, price) (at most one: the kernel keys tracks by side and price)."""
        if side == BID:
            code = band.BID_SIDE
        elif side == ASK:
            code = band.ASK_SIDE
        else:
            return None
        reads = self._reads()
        prices = self._prices(reads)
        j = -1
        while True:  # list.index: a C search of the few tracked prices
            try:
                j = prices.index(price, j + 1)
            except ValueError:
                return None
            if self._band.tf[band.T_SIDE, j] == code:
                return self._row_at(j)

    def _snapshot(self, tr: _Row, now_ms: int) -> Density:
        if now_ms == self.last_ms:  # the same track asked again in this update: the same snapshot
            memo = self._memo
            if memo[0] != self.version:
                memo = self._memo = (self.version, {})
            key = (tr[0], tr[1])
            got = memo[1].get(key)
            if got is None:
                got = memo[1][key] = self._build(tr, now_ms)
            return got
        return self._build(tr, now_ms)

    def _build(self, tr: _Row, now_ms: int) -> Density:
        side, price, initial, qty, peak, first, stable = tr
        mid, median = self.mid, self.median
        return Density(side, price, initial, qty, peak, qty * price, first, (now_ms - first) / 1000.0,
                       _erosion(initial, qty), abs(price - mid) / mid * 100.0 if mid > 0 else math.nan,
                       qty / median if median > 0 else math.nan, not stable)

    def densities(self, now_ms: int | None = None, *, include_pending: bool = False) -> list[Density]:
        """Stable densities (and pending candidates when asked), nearest to the mid first."""
        now = self.last_ms if now_ms is None else now_ms
        if now is None:
            return []
        cacheable = not include_pending and now == self.last_ms
        if cacheable and self._cache is not None:
            return list(self._cache)  # the strategy and the exits ask several times per update
        out = [self._snapshot(tr, now) for tr in self._tracks(not include_pending)]
        out.sort(key=lambda d: d.distance_pct)
        if cacheable:
            self._cache = out
            return list(out)
        return out

    def densities_near(self, price: float, max_distance_pct: float) -> list[Density]:
        """The stable densities within max_distance_pct % of `price`, in densities() order (only
        these are built: the strategy and the exits look at the few near the price)."""
        if self.last_ms is None or not (price > 0.0):
            return []
        now = self.last_ms
        reads = self._reads()
        stable = self._stable_indices(reads)
        if not stable:
            return []
        prices = self._prices(reads)
        out = [self._snapshot(self._row_at(j), now) for j in stable
               if abs(prices[j] - price) / price * 100.0 <= max_distance_pct]
        out.sort(key=lambda d: d.distance_pct)
        return out

    def get(self, side: str, price: float, *, include_pending: bool = False) -> Density | None:
        """The tracked density at exactly (side, price), or None."""
        if self.last_ms is None:
            return None
        tr = self._row(side, float(price))
        if tr is None or not (tr[6] or include_pending):
            return None
        return self._snapshot(tr, self.last_ms)

    def first_seen(self, side: str, price: float) -> int | None:
        """When the stable density at exactly (side, price) was first seen (ms), or None: `get(side,
        price).first_seen_ms` without building the Density (the strategy asks it on every pass)."""
        if self.last_ms is None:
            return None
        tr = self._row(side, float(price))
        return tr[5] if tr is not None and tr[6] else None

    def nearest(self, side: str, price: float, *, max_distance_pct: float = math.inf) -> Density | None:
        """The stable density on `side` nearest to `price` (within max_distance_pct % of it)."""
        best = None
        best_d = math.inf
        for tr in self._tracks(True):
            if tr[0] == side:
                d = abs(tr[1] - price)
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
        self._band.clear()
        self.stable_version = int(self._band.ist[band.I_STABLE_CHANGES])
        self._cache = self._rows = None
        self._track_reads = _TrackReads(-1, 0)
        self._memo = (-1, {})
        self.mid = self.median = self.imbalance = math.nan
        self.last_ms = None

    # ------------------------------------------------------------------------------------------
    # The tracker's copy of the book (fed by apply_*; by update, the arrays last passed)

    def book_size(self, side: str, price: float) -> float:
        """Resting size at exactly `price` on `side` of the tracker's book (0.0 when absent)."""
        st = self._band
        return float(band.level_at(st.keys, st.sizes, st.ist, band.BID_SIDE if side == BID else band.ASK_SIDE,
                                   float(price), False))

    def book_top(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid_px, bid_sz, ask_px, ask_sz) of the tracker's book, best `n` levels a side, best first
        (copies)."""
        st = self._band
        nb = min(n, int(st.ist[band.I_N]))
        na = min(n, int(st.ist[band.I_N + 1]))
        return (-st.keys[band.BID_SIDE, :nb], st.sizes[band.BID_SIDE, :nb].copy(),
                st.keys[band.ASK_SIDE, :na].copy(), st.sizes[band.ASK_SIDE, :na].copy())
