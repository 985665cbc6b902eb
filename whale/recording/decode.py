"""Decoding recording records: one numba pass over a chunk of text lines into columns.

The reader (whale/recording/reader.py) hands the kernel the bytes of whole lines (the header line
already taken off) and gets back, per record, its kind, times, book sequence numbers and where its
levels or prints are in flat arrays of prices and sizes, already floats. The running state the
records are differences against (format.py) lives in `state` between chunks. Text fields (trade
ids, tickers, klines, gap reasons) are only located (byte spans); Python decodes them when asked.

Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MISS = -9223372036854775807  # a missing number (`x`)

# state slots
S_TS = 0
S_U = 1
S_SEQ = 2
S_ANCHOR_B = 3
S_ANCHOR_A = 4
S_TRADE_PX = 5
S_TRADE_SEQ = 6
S_PK = 7
S_PD = 8
S_SK = 9
S_SD = 10
S_TKEY = 11
S_IDS = 12  # 1: T records end with the prints' ids (the header's trade_ids)
S_SIZE = 13

# error codes
E_OK = 0
E_MALFORMED = 1
E_KIND = 2

SPACE = 32
NEWLINE = 10
MINUS = 45
X = 120


def new_state(start_ms: int, price_k: int, price_d: int, size_k: int, size_d: int, tkey: int,
              trade_ids: bool = True) -> np.ndarray:
    st = np.zeros(S_SIZE, dtype=np.int64)
    st[S_TS] = start_ms
    st[S_PK], st[S_PD], st[S_SK], st[S_SD] = price_k, price_d, size_k, size_d
    st[S_TKEY] = tkey
    st[S_IDS] = 1 if trade_ids else 0
    return st


@njit(cache=True, inline="always")  # inlined into decode: ~13 % of its time
def _num(buf, pos):
    """The integer at buf[pos] (`x`: MISS). Returns (value, position after it, ok)."""
    n = buf.shape[0]
    if pos < n and buf[pos] == X:
        return MISS, pos + 1, True
    neg = False
    if pos < n and buf[pos] == MINUS:
        neg = True
        pos += 1
    start = pos
    v = 0
    while pos < n:
        c = buf[pos]
        if c < 48 or c > 57:
            break
        v = v * 10 + (c - 48)
        pos += 1
    if pos == start:
        return 0, pos, False
    return (-v if neg else v), pos, True


@njit(cache=True, inline="always")
def _next(buf, pos):
    """Skip the one space before the next field; -1 if there is none."""
    if pos < buf.shape[0] and buf[pos] == SPACE:
        return pos + 1
    return -1


@njit(cache=True)
def decode(buf, st, kind, ts, tkey, recv, cts, u, seq, off, cnt_b, cnt_a, span_s, span_e,
           lpx, lsz, t_ts, t_side, t_px, t_sz, t_seq, id_s, id_e):
    """Decode every line of buf (whole lines). Returns (records, levels, prints, error, error position)."""
    n = buf.shape[0]
    pos = 0
    r = 0
    nl = 0
    nt = 0
    while pos < n:
        line_start = pos
        k = buf[pos]
        pos += 1
        if k == 85:  # U: new units
            vals = np.zeros(4, dtype=np.int64)
            for j in range(4):
                pos = _next(buf, pos)
                if pos < 0:
                    return r, nl, nt, E_MALFORMED, line_start
                v, pos, ok = _num(buf, pos)
                if not ok or v == MISS:
                    return r, nl, nt, E_MALFORMED, line_start
                vals[j] = v
            st[S_PK] = vals[0]
            st[S_PD] = vals[1]
            st[S_SK] = vals[2]
            st[S_SD] = vals[3]
            st[S_ANCHOR_B] = 0
            st[S_ANCHOR_A] = 0
            st[S_TRADE_PX] = 0
            if pos >= n or buf[pos] != NEWLINE:
                return r, nl, nt, E_MALFORMED, line_start
            pos += 1
            continue
        if k != 83 and k != 68 and k != 82 and k != 84 and k != 75 and k != 76 and k != 71:  # S D R T K L G
            return r, nl, nt, E_KIND, line_start
        pos = _next(buf, pos)
        if pos < 0:
            return r, nl, nt, E_MALFORMED, line_start
        dts, pos, ok = _num(buf, pos)
        if not ok or dts == MISS:
            return r, nl, nt, E_MALFORMED, line_start
        pos = _next(buf, pos)
        if pos < 0:
            return r, nl, nt, E_MALFORMED, line_start
        drecv, pos, ok = _num(buf, pos)
        if not ok or drecv == MISS:
            return r, nl, nt, E_MALFORMED, line_start
        t = st[S_TS] + dts
        st[S_TS] = t
        if t > st[S_TKEY]:
            st[S_TKEY] = t
        kind[r] = k
        ts[r] = t
        tkey[r] = st[S_TKEY]
        recv[r] = t * 1000 + drecv
        cts[r] = MISS
        u[r] = MISS
        seq[r] = MISS
        off[r] = 0
        cnt_b[r] = 0
        cnt_a[r] = 0
        span_s[r] = 0
        span_e[r] = 0
        if k == 83 or k == 68 or k == 82:
            head = np.zeros(5, dtype=np.int64)
            for j in range(5):
                pos = _next(buf, pos)
                if pos < 0:
                    return r, nl, nt, E_MALFORMED, line_start
                v, pos, ok = _num(buf, pos)
                if not ok or (j >= 3 and v == MISS):
                    return r, nl, nt, E_MALFORMED, line_start
                head[j] = v
            if head[0] != MISS:
                cts[r] = t + head[0]
            if head[1] != MISS:
                st[S_U] += head[1]
                u[r] = st[S_U]
            if head[2] != MISS:
                st[S_SEQ] += head[2]
                seq[r] = st[S_SEQ]
            nb = head[3]
            na = head[4]
            off[r] = nl
            cnt_b[r] = nb
            cnt_a[r] = na
            pdiv = 10.0 ** st[S_PD]
            sdiv = 10.0 ** st[S_SD]
            pk = st[S_PK]
            sk = st[S_SK]
            for side in range(2):
                count = nb if side == 0 else na
                prev = 0
                for j in range(count):
                    pos = _next(buf, pos)
                    if pos < 0:
                        return r, nl, nt, E_MALFORMED, line_start
                    dp, pos, ok = _num(buf, pos)
                    if not ok or dp == MISS:
                        return r, nl, nt, E_MALFORMED, line_start
                    pos = _next(buf, pos)
                    if pos < 0:
                        return r, nl, nt, E_MALFORMED, line_start
                    size, pos, ok = _num(buf, pos)
                    if not ok or size == MISS:
                        return r, nl, nt, E_MALFORMED, line_start
                    if j == 0:
                        price = st[S_ANCHOR_B + side] + dp
                        st[S_ANCHOR_B + side] = price
                    elif side == 0:
                        price = prev - dp
                    else:
                        price = prev + dp
                    prev = price
                    lpx[nl] = (price * pk) / pdiv
                    lsz[nl] = (size * sk) / sdiv
                    nl += 1
        elif k == 84:  # T
            pos = _next(buf, pos)
            if pos < 0:
                return r, nl, nt, E_MALFORMED, line_start
            count, pos, ok = _num(buf, pos)
            if not ok or count == MISS or count < 0:
                return r, nl, nt, E_MALFORMED, line_start
            off[r] = nt
            cnt_b[r] = count
            pdiv = 10.0 ** st[S_PD]
            sdiv = 10.0 ** st[S_SD]
            pk = st[S_PK]
            sk = st[S_SK]
            vals = np.zeros(5, dtype=np.int64)
            for j in range(count):
                for f in range(5):
                    pos = _next(buf, pos)
                    if pos < 0:
                        return r, nl, nt, E_MALFORMED, line_start
                    v, pos, ok = _num(buf, pos)
                    if not ok or (f < 4 and v == MISS):
                        return r, nl, nt, E_MALFORMED, line_start
                    vals[f] = v
                price = st[S_TRADE_PX] + vals[2]
                st[S_TRADE_PX] = price
                t_ts[nt + j] = t + vals[0]
                t_side[nt + j] = vals[1]
                t_px[nt + j] = (price * pk) / pdiv
                t_sz[nt + j] = (vals[3] * sk) / sdiv
                if vals[4] == MISS:
                    t_seq[nt + j] = MISS
                else:
                    st[S_TRADE_SEQ] += vals[4]
                    t_seq[nt + j] = st[S_TRADE_SEQ]
            for j in range(count):
                if st[S_IDS] == 0:  # no ids kept: an empty span
                    id_s[nt + j] = 0
                    id_e[nt + j] = 0
                    continue
                pos = _next(buf, pos)
                if pos < 0:
                    return r, nl, nt, E_MALFORMED, line_start
                id_s[nt + j] = pos
                while pos < n and buf[pos] != SPACE and buf[pos] != NEWLINE:
                    pos += 1
                id_e[nt + j] = pos
            nt += count
        else:  # K L G: the rest of the line is text
            pos = _next(buf, pos)
            if pos < 0:
                return r, nl, nt, E_MALFORMED, line_start
            span_s[r] = pos
            while pos < n and buf[pos] != NEWLINE:
                pos += 1
            span_e[r] = pos
        if pos >= n or buf[pos] != NEWLINE:
            return r, nl, nt, E_MALFORMED, line_start
        pos += 1
        r += 1
    return r, nl, nt, E_OK, n
