"""The density tracker's copy of the book and of the band's level sizes, kept up to date change by
change (docs/density_and_safety.md#speed).

A full scan of a 200-level book on every update (band, median, candidates) is what made the
tracker cost ~40 us an update. Here each level change touches only what it changes:

- the book: two sorted float64 arrays per side, kept as *keys* ascending (bids as -price, asks as
  price), so one binary search serves both sides; a change is a search plus a memmove (whale/sorted_rows.py);
- the band: the levels of each side's first `limit` levels (the view: `density.book_depth`, or
  all the levels of arrays passed to `DensityTracker.update`) within `depth_percent` of the mid,
  held as a prefix count per side, moved level by level when the mid moves;
- the band's sizes: one sorted array, so the median is its middle element. A change notes the sizes
  that entered or left the band; the update's scan merges them in at once (_ws_commit: one pass over
  the band instead of two binary searches and a memmove per change). The candidates (band levels at
  or above multiplier x median) are named in book order in the pass that re-adds the band volumes.

Invariant after every kernel call: the sorted sizes are exactly the sizes of bid levels [0, k_bid)
and ask levels [0, k_ask). Results are bit-identical to the full recomputation: the same float
operations on the same values (the median is (a + b) / 2 of the same two middle values, the band
volumes are re-added in book order: 0.2 us for 400 levels, and a running sum would round
differently).

Pure: numba kernels over arrays, no I/O.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from whale.sorted_rows import lower as _lower
from whale.sorted_rows import move
from whale.sorted_rows import upper as _upper

# Integer state slots (ist).
I_N = 0  # + side: level count of the side (2 slots)
I_K = 2  # + side: band prefix count of the side (2 slots)
I_M = 4  # band sizes held
I_LIMIT = 5  # view depth: levels of a side that count
I_NCAND = 6  # candidates written by the last scan
I_VIEW = 7  # + side: levels in the view (2 slots)
I_NTRACK = 9  # tracked levels
I_SPOOFS = 10  # pending levels dropped (spoof filter)
I_NEV = 11  # events written by the last update
I_STABLE_CHANGES = 12  # +1 on every update that changed a stable track (appeared, eroded or refilled, gone)
I_WROW = 13  # the row of ws (0 or 1) holding the band's sorted sizes
I_NADD = 14  # sizes that entered the band since the last _ws_commit (ws row W_ADD)
I_NREM = 15  # sizes that left it (ws row W_REM)
I_SIZE = 16

# Rows of ws: the band's sorted sizes (row ist[I_WROW]; the other one is where the next commit writes),
# then the sizes added and removed since the last commit.
W_ADD = 2
W_REM = 3

# Float state slots (fst).
F_MID = 0
F_MEDIAN = 1
F_BVOL = 2
F_AVOL = 3
F_FRAC = 4  # depth_percent / 100
F_MULT = 5
F_MIN_NOTIONAL = 6
F_LAST = 7  # + side: the view's deepest price (2 slots)
F_LIFE = 9  # min_lifetime_sec in ms
F_SIZE = 10

# Tracked levels: float rows (tf) and int rows (ti), in the order they were first found.
T_SIDE = 0
T_PRICE = 1
T_INITIAL = 2
T_QTY = 3
T_PEAK = 4
T_SEEN = 5  # during _track: the size of this update's candidate at the track's level, -1.0 when it is none
TI_FIRST = 0
TI_STABLE = 1
TI_CROSSED = 2

# Event rows (ev): kind, side, price, qty, initial, first_ms, aux.
EV_APPEARED = 1
EV_ERODED = 2  # aux: the highest threshold crossed
EV_VANISHED = 3  # aux: GONE_*
EV_CONSUMED = 4
GONE_SHRUNK = 1
GONE_TRADED = 2
GONE_BEYOND = 3
GONE_PULLED = 4

BID_SIDE = 0
ASK_SIDE = 1

# The status a kernel returns first (_outcome).
NO_BOOK = 0  # the book holds no level at all: nothing else was updated
UPDATED = 1
NEED_ROOM = 2  # apply_rows: nothing applied, reserve room and call again


@njit(cache=True)
def _ws_note(ws, ist, slot, size):
    """Note a size that entered (slot I_NADD) or left (I_NREM) the band; _ws_commit sorts it in."""
    c = ist[slot]
    if c == ws.shape[1]:  # the list is full (a very long update): bring the sorted sizes up to date now
        _ws_commit(ws, ist)
        c = 0
    ws[W_ADD if slot == I_NADD else W_REM, c] = size
    ist[slot] = c + 1


@njit(cache=True)
def _sort(row, n):
    """Sort row[:n] in place: an insertion sort for the few sizes of one update, numba's sort beyond."""
    if n > 32:
        row[:n].sort()
        return
    for i in range(1, n):
        v = row[i]
        j = i - 1
        while j >= 0 and row[j] > v:
            row[j + 1] = row[j]
            j -= 1
        row[j + 1] = v


