"""The L2 order book (docs/bybit.md#the-order-book). Venue-neutral and pure: no I/O, no clock, no
locks (MarketState guards it). A venue package turns its messages into `BookUpdate`s
(whale.bybit.book_messages for Bybit's, including its rule that `u == 1` is a snapshot).

- A snapshot replaces the book (any snapshot, not only the first).
- A delta upserts by price; size 0 deletes; deleting a level the book does not hold is ignored.
- Deltas before the first snapshot, and deltas with an update id <= the stored one, are ignored.
- A gap in the update ids (when `check_gaps`: the venue numbers its deltas consecutively) or a
  crossed book (best bid >= best ask) makes `apply_delta` return False: the book is marked not
  ready and ignores deltas until a fresh snapshot (the stream manager asks for one).

Prices and sizes are floats (market data, docs/architecture.md, principle 6): each side is a sorted
array of prices and one of sizes, best first, changed by numba kernels (whale.market.book_levels), so a
delta of k levels is one call of k binary searches and short moves, and reads are slices: fast enough
for every update of a 1000-level book, and for a replay of recorded books (`apply_levels` takes a
recording's decoded columns as they are).

The book also logs the level changes it applied since its reader last took them (`take_changes`),
so the density tracker is fed the changed levels, not a copy of the whole book, on every update
(`DensityTracker.apply_levels`). A snapshot, a reset, or more than `MAX_CHANGES` changes waiting
make the reader take the whole book instead: the same levels either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from whale.market import book_levels as lv
else:
    lv = None  # the numba kernels, imported by the first OrderBook: a recorder's LevelCheckBook never loads numba

_EMPTY = np.empty(0, dtype=np.float64)
_NO_LEVELS = np.empty(0, dtype=np.float64)  # never written: a delta that is not applied
Levels = Iterable  # (price, size) pairs, anything float() takes (a venue's strings too)
MAX_CHANGES = 4096  # level changes logged a side for take_changes(); beyond, its reader takes the whole book


@dataclass(frozen=True)
class BookUpdate:
    """One book message in venue-neutral form: a snapshot (replace) or a delta (upsert, size 0
    deletes), with the venue's update id (u) and sequence, and its timestamp (ms)."""

    snapshot: bool
    bids: Levels
    asks: Levels
    update_id: int = 0
    seq: int | None = None
    ts: int | None = None


@dataclass(frozen=True)
class BookSnapshot:
    """A copy of the top of a book: prices best first (bids descending, asks ascending)."""

    symbol: str
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    ts: int = 0
    u: int = 0
    seq: int = 0

    @property
    def best_bid(self) -> float | None:
        return float(self.bid_px[0]) if self.bid_px.size else None

    @property
    def best_ask(self) -> float | None:
        return float(self.ask_px[0]) if self.ask_px.size else None

    @property
    def mid(self) -> float | None:
        if not self.bid_px.size or not self.ask_px.size:
            return None
        return (float(self.bid_px[0]) + float(self.ask_px[0])) / 2.0

    @property
    def empty(self) -> bool:
        return not self.bid_px.size or not self.ask_px.size

    def limit(self, n: int) -> BookSnapshot:
        return BookSnapshot(self.symbol, self.bid_px[:n], self.bid_sz[:n], self.ask_px[:n], self.ask_sz[:n],
                            self.ts, self.u, self.seq)



def snapshot_of(symbol: str, bids: Levels, asks: Levels, ts: int = 0, u: int = 0, seq: int = 0) -> BookSnapshot:
    """A BookSnapshot from (price, size) pairs in any order (sorted best first here)."""
    bp, bs = _arrays(sorted(_levels(bids), key=lambda x: -x[0]))
    ap, as_ = _arrays(sorted(_levels(asks), key=lambda x: x[0]))
    return BookSnapshot(symbol, bp, bs, ap, as_, ts, u, seq)


def _levels(rows: Iterable) -> list[tuple[float, float]]:
    return [(float(p), float(s)) for p, s in rows]


def _arrays(levels: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    if not levels:
        return _EMPTY.copy(), _EMPTY.copy()
    a = np.array(levels, dtype=np.float64)
    return np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1])


def _grown(rows: np.ndarray, cap: int) -> np.ndarray:
    """`rows` ([2, 2, n]) with room for `cap` entries a row, the new ones 0."""
    grown = np.zeros(rows.shape[:2] + (cap,))
    grown[:, :, :rows.shape[2]] = rows
    return grown


def _load_kernels() -> None:
    """numba and its compiled kernels cost a process about 140 MB: only a book that uses them loads them."""
    global lv
    if lv is None:
        from whale.market import book_levels

        lv = book_levels


