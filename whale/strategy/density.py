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


class DensityTracker:
    """Finds and tracks densities; feed it every book update (see the module doc)."""

    def __init__(self, settings: DensitySettings) -> None:
        self.settings = settings
        self._depth_frac = settings.depth_percent / 100.0
        self._lifetime_ms = settings.min_lifetime_sec * 1000.0
        steps = {EROSION_STEP_PERCENT * k for k in range(1, 10)}
        steps.add(float(settings.breakout_erosion_percent))
        steps.add(float(settings.bounce_density_erosion_exit_percent))
        self.thresholds: tuple[float, ...] = tuple(sorted(t for t in steps if 0.0 < t <= 100.0))
        self._tracks: dict[tuple[str, float], _Track] = {}
        self._band = band.BandState(max(64, 2 * settings.book_depth), settings.book_depth, self._depth_frac,
                                    float(settings.multiplier), float(settings.min_notional))
        self._tracked = np.zeros((3, 8))  # rows side, price, size of the tracked levels, in _tracked_keys order
        self._tracked_keys: list[tuple[str, float]] = []
        self._tracked_dirty = False
        self.mid = math.nan
        self.median = math.nan
        self.imbalance = math.nan  # (bid - ask) / (bid + ask) volume inside the band
        self.last_ms: int | None = None
        self.spoofs_filtered = 0
        self._cache: tuple[int, list[Density]] | None = None  # densities() of the last update
        self.version = 0  # +1 on every update that saw a book

    @property
    def ready(self) -> bool:
        """True once a non-empty book has been seen."""
        return self.last_ms is not None

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
        self._sync_tracked()
        if not band.sync_levels(st.keys, st.sizes, st.ws, st.ist, st.fst, np.concatenate((bid_px, ask_px)),
                                np.concatenate((bid_sz, ask_sz)), nb, na, st.cand, self._tracked,
                                len(self._tracked_keys), st.work_k, st.work_s):
            return []
        return self._after_scan(now_ms)

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
        if snapshot:
            return self._replace(now_ms, px, sz, start, nb, na)
        st.reserve(max(nb, na))
        self._sync_tracked()
        t = self._tracked
        if not band.apply_levels(st.keys, st.sizes, st.ws, st.ist, st.fst, px, sz, start, nb, na, st.cand, t,
                                 len(self._tracked_keys)):
            return []
        return self._after_scan(now_ms)

    def _replace(self, now_ms: int, px: np.ndarray, sz: np.ndarray, start: int, nb: int, na: int) -> list[DensityEvent]:
        st = self._band
        st.reserve(max(nb, na))
        self._sync_tracked()
        if not band.replace_levels(st.keys, st.sizes, st.ws, st.ist, st.fst, px, sz, start, nb, na, st.cand,
                                   self._tracked, len(self._tracked_keys), st.work_k, st.work_s):
            return []
        return self._after_scan(now_ms)

    def _sync_tracked(self) -> None:
        """The tracked levels as the kernel's rows (rebuilt only when the set of tracks changed)."""
        if not self._tracked_dirty:
            return
        keys = list(self._tracks)
        if len(keys) > self._tracked.shape[1]:
            self._tracked = np.zeros((3, 2 * len(keys)))
        t = self._tracked
        for j, (side, price) in enumerate(keys):
            t[0, j] = band.BID_SIDE if side == BID else band.ASK_SIDE
            t[1, j] = price
        self._tracked_keys = keys
        self._tracked_dirty = False

    def _after_scan(self, now_ms: int) -> list[DensityEvent]:
        """The life of the candidate and tracked levels after the kernel's scan (the module doc)."""
        st = self._band
        fst = st.fst
        mid = float(fst[band.F_MID])
        median = float(fst[band.F_MEDIAN])
        bvol = float(fst[band.F_BVOL])
        avol = float(fst[band.F_AVOL])
        self.mid, self.median, self.last_ms = mid, median, now_ms
        self.version += 1
        self._cache = None
        total = bvol + avol
        self.imbalance = (bvol - avol) / total if total > 0.0 else math.nan
        tracks = self._tracks
        ncand = int(st.ist[band.I_NCAND])
        events: list[DensityEvent] = []
        if not ncand and not tracks:
            return events
        qualifying: set[tuple[str, float]] = set()
        if ncand:
            cand = st.cand[:, :ncand].tolist()
            for side_code, price, size in zip(cand[0], cand[1], cand[2], strict=True):
                key = (BID if side_code == band.BID_SIDE else ASK, price)
                qualifying.add(key)
                if key not in tracks:
                    tracks[key] = _Track(key[0], price, now_ms, size, size, size)
                    self._tracked_dirty = True
        sizes = dict(zip(self._tracked_keys, self._tracked[2, :len(self._tracked_keys)].tolist(), strict=True))
        gone: list[tuple[str, float]] = []
        for key, tr in tracks.items():
            qty = sizes.get(key)
            if qty is None:  # found by this update: its size is the candidate's
                qty = tr.qty
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
                events.append(self._gone_event(tr, qty, now_ms))
                continue
            tr.qty = qty
            if qty > tr.peak:
                tr.peak = qty
            self._erosion_event(tr, now_ms, events)
        if gone:
            for key in gone:
                del tracks[key]
            self._tracked_dirty = True
        return events

    def _gone_event(self, tr: _Track, qty: float, now_ms: int) -> DensityEvent:
        """`consumed` when the level is gone and the mid has passed its price, else `vanished`."""
        bid = tr.side == BID
        if qty > 0.0:
            tr.qty = qty
            return self._event(VANISHED, tr, now_ms,
                               f"shrunk to {fmt_qty(qty)}, no more than the median level {fmt_qty(self.median)}")
        if (bid and self.mid < tr.price) or (not bid and self.mid > tr.price):
            return self._event(CONSUMED, tr, now_ms, "the price traded through it")
        st = self._band
        side = band.BID_SIDE if bid else band.ASK_SIDE
        last = float(st.fst[band.F_LAST + side])
        beyond = st.ist[band.I_VIEW + side] == 0 or (tr.price < last if bid else tr.price > last)
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
        cacheable = not include_pending and now == self.last_ms
        if cacheable and self._cache is not None:
            return list(self._cache[1])  # the strategy and the exits ask several times per update
        out = [self._snapshot(tr, now) for tr in self._tracks.values() if include_pending or tr.stable]
        out.sort(key=lambda d: d.distance_pct)
        if cacheable:
            self._cache = (self.version, out)
            return list(out)
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
        self._band.clear()
        self._tracked_dirty = True
        self._cache = None
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
