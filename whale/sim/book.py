"""A synthetic L2 order book around the last traded price, with scripted walls.

Levels sit on a fixed grid of prices (every `level_ticks` ticks, plus the best bid and ask one tick
apart at the last price), so a price move only changes the levels near the top and at the edges and
the deltas stay small. A level's size is a deterministic function of its price and of replay time
(it is re-drawn once per `churn_ms`, at a phase of its own), so the book is the same whoever looks
and a test can rebuild it. Walls are large resting orders added on top: they appear, erode linearly
over replay time, vanish on command, and are consumed when the price trades through them.

In stream-rate mode (benchmarks) the levels near the touch also churn in wall time, as a real
book's do between trades: `set_noise(ms)` re-sizes them and lets extra levels between the grid
prices appear and vanish, each on a period and phase of its own, so a delta every 20 ms carries a
few inserted, removed and resized levels. Without it (noise off) the book is exactly the grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numba import njit

log = logging.getLogger("whalebot.sim")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FNV = np.uint64(0x100000001B3)


@njit(cache=True)
def _unit(x):
    """splitmix64 of a uint64, as a float in [0, 1)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    x = x ^ (x >> np.uint64(31))
    return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def level_sizes(ticks, seed, base_steps, churn_ms, now):
    """Size in qtySteps of the levels at `ticks` at replay time `now`: a per-price base in
    [0.25, 1.75] x base_steps, times a factor in [0.7, 1.3] redrawn once per churn_ms at a
    per-price phase."""
    out = np.empty(ticks.shape[0], dtype=np.int64)
    for j in range(ticks.shape[0]):
        t = np.uint64(ticks[j]) ^ seed
        base = base_steps * (0.25 + 1.5 * _unit(t))
        phase = np.int64(_unit(t * np.uint64(3) + np.uint64(7)) * churn_ms)
        epoch = np.uint64((now + phase) // churn_ms)
        churn = 0.7 + 0.6 * _unit(t * _FNV + epoch * _GOLDEN)
        v = np.int64(np.round(base * churn))
        out[j] = v if v > 1 else 1
    return out


@njit(cache=True)
def _mix(t, salt):
    """A uint64 hash input from a tick and a salt (both non-negative)."""
    return np.uint64(t) * np.uint64(0x2545F4914F6CDD1D) + np.uint64(salt)


@njit(cache=True)
def churn_side(ticks, sizes, direction, seed, base_steps, now, span, density):
    """One side of the book with wall-time churn near the touch: `ticks` run away from the touch
    (bids falling: direction -1; asks rising: +1), `now` in ms. Within `span` ticks of the touch,
    each level's size is redrawn once per a period of its own (the touch every 40 ms, the others
    every 0.2-1 s), and each price between the grid levels holds a small order a `density` share
    of the time, redrawn every 0.3-2 s. Beyond `span` the levels are the grid's. At most as many
    levels as given come out."""
    n = ticks.shape[0]
    out_t = np.empty(n, dtype=np.int64)
    out_s = np.empty(n, dtype=np.int64)
    t0 = ticks[0]
    j = 0
    m = 0
    for d in range(span + 1):
        if m >= n:
            break
        t = t0 + direction * d
        h = _mix(t, 0) ^ seed
        if j < n and ticks[j] == t:
            period = 40 if d == 0 else 200 + np.int64(_unit(h + np.uint64(11)) * 800.0)
            phase = np.int64(_unit(h + np.uint64(13)) * period)
            epoch = np.uint64((now + phase) // period)
            f = 0.4 + 1.2 * _unit(h * _FNV + epoch * _GOLDEN + np.uint64(17))
            v = np.int64(np.round(sizes[j] * f))
            out_t[m] = t
            out_s[m] = v if v > 1 else 1
            m += 1
            j += 1
        else:
            period = 300 + np.int64(_unit(h + np.uint64(19)) * 1700.0)
            phase = np.int64(_unit(h + np.uint64(23)) * period)
            epoch = np.uint64((now + phase) // period)
            u = _unit(h * _FNV + epoch * _GOLDEN + np.uint64(29))
            if u < density:
                v = np.int64(np.round(base_steps * (0.05 + 0.6 * u / density)))
                out_t[m] = t
                out_s[m] = v if v > 1 else 1
                m += 1
    while m < n and j < n:
        out_t[m] = ticks[j]
        out_s[m] = sizes[j]
        m += 1
        j += 1
    return out_t[:m], out_s[:m]


NOISE_DENSITY = 0.35  # the share of time a price between grid levels near the touch holds an order
NOISE_SPAN_LEVELS = 3  # churn reaches this many grid spacings from the touch ...
NOISE_SPAN_MAX_TICKS = 100  # ... but no more ticks than this


@dataclass
class Wall:
    wall_id: int
    tick: int
    side: str  # "Buy" = resting bid below the price, "Sell" = resting ask above it
    steps: int  # size in qtySteps when not eroding
    erode_from: int = 0  # replay ms
    erode_to: int = 0
    erode_start_steps: int = 0
    erode_end_steps: int = 0

    def steps_at(self, now: int) -> int:
        if self.erode_to <= self.erode_from:
            return self.steps
        if now <= self.erode_from:
            return self.erode_start_steps
        if now >= self.erode_to:
            return self.erode_end_steps
        f = (now - self.erode_from) / (self.erode_to - self.erode_from)
        return int(round(self.erode_start_steps + (self.erode_end_steps - self.erode_start_steps) * f))


class Book:
    def __init__(self, level_ticks: int, base_steps: float, churn_ms: int, seed: int, max_levels: int = 1000) -> None:
        self.level_ticks = max(1, int(level_ticks))
        self.base_steps = max(1.0, float(base_steps))
        self.churn_ms = max(1, int(churn_ms))
        self.seed = np.uint64(seed & 0xFFFFFFFF)
        self.max_levels = max_levels
        self.walls: dict[int, Wall] = {}
        self._next_wall = 1
        self.last_tick = 0
        self.buyer_last = True
        self.now = 0
        self.version = 0  # bumps whenever anything that shapes the book changes
        self.noise_ms = -1  # stream-rate mode: wall ms of the churn near the touch (-1 = off)
        self.noise_span = min(NOISE_SPAN_LEVELS * self.level_ticks, NOISE_SPAN_MAX_TICKS)
        self._cache_key: tuple[int, int] | None = None
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    # --- state ---

    def set_price(self, last_tick: int, buyer_last: bool, now: int) -> list[Wall]:
        """Move the book to a new last trade; returns the walls the price traded through."""
        self.last_tick = int(last_tick)
        self.buyer_last = bool(buyer_last)
        self.now = int(now)
        self.version += 1
        gone = []
        if self.walls:
            for w in list(self.walls.values()):
                if (w.side == "Buy" and self.last_tick < w.tick) or (w.side == "Sell" and self.last_tick > w.tick):
                    gone.append(self.walls.pop(w.wall_id))
                    log.info("sim: wall %d (%s %d ticks) consumed by the price", w.wall_id, w.side, w.tick)
        return gone

    def set_noise(self, ms: int) -> None:
        """Stream-rate mode: churn the levels near the touch as of wall time `ms` (see churn_side)."""
        if ms != self.noise_ms:
            self.noise_ms = int(ms)
            self.version += 1

    def add_wall(self, tick: int, steps: int, side: str | None = None) -> Wall:
        if side is None:
            side = "Buy" if tick <= self.last_tick else "Sell"
        if side == "Buy" and tick > self.last_tick or side == "Sell" and tick < self.last_tick:
            raise ValueError(f"a {side} wall must be on its side of the last price")
        w = Wall(self._next_wall, int(tick), side, int(steps))
        self._next_wall += 1
        self.walls[w.wall_id] = w
        self.version += 1
        return w

    def erode_wall(self, wall_id: int, fraction: float, duration_ms: int) -> Wall:
        w = self.walls[wall_id]
        cur = w.steps_at(self.now)
        w.erode_from = self.now
        w.erode_to = self.now + max(1, int(duration_ms))
        w.erode_start_steps = cur
        w.erode_end_steps = int(round(cur * (1.0 - fraction)))
        w.steps = cur
        self.version += 1
        return w

    def set_wall(self, wall_id: int, steps: int) -> Wall:
        w = self.walls[wall_id]
        w.steps = int(steps)
        w.erode_from = w.erode_to = 0
        self.version += 1
        return w

    def remove_wall(self, wall_id: int) -> Wall:
        w = self.walls.pop(wall_id)
        self.version += 1
        return w

    # --- levels ---

    def _tops(self) -> tuple[int, int]:
        bid1 = self.last_tick - 1 if self.buyer_last else self.last_tick
        ask1 = bid1 + 1
        for w in self.walls.values():
            if w.side == "Buy" and w.tick > bid1:
                bid1 = w.tick
                ask1 = max(ask1, bid1 + 1)
            elif w.side == "Sell" and w.tick < ask1:
                ask1 = w.tick
                bid1 = min(bid1, ask1 - 1)
        return bid1, ask1

    def _sizes(self, ticks: np.ndarray) -> np.ndarray:
        return level_sizes(ticks, self.seed, self.base_steps, self.churn_ms, self.now)

    def levels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid ticks desc, bid sizes, ask ticks asc, ask sizes), `max_levels` each, sizes in qtySteps."""
        key = (self.version, self.now)
        if key == self._cache_key and self._cache is not None:
            return self._cache
        s = self.level_ticks
        n = self.max_levels
        bid1, ask1 = self._tops()
        g_bid = ((bid1 - 1) // s) * s
        g_ask = (ask1 // s + 1) * s
        steps = np.arange(n - 1, dtype=np.int64) * s
        bids = np.concatenate(([bid1], g_bid - steps))
        asks = np.concatenate(([ask1], g_ask + steps))
        bsz = self._sizes(bids)
        asz = self._sizes(asks)
        if self.noise_ms >= 0:
            bids, bsz = churn_side(bids, bsz, -1, self.seed, self.base_steps, self.noise_ms, self.noise_span,
                                   NOISE_DENSITY)
            asks, asz = churn_side(asks, asz, 1, self.seed, self.base_steps, self.noise_ms, self.noise_span,
                                   NOISE_DENSITY)
        if self.walls:
            bids, bsz = self._with_walls(bids, bsz, "Buy")
            asks, asz = self._with_walls(asks, asz, "Sell")
        self._cache_key = key
        self._cache = (bids, bsz, asks, asz)
        return self._cache

    def _with_walls(self, ticks: np.ndarray, sizes: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
        level = dict(zip(ticks.tolist(), sizes.tolist(), strict=True))
        for w in self.walls.values():
            if w.side != side:
                continue
            q = w.steps_at(self.now)
            if q > 0:
                level[w.tick] = level.get(w.tick, 0) + q
        keys = sorted(level, reverse=(side == "Buy"))[: self.max_levels]
        return np.array(keys, dtype=np.int64), np.array([level[k] for k in keys], dtype=np.int64)

    def best(self) -> tuple[int, int, int, int]:
        bids, bsz, asks, asz = self.levels()
        return int(bids[0]), int(bsz[0]), int(asks[0]), int(asz[0])

    def walk(self, buying: bool, qty_steps: int) -> float:
        """Average price in ticks of taking `qty_steps` from the book (the last level absorbs any rest)."""
        bids, bsz, asks, asz = self.levels()
        ticks, sizes = (asks, asz) if buying else (bids, bsz)
        cum = np.cumsum(sizes)
        j = int(np.searchsorted(cum, qty_steps, side="left"))
        if j >= len(ticks):
            j = len(ticks) - 1
        taken = sizes[:j + 1].copy()
        taken[j] = qty_steps - (int(cum[j - 1]) if j > 0 else 0)
        return float(np.dot(ticks[:j + 1], taken)) / float(qty_steps)
