"""Numba building blocks shared by the indicator kernels.

Every `_k_*` function is a *range kernel*: it fills outputs[i] for i in [start, end), reading its
inputs at indices <= i and its own outputs / state arrays at indices < i only. Warm-up and seeding
are decided from what is visible around i ("the value before is NaN and the window ending here is
complete"), never by counting from index 0, so a caller may compute [0, n) at once, or keep a
trimmed buffer and extend it one candle at a time, and get bit-identical numbers.

Composite kernels call these one after the other over the same [start, end): each pass only looks
backwards, so running pass A over the range and then pass B is the same as interleaving them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NAN = np.nan


@njit(cache=True)
def prev_of(a, i):
    """a[i-1], or NaN before the start: "nothing known before" and "warming up" look alike."""
    if i > 0:
        return a[i - 1]
    return NAN


@njit(cache=True)
def window_ok(x, i, period):
    """True when x[i-period+1 .. i] exists and holds no NaN (checked newest first: cheap in a NaN prefix)."""
    first = i - period + 1
    if first < 0:
        return False
    for j in range(i, first - 1, -1):
        if math.isnan(x[j]):
            return False
    return True


@njit(cache=True)
def window_sum(x, i, period):
    """Sum of x[i-period+1 .. i], oldest first (TA-Lib's seeding order, so seeds match it bit for bit)."""
    s = 0.0
    for j in range(i - period + 1, i + 1):
        s += x[j]
    return s


@njit(cache=True)
def true_range_at(high, low, close, i):
    """Wilder's true range; with no previous close (first candle) it is the candle's range.

    Written with selects, not branches: which term wins is a coin flip per candle, and a
    mispredicted branch costs more than the whole computation."""
    h = high[i]
    lo = low[i]
    rng = h - lo
    pc = close[i - 1] if i > 0 else NAN
    v = abs(pc - h)
    rng = v if v > rng else rng  # a NaN previous close compares false and keeps the range
    v = abs(pc - lo)
    return v if v > rng else rng


@njit(cache=True)
def ema_seed(x, i, period, gate):
    """First EMA value: the SMA of the window ending at i (TA-Lib's default), once that window is
    complete and `gate` is defined (MACD starts its fast EMA with the slow one); else NaN. Kept out
    of the per-candle update, which stays a two-line recursion the compiler keeps tight."""
    if not math.isnan(gate) and window_ok(x, i, period):
        return window_sum(x, i, period) / period
    return NAN


@njit(cache=True)
def _ema_pass(x, period, out, start, end):
    k = 2.0 / (period + 1)
    for i in range(start, end):
        p = prev_of(out, i)
        out[i] = ema_seed(x, i, period, x[i]) if math.isnan(p) else (x[i] - p) * k + p


@njit(cache=True)
def _k_ema(x, period, out, start, end):
    _ema_pass(x, period, out, start, end)


@njit(cache=True)
def _k_sma(x, period, out, total, start, end):
    """Running-sum SMA; `total` is the window sum, updated as (sum - leaving) + entering like TA-Lib."""
    for i in range(start, end):
        p = prev_of(total, i)
        if math.isnan(p):
            if window_ok(x, i, period):
                s = window_sum(x, i, period)
            else:
                s = NAN
        else:
            s = (p - x[i - period]) + x[i]
        total[i] = s
        out[i] = s / period


# What a candle contributes to the window sums of _k_flow_sums, by kind (inputs a, b, c, d):
FLOW_MONEY = 0  # MFI, (high, low, close, volume): (positive, negative) money flow
FLOW_CLV = 1  # CMF, (high, low, close, volume): (money-flow multiplier * volume, volume)
FLOW_BUY_SELL = 2  # volume delta, (open, close, volume, -): (volume if up, volume if down)
FLOW_PRICE_VOLUME = 3  # VWMA, (close, volume, -, -): (close * volume, volume)
FLOW_VOLUME = 4  # relative volume, (volume, -, -, -): (volume, 1 if any volume)


@njit(cache=True)
def candle_flow(kind, a, b, c, d, j):
    """The (x, y) pair candle j adds to the window sums of indicator `kind` (FLOW_*)."""
    if kind == FLOW_MONEY:
        if j == 0:
            return NAN, NAN  # no previous typical price
        t = a[j] + b[j] + c[j]  # 3 * typical price: its change has the typical price's sign
        pt = a[j - 1] + b[j - 1] + c[j - 1]
        mf = t / 3.0 * d[j]
        change = t - pt
        # typical prices an ulp or so apart are equal prices computed differently: no change
        moved = abs(change) > 1e-14 * (abs(t) + abs(pt))
        return (mf if moved & (change > 0.0) else 0.0), (mf if moved & (change < 0.0) else 0.0)
    if kind == FLOW_CLV:
        h = a[j]
        lo = b[j]
        cl = c[j]
        rng = h - lo
        mfm = ((cl - lo) - (h - cl)) / rng if rng != 0.0 else 0.0
        return mfm * d[j], d[j]
    if kind == FLOW_BUY_SELL:
        v = c[j]
        return (v if b[j] > a[j] else 0.0), (v if b[j] < a[j] else 0.0)
    if kind == FLOW_PRICE_VOLUME:
        return a[j] * b[j], b[j]
    v = a[j]
    return v, (1.0 if v != 0.0 else 0.0)


@njit(cache=True)
def _window_null(kind, a, b, c, d, i, period):
    """True when no candle of the window ending at i contributes anything (all pairs exactly 0)."""
    for j in range(i, i - period, -1):
        x, y = candle_flow(kind, a, b, c, d, j)
        if not ((x == 0.0) & (y == 0.0)):
            return False
    return True


@njit(cache=True)
def _k_flow_sums(kind, a, b, c, d, period, sum_x, sum_y, start, end):
    """Window sums of a per-candle pair (x, y) = candle_flow(kind, a, b, c, d, j) (buy/sell volume,
    positive/negative money flow, price*volume/volume...), kept as running sums.

    The pair is recomputed from the inputs for the candle leaving the window, so it needs no array
    of its own. A running sum keeps rounding residue once big values have left, so a window with no
    flow at all would read as 1e-12 instead of 0: on a candle that adds nothing, the window is
    checked (newest first, so the scan usually stops at once) and set to an exact 0 when empty.
    """
    for i in range(start, end):
        px = prev_of(sum_x, i)
        if math.isnan(px):
            sx = NAN
            sy = NAN
            if i >= period - 1:
                sx = 0.0
                sy = 0.0
                for j in range(i - period + 1, i + 1):
                    x, y = candle_flow(kind, a, b, c, d, j)
                    sx += x
                    sy += y
        else:
            x, y = candle_flow(kind, a, b, c, d, i)
            ox, oy = candle_flow(kind, a, b, c, d, i - period)
            sx = (px - ox) + x
            sy = (sum_y[i - 1] - oy) + y
            if (x == 0.0) & (y == 0.0):
                if _window_null(kind, a, b, c, d, i, period):
                    sx = 0.0
                    sy = 0.0
        sum_x[i] = sx
        sum_y[i] = sy


@njit(cache=True)
def _k_extreme(x, period, is_max, out, start, end):
    """Rolling max (is_max) or min over `period` values, NaN while the window holds a NaN.

    van Herk / Gil-Werman: cut the range into blocks of `period` (the first one starting
    `period - 1` before start); a window is the tail of one block plus the head of the next, so
    its max is max(suffix max of the previous block, prefix max of this one). Blocks are walked in
    order: the prefix max runs along while writing outputs, then the block's suffix maxima are
    stored in a buffer of `period` values for the next block; x is read from memory once and each
    output written once, branch-free, whatever the period. Max/min are exact, so any split of the
    calls gives the same values. Min is computed as the max of -x; a NaN input becomes +inf, which
    wins every comparison and is turned back into NaN (so does a window reaching before index 0).
    """
    if end <= start:
        return
    j0 = start - period + 1
    if j0 < 0:
        j0 = 0
    sgn = 1.0 if is_max else -1.0
    inf = np.inf
    suffix = np.full(period + 1, inf)  # of the previous block; suffix[period] is "nothing"
    suffix[period] = -inf
    for b in range(j0, end, period):
        n_b = min(period, end - b)
        acc = -inf
        for t in range(n_b):
            v = sgn * x[b + t]
            v = inf if math.isnan(v) else v
            acc = v if v > acc else acc
            i = b + t
            if i >= start:
                s = suffix[t + 1]
                r = s if s > acc else acc
                out[i] = NAN if r == inf else sgn * r
        acc = -inf
        for t in range(n_b - 1, -1, -1):
            v = sgn * x[b + t]
            v = inf if math.isnan(v) else v
            acc = v if v > acc else acc
            suffix[t] = acc


@njit(cache=True)
def _k_atr(high, low, close, period, out, start, end):
    """Wilder ATR: first value (at index `period`) is the mean of the first `period` true ranges that
    have a previous close, then atr = (atr*(period-1) + tr)/period as TA-Lib. The division is a
    multiplication by 1/period: within an ulp of TA-Lib, and twice as fast in this dependent chain."""
    inv = 1.0 / period
    for i in range(start, end):
        p = prev_of(out, i)
        if math.isnan(p):
            if i >= period and window_ok(close, i - 1, period) and window_ok(high, i, period) \
                    and window_ok(low, i, period):
                s = 0.0
                for j in range(i - period + 1, i + 1):
                    s += true_range_at(high, low, close, j)
                out[i] = s / period
            else:
                out[i] = NAN
        else:
            out[i] = (p * (period - 1) + true_range_at(high, low, close, i)) * inv
