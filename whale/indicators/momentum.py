"""Momentum oscillators: RSI, StochRSI, CCI, Williams %R, MFI, ROC.

Where an oscillator is undefined (no movement at all in its window) it returns its neutral value
(RSI/StochRSI/MFI 50, %R -50, CCI 0) instead of TA-Lib's 0, which would read as "oversold" (or
"overbought" for %R) to the contrarian scorers. Such windows do not occur in the real data.
"""

from __future__ import annotations

import math

from numba import njit

from whale.indicators._core import FLOW_MONEY, NAN, _k_extreme, _k_flow_sums, prev_of, window_ok, window_sum
from whale.indicators._registry import KernelSpec, compute, decay_candles, register, wilder_history

# ----------------------------------------------------------------------------------------------
# RSI


@njit(cache=True)
def _k_rsi(x, period, out, avg_gain, avg_loss, start, end):
    inv = 1.0 / period  # multiply, not divide: the Wilder recursion is a dependent chain
    for i in range(start, end):
        g = prev_of(avg_gain, i)
        if math.isnan(g):
            # Wilder's seed: plain averages of the first `period` changes
            if i >= period and window_ok(x, i, period + 1):
                g = 0.0
                lo = 0.0
                for j in range(i - period + 1, i + 1):
                    d = x[j] - x[j - 1]
                    if d < 0.0:
                        lo -= d
                    else:
                        g += d
            else:
                avg_gain[i] = NAN
                avg_loss[i] = NAN
                out[i] = NAN
                continue
        else:
            # TA-Lib's "if d < 0: loss -= d else: gain += d" as selects (adding 0.0 is exact)
            d = x[i] - x[i - 1]
            g *= period - 1
            lo = avg_loss[i - 1] * (period - 1)
            lo -= d if d < 0.0 else 0.0
            g += 0.0 if d < 0.0 else d
        g *= inv
        lo *= inv
        avg_gain[i] = g
        avg_loss[i] = lo
        tot = g + lo
        out[i] = 100.0 * (g / tot) if tot != 0.0 else 50.0


register(KernelSpec(
    "rsi", _k_rsi, ("close",), (("period", int),), ("out",), ("avg_gain", "avg_loss"),
    lookback=lambda period: period,
    history=wilder_history))


def rsi(close, period):
    """Wilder's RSI (averages seeded with the plain mean of the first `period` changes, as TA-Lib);
    defined from index `period`; 50 when there was no change at all."""
    return compute("rsi", (close,), period=period)[0]


# ----------------------------------------------------------------------------------------------
# StochRSI


@njit(cache=True)
def _mean_back(x, i, n):
    """Mean of x[i-n+1 .. i] (NaN if the window has a NaN or starts before 0): the short SMAs of
    StochRSI are cheaper summed afresh than kept as running sums in arrays of their own."""
    if i - n + 1 < 0:
        return NAN
    s = 0.0
    for j in range(i - n + 1, i + 1):
        s += x[j]
    return s * (1.0 / n)


@njit(cache=True)
def _k_stoch_rsi(close, period, k, d, out_k, out_d, rsi_, avg_gain, avg_loss, raw_k, start, end):
    _k_rsi(close, period, rsi_, avg_gain, avg_loss, start, end)
    # the RSI's range goes through the outputs, which are overwritten below, index by index
    _k_extreme(rsi_, period, True, out_k, start, end)
    _k_extreme(rsi_, period, False, out_d, start, end)
    for i in range(start, end):
        hi = out_k[i]
        lo = out_d[i]
        if hi - lo > 1e-10:  # an RSI flat to rounding noise has no position in its range
            raw_k[i] = (rsi_[i] - lo) * 100.0 / (hi - lo)
        else:
            raw_k[i] = NAN if math.isnan(hi - lo) else 50.0
        out_k[i] = _mean_back(raw_k, i, k)
        out_d[i] = _mean_back(out_k, i, d)


def _stoch_rsi_lookback(period, k, d):  # RSI, then its range, then the two SMAs
    return period + (period - 1) + (k - 1) + (d - 1)


register(KernelSpec(
    "stoch_rsi", _k_stoch_rsi, ("close",), (("period", int), ("k", int), ("d", int)), ("k", "d"),
    ("rsi", "avg_gain", "avg_loss", "raw_k"),
    lookback=_stoch_rsi_lookback,
    history=lambda period, k, d: _stoch_rsi_lookback(period, k, d) + decay_candles(1.0 - 1.0 / period)))


def stoch_rsi(close, period, k, d):
    """StochRSI: RSI(period), its stochastic position over the last `period` RSI values (0-100),
    K = SMA(k) of that, D = SMA(d) of K. Same as TA-Lib's STOCH applied to RSI with SMA smoothing."""
    return compute("stoch_rsi", (close,), period=period, k=k, d=d)


