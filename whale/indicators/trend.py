"""Trend indicators: moving averages, MACD, ADX/DI, Parabolic SAR, Ichimoku, Ehlers SuperTrend."""

from __future__ import annotations

import math

from numba import njit

from whale.indicators._core import NAN, _k_ema, _k_extreme, _k_sma, ema_seed, prev_of, true_range_at, window_ok
from whale.indicators._registry import KernelSpec, compute, decay_candles, register

# ----------------------------------------------------------------------------------------------
# EMA / SMA / DEMA


def _ema_retain(period):
    return 1.0 - 2.0 / (period + 1)


register(KernelSpec(
    "ema", _k_ema, ("x",), (("period", int),), ("out",), (),
    lookback=lambda period: period - 1,
    history=lambda period: period - 1 + decay_candles(_ema_retain(period))))

register(KernelSpec(
    "sma", _k_sma, ("x",), (("period", int),), ("out",), ("total",),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def ema(x, period):
    """Exponential moving average (alpha 2/(period+1)), seeded with the SMA of the first full window as
    TA-Lib does, so values match TA-Lib's EMA from the start and converge the same way."""
    return compute("ema", (x,), period=period)[0]


def sma(x, period):
    """Simple moving average over `period` candles (running sum; exact window, no memory beyond it)."""
    return compute("sma", (x,), period=period)[0]


@njit(cache=True)
def _k_dema(x, period, out, ema1, ema2, start, end):
    _k_ema(x, period, ema1, start, end)
    _k_ema(ema1, period, ema2, start, end)
    for i in range(start, end):
        out[i] = (2.0 * ema1[i]) - ema2[i]


register(KernelSpec(
    "dema", _k_dema, ("x",), (("period", int),), ("out",), ("ema1", "ema2"),
    lookback=lambda period: 2 * (period - 1),
    history=lambda period: 2 * (period - 1) + decay_candles(_ema_retain(period), 1e-13)))


def dema(x, period):
    """Double EMA, 2*EMA - EMA(EMA): cancels most of the EMA's lag. The inner EMA is seeded like any EMA
    on a series with a NaN prefix (SMA of its first `period` values), as TA-Lib's DEMA."""
    return compute("dema", (x,), period=period)[0]


# ----------------------------------------------------------------------------------------------
# KAMA


@njit(cache=True)
def _k_kama(x, period, fast, slow, out, noise, start, end):
    slow_sc = 2.0 / (slow + 1.0)
    sc_span = 2.0 / (fast + 1.0) - slow_sc
    for i in range(start, end):
        p = prev_of(out, i)
        xi = x[i]
        if math.isnan(p):
            if not window_ok(x, i, period + 1):
                out[i] = NAN
                noise[i] = NAN
                continue
            s = 0.0
            for j in range(i - period, i):
                s += abs(x[j] - x[j + 1])
            p = x[i - 1]  # the previous close stands in for the previous KAMA
        else:
            s = noise[i - 1] - abs(x[i - period - 1] - x[i - period])
            s += abs(xi - x[i - 1])
        change = xi - x[i - period]
        # no movement at all (the sum is 0 up to running-sum residue): TA-Lib treats it as ER = 1
        if s <= change or s <= 1e-10 * abs(xi):
            er = 1.0
        else:
            er = abs(change / s)
        sc = er * sc_span + slow_sc
        sc *= sc
        noise[i] = s
        out[i] = (xi - p) * sc + p


def _kama_history(period, fast, slow):
    # The slowest smoothing constant (flat market, ER 0) would need ~3300 candles at the defaults;
    # real markets keep ER well above 0: 279 measured on data/, this gives ~1100 (4x margin).
    return period + decay_candles(1.0 - (2.0 / (slow + 1.0)) ** 2, 1e-2)


register(KernelSpec(
    "kama", _k_kama, ("close",), (("period", int), ("fast", int), ("slow", int)), ("out",), ("noise",),
    lookback=lambda period, fast, slow: period,
    history=_kama_history))


def kama(close, period, fast, slow):
    """Kaufman adaptive MA as TA-Lib defines it: ER = |c - c[period]| / sum|diff| over `period`,
    SC = (ER*(2/(fast+1) - 2/(slow+1)) + 2/(slow+1))^2, seeded with the previous close at index
    `period`. Its memory is long (SC can be as small as (2/(slow+1))^2), so the seeding must match
    TA-Lib's exactly for values to agree even thousands of candles later."""
    return compute("kama", (close,), period=period, fast=fast, slow=slow)[0]


# ----------------------------------------------------------------------------------------------
# MACD


@njit(cache=True)
def _k_macd(x, fast, slow, signal, line, sig, hist, ema_fast, ema_slow, start, end):
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    kg = 2.0 / (signal + 1)
    for i in range(start, end):  # one loop: the three EMA chains overlap instead of queueing
        xi = x[i]
        p = prev_of(ema_slow, i)
        s = ema_seed(x, i, slow, xi) if math.isnan(p) else (xi - p) * ks + p
        # the fast EMA starts with the slow one (TA-Lib's MACD seeding), from its own window's SMA
        p = prev_of(ema_fast, i)
        f = ema_seed(x, i, fast, s) if math.isnan(p) else (xi - p) * kf + p
        ema_slow[i] = s
        ema_fast[i] = f
        m = f - s
        line[i] = m
        p = prev_of(sig, i)
        g = ema_seed(line, i, signal, m) if math.isnan(p) else (m - p) * kg + p
        sig[i] = g
        hist[i] = m - g


def _macd_params(fast, slow, signal):
    fast, slow = int(fast), int(slow)
    if slow < fast:  # TA-Lib swaps too: the slow EMA is the longer one
        fast, slow = slow, fast
    return {"fast": fast, "slow": slow, "signal": signal}


register(KernelSpec(
    "macd", _k_macd, ("close",), (("fast", int), ("slow", int), ("signal", int)),
    ("line", "signal", "hist"), ("ema_fast", "ema_slow"),
    lookback=lambda fast, slow, signal: slow + signal - 2,
    history=lambda fast, slow, signal: slow + signal - 2 + decay_candles(_ema_retain(slow), 1e-14),
    normalize=_macd_params))


def macd(close, fast, slow, signal):
    """MACD line = EMA(fast) - EMA(slow), signal = EMA(line, signal), hist = line - signal.

    Both EMAs are seeded at the same candle (where the slow window is first complete), each with the
    SMA of its own last `period` closes, exactly as TA-Lib, so the line matches TA-Lib from there on.
    The line is defined from index slow-1, signal and hist from slow+signal-2."""
    return compute("macd", (close,), fast=fast, slow=slow, signal=signal)


# ----------------------------------------------------------------------------------------------
# ADX / +DI / -DI


@njit(cache=True)
def _dm(high, low, i):
    """(+DM, -DM) of candle i: the larger outward move, if positive; none on a tie (selects: the
    winner is a coin flip per candle)."""
    up = high[i] - high[i - 1]
    down = low[i - 1] - low[i]
    plus = up if (up > 0.0) & (up > down) else 0.0
    minus = down if (down > 0.0) & (up < down) else 0.0
    return plus, minus


@njit(cache=True)
def _di_dx(s_plus, s_minus, s_tr, j):
    """(+DI, -DI, DX) from the Wilder sums at candle j; no range or no movement gives 0, not 0/0."""
    st = s_tr[j]
    if st != 0.0:
        mdi = 100.0 * (s_minus[j] / st)
        pdi = 100.0 * (s_plus[j] / st)
    else:
        mdi = 0.0
        pdi = 0.0
    tot = mdi + pdi
    dx = 100.0 * (abs(mdi - pdi) / tot) if tot != 0.0 else 0.0
    return pdi, mdi, dx


@njit(cache=True)
def _k_adx(high, low, close, period, adx, plus_di, minus_di, s_plus, s_minus, s_tr, start, end):
    inv = 1.0 / period  # multiply, not divide: the Wilder recursions are dependent chains
    for i in range(start, end):
        p = prev_of(s_tr, i)
        if math.isnan(p):
            # Wilder sums seeded TA-Lib's way: plain sums of the period-1 one-bar values before i,
            # then the first smoothing step at i.
            if i >= period and window_ok(high, i, period + 1) and window_ok(low, i, period + 1) \
                    and window_ok(close, i - 1, period):
                sp = 0.0
                sm = 0.0
                st = 0.0
                for j in range(i - period + 1, i):
                    up, down = _dm(high, low, j)
                    sp += up
                    sm += down
                    st += true_range_at(high, low, close, j)
            else:
                sp = NAN
                sm = NAN
                st = NAN
        else:
            sp = s_plus[i - 1]
            sm = s_minus[i - 1]
            st = p
        up, down = _dm(high, low, i)
        s_plus[i] = sp - sp * inv + up
        s_minus[i] = sm - sm * inv + down
        s_tr[i] = st - st * inv + true_range_at(high, low, close, i)
        pdi, mdi, dx = _di_dx(s_plus, s_minus, s_tr, i)
        plus_di[i] = pdi
        minus_di[i] = mdi
        pa = prev_of(adx, i)
        if not math.isnan(pa):
            adx[i] = (pa * (period - 1) + dx) * inv
        elif i >= period - 1 and window_ok(s_tr, i, period):
            # first ADX: the mean of the first `period` DX values, recomputed from the sums
            tot = 0.0
            for j in range(i - period + 1, i + 1):
                tot += _di_dx(s_plus, s_minus, s_tr, j)[2]
            adx[i] = tot / period
        else:
            adx[i] = NAN


register(KernelSpec(
    "adx", _k_adx, ("high", "low", "close"), (("period", int),), ("adx", "plus_di", "minus_di"),
    ("sum_plus_dm", "sum_minus_dm", "sum_tr"),
    lookback=lambda period: 2 * period - 1,
    history=lambda period: 2 * period - 1 + decay_candles(1.0 - 1.0 / period, 1e-14)))


def adx(high, low, close, period):
    """Wilder's ADX with +DI/-DI (Wilder smoothing, TA-Lib's seeding): DI from index `period`, ADX
    from 2*period-1. A candle with no true range gives DI 0 and DX 0 rather than a division by 0."""
    return compute("adx", (high, low, close), period=period)


# ----------------------------------------------------------------------------------------------
# Parabolic SAR


@njit(cache=True)
def _k_psar(high, low, acceleration, max_acceleration, sar, direction, next_sar, ep, af, start, end):
    step = acceleration if acceleration <= max_acceleration else max_acceleration
    for i in range(start, end):
        h = high[i]
        lo = low[i]
        s = prev_of(next_sar, i)
        if math.isnan(s) or math.isnan(h) or math.isnan(lo):
            if i == 0 or math.isnan(h) or math.isnan(lo) or math.isnan(high[i - 1]) \
                    or math.isnan(low[i - 1]):
                sar[i] = NAN
                direction[i] = NAN
                next_sar[i] = NAN
                ep[i] = NAN
                af[i] = NAN
                continue
            # Start as TA-Lib: short when the first bar pair has a -DM, else long; the SAR starts
            # at the previous bar's opposite extreme and, on this first bar, "yesterday's" range
            # used by the clamps is today's.
            up = h - high[i - 1]
            down = low[i - 1] - lo
            long = not (down > 0 and up < down)
            if long:
                e = h
                s = low[i - 1]
            else:
                e = lo
                s = high[i - 1]
            a = step
            ph = h
            pl = lo
        else:
            long = direction[i - 1] > 0
            e = ep[i - 1]
            a = af[i - 1]
            ph = high[i - 1]
            pl = low[i - 1]
        # The short side is the long side mirrored (negated prices, highs and lows swapped); the
        # negation is exact, so one code path gives TA-Lib's values for both.
        g = 1.0 if long else -1.0
        uh, ul, uph, upl = (h, lo, ph, pl) if long else (-lo, -h, -pl, -ph)
        us = g * s
        ue = g * e
        if ul <= us:  # reversal: the stop jumps to the extreme point of the run that just ended
            long = not long
            us = max(ue, uph, uh)
            out = us
            a = step
            ue = ul
            us = max(us + a * (ue - us), uph, uh)
        else:
            out = us
            if uh > ue:
                ue = uh
                a = min(a + step, max_acceleration)
            us = min(us + a * (ue - us), upl, ul)
        out *= g
        s = g * us
        e = g * ue
        sar[i] = out
        direction[i] = 1.0 if long else -1.0
        next_sar[i] = s
        ep[i] = e
        af[i] = a


register(KernelSpec(
    "psar", _k_psar, ("high", "low"), (("acceleration", float), ("max_acceleration", float)),
    ("sar", "direction"), ("next_sar", "extreme_point", "acceleration_factor"),
    lookback=lambda acceleration, max_acceleration: 1,
    # path dependent: a cold start syncs once both runs have reversed alike (114 measured)
    history=lambda acceleration, max_acceleration: 300))


def psar(high, low, acceleration, max_acceleration):
    """Wilder's Parabolic SAR with TA-Lib's start and clamping rules, so it agrees with TA-Lib's SAR
    (path dependent: any other start gives other values until both have reversed alike).

    direction is +1 while long (SAR below price), -1 while short, taking effect on the reversal
    candle; sar is the stop for that candle. Defined from index 1."""
    return compute("psar", (high, low), acceleration=acceleration, max_acceleration=max_acceleration)


# ----------------------------------------------------------------------------------------------
# Ichimoku


@njit(cache=True)
def _k_ichimoku(high, low, close, tenkan, kijun, senkou_b, chikou_offset,
                out_tenkan, out_kijun, span_a, span_b, chikou, span_b_now, start, end):
    # channel highs go to their final arrays, channel lows through outputs that are only written
    # (index by index, after the read) in the final loop
    _k_extreme(high, tenkan, True, out_tenkan, start, end)
    _k_extreme(low, tenkan, False, span_a, start, end)
    _k_extreme(high, kijun, True, out_kijun, start, end)
    _k_extreme(low, kijun, False, span_b, start, end)
    _k_extreme(high, senkou_b, True, span_b_now, start, end)
    _k_extreme(low, senkou_b, False, chikou, start, end)
    for i in range(start, end):
        out_tenkan[i] = (out_tenkan[i] + span_a[i]) / 2.0
        out_kijun[i] = (out_kijun[i] + span_b[i]) / 2.0
        span_b_now[i] = (span_b_now[i] + chikou[i]) / 2.0
        j = i - kijun
        if j >= 0:
            span_a[i] = (out_tenkan[j] + out_kijun[j]) / 2.0
            span_b[i] = span_b_now[j]
        else:
            span_a[i] = NAN
            span_b[i] = NAN
        j = i - chikou_offset
        chikou[i] = close[j] if j >= 0 else NAN


def _ichimoku_params(tenkan, kijun, senkou_b, chikou_offset=None):
    return {"tenkan": tenkan, "kijun": kijun, "senkou_b": senkou_b,
            "chikou_offset": kijun if chikou_offset is None else chikou_offset}


def _ichimoku_lookback(tenkan, kijun, senkou_b, chikou_offset):
    return max(max(tenkan, kijun, senkou_b) - 1 + kijun, chikou_offset)


register(KernelSpec(
    "ichimoku", _k_ichimoku, ("high", "low", "close"),
    (("tenkan", int), ("kijun", int), ("senkou_b", int), ("chikou_offset", int)),
    ("tenkan", "kijun", "span_a", "span_b", "chikou"),
    ("span_b_unshifted",),
    lookback=_ichimoku_lookback,
    history=lambda **p: _ichimoku_lookback(**p) + 1,
    normalize=_ichimoku_params))


def ichimoku(high, low, close, tenkan, kijun, senkou_b, chikou_offset=None):
    """Ichimoku without look-ahead. tenkan/kijun are channel midpoints over their periods; span_a[i]
    and span_b[i] are the values computed `kijun` candles earlier (the cloud drawn ahead of price,
    read where it is now); chikou[i] = close[i - chikou_offset] (default kijun): the past close the
    current close, i.e. the Chikou point, is compared with. The original shifted Chikou backwards
    (future data at the last candle); here nothing uses a later candle."""
    return compute("ichimoku", (high, low, close), tenkan=tenkan, kijun=kijun, senkou_b=senkou_b,
                   chikou_offset=chikou_offset)


# ----------------------------------------------------------------------------------------------
# Ehlers SuperTrend


@njit(cache=True)
def super_smoother_coefficients(period):
    """Ehlers' two-pole super smoother: c1 + c2 + c3 == 1, so the DC gain is exactly one."""
    a1 = math.exp(-math.sqrt(2.0) * math.pi / period)
    c2 = 2.0 * a1 * math.cos(math.sqrt(2.0) * math.pi / period)
    c3 = -a1 * a1
    c1 = 1.0 - c2 - c3
    return c1, c2, c3


@njit(cache=True)
def _ss_step(c1, c2, c3, x, x_prev, out, i):
    """One super-smoother value at i from its input at i and i-1 and its own values at i-1, i-2.
    It starts at the input (then the mean of the first two), so a constant is flat from the start."""
    p1 = prev_of(out, i)
    if math.isnan(x):
        return NAN
    if math.isnan(p1):
        return x
    p2 = out[i - 2] if i >= 2 else NAN
    if math.isnan(p2):
        return (x + x_prev) / 2.0
    return c1 * (x + x_prev) / 2.0 + c2 * p1 + c3 * p2


@njit(cache=True)
def _k_super_smoother(x, period, out, start, end):
    c1, c2, c3 = super_smoother_coefficients(period)
    for i in range(start, end):
        out[i] = _ss_step(c1, c2, c3, x[i], x[i - 1] if i > 0 else NAN, out, i)


@njit(cache=True)
def _k_ehlers_supertrend(high, low, close, period, multiplier, value, direction,
                         smooth_mid, smooth_tr, start, end):
    c1, c2, c3 = super_smoother_coefficients(period)
    warm = 3 * period
    for i in range(start, end):
        # hl2 and TR at i and i-1 come straight from the candles: no arrays for them
        mid = (high[i] + low[i]) / 2.0
        tr = true_range_at(high, low, close, i)
        if i > 0:
            mid_prev = (high[i - 1] + low[i - 1]) / 2.0
            tr_prev = true_range_at(high, low, close, i - 1)
        else:
            mid_prev = NAN
            tr_prev = NAN
        m = _ss_step(c1, c2, c3, mid, mid_prev, smooth_mid, i)
        t = _ss_step(c1, c2, c3, tr, tr_prev, smooth_tr, i)
        smooth_mid[i] = m
        smooth_tr[i] = t
        c = close[i]
        pd = prev_of(direction, i)
        # the trend state starts once the filters have run `warm` candles (start-up transient
        # down to ~1e-6) and carries on while they stay defined
        if math.isnan(m + t + c) or (math.isnan(pd) and (i < warm or math.isnan(smooth_mid[i - warm]))):
            value[i] = NAN
            direction[i] = NAN
            continue
        upper = m + multiplier * t
        lower = m - multiplier * t
        if math.isnan(pd):
            d = 1.0 if c >= m else -1.0
            v = lower if d > 0 else upper
        else:
            pv = value[i - 1]
            if pd > 0:
                if c < pv:
                    d = -1.0
                    v = upper
                else:
                    d = 1.0
                    v = max(lower, pv)
            else:
                if c > pv:
                    d = 1.0
                    v = lower
                else:
                    d = -1.0
                    v = min(upper, pv)
        direction[i] = d
        value[i] = v


register(KernelSpec(
    "ehlers_supertrend", _k_ehlers_supertrend, ("high", "low", "close"),
    (("period", int), ("multiplier", float)), ("value", "direction"),
    ("smooth_hl2", "smooth_tr"),
    lookback=lambda period, multiplier: 3 * period,
    # filter transient (3*period) plus the trend state syncing on a common flip (65 / 127 measured
    # for 10 / 20)
    history=lambda period, multiplier: 15 * period))


def ehlers_supertrend(high, low, close, period, multiplier):
    """SuperTrend on Ehlers' super smoother (the original's coefficients had a DC gain of 0.24/0.06,
    which left it bullish forever). hl2 and the true range are both smoothed; the bands are
    smoothed hl2 +/- multiplier * smoothed TR.

    State machine: the first defined candle (index 3*period, once the filter start-up transient has
    decayed to ~1e-6) is long if close >= smoothed hl2, else short. While long, value = max(lower
    band, previous value) until close < previous value flips to short with value = upper band; the
    mirror while short. direction is +1 / -1, value the active band."""
    return compute("ehlers_supertrend", (high, low, close), period=period, multiplier=multiplier)