@njit(cache=True)
def _ws_commit(ws, ist):
    """Bring the band's sorted sizes up to date with the sizes noted since the last commit: one merge of
    the held row, the sorted additions and the sorted removals into the other row (one pass over the
    band instead of a search and a memmove per change)."""
    na = ist[I_NADD]
    nr = ist[I_NREM]
    if na == 0 and nr == 0:
        return
    add = ws[W_ADD]
    rem = ws[W_REM]
    _sort(add, na)
    _sort(rem, nr)
    row = ist[I_WROW]
    src = ws[row]
    dst = ws[1 - row]
    m = ist[I_M]
    i = 0
    a = 0
    r = 0
    w = 0
    while a < na or r < nr:
        e_add = add[a] if a < na else np.inf
        e_rem = rem[r] if r < nr else np.inf
        e = min(e_add, e_rem)
        while i < m and src[i] < e:  # the held sizes below the next addition or removal, as they are
            dst[w] = src[i]
            w += 1
            i += 1
        if r < nr and e_rem <= e_add:  # drop one copy: a held size, or else one added in this update
            if i < m and src[i] == e_rem:
                i += 1
            elif a < na and e_add == e_rem:
                a += 1
            r += 1  # (neither: a removal of a size the band lacks, cannot happen while the invariant holds)
        else:
            dst[w] = e_add
            w += 1
            a += 1
    while i < m:
        dst[w] = src[i]
        w += 1
        i += 1
    ist[I_M] = w
    ist[I_WROW] = 1 - row
    ist[I_NADD] = 0
    ist[I_NREM] = 0


@njit(cache=True)
def _change(keys, sizes, ws, ist, s, price, qty):
    """One level change on side s: qty > 0 sets the level, anything else removes it."""
    kr = keys[s]
    sr = sizes[s]
    key = -price if s == BID_SIDE else price
    n = ist[I_N + s]
    k = ist[I_K + s]
    i = _lower(kr, n, key)
    if i < n and kr[i] == key:
        old = sr[i]
        if qty > 0.0:
            if old != qty:
                if i < k:
                    _ws_note(ws, ist, I_NREM, old)
                    _ws_note(ws, ist, I_NADD, qty)
                sr[i] = qty
            return
        if i < k:
            _ws_note(ws, ist, I_NREM, old)
            ist[I_K + s] = k - 1
        move(kr, i, i + 1, n - 1 - i)
        move(sr, i, i + 1, n - 1 - i)
        ist[I_N + s] = n - 1
        return
    if not (qty > 0.0):
        return  # removing a level the book does not hold: ignored, as Bybit says
    move(kr, i + 1, i, n - i)
    move(sr, i + 1, i, n - i)
    kr[i] = key
    sr[i] = qty
    ist[I_N + s] = n + 1
    if i < k:
        _ws_note(ws, ist, I_NADD, qty)
        ist[I_K + s] = k + 1


@njit(cache=True)
def _move_band(keys, sizes, ws, ist, s, target):
    k = ist[I_K + s]
    while k < target:
        _ws_note(ws, ist, I_NADD, sizes[s, k])
        k += 1
    while k > target:
        k -= 1
        _ws_note(ws, ist, I_NREM, sizes[s, k])
    ist[I_K + s] = k


@njit(cache=True)
def _scan(keys, sizes, ws, ist, fst, cand):
    """After the changes: mid, band edges, median, band volumes and the candidates (written to cand
    as rows side, price, size: bids best first, then asks best first). Returns False for a book
    with no level at all (nothing is updated then)."""
    nb = ist[I_N + BID_SIDE]
    na = ist[I_N + ASK_SIDE]
    if nb == 0 and na == 0:
        _ws_commit(ws, ist)  # (an empty band: nothing pending after any kernel call)
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
    _ws_commit(ws, ist)
    held = ws[ist[I_WROW]]
    m = ist[I_M]
    if m == 0:
        fst[F_MEDIAN] = np.nan
        fst[F_BVOL] = 0.0
        fst[F_AVOL] = 0.0
        ist[I_NCAND] = 0
        return True
    half = m >> 1
    median = (held[half - 1] + held[half]) / 2 if m & 1 == 0 else held[half]
    fst[F_MEDIAN] = median
    floor = fst[F_MULT] * median
    min_notional = fst[F_MIN_NOTIONAL]
    # the band volumes (added in book order: a running sum would round differently) and, in the same pass, the
    # candidates in book order: the levels at or above the floor
    nc = 0
    bvol = 0.0
    for i in range(tb):
        size = sizes[BID_SIDE, i]
        bvol += size
        if size >= floor:
            price = -keys[BID_SIDE, i]
            if size * price >= min_notional:
                cand[0, nc] = BID_SIDE
                cand[1, nc] = price
                cand[2, nc] = size
                nc += 1
    avol = 0.0
    for i in range(ta):
        size = sizes[ASK_SIDE, i]
        avol += size
        if size >= floor:
            price = keys[ASK_SIDE, i]
            if size * price >= min_notional:
                cand[0, nc] = ASK_SIDE
                cand[1, nc] = price
                cand[2, nc] = size
                nc += 1
    fst[F_BVOL] = bvol
    fst[F_AVOL] = avol
    ist[I_NCAND] = nc
    return True


