"""The density tracker's copy of the book and of the band's level sizes, kept up to date change by
change (docs/density_and_safety.md#speed).

A full scan of a 200-level book on every update (band, median, candidates) is what made the
tracker cost ~40 us an update. Here each level change touches only what it changes:

- the book: two sorted float64 arrays per side, kept as *keys* ascending (bids as -price, asks as
  price), so one binary search serves both sides; a change is a search plus a short memmove;
- the band: the levels of each side's first `limit` levels (the view: `density.book_depth`, or
  all the levels of arrays passed to `DensityTracker.update`) within `depth_percent` of the mid,
  held as a prefix count per side, moved level by level when the mid moves;
- the band's sizes: one array sorted by (size, side, price), so the median is the middle element
  and the candidates (size >= multiplier x median) are its tail.

Invariant after every change: the sorted sizes are exactly the sizes of bid levels [0, k_bid)
and ask levels [0, k_ask). Results are bit-identical to the full recomputation: the same float
operations on the same values (the median is (a + b) / 2 of the same two middle values, the band
volumes are re-added in book order: 0.2 us for 400 levels, and a running sum would round
differently).

Pure: numba kernels over arrays, no I/O.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Integer state slots (ist).
I_N = 0  # + side: level count of the side (2 slots)
I_K = 2  # + side: band prefix count of the side (2 slots)
I_M = 4  # band sizes held
I_LIMIT = 5  # view depth: levels of a side that count
I_NCAND = 6  # candidates written by the last scan
I_VIEW = 7  # + side: levels in the view (2 slots)
I_SIZE = 9

# Float state slots (fst).
F_MID = 0
F_MEDIAN = 1
F_BVOL = 2
F_AVOL = 3
F_FRAC = 4  # depth_percent / 100
F_MULT = 5
F_MIN_NOTIONAL = 6
F_LAST = 7  # + side: the view's deepest price (2 slots)
F_SIZE = 9

BID_SIDE = 0
ASK_SIDE = 1


@njit(cache=True)
def _lower(keys, n, key):
    """First index in keys[:n] (ascending) whose value is >= key."""
    lo = 0
    hi = n
    while lo < hi:
        m = (lo + hi) >> 1
        if keys[m] < key:
            lo = m + 1
        else:
            hi = m
    return lo


@njit(cache=True)
def _upper(keys, n, key):
    """First index in keys[:n] (ascending) whose value is > key."""
    lo = 0
    hi = n
    while lo < hi:
        m = (lo + hi) >> 1
        if keys[m] <= key:
            lo = m + 1
        else:
            hi = m
    return lo


@njit(cache=True)
def _ws_less(ws, j, size, side, price):
    """ws[:, j] < (size, side, price), lexicographically."""
    s = ws[0, j]
    if s != size:
        return s < size
    d = ws[1, j]
    if d != side:
        return d < side
    return ws[2, j] < price


@njit(cache=True)
def _ws_find(ws, m, size, side, price):
    lo = 0
    hi = m
    while lo < hi:
        mid = (lo + hi) >> 1
        if _ws_less(ws, mid, size, side, price):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _ws_add(ws, ist, size, side, price):
    m = ist[I_M]
    j = _ws_find(ws, m, size, side, price)
    for t in range(m, j, -1):
        ws[0, t] = ws[0, t - 1]
        ws[1, t] = ws[1, t - 1]
        ws[2, t] = ws[2, t - 1]
    ws[0, j] = size
    ws[1, j] = side
    ws[2, j] = price
    ist[I_M] = m + 1


@njit(cache=True)
def _ws_remove(ws, ist, size, side, price):
    m = ist[I_M]
    j = _ws_find(ws, m, size, side, price)
    if j >= m or ws[0, j] != size or ws[1, j] != side or ws[2, j] != price:
        return  # cannot happen while the invariant holds
    for t in range(j, m - 1):
        ws[0, t] = ws[0, t + 1]
        ws[1, t] = ws[1, t + 1]
        ws[2, t] = ws[2, t + 1]
    ist[I_M] = m - 1


@njit(cache=True)
def _change(keys, sizes, ws, ist, s, price, qty):
    """One level change on side s: qty > 0 sets the level, anything else removes it."""
    key = -price if s == BID_SIDE else price
    n = ist[I_N + s]
    k = ist[I_K + s]
    i = _lower(keys[s], n, key)
    found = i < n and keys[s, i] == key
    if found:
        old = sizes[s, i]
        if qty > 0.0:
            if old != qty:
                if i < k:
                    _ws_remove(ws, ist, old, s, price)
                    _ws_add(ws, ist, qty, s, price)
                sizes[s, i] = qty
            return
        if i < k:
            _ws_remove(ws, ist, old, s, price)
            ist[I_K + s] = k - 1
        for t in range(i, n - 1):
            keys[s, t] = keys[s, t + 1]
            sizes[s, t] = sizes[s, t + 1]
        ist[I_N + s] = n - 1
        return
    if not (qty > 0.0):
        return  # removing a level the book does not hold: ignored, as Bybit says
    for t in range(n, i, -1):
        keys[s, t] = keys[s, t - 1]
        sizes[s, t] = sizes[s, t - 1]
    keys[s, i] = key
    sizes[s, i] = qty
    ist[I_N + s] = n + 1
    if i < k:
        _ws_add(ws, ist, qty, s, price)
        ist[I_K + s] = k + 1


@njit(cache=True)
def _move_band(keys, sizes, ws, ist, s, target):
    k = ist[I_K + s]
    while k < target:
        _ws_add(ws, ist, sizes[s, k], s, -keys[s, k] if s == BID_SIDE else keys[s, k])
        k += 1
    while k > target:
        k -= 1
        _ws_remove(ws, ist, sizes[s, k], s, -keys[s, k] if s == BID_SIDE else keys[s, k])
    ist[I_K + s] = k


@njit(cache=True)
def _scan(keys, sizes, ws, ist, fst, cand, tracked, nt):
    """After the changes: mid, band edges, median, band volumes, candidates (written to cand as
    rows side, price, size: bids best first, then asks best first) and the view's size of each
    tracked level (tracked rows: side, price; the size goes to row 2). Returns False for a book
    with no level at all (nothing is updated then)."""
    nb = ist[I_N + BID_SIDE]
    na = ist[I_N + ASK_SIDE]
    if nb == 0 and na == 0:
        ist[I_NCAND] = 0
        return False
    limit = ist[I_LIMIT]
    if nb > 0 and na > 0:
        mid = 0.5 * (-keys[BID_SIDE, 0] + keys[ASK_SIDE, 0])
    elif nb > 0:
        mid = -keys[BID_SIDE, 0]
    else:
        mid = keys[ASK_SIDE, 0]
    frac = fst[F_FRAC]
    # bids in the band: price >= mid * (1 - frac), i.e. key <= -bound; asks: price <= mid * (1 + frac)
    tb = min(_upper(keys[BID_SIDE], nb, -(mid * (1.0 - frac))), limit)
    ta = min(_upper(keys[ASK_SIDE], na, mid * (1.0 + frac)), limit)
    _move_band(keys, sizes, ws, ist, BID_SIDE, tb)
    _move_band(keys, sizes, ws, ist, ASK_SIDE, ta)
    fst[F_MID] = mid
    vb = min(nb, limit)
    va = min(na, limit)
    ist[I_VIEW + BID_SIDE] = vb
    ist[I_VIEW + ASK_SIDE] = va
    fst[F_LAST + BID_SIDE] = -keys[BID_SIDE, vb - 1] if vb > 0 else np.nan
    fst[F_LAST + ASK_SIDE] = keys[ASK_SIDE, va - 1] if va > 0 else np.nan
    for j in range(nt):
        s = int(tracked[0, j])
        p = tracked[1, j]
        key = -p if s == BID_SIDE else p
        view = vb if s == BID_SIDE else va
        i = _lower(keys[s], view, key)
        tracked[2, j] = sizes[s, i] if i < view and keys[s, i] == key else 0.0
    m = ist[I_M]
    if m == 0:
        fst[F_MEDIAN] = np.nan
        fst[F_BVOL] = 0.0
        fst[F_AVOL] = 0.0
        ist[I_NCAND] = 0
        return True
    half = m >> 1
    median = (ws[0, half - 1] + ws[0, half]) / 2 if m & 1 == 0 else ws[0, half]
    fst[F_MEDIAN] = median
    bvol = 0.0
    for i in range(tb):
        bvol += sizes[BID_SIDE, i]
    avol = 0.0
    for i in range(ta):
        avol += sizes[ASK_SIDE, i]
    fst[F_BVOL] = bvol
    fst[F_AVOL] = avol
    floor = fst[F_MULT] * median
    min_notional = fst[F_MIN_NOTIONAL]
    nc = 0
    for j in range(_lower(ws[0], m, floor), m):
        size = ws[0, j]
        price = ws[2, j]
        if size * price >= min_notional:
            side = ws[1, j]
            # insertion in book order: bids (descending price) before asks (ascending)
            t = nc
            while t > 0 and (cand[0, t - 1] > side or (cand[0, t - 1] == side and (
                    (side == BID_SIDE and cand[1, t - 1] < price) or (side == ASK_SIDE and cand[1, t - 1] > price)))):
                cand[0, t] = cand[0, t - 1]
                cand[1, t] = cand[1, t - 1]
                cand[2, t] = cand[2, t - 1]
                t -= 1
            cand[0, t] = side
            cand[1, t] = price
            cand[2, t] = size
            nc += 1
    ist[I_NCAND] = nc
    return True


@njit(cache=True)
def apply_levels(keys, sizes, ws, ist, fst, px, sz, start, nb, na, cand, tracked, nt):
    """Apply a delta (px/sz[start:start+nb] bids, then na asks; size 0 removes) and scan."""
    for i in range(start, start + nb):
        _change(keys, sizes, ws, ist, BID_SIDE, px[i], sz[i])
    for i in range(start + nb, start + nb + na):
        _change(keys, sizes, ws, ist, ASK_SIDE, px[i], sz[i])
    return _scan(keys, sizes, ws, ist, fst, cand, tracked, nt)


@njit(cache=True)
def _replace_side(keys, sizes, ws, ist, s, px, sz, lo, hi, work_k, work_s):
    """Make side s hold exactly the levels px/sz[lo:hi] (any order, size <= 0 absent, a repeated
    price: the last one wins), as changes against what it holds."""
    m = 0
    for i in range(lo, hi):
        work_k[m] = -px[i] if s == BID_SIDE else px[i]
        work_s[m] = sz[i]
        m += 1
    order = np.argsort(work_k[:m], kind="mergesort")  # stable: among equal prices the last positive size wins
    # deletes first: every held level whose price the new side lacks
    n = ist[I_N + s]
    i = n - 1
    while i >= 0:
        key = keys[s, i]
        lo_j = 0
        hi_j = m
        while lo_j < hi_j:  # binary search over the sorted new keys
            mid = (lo_j + hi_j) >> 1
            if work_k[order[mid]] < key:
                lo_j = mid + 1
            else:
                hi_j = mid
        present = False
        j = lo_j
        while j < m and work_k[order[j]] == key:
            if work_s[order[j]] > 0.0:
                present = True
            j += 1
        if not present:
            _change(keys, sizes, ws, ist, s, -key if s == BID_SIDE else key, 0.0)
        i -= 1
    j = 0
    while j < m:
        key = work_k[order[j]]
        qty = 0.0
        e = j
        while e < m and work_k[order[e]] == key:
            if work_s[order[e]] > 0.0:
                qty = work_s[order[e]]
            e += 1
        if qty > 0.0:
            _change(keys, sizes, ws, ist, s, -key if s == BID_SIDE else key, qty)
        j = e


@njit(cache=True)
def replace_levels(keys, sizes, ws, ist, fst, px, sz, start, nb, na, cand, tracked, nt, work_k, work_s):
    """Replace the book by px/sz[start:start+nb] bids and the next na asks, then scan. Applied as the
    changes between the two books, so an unchanged level costs nothing downstream."""
    _replace_side(keys, sizes, ws, ist, BID_SIDE, px, sz, start, start + nb, work_k, work_s)
    _replace_side(keys, sizes, ws, ist, ASK_SIDE, px, sz, start + nb, start + nb + na, work_k, work_s)
    return _scan(keys, sizes, ws, ist, fst, cand, tracked, nt)


@njit(cache=True)
def level_at(keys, sizes, ist, s, price, view_only):
    """Size at exactly `price` on side s (0.0 when absent, or beyond the view when view_only)."""
    key = -price if s == BID_SIDE else price
    n = ist[I_N + s]
    if view_only:
        n = min(n, ist[I_LIMIT])
    i = _lower(keys[s], n, key)
    return sizes[s, i] if i < n and keys[s, i] == key else 0.0


@njit(cache=True)
def _sync_side(keys, sizes, ws, ist, s, px, sz, lo, hi, ck, cq):
    """Make side s hold exactly px/sz[lo:hi], given sorted best first: a merge of the two sorted
    books collects the differences (ck/cq), which are then applied as changes."""
    n = ist[I_N + s]
    i = 0
    j = lo
    c = 0
    while i < n or j < hi:
        if j < hi:
            key = -px[j] if s == BID_SIDE else px[j]
        if j >= hi or (i < n and keys[s, i] < key):
            ck[c] = keys[s, i]  # held, not in the new book
            cq[c] = 0.0
            c += 1
            i += 1
        elif i >= n or key < keys[s, i]:
            ck[c] = key  # new
            cq[c] = sz[j]
            c += 1
            j += 1
        else:
            if sizes[s, i] != sz[j]:
                ck[c] = key
                cq[c] = sz[j]
                c += 1
            i += 1
            j += 1
    for t in range(c):
        _change(keys, sizes, ws, ist, s, -ck[t] if s == BID_SIDE else ck[t], cq[t])


@njit(cache=True)
def sync_levels(keys, sizes, ws, ist, fst, px, sz, nb, na, cand, tracked, nt, ck, cq):
    """Make the book px/sz[:nb] bids and the next na asks, each sorted best first (the arrays of
    DensityTracker.update), applying only the differences, then scan."""
    _sync_side(keys, sizes, ws, ist, BID_SIDE, px, sz, 0, nb, ck, cq)
    _sync_side(keys, sizes, ws, ist, ASK_SIDE, px, sz, nb, nb + na, ck, cq)
    return _scan(keys, sizes, ws, ist, fst, cand, tracked, nt)


class BandState:
    """The arrays the kernels share, with room for `capacity` levels a side (grown on demand)."""

    __slots__ = ("keys", "sizes", "ws", "ist", "fst", "cand", "work_k", "work_s", "capacity")

    def __init__(self, capacity: int, limit: int, depth_frac: float, multiplier: float, min_notional: float) -> None:
        self.ist = np.zeros(I_SIZE, dtype=np.int64)
        self.fst = np.zeros(F_SIZE, dtype=np.float64)
        self.ist[I_LIMIT] = limit
        self.fst[F_FRAC] = depth_frac
        self.fst[F_MULT] = multiplier
        self.fst[F_MIN_NOTIONAL] = min_notional
        self.fst[F_MID] = self.fst[F_MEDIAN] = np.nan
        self.capacity = 0
        self.keys: np.ndarray = np.empty((2, 0))
        self.sizes: np.ndarray = np.empty((2, 0))
        self.ws: np.ndarray = np.empty((3, 0))
        self.cand: np.ndarray = np.empty((3, 0))
        self.work_k: np.ndarray = np.empty(0)
        self.work_s: np.ndarray = np.empty(0)
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        old = self.capacity
        keys = np.zeros((2, capacity))
        sizes = np.zeros((2, capacity))
        ws = np.zeros((3, 2 * capacity))
        if old:
            keys[:, :old] = self.keys
            sizes[:, :old] = self.sizes
            ws[:, :2 * old] = self.ws
        self.keys, self.sizes, self.ws = keys, sizes, ws
        self.cand = np.zeros((3, 2 * capacity))
        self.work_k = np.zeros(2 * capacity)
        self.work_s = np.zeros(2 * capacity)
        self.capacity = capacity

    def reserve(self, extra: int) -> None:
        """Room for `extra` more levels on a side (a delta can insert at most its own length)."""
        need = max(int(self.ist[I_N]), int(self.ist[I_N + 1])) + extra
        if need > self.capacity:
            self._allocate(max(need, 2 * self.capacity))

    def clear(self) -> None:
        self.ist[I_N:I_N + 2] = 0
        self.ist[I_K:I_K + 2] = 0
        self.ist[I_M] = 0
        self.ist[I_NCAND] = 0
        self.ist[I_VIEW:I_VIEW + 2] = 0
