"""The L2 order book (docs/bybit.md#the-order-book). Venue-neutral and pure: no I/O, no clock, no
locks (MarketState guards it). A venue package turns its messages into `BookUpdate`s
(whale.bybit.book_messages for Bybit's, including its rule that `u == 1` is a snapshot).

- A snapshot replaces the book (any snapshot, not only the first).
- A delta upserts by price; size 0 deletes; deleting a level the book does not hold is ignored.
- Deltas before the first snapshot, and deltas with an update id <= the stored one, are ignored.
- A gap in the update ids (when `check_gaps`: the venue numbers its deltas consecutively) or a
  crossed book (best bid >= best ask) makes `apply_delta` return False: the book is marked not
  ready and ignores deltas until a fresh snapshot (the stream manager asks for one).

Prices and sizes are floats (market data, docs/architecture.md, principle 6): each side is a dict
price -> size plus a sorted list of its prices kept with `bisect`, so a delta of k levels costs
k binary searches and reads are slices: fast enough for every update of a 1000-level book.

The book also logs the level changes it applied since its reader last took them (`take_changes`),
so the density tracker is fed the changed levels, not a copy of the whole book, on every update
(`DensityTracker.apply_levels`). A snapshot, a reset, or more than `MAX_CHANGES` changes waiting
make the reader take the whole book instead: the same levels either way.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_EMPTY = np.empty(0, dtype=np.float64)
Levels = Iterable  # (price, size) pairs, anything float() takes (a venue's strings too)
MAX_CHANGES = 4096  # level changes logged for take_changes(); beyond, its reader takes the whole book


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


class OrderBook:
    def __init__(self, symbol: str = "", *, check_gaps: bool = True) -> None:
        self.symbol = symbol
        self.check_gaps = check_gaps
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_keys: list[float] = []  # ascending; best bid is the last
        self._ask_keys: list[float] = []  # ascending; best ask is the first
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
        # Changes since take_changes() (flat price, size, price, size...; size 0.0 removes), or None: the
        # reader must take the whole book (nothing taken yet, a snapshot, a reset, too many changes).
        self._bid_log: list[float] | None = None
        self._ask_log: list[float] | None = None

    # ------------------------------------------------------------------ updates

    def reset(self) -> None:
        """Forget the book (e.g. before resubscribing): deltas are ignored until a snapshot."""
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()
        self._bid_log = self._ask_log = None
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
        self._bids, self._asks = new_bids, new_asks
        self._bid_keys = sorted(new_bids)
        self._ask_keys = sorted(new_asks)
        self._bid_log = self._ask_log = None
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

    def apply_delta(self, bids: Levels, asks: Levels, update_id: int = 0, seq: int | None = None,
                    ts: int | None = None) -> bool:
        """Apply a delta. False = the book needs a fresh snapshot (gap in update ids, or crossed)."""
        u = int(update_id or 0)
        if not self.ready:
            self.ignored += 1
            return True
        if u and u <= self.u:
            self.ignored += 1
            return True
        if self.check_gaps and u and self.u and u != self.u + 1:
            self.gaps += 1
            self.ready = False
            self.version += 1
            return False
        bid_log, ask_log = self._bid_log, self._ask_log
        if bid_log is not None and ask_log is not None and len(bid_log) + len(ask_log) > 2 * MAX_CHANGES:
            bid_log = ask_log = self._bid_log = self._ask_log = None  # nobody reads them: the whole book next time
        self._upsert(self._bids, self._bid_keys, bids, bid_log)
        self._upsert(self._asks, self._ask_keys, asks, ask_log)
        if u:
            self.u = u
        if seq is not None:
            self.seq = int(seq)
        if ts is not None:
            self.ts = int(ts)
        self.version += 1
        if self._crossed():
            self.crossings += 1
            self.ready = False
            return False
        return True

    @staticmethod
    def _upsert(side: dict[float, float], keys: list[float], rows: Iterable, log: list[float] | None) -> None:
        logged = log.extend if log is not None else None
        for p, s in rows:
            price = float(p)
            size = float(s)
            if size > 0:
                if price not in side:
                    insort(keys, price)
                side[price] = size
            elif price in side:
                del side[price]
                del keys[bisect_left(keys, price)]
                size = 0.0
            else:
                continue
            if logged is not None:
                logged((price, size))

    def take_changes(self) -> tuple[list[float], list[float]] | None:
        """The level changes applied since the last call, as flat lists (price, size, price, size...;
        size 0.0 removed the level) for the bids and the asks, in the order applied; or None when
        the reader must take the whole book instead (the first call, after a snapshot or a reset, or
        when more than MAX_CHANGES waited). Logging starts again from here."""
        bid_log, ask_log = self._bid_log, self._ask_log
        self._bid_log, self._ask_log = [], []
        if bid_log is None or ask_log is None:
            return None
        return bid_log, ask_log

    def _crossed(self) -> bool:
        return bool(self._bid_keys and self._ask_keys and self._bid_keys[-1] >= self._ask_keys[0])

    # ------------------------------------------------------------------ reads

    def __len__(self) -> int:
        return min(len(self._bids), len(self._asks))

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def best_bid(self) -> float | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> float | None:
        return self._ask_keys[0] if self._ask_keys else None

    def mid(self) -> float | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        return (self._bid_keys[-1] + self._ask_keys[0]) / 2.0

    def spread(self) -> float | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        return self._ask_keys[0] - self._bid_keys[-1]

    def top(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid_px, bid_sz, ask_px, ask_sz) of the best `n` levels, best first. The arrays are
        cached per version and must not be modified (copy them to keep them)."""
        cache = self._top_cache
        if cache is not None and cache[0] == self.version and cache[1] == n:
            return cache[2]
        bk = self._bid_keys[:-n - 1:-1] if n > 0 else []
        ak = self._ask_keys[:n] if n > 0 else []
        bids, asks = self._bids, self._asks
        out = (np.array(bk, dtype=np.float64), np.array([bids[p] for p in bk], dtype=np.float64),
               np.array(ak, dtype=np.float64), np.array([asks[p] for p in ak], dtype=np.float64))
        self._top_cache = (self.version, n, out)
        return out

    def depth_within(self, pct: float) -> tuple[float, float]:
        """(bid size, ask size) resting within `pct` percent of the mid price."""
        mid = self.mid()
        if mid is None:
            return 0.0, 0.0
        lo = mid * (1.0 - pct / 100.0)
        hi = mid * (1.0 + pct / 100.0)
        bids, asks = self._bids, self._asks
        bid_qty = sum(bids[p] for p in self._bid_keys[bisect_left(self._bid_keys, lo):])
        ask_qty = sum(asks[p] for p in self._ask_keys[:bisect_right(self._ask_keys, hi)])
        return float(bid_qty), float(ask_qty)

    def imbalance(self, levels: int) -> float:
        """(bid size - ask size) / (bid size + ask size) over the best `levels` levels, in [-1, 1]."""
        bk = self._bid_keys[:-levels - 1:-1] if levels > 0 else []
        ak = self._ask_keys[:levels] if levels > 0 else []
        b = sum(self._bids[p] for p in bk)
        a = sum(self._asks[p] for p in ak)
        total = a + b
        return (b - a) / total if total > 0 else 0.0

    def volumes(self, levels: int) -> tuple[float, float]:
        """(bid size, ask size) over the best `levels` levels."""
        bk = self._bid_keys[:-levels - 1:-1] if levels > 0 else []
        ak = self._ask_keys[:levels] if levels > 0 else []
        return float(sum(self._bids[p] for p in bk)), float(sum(self._asks[p] for p in ak))

    def snapshot(self, n: int | None = None) -> BookSnapshot:
        """A copy of the best `n` levels (all when None)."""
        count = max(len(self._bid_keys), len(self._ask_keys)) if n is None else n
        bp, bs, ap, as_ = self.top(count)
        return BookSnapshot(self.symbol, bp.copy(), bs.copy(), ap.copy(), as_.copy(), self.ts, self.u, self.seq)

    def as_lists(self) -> dict[str, list[list[float]]]:
        """{"b": [[price, size], ...] best first, "a": [...]} (tests, debugging)."""
        return {"b": [[p, self._bids[p]] for p in reversed(self._bid_keys)],
                "a": [[p, self._asks[p]] for p in self._ask_keys]}