@njit(cache=True)
def _event(ev, ist, kind, tf, ti, j, aux):
    e = ist[I_NEV]
    ev[0, e] = kind
    ev[1, e] = tf[T_SIDE, j]
    ev[2, e] = tf[T_PRICE, j]
    ev[3, e] = tf[T_QTY, j]
    ev[4, e] = tf[T_INITIAL, j]
    ev[5, e] = ti[TI_FIRST, j]
    ev[6, e] = aux
    ist[I_NEV] = e + 1


@njit(cache=True)
def _erosion(tf, ti, ev, ist, th, j):
    """An ERODED event when the erosion crossed thresholds not announced before."""
    initial = tf[T_INITIAL, j]
    erosion = 0.0
    if initial > 0.0:
        erosion = max(0.0, (initial - tf[T_QTY, j]) / initial * 100.0)
    k = ti[TI_CROSSED, j]
    while k < th.shape[0] and erosion >= th[k]:
        k += 1
    if k > ti[TI_CROSSED, j]:
        ti[TI_CROSSED, j] = k
        _event(ev, ist, EV_ERODED, tf, ti, j, th[k - 1])


@njit(cache=True)
def _track(keys, sizes, ist, fst, cand, tf, ti, ev, th, now):
    """The life of the candidate and tracked levels (whale/strategy/density.py, module doc): new
    candidates start pending, pending ones become stable (APPEARED) or are dropped (spoofs),
    stable ones erode (ERODED) or go (VANISHED / CONSUMED). Events go to ev in track order."""
    ist[I_NEV] = 0
    nc = ist[I_NCAND]
    nt = ist[I_NTRACK]
    if nc == 0 and nt == 0:
        return
    for j in range(nt):
        tf[T_SEEN, j] = -1.0
    for c in range(nc):
        side = cand[0, c]
        price = cand[1, c]
        found = -1
        for j in range(nt):
            if tf[T_PRICE, j] == price and tf[T_SIDE, j] == side:
                found = j
                break
        if found < 0:
            found = nt
            tf[T_SIDE, nt] = side
            tf[T_PRICE, nt] = price
            tf[T_INITIAL, nt] = cand[2, c]
            tf[T_QTY, nt] = cand[2, c]
            tf[T_PEAK, nt] = cand[2, c]
            ti[TI_FIRST, nt] = now
            ti[TI_STABLE, nt] = 0
            ti[TI_CROSSED, nt] = 0
            nt += 1
        tf[T_SEEN, found] = cand[2, c]
    median = fst[F_MEDIAN]
    life = fst[F_LIFE]
    mid = fst[F_MID]
    keep = np.ones(nt, dtype=np.bool_)
    stable_changed = False
    for j in range(nt):
        s = int(tf[T_SIDE, j])
        price = tf[T_PRICE, j]
        key = -price if s == BID_SIDE else price
        view = ist[I_VIEW + s]
        # a candidate's size is its level's (a band level, so in the view): only the others are looked up,
        # and only the stable ones (a pending level that is no candidate is dropped)
        qty = tf[T_SEEN, j]
        if qty < 0.0 and ti[TI_STABLE, j] != 0:
            i = _lower(keys[s], view, key)
            qty = sizes[s, i] if i < view and keys[s, i] == key else 0.0
        if ti[TI_STABLE, j] == 0:
            if qty < 0.0:
                keep[j] = False
                ist[I_SPOOFS] += 1
                continue
            tf[T_QTY, j] = qty
            tf[T_PEAK, j] = max(tf[T_PEAK, j], qty)
            if now - ti[TI_FIRST, j] >= life:
                ti[TI_STABLE, j] = 1
                stable_changed = True
                _event(ev, ist, EV_APPEARED, tf, ti, j, 0.0)
                _erosion(tf, ti, ev, ist, th, j)
            continue
        if qty <= 0.0 or qty <= median:
            keep[j] = False
            stable_changed = True
            if qty > 0.0:
                tf[T_QTY, j] = qty
                _event(ev, ist, EV_VANISHED, tf, ti, j, GONE_SHRUNK)
            elif (s == BID_SIDE and mid < price) or (s == ASK_SIDE and mid > price):
                _event(ev, ist, EV_CONSUMED, tf, ti, j, GONE_TRADED)
            else:
                last = fst[F_LAST + s]
                beyond = view == 0 or (price < last if s == BID_SIDE else price > last)
                _event(ev, ist, EV_VANISHED, tf, ti, j, GONE_BEYOND if beyond else GONE_PULLED)
            continue
        if qty != tf[T_QTY, j]:
            stable_changed = True
        tf[T_QTY, j] = qty
        if qty > tf[T_PEAK, j]:
            tf[T_PEAK, j] = qty
        _erosion(tf, ti, ev, ist, th, j)
    w = 0
    for j in range(nt):
        if keep[j]:
            if w != j:
                for r in range(5):
                    tf[r, w] = tf[r, j]
                for r in range(3):
                    ti[r, w] = ti[r, j]
            w += 1
    ist[I_NTRACK] = w
    if stable_changed:
        ist[I_STABLE_CHANGES] += 1


