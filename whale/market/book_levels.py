"""The L2 book's levels as sorted arrays, changed by numba kernels (whale.market.book.OrderBook).

Each side is a row of *keys* ascending (bids as -price, asks as price: best first on both sides,
one binary search serves both) and a row of sizes; a change is a search plus one memmove
(whale/sorted_rows.py), so a delta of k levels costs one call, not k Python steps. The changes
applied can be logged (price, size; size 0.0 removed the level) for the density tracker
(OrderBook.take_changes).

Pure: numba kernels over arrays, no I/O.
"""

from __future__ import annotations

from numba import njit

from whale.sorted_rows import lower as _lower
from whale.sorted_rows import move

BID = 0
ASK = 1


@njit(cache=True)
def upsert(keys, sizes, n, s, px, sz, lo, hi, log_px, log_sz, log_n, log):
    """Apply the levels px/sz[lo:hi] to side s in order: a size above 0 sets the level, anything else
    removes it (a level the side does not hold: ignored). The room is the caller's (n[s] + hi - lo
    levels; as many log entries when `log`). Logs each change applied when `log`."""
    kr = keys[s]
    sr = sizes[s]
    for j in range(lo, hi):
        price = px[j]
        size = sz[j]
        key = -price if s == BID else price
        m = n[s]
        i = _lower(kr, m, key)
        held = i < m and kr[i] == key
        if size > 0.0:
            if held:
                sr[i] = size
            else:
                move(kr, i + 1, i, m - i)
                move(sr, i + 1, i, m - i)
                kr[i] = key
                sr[i] = size
                n[s] = m + 1
        elif held:
            move(kr, i, i + 1, m - 1 - i)
            move(sr, i, i + 1, m - 1 - i)
            n[s] = m - 1
            size = 0.0
        else:
            continue
        if log:
            k = log_n[s]
            log_px[s, k] = price
            log_sz[s, k] = size
            log_n[s] = k + 1


@njit(cache=True)
def apply_delta(keys, sizes, n, px, sz, start, nb, na, log_px, log_sz, log_n, log):
    """A delta: the bid levels px/sz[start:start + nb], then the next `na` ask levels (upsert). Returns
    whether the book is crossed after it (best bid >= best ask)."""
    upsert(keys, sizes, n, BID, px, sz, start, start + nb, log_px, log_sz, log_n, log)
    upsert(keys, sizes, n, ASK, px, sz, start + nb, start + nb + na, log_px, log_sz, log_n, log)
    return n[BID] > 0 and n[ASK] > 0 and -keys[BID, 0] >= keys[ASK, 0]


APPLIED = 0
CROSSED = 1
NEED_ROOM = 2


@njit(cache=True)
def apply_in_room(levels, log, counts, px, sz, start, nb, na, logging, max_changes):
    """apply_delta on a book held as `levels` (keys, sizes: [2, side, capacity]), `log` (prices, sizes alike) and
    `counts` (the sides' level counts, then their change counts): APPLIED, or CROSSED (best bid >= best ask after
    it); NEED_ROOM, with nothing applied, when the book or the log (while `logging`) has no room for the levels or
    the log would pass `max_changes` (the caller sees to it and calls again): one call for the common case."""
    if max(counts[0], counts[1]) + max(nb, na) > levels.shape[2]:
        return NEED_ROOM
    if logging:
        need = max(counts[2] + nb, counts[3] + na)
        if need > max_changes or need > log.shape[2]:
            return NEED_ROOM
    crossed = apply_delta(levels[0], levels[1], counts[0:2], px, sz, start, nb, na, log[0], log[1], counts[2:4],
                          logging)
    return CROSSED if crossed else APPLIED