class OrderBook:
    def __init__(self, symbol: str = "", *, check_gaps: bool = True) -> None:
        self._load()
        self.symbol = symbol
        self.check_gaps = check_gaps
        # Side s (lv.BID, lv.ASK): keys[s, :n[s]] ascending (bids as -price: best first), sizes alike.
        # `_levels` holds both (keys, sizes) and `_counts` the level counts then the change counts: the
        # kernel of a delta takes three arrays, not eight (each argument costs its dispatch time).
        self._levels = np.zeros((2, 2, 64))
        self._keys, self._sizes = self._levels
        self._counts = np.zeros(4, dtype=np.int64)
        self._n = self._counts[:2]
        # The changes since take_changes() (price, size; size 0.0 removed the level) while `_logging`;
        # otherwise the reader must take the whole book (nothing taken yet, a snapshot, a reset, too many).
        self._log = np.zeros((2, 2, 64))
        self._log_px, self._log_sz = self._log
        self._log_n = self._counts[2:]
        spare = np.zeros((2, 2, 64))  # the other log: the book logs here while the reader holds the first
        self._spare_log = (spare, spare[0], spare[1])  # with its rows made once (taking a 3-D array's rows costs)
        self._logging = False
        self.ready = False  # a snapshot was applied and nothing went wrong since
        self.u = 0
        self.seq = 0
        self.ts = 0
        self.version = 0  # +1 on every change
        self.snapshots = 0
        self.restarts = 0  # u == 1 snapshots after the first snapshot
        self.ignored = 0  # deltas ignored (before a snapshot, stale u)
        self.gaps = 0
        self.crossings = 0
        self._top_cache: tuple[int, int, tuple] | None = None

    def _load(self) -> None:
        _load_kernels()

    # ------------------------------------------------------------------ updates

    def reset(self) -> None:
        """Forget the book (e.g. before resubscribing): deltas are ignored until a snapshot."""
        self._n[:] = 0
        self._logging = False
        self.ready = False
        self.version += 1

    def apply(self, update: BookUpdate) -> bool:
        """Apply one update. False = the book needs a fresh snapshot (gap in update ids, or crossed)."""
        if update.snapshot:
            return self.apply_snapshot(update.bids, update.asks, update.update_id, update.seq, update.ts)
        return self.apply_delta(update.bids, update.asks, update.update_id, update.seq, update.ts)

    def apply_snapshot(self, bids: Levels, asks: Levels, update_id: int = 0, seq: int | None = None,
                       ts: int | None = None) -> bool:
        """Replace the book. Returns False if the snapshot itself is crossed."""
        new_bids = {float(p): float(s) for p, s in bids if float(s) > 0}
        new_asks = {float(p): float(s) for p, s in asks if float(s) > 0}
        self._store(new_bids, new_asks)
        u = int(update_id or 0)
        if u == 1 and self.snapshots:
            self.restarts += 1  # the venue restarted its numbering (a fresh stream's first snapshot may have 1 too)
        self.u = u
        if seq is not None:
            self.seq = int(seq)
        if ts is not None:
            self.ts = int(ts)
        self.snapshots += 1
        self.version += 1
        self.ready = True
        if self._crossed():
            self.crossings += 1
            self.ready = False
            return False
        return True

    def _store(self, bids: dict[float, float], asks: dict[float, float]) -> None:
        """A snapshot's levels (sizes above 0) replace the book's."""
        self._room(max(len(bids), len(asks)))
        for s, levels in ((lv.BID, bids), (lv.ASK, asks)):
            prices = sorted(levels, reverse=s == lv.BID)
            n = len(prices)
            self._keys[s, :n] = [-p for p in prices] if s == lv.BID else prices
            self._sizes[s, :n] = [levels[p] for p in prices]
            self._n[s] = n
        self._logging = False

    def apply_delta(self, bids: Levels, asks: Levels, update_id: int = 0, seq: int | None = None,
                    ts: int | None = None) -> bool:
        """Apply a delta. False = the book needs a fresh snapshot (gap in update ids, or crossed)."""
        if self._skip(int(update_id or 0)) is not None:  # the levels of a delta it ignores are not read
            return self.apply_levels(_NO_LEVELS, _NO_LEVELS, 0, 0, 0, update_id, seq, ts)
        px: list[float] = []
        sz: list[float] = []
        for p, s in bids:
            px.append(float(p))
            sz.append(float(s))
        nb = len(px)
        for p, s in asks:
            px.append(float(p))
            sz.append(float(s))
        return self.apply_levels(np.array(px, dtype=np.float64), np.array(sz, dtype=np.float64), 0, nb,
                                 len(px) - nb, update_id, seq, ts)

    def _skip(self, u: int) -> bool | None:
        """What apply_levels answers for a delta with update id `u` without applying it (None: it applies)."""
        if not self.ready or (u and u <= self.u):
            return True  # ignored: before a snapshot, or stale
        if self.check_gaps and u and self.u and u != self.u + 1:
            return False  # a gap
        return None

    def apply_levels(self, px: np.ndarray, sz: np.ndarray, start: int, nb: int, na: int, update_id: int = 0,
                     seq: int | None = None, ts: int | None = None) -> bool:
        """apply_delta with the levels as float64 arrays: px/sz[start:start + nb] the bids, the next `na` the
        asks (a recording's decoded columns are passed as they are)."""
        u = int(update_id or 0)
        if not self.ready or (u and (u <= self.u or (self.check_gaps and self.u and u != self.u + 1))):
            if self._skip(u):  # the test above is _skip's, inline: this runs ~10 times a second a symbol
                self.ignored += 1
                return True
            self.gaps += 1
            self.ready = False
            self.version += 1
            return False
        crossed = self._apply_rows(px, sz, start, nb, na)
        if u:
            self.u = u
        if seq is not None:
            self.seq = int(seq)
        if ts is not None:
            self.ts = int(ts)
        self.version += 1
        if crossed:
            self.crossings += 1
            self.ready = False
            return False
        return True

    def _apply_rows(self, px: np.ndarray, sz: np.ndarray, start: int, nb: int, na: int) -> bool:
        """The levels into the arrays (one kernel call, logged for the density tracker); True when the book
        is crossed after them."""
        status = lv.apply_in_room(self._levels, self._log, self._counts, px, sz, start, nb, na, self._logging,
                                  MAX_CHANGES)
        if status == lv.NEED_ROOM:  # rare: the book or the change log grows, or the log stops
            self._make_room(nb, na)
            status = lv.apply_in_room(self._levels, self._log, self._counts, px, sz, start, nb, na, self._logging,
                                      MAX_CHANGES)
        return status == lv.CROSSED

    def _make_room(self, nb: int, na: int) -> None:
        """Room for a delta of nb bid and na ask levels, and for logging it (or no more logging past MAX_CHANGES)."""
        n0, n1 = self._n.tolist()
        if max(n0, n1) + max(nb, na) > self._keys.shape[1]:
            self._room(max(nb, na))
        if self._logging:
            l0, l1 = self._log_n.tolist()
            need = max(l0 + nb, l1 + na)
            if need > MAX_CHANGES:
                self._logging = False  # nobody reads them: the whole book next time
            elif need > self._log_px.shape[1]:
                self._grow_log(need)

    def _room(self, extra: int) -> None:
        """Room on each side for `extra` more levels."""
        need = int(self._n.max()) + extra
        cap = self._keys.shape[1]
        if need > cap:
            self._levels = _grown(self._levels, max(need, 2 * cap))
            self._keys, self._sizes = self._levels

    def _grow_log(self, need: int) -> None:
        self._log = _grown(self._log, max(need, 2 * self._log_px.shape[1]))
        self._log_px, self._log_sz = self._log

    def take_changes(self) -> tuple[np.ndarray, np.ndarray, int, int] | None:
        """The level changes applied since the last call, `(px, sz, nb, na)`: the `nb` bid changes then
        the `na` ask changes, each side in the order applied (size 0.0 removed the level); or None when
        the reader must take the whole book instead (the first call, after a snapshot or a reset, or
        when more than MAX_CHANGES waited on a side). Logging starts again from here."""
        rows = self.take_change_rows()
        if rows is None:
            return None
        lp, ls, nb, na = rows
        return (np.concatenate((lp[0, :nb], lp[1, :na])), np.concatenate((ls[0, :nb], ls[1, :na])), nb, na)

    def take_change_rows(self) -> tuple[np.ndarray, np.ndarray, int, int] | None:
        """take_changes as the log holds them, without a copy: `(px, sz, nb, na)` with 2-D px/sz, the bid
        changes in row 0 (`px[0, :nb]`), the ask changes in row 1. The book logs into a second pair of
        arrays from here, so these stay as they are until the next call (a stream thread may apply deltas
        meanwhile)."""
        n = self._log_n
        nb, na = n.tolist()
        logging = self._logging
        self._logging = True
        n[0] = n[1] = 0
        if not logging:
            return None
        lp, ls = self._log_px, self._log_sz
        spare = self._spare_log
        self._spare_log = (self._log, lp, ls)
        self._log, self._log_px, self._log_sz = spare  # a smaller spare: the kernel asks for room
        return lp, ls, nb, na

    def take_density_rows(self) -> tuple[bool, np.ndarray, np.ndarray, int, int] | None:
        """What the density tracker takes (MarketState.density_levels): `(False, *take_change_rows())`, or when the
        changes cannot be taken `(True, px, sz, nb, na)` with the whole book (1-D, the bids then the asks); None
        while a side is empty (the changes wait)."""
        n0, n1 = self._n.tolist()  # one read for both counts: this runs on every book update
        if not n0 or not n1:
            return None
        changes = self.take_change_rows()
        if changes is None:
            bp, bs, ap, as_ = self.top(max(n0, n1))
            return True, np.concatenate((bp, ap)), np.concatenate((bs, as_)), bp.size, ap.size
        return (False, *changes)

    def _crossed(self) -> bool:
        n = self._n
        return bool(n[0] and n[1] and -self._keys[0, 0] >= self._keys[1, 0])

    # ------------------------------------------------------------------ reads

    def __len__(self) -> int:
        return int(self._n.min())

    @property
    def bid_count(self) -> int:
        return int(self._n[0])

    @property
    def ask_count(self) -> int:
        return int(self._n[1])

    def best_bid(self) -> float | None:
        return float(-self._keys[0, 0]) if self._n[0] else None

    def best_ask(self) -> float | None:
        return float(self._keys[1, 0]) if self._n[1] else None

    def mid(self) -> float | None:
        if not self._n[0] or not self._n[1]:
            return None
        return (float(-self._keys[0, 0]) + float(self._keys[1, 0])) / 2.0

    def spread(self) -> float | None:
        if not self._n[0] or not self._n[1]:
            return None
        return float(self._keys[1, 0]) - float(-self._keys[0, 0])

    def side(self, asks: bool) -> dict[float, float]:
        """One side's levels, price -> size (a copy)."""
        s = lv.ASK if asks else lv.BID
        n = int(self._n[s])
        prices = self._keys[s, :n] if asks else -self._keys[s, :n]
        return dict(zip(prices.tolist(), self._sizes[s, :n].tolist(), strict=True))

    def top(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid_px, bid_sz, ask_px, ask_sz) of the best `n` levels, best first. The arrays are
        cached per version and must not be modified (copy them to keep them)."""
        cache = self._top_cache
        if cache is not None and cache[0] == self.version and cache[1] == n:
            return cache[2]
        k = max(n, 0)
        nb, na = min(k, int(self._n[0])), min(k, int(self._n[1]))
        out = (-self._keys[0, :nb], self._sizes[0, :nb].copy(), self._keys[1, :na].copy(), self._sizes[1, :na].copy())
        self._top_cache = (self.version, n, out)
        return out

    def depth_within(self, pct: float) -> tuple[float, float]:
        """(bid size, ask size) resting within `pct` percent of the mid price."""
        mid = self.mid()
        if mid is None:
            return 0.0, 0.0
        lo = mid * (1.0 - pct / 100.0)
        hi = mid * (1.0 + pct / 100.0)
        nb = int(np.searchsorted(self._keys[0, :int(self._n[0])], -lo, side="right"))  # bids at or above lo
        na = int(np.searchsorted(self._keys[1, :int(self._n[1])], hi, side="right"))  # asks at or below hi
        return float(sum(self._sizes[0, :nb][::-1].tolist())), float(sum(self._sizes[1, :na].tolist()))

    def imbalance(self, levels: int) -> float:
        """(bid size - ask size) / (bid size + ask size) over the best `levels` levels, in [-1, 1]."""
        b, a = self.volumes(levels)
        total = a + b
        return (b - a) / total if total > 0 else 0.0

    def volumes(self, levels: int) -> tuple[float, float]:
        """(bid size, ask size) over the best `levels` levels."""
        k = max(levels, 0)
        return (float(sum(self._sizes[0, :min(k, int(self._n[0]))].tolist())),
                float(sum(self._sizes[1, :min(k, int(self._n[1]))].tolist())))

    def snapshot(self, n: int | None = None) -> BookSnapshot:
        """A copy of the best `n` levels (all when None)."""
        count = int(self._n.max()) if n is None else n
        bp, bs, ap, as_ = self.top(count)
        return BookSnapshot(self.symbol, bp.copy(), bs.copy(), ap.copy(), as_.copy(), self.ts, self.u, self.seq)

    def as_lists(self) -> dict[str, list[list[float]]]:
        """{"b": [[price, size], ...] best first, "a": [...]} (tests, debugging)."""
        bp, bs, ap, as_ = self.top(int(self._n.max()))
        return {"b": [[p, q] for p, q in zip(bp.tolist(), bs.tolist(), strict=True)],
                "a": [[p, q] for p, q in zip(ap.tolist(), as_.tolist(), strict=True)]}