@njit(cache=True)
def _outcome(ist, fst, status):
    """What a kernel returns: (status, mid, median, bid band volume, ask band volume, stable changes, events
    written): the numbers the tracker reads after every update, in one tuple rather than two array reads."""
    return (status, fst[F_MID], fst[F_MEDIAN], fst[F_BVOL], fst[F_AVOL], ist[I_STABLE_CHANGES], ist[I_NEV])


@njit(cache=True)
def _finish(keys, sizes, ws, ist, fst, cand, tf, ti, ev, th, now):
    """Scan and track after the changes (nothing for a book with no level at all), then the outcome."""
    if not _scan(keys, sizes, ws, ist, fst, cand):
        return _outcome(ist, fst, NO_BOOK)
    _track(keys, sizes, ist, fst, cand, tf, ti, ev, th, now)
    return _outcome(ist, fst, UPDATED)


@njit(cache=True)
def _apply_side(keys, sizes, ws, ist, s, px, sz, lo, hi):
    """The level changes px/sz[lo:hi] on side s, in order (size 0 removes)."""
    for i in range(lo, hi):
        _change(keys, sizes, ws, ist, s, px[i], sz[i])


@njit(cache=True)
def apply_levels(keys, sizes, ws, ist, fst, px, sz, start, nb, na, cand, tf, ti, ev, th, now):
    """Apply a delta (px/sz[start:start+nb] bids, then na asks; size 0 removes), scan and track."""
    _apply_side(keys, sizes, ws, ist, BID_SIDE, px, sz, start, start + nb)
    _apply_side(keys, sizes, ws, ist, ASK_SIDE, px, sz, start + nb, start + nb + na)
    return _finish(keys, sizes, ws, ist, fst, cand, tf, ti, ev, th, now)


@njit(cache=True)
def apply_rows(keys, sizes, ws, ist, fst, px, sz, nb, na, cand, tf, ti, ev, th, now, limit):
    """apply_levels with the changes in two rows, as a book's change log holds them (2-D px/sz: the nb
    bid changes in row 0, the na ask changes in row 1): nothing to concatenate first. `limit` is the
    view's depth. NEED_ROOM, with nothing applied, when the arrays lack the room BandState.reserve gives
    (the caller reserves and calls again): the room check in the kernel, as a Python call costs more."""
    room = keys.shape[1]
    if max(ist[I_N], ist[I_N + 1]) + max(nb, na) > room or ist[I_NTRACK] > 2 * room:
        return _outcome(ist, fst, NEED_ROOM)
    ist[I_LIMIT] = limit
    _apply_side(keys, sizes, ws, ist, BID_SIDE, px[0], sz[0], 0, nb)
    _apply_side(keys, sizes, ws, ist, ASK_SIDE, px[1], sz[1], 0, na)
    return _finish(keys, sizes, ws, ist, fst, cand, tf, ti, ev, th, now)


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
def replace_levels(keys, sizes, ws, ist, fst, px, sz, start, nb, na, cand, tf, ti, ev, th, now, work_k, work_s):
    """Replace the book by px/sz[start:start+nb] bids and the next na asks, then scan and track.
    Applied as the changes between the two books, so an unchanged level costs nothing downstream."""
    _replace_side(keys, sizes, ws, ist, BID_SIDE, px, sz, start, start + nb, work_k, work_s)
    _replace_side(keys, sizes, ws, ist, ASK_SIDE, px, sz, start + nb, start + nb + na, work_k, work_s)
    return _finish(keys, sizes, ws, ist, fst, cand, tf, ti, ev, th, now)


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
def sync_levels(keys, sizes, ws, ist, fst, px, sz, nb, na, cand, tf, ti, ev, th, now, ck, cq):
    """Make the book px/sz[:nb] bids and the next na asks, each sorted best first (the arrays of
    DensityTracker.update), applying only the differences, then scan and track."""
    _sync_side(keys, sizes, ws, ist, BID_SIDE, px, sz, 0, nb, ck, cq)
    _sync_side(keys, sizes, ws, ist, ASK_SIDE, px, sz, nb, nb + na, ck, cq)
    return _finish(keys, sizes, ws, ist, fst, cand, tf, ti, ev, th, now)