# ----------------------------------------------------------------------------------------------
# CCI


@njit(cache=True)
def _abs_dev(a, lo, hi, center):
    """sum |a[j] - center| over [lo, hi) with eight accumulators, so the adds do not wait on each
    other (the mean deviation is CCI's whole cost); the order is fixed by the window, so values
    are reproducible whichever way the range is split."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    j = lo
    while j + 8 <= hi:
        s0 += abs(a[j] - center)
        s1 += abs(a[j + 1] - center)
        s2 += abs(a[j + 2] - center)
        s3 += abs(a[j + 3] - center)
        s4 += abs(a[j + 4] - center)
        s5 += abs(a[j + 5] - center)
        s6 += abs(a[j + 6] - center)
        s7 += abs(a[j + 7] - center)
        j += 8
    while j < hi:
        s0 += abs(a[j] - center)
        j += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(cache=True)
def _k_cci(high, low, close, period, out, tp, tp_sum, start, end):
    for i in range(start, end):
        t = (high[i] + low[i] + close[i]) / 3
        tp[i] = t
        p = prev_of(tp_sum, i)
        if math.isnan(p):
            s = window_sum(tp, i, period) if i >= period - 1 else NAN
        else:
            s = (p - tp[i - period]) + t
        tp_sum[i] = s
        mean = s / period
        dev = _abs_dev(tp, i - period + 1, i + 1, mean) if i >= period - 1 else NAN
        out[i] = (t - mean) / (0.015 * (dev / period)) if dev != 0.0 else 0.0


register(KernelSpec(
    "cci", _k_cci, ("high", "low", "close"), (("period", int),), ("out",), ("typical_price", "tp_sum"),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def cci(high, low, close, period):
    """Commodity Channel Index: (TP - SMA(TP)) / (0.015 * mean absolute deviation of TP), TP the
    typical price. The mean deviation needs a pass over the window per candle (no running form)."""
    return compute("cci", (high, low, close), period=period)[0]


# ----------------------------------------------------------------------------------------------
# Williams %R


@njit(cache=True)
def _k_williams_r(high, low, close, period, out, lowest_low, start, end):
    _k_extreme(high, period, True, out, start, end)  # the highest high, replaced in place below
    _k_extreme(low, period, False, lowest_low, start, end)
    for i in range(start, end):
        hh = out[i]
        rng = hh - lowest_low[i]
        if rng != 0.0:
            out[i] = (hh - close[i]) / (rng / -100.0)
        else:
            out[i] = NAN if math.isnan(rng) else -50.0


register(KernelSpec(
    "williams_r", _k_williams_r, ("high", "low", "close"), (("period", int),), ("out",),
    ("lowest_low",),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def williams_r(high, low, close, period):
    """Williams %R, -100 * (HH - close) / (HH - LL) over `period` candles: 0 at the top of the range,
    -100 at the bottom; -50 for a range of zero height."""
    return compute("williams_r", (high, low, close), period=period)[0]


# ----------------------------------------------------------------------------------------------
# MFI


@njit(cache=True)
def _k_mfi(high, low, close, volume, period, out, pos_sum, neg_sum, start, end):
    _k_flow_sums(FLOW_MONEY, high, low, close, volume, period, pos_sum, neg_sum, start, end)
    for i in range(start, end):
        ps = pos_sum[i]
        tot = ps + neg_sum[i]
        if tot > 0.0:
            out[i] = 100.0 * (min(max(ps, 0.0), tot) / tot)
        else:
            out[i] = NAN if math.isnan(tot) else 50.0


register(KernelSpec(
    "mfi", _k_mfi, ("high", "low", "close", "volume"), (("period", int),), ("out",),
    ("pos_sum", "neg_sum"),
    lookback=lambda period: period,
    history=lambda period: period + 1))


def mfi(high, low, close, volume, period):
    """Money Flow Index: 100 * positive / (positive + negative) money flow over `period` candles,
    flow = typical price * volume, signed by the typical price's change; 50 with no flow at all."""
    return compute("mfi", (high, low, close, volume), period=period)[0]


# ----------------------------------------------------------------------------------------------
# ROC


@njit(cache=True)
def _k_roc(x, period, out, start, end):
    for i in range(start, end):
        if i >= period:
            base = x[i - period]
            out[i] = 100.0 * (x[i] - base) / base if base != 0.0 else NAN
        else:
            out[i] = NAN


register(KernelSpec(
    "roc", _k_roc, ("close",), (("period", int),), ("out",), (),
    lookback=lambda period: period,
    history=lambda period: period + 1))


def roc(close, period):
    """Rate of change in percent: 100 * (c - c[period]) / c[period]."""
    return compute("roc", (close,), period=period)[0]
