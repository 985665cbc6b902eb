"""Volatility and range: true range, ATR, Bollinger, Keltner, volatility index, highest / lowest."""

from __future__ import annotations

import math

from numba import njit

from whale.indicators._core import NAN, _k_atr, _k_ema, _k_extreme, prev_of, true_range_at, window_sum
from whale.indicators._registry import KernelSpec, compute, register, wilder_history


@njit(cache=True)
def _k_true_range(high, low, close, out, start, end):
    for i in range(start, end):
        out[i] = true_range_at(high, low, close, i)


register(KernelSpec(
    "true_range", _k_true_range, ("high", "low", "close"), (), ("out",), (),
    lookback=lambda: 0,
    history=lambda: 2))


def true_range(high, low, close):
    """max(H-L, |H-C[-1]|, |L-C[-1]|); the first candle, with no previous close, has TR = H-L."""
    return compute("true_range", (high, low, close))[0]


register(KernelSpec(
    "atr", _k_atr, ("high", "low", "close"), (("period", int),), ("out",), (),
    lookback=lambda period: period,
    history=wilder_history))


def atr(high, low, close, period):
    """Wilder's ATR (RMA of the true range, alpha 1/period), seeded with the mean of the first
    `period` true ranges that have a previous close, as TA-Lib: defined from index `period`."""
    return compute("atr", (high, low, close), period=period)[0]


@njit(cache=True)
def _k_extreme_max(x, period, out, start, end):
    _k_extreme(x, period, True, out, start, end)


@njit(cache=True)
def _k_extreme_min(x, period, out, start, end):
    _k_extreme(x, period, False, out, start, end)


register(KernelSpec(
    "highest", _k_extreme_max, ("x",), (("period", int),), ("out",), (),
    lookback=lambda period: period - 1,
    history=lambda period: period))

register(KernelSpec(
    "lowest", _k_extreme_min, ("x",), (("period", int),), ("out",), (),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def highest(x, period):
    """Rolling maximum of the last `period` values (current included)."""
    return compute("highest", (x,), period=period)[0]


def lowest(x, period):
    """Rolling minimum of the last `period` values (current included)."""
    return compute("lowest", (x,), period=period)[0]


@njit(cache=True)
def _k_bollinger(close, period, std_dev, upper, middle, lower, total, sq_dev, start, end):
    for i in range(start, end):
        p = prev_of(total, i)
        if math.isnan(p):
            s = window_sum(close, i, period) if i >= period - 1 else NAN  # NaN flows through
            mean = s / period
            m2 = 0.0
            for j in range(max(i - period + 1, 0), i + 1):
                m2 += (close[j] - mean) * (close[j] - mean)
        else:
            x_in = close[i]
            x_out = close[i - period]
            s = (p - x_out) + x_in
            mean = s / period
            # sliding update of the sum of squared deviations: no x*x, so no cancellation at
            # price level 1e5 where variances are ~1e1
            m2 = sq_dev[i - 1] + (x_in - x_out) * ((x_in - mean) + (x_out - p / period))
            if m2 < 0.0:
                m2 = 0.0
        total[i] = s
        sq_dev[i] = m2
        sd = math.sqrt(m2 / period)
        middle[i] = mean
        upper[i] = mean + std_dev * sd
        lower[i] = mean - std_dev * sd


register(KernelSpec(
    "bollinger", _k_bollinger, ("close",), (("period", int), ("std_dev", float)),
    ("upper", "middle", "lower"), ("total", "sq_dev_sum"),
    lookback=lambda period, std_dev: period - 1,
    history=lambda period, std_dev: period))


def bollinger(close, period, std_dev):
    """Bollinger bands: SMA(period) +/- std_dev * population standard deviation of the same window
    (ddof 0, as TA-Lib; the original used the sample deviation)."""
    return compute("bollinger", (close,), period=period, std_dev=std_dev)


@njit(cache=True)
def _k_keltner(high, low, close, period, atr_multiplier, upper, middle, lower, atr_, start, end):
    _k_ema(close, period, middle, start, end)
    _k_atr(high, low, close, period, atr_, start, end)
    for i in range(start, end):
        w = atr_multiplier * atr_[i]
        upper[i] = middle[i] + w
        lower[i] = middle[i] - w


register(KernelSpec(
    "keltner", _k_keltner, ("high", "low", "close"), (("period", int), ("atr_multiplier", float)),
    ("upper", "middle", "lower"), ("out",),
    lookback=lambda period, atr_multiplier: period,
    history=lambda period, atr_multiplier: wilder_history(period)))


def keltner(high, low, close, period, atr_multiplier):
    """Keltner channel: middle = EMA(close, period), bands = middle +/- atr_multiplier * ATR(period)."""
    return compute("keltner", (high, low, close), period=period, atr_multiplier=atr_multiplier)


@njit(cache=True)
def _k_volatility_index(high, low, close, atr_period, period, out, atr_, total, start, end):
    _k_atr(high, low, close, atr_period, atr_, start, end)
    for i in range(start, end):
        r = atr_[i] / close[i]
        p = prev_of(total, i)
        if math.isnan(p):
            # ATR/close of the candle leaving the window is recomputed, not stored
            s = 0.0
            for j in range(i - period + 1, i + 1):
                s += atr_[j] / close[j] if j >= 0 else NAN
        else:
            j = i - period
            s = (p - atr_[j] / close[j]) + r
        total[i] = s
        out[i] = s / period


register(KernelSpec(
    "volatility_index", _k_volatility_index, ("high", "low", "close"),
    (("atr_period", int), ("period", int)), ("out",), ("atr", "total"),
    lookback=lambda atr_period, period: atr_period + period - 1,
    history=lambda atr_period, period: wilder_history(atr_period) + period))


def volatility_index(high, low, close, atr_period, period):
    """SMA(ATR(atr_period) / close, period): the ATR as a fraction of price, so it compares across
    price levels and symbols."""
    return compute("volatility_index", (high, low, close), atr_period=atr_period, period=period)[0]