class BandState:
    """The arrays the kernels share, with room for `capacity` levels a side (grown on demand)."""

    __slots__ = ("keys", "sizes", "ws", "ist", "fst", "cand", "work_k", "work_s", "capacity", "tf", "ti", "ev", "th")

    def __init__(self, capacity: int, limit: int, depth_frac: float, multiplier: float, min_notional: float,
                 lifetime_ms: float, thresholds: tuple[float, ...]) -> None:
        self.ist = np.zeros(I_SIZE, dtype=np.int64)
        self.fst = np.zeros(F_SIZE, dtype=np.float64)
        self.ist[I_LIMIT] = limit
        self.fst[F_FRAC] = depth_frac
        self.fst[F_MULT] = multiplier
        self.fst[F_MIN_NOTIONAL] = min_notional
        self.fst[F_LIFE] = lifetime_ms
        self.fst[F_MID] = self.fst[F_MEDIAN] = np.nan
        self.th = np.array(thresholds, dtype=np.float64)
        self.tf: np.ndarray = np.empty((T_SEEN + 1, 0))
        self.ti: np.ndarray = np.empty((3, 0), dtype=np.int64)
        self.ev: np.ndarray = np.empty((7, 0))
        self.capacity = 0
        self.keys: np.ndarray = np.empty((2, 0))
        self.sizes: np.ndarray = np.empty((2, 0))
        self.ws: np.ndarray = np.empty((4, 0))
        self.cand: np.ndarray = np.empty((3, 0))
        self.work_k: np.ndarray = np.empty(0)
        self.work_s: np.ndarray = np.empty(0)
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        old = self.capacity
        keys = np.zeros((2, capacity))
        sizes = np.zeros((2, capacity))
        ws = np.zeros((4, 2 * capacity))
        if old:
            keys[:, :old] = self.keys
            sizes[:, :old] = self.sizes
            ws[:, :2 * old] = self.ws
        self.keys, self.sizes, self.ws = keys, sizes, ws
        self.cand = np.zeros((3, 2 * capacity))
        self.work_k = np.zeros(2 * capacity)
        self.work_s = np.zeros(2 * capacity)
        # tracks: the held ones plus every candidate of one update (at most the band: 2 x capacity)
        tf = np.zeros((T_SEEN + 1, 4 * capacity))
        ti = np.zeros((3, 4 * capacity), dtype=np.int64)
        if old:
            tf[:, :self.tf.shape[1]] = self.tf
            ti[:, :self.ti.shape[1]] = self.ti
        self.tf, self.ti = tf, ti
        self.ev = np.zeros((7, 8 * capacity))
        self.capacity = capacity

    def reserve(self, extra: int) -> None:
        """Room for `extra` more levels on a side (a delta can insert at most its own length) and
        for the tracks (held ones plus a band's worth of new candidates)."""
        need = max(int(self.ist[I_N]), int(self.ist[I_N + 1])) + extra
        if need > self.capacity or int(self.ist[I_NTRACK]) > 2 * self.capacity:
            self._allocate(max(need, 2 * self.capacity, int(self.ist[I_NTRACK])))

    def clear(self) -> None:
        self.ist[I_N:I_N + 2] = 0
        self.ist[I_K:I_K + 2] = 0
        self.ist[I_M] = 0
        self.ist[I_NADD] = self.ist[I_NREM] = 0
        self.ist[I_NCAND] = 0
        self.ist[I_VIEW:I_VIEW + 2] = 0
        self.ist[I_NTRACK] = 0
        self.ist[I_NEV] = 0
        self.ist[I_STABLE_CHANGES] += 1
