"""Price structure: market structure, Fibonacci retracements and pivots, candlestick patterns."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from whale.indicators._core import NAN, _k_extreme
from whale.indicators._registry import KernelSpec, as_f64, compute, register, run_into

FIB_RATIOS = (0.0, 0.236, 0.382, 0.5, 0.618, 0.786, 1.0)

# candlestick_patterns() pattern codes (float values in the output array)
PATTERN_NONE = 0
PATTERN_DOJI = 1
PATTERN_HAMMER = 2
PATTERN_SHOOTING_STAR = 3
PATTERN_BULLISH_ENGULFING = 4
PATTERN_BEARISH_ENGULFING = 5
PATTERN_NAMES = {PATTERN_NONE: "none", PATTERN_DOJI: "doji", PATTERN_HAMMER: "hammer",
                 PATTERN_SHOOTING_STAR: "shooting_star", PATTERN_BULLISH_ENGULFING: "bullish_engulfing",
                 PATTERN_BEARISH_ENGULFING: "bearish_engulfing"}

# ----------------------------------------------------------------------------------------------
# Market structure


@njit(cache=True)
def _k_market_structure(high, low, lookback, out, recent_high, recent_low, start, end):
    _k_extreme(high, lookback, True, recent_high, start, end)
    _k_extreme(low, lookback, False, recent_low, start, end)
    for i in range(start, end):
        j = i - lookback
        if j < 0:
            out[i] = NAN
            continue
        hh = recent_high[i]
        ll = recent_low[i]
        ph = recent_high[j]
        pl = recent_low[j]
        if math.isnan(hh + ll + ph + pl):
            out[i] = NAN
        elif hh > ph and ll > pl:
            out[i] = 1.0
        elif hh < ph and ll < pl:
            out[i] = -1.0
        else:
            out[i] = 0.0


register(KernelSpec(
    "market_structure", _k_market_structure, ("high", "low"), (("lookback", int),),
    ("out",), ("recent_high", "recent_low"),
    lookback=lambda lookback: 2 * lookback - 1,
    history=lambda lookback: 2 * lookback))


def market_structure(high, low, lookback):
    """+1 (UP: higher high and higher low), -1 (DOWN: lower high and lower low) or 0 (SIDEWAYS),
    comparing the max high / min low of the last `lookback` candles with the `lookback` before."""
    return compute("market_structure", (high, low), lookback=lookback)[0]


# ----------------------------------------------------------------------------------------------
# Fibonacci retracements


@njit(cache=True)
def _k_fibonacci(high, low, window, l0, l1, l2, l3, l4, l5, l6, start, end):
    _k_extreme(high, window, True, l0, start, end)  # level 0 is the high itself
    _k_extreme(low, window, False, l6, start, end)  # the low, replaced by its formula below
    for i in range(start, end):
        hh = l0[i]
        span = hh - l6[i]
        l0[i] = hh - span * 0.0
        l1[i] = hh - span * 0.236
        l2[i] = hh - span * 0.382
        l3[i] = hh - span * 0.5
        l4[i] = hh - span * 0.618
        l5[i] = hh - span * 0.786
        l6[i] = hh - span * 1.0


register(KernelSpec(
    "fibonacci_retracements", _k_fibonacci, ("high", "low"), (("window", int),),
    tuple(f"level_{round(r * 1000)}" for r in FIB_RATIOS), (),
    lookback=lambda window: window - 1,
    history=lambda window: window))


def fibonacci_retracements(high, low, window):
    """Retracement levels HH - (HH - LL) * r for r in FIB_RATIOS over the last `window` candles, as a
    (7, n) array, row k for FIB_RATIOS[k] (row 0 is the high, row 6 the low)."""
    high, low = as_f64(high), as_f64(low)
    levels = np.empty((len(FIB_RATIOS), high.shape[0]))
    run_into("fibonacci_retracements", (high, low), tuple(levels), window=window)
    return levels


# ----------------------------------------------------------------------------------------------
# Fibonacci pivots


@njit(cache=True)
def _k_fibonacci_pivots(high, low, close, pivot, r1, r2, s1, s2, start, end):
    for i in range(start, end):
        if i == 0:
            p = NAN
            rng = NAN
        else:
            h = high[i - 1]
            lo = low[i - 1]
            p = (h + lo + close[i - 1]) / 3.0
            rng = h - lo
        pivot[i] = p
        r1[i] = p + 0.382 * rng
        r2[i] = p + 0.618 * rng
        s1[i] = p - 0.382 * rng
        s2[i] = p - 0.618 * rng


register(KernelSpec(
    "fibonacci_pivots", _k_fibonacci_pivots, ("high", "low", "close"), (),
    ("pivot", "r1", "r2", "s1", "s2"), (),
    lookback=lambda: 1,
    history=lambda: 2))


def fibonacci_pivots(high, low, close):
    """Fibonacci pivots of the PREVIOUS candle (no look-ahead): P = (H+L+C)/3, R1/R2 = P + 0.382/0.618
    * (H-L), S1/S2 = P - the same."""
    return compute("fibonacci_pivots", (high, low, close))


# ----------------------------------------------------------------------------------------------
# Candlestick patterns


@njit(cache=True)
def _k_candlestick(open_, high, low, close, signal, pattern, start, end):
    for i in range(start, end):
        o = open_[i]
        h = high[i]
        lo = low[i]
        c = close[i]
        if math.isnan(o + h + lo + c):
            signal[i] = NAN
            pattern[i] = NAN
            continue
        body = abs(c - o)
        rng = h - lo
        code = PATTERN_NONE
        if i > 0 and not math.isnan(open_[i - 1] + close[i - 1]):
            po = open_[i - 1]
            pc = close[i - 1]
            if pc < po and c > o and o <= pc and c >= po and body > po - pc:
                code = PATTERN_BULLISH_ENGULFING
            elif pc > po and c < o and o >= pc and c <= po and body > pc - po:
                code = PATTERN_BEARISH_ENGULFING
        if code == PATTERN_NONE:
            if rng <= 0.0:
                code = PATTERN_DOJI  # four-price candle
            else:
                ratio = body / rng
                upper_wick = h - max(o, c)
                lower_wick = min(o, c) - lo
                if ratio < 0.3 and c > o and lower_wick > 2.0 * body and upper_wick < 0.5 * body:
                    code = PATTERN_HAMMER
                elif ratio < 0.3 and c < o and upper_wick > 2.0 * body and lower_wick < 0.5 * body:
                    code = PATTERN_SHOOTING_STAR
                elif ratio < 0.1:
                    code = PATTERN_DOJI
        pattern[i] = code
        if code == PATTERN_HAMMER or code == PATTERN_BULLISH_ENGULFING:
            signal[i] = 1.0
        elif code == PATTERN_SHOOTING_STAR or code == PATTERN_BEARISH_ENGULFING:
            signal[i] = -1.0
        else:
            signal[i] = 0.0


register(KernelSpec(
    "candlestick_patterns", _k_candlestick, ("open", "high", "low", "close"), (),
    ("signal", "pattern"), (),
    lookback=lambda: 0,
    history=lambda: 2))


def candlestick_patterns(open, high, low, close):  # noqa: A002 - the public name the brief fixes
    """Single- and two-candle patterns -> (signal, pattern). Codes (PATTERN_NAMES): 0 none, 1 doji
    (body/range < 0.1, or no range), 2 hammer (up candle, body/range < 0.3, lower wick > 2*body,
    upper wick < 0.5*body), 3 shooting star (the mirror), 4 bullish / 5 bearish engulfing (this
    body strictly contains the previous candle's body of the opposite colour). Engulfing is checked
    first, then hammer / star, then doji. signal: +1 hammer or bullish engulfing, -1 shooting star
    or bearish engulfing, else 0."""
    return compute("candlestick_patterns", (open, high, low, close))
