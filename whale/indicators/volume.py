"""Volume indicators: OBV, daily VWAP, VWMA, CMF, volume delta, relative volume.

Window sums of volumes use `_k_flow_sums`, which returns an exact 0 for a window without volume, so
the "no volume" cases below are decided exactly and not on rounding residue.
"""

from __future__ import annotations

import math

from numba import njit

from whale.indicators._core import FLOW_BUY_SELL, FLOW_CLV, FLOW_PRICE_VOLUME, FLOW_VOLUME, NAN, _k_flow_sums, prev_of
from whale.indicators._registry import KernelSpec, compute, register

DAY_MS = 86_400_000

# ----------------------------------------------------------------------------------------------
# OBV


@njit(cache=True)
def _k_obv(close, volume, out, start, end):
    for i in range(start, end):
        p = prev_of(out, i)
        if math.isnan(p):
            out[i] = volume[i]  # TA-Lib starts the running total at the first volume
        elif close[i] > close[i - 1]:
            out[i] = p + volume[i]
        elif close[i] < close[i - 1]:
            out[i] = p - volume[i]
        else:
            out[i] = p


register(KernelSpec(
    "obv", _k_obv, ("close", "volume"), (), ("out",), (),
    lookback=lambda: 0,
    history=lambda: 2))


def obv(close, volume):
    """On-balance volume starting at volume[0] (TA-Lib's convention). Its level depends on where the
    history starts; only its changes (and anything offset-free built on it, such as OBV - EMA(OBV)
    once the EMA has converged) mean the same in a backtest and live."""
    return compute("obv", (close, volume))[0]


# ----------------------------------------------------------------------------------------------
# VWAP (daily)


@njit(cache=True)
def _k_vwap(ts, high, low, close, volume, out, cum_pv, cum_v, start, end):
    for i in range(start, end):
        tp = (high[i] + low[i] + close[i]) / 3.0
        v = volume[i]
        pv = prev_of(cum_v, i)
        if math.isnan(pv) or ts[i] // DAY_MS != ts[i - 1] // DAY_MS:
            a = tp * v
            b = v
        else:
            a = cum_pv[i - 1] + tp * v
            b = pv + v
        cum_pv[i] = a
        cum_v[i] = b
        out[i] = a / b if b > 0.0 else tp


def _vwap_history(interval_ms=60_000):
    return DAY_MS // int(interval_ms)


register(KernelSpec(
    "vwap", _k_vwap, ("timestamp_ms", "high", "low", "close", "volume"), (), ("out",),
    ("cum_pv", "cum_volume"),
    lookback=lambda: 0,
    history=_vwap_history))


def vwap(timestamp_ms, high, low, close, volume):
    """VWAP of the typical price, restarted at each UTC day (day = timestamp_ms // 86_400_000);
    the typical price itself while the day has no volume yet. A history that starts mid-day gives
    a partial first day: values are exact from the first UTC midnight in the history."""
    return compute("vwap", (timestamp_ms, high, low, close, volume))[0]


# ----------------------------------------------------------------------------------------------
# VWMA


@njit(cache=True)
def _k_vwma(close, volume, period, out, pv_sum, vol_sum, start, end):
    _k_flow_sums(FLOW_PRICE_VOLUME, close, volume, close, close, period, pv_sum, vol_sum, start, end)
    for i in range(start, end):
        vs = vol_sum[i]
        if vs > 0.0:
            out[i] = pv_sum[i] / vs
        elif math.isnan(vs):
            out[i] = NAN
        else:  # no volume in the window: every candle weighs the same
            s = 0.0
            for j in range(i - period + 1, i + 1):
                s += close[j]
            out[i] = s / period


register(KernelSpec(
    "vwma", _k_vwma, ("close", "volume"), (("period", int),), ("out",),
    ("pv_sum", "volume_sum"),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def vwma(close, volume, period):
    """Volume-weighted moving average sum(c*v)/sum(v) over `period` candles; the plain average when
    the window has no volume (the original returned NaN for the whole series on any zero volume)."""
    return compute("vwma", (close, volume), period=period)[0]


# ----------------------------------------------------------------------------------------------
# CMF


@njit(cache=True)
def _k_cmf(high, low, close, volume, period, out, mfv_sum, vol_sum, start, end):
    _k_flow_sums(FLOW_CLV, high, low, close, volume, period, mfv_sum, vol_sum, start, end)
    for i in range(start, end):
        vs = vol_sum[i]
        out[i] = mfv_sum[i] / vs if vs > 0.0 else (NAN if math.isnan(vs) else 0.0)


register(KernelSpec(
    "cmf", _k_cmf, ("high", "low", "close", "volume"), (("period", int),), ("out",),
    ("mfv_sum", "volume_sum"),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def cmf(high, low, close, volume, period):
    """Chaikin money flow: sum(mfm*v)/sum(v) over `period`, mfm = ((c-l)-(h-c))/(h-l) (0 when h == l);
    0 for a window without volume."""
    return compute("cmf", (high, low, close, volume), period=period)[0]


# ----------------------------------------------------------------------------------------------
# Volume delta


@njit(cache=True)
def _k_volume_delta(open_, close, volume, period, out, buy_sum, sell_sum, start, end):
    _k_flow_sums(FLOW_BUY_SELL, open_, close, volume, volume, period, buy_sum, sell_sum,
                 start, end)
    for i in range(start, end):
        b = buy_sum[i]
        s = sell_sum[i]
        tot = b + s
        out[i] = (b - s) / tot if tot > 0.0 else (NAN if math.isnan(tot) else 0.0)


register(KernelSpec(
    "volume_delta", _k_volume_delta, ("open", "close", "volume"), (("period", int),),
    ("out",), ("buy_sum", "sell_sum"),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def volume_delta(open, close, volume, period):  # noqa: A002 - the public name the brief fixes
    """(buy - sell)/(buy + sell) volume over `period` candles, buy = volume of candles closing above
    their open, sell = below; -1..+1, 0 when neither side traded."""
    return compute("volume_delta", (open, close, volume), period=period)[0]


# ----------------------------------------------------------------------------------------------
# Relative volume


@njit(cache=True)
def _k_relative_volume(volume, period, out, vol_sum, active, start, end):
    _k_flow_sums(FLOW_VOLUME, volume, volume, volume, volume, period, vol_sum, active,
                 start, end)
    for i in range(start, end):
        s = vol_sum[i]
        out[i] = volume[i] / (s / period) if s > 0.0 else (NAN if math.isnan(s) else 1.0)


register(KernelSpec(
    "relative_volume", _k_relative_volume, ("volume",), (("period", int),), ("out",),
    ("volume_sum", "traded_candles"),
    lookback=lambda period: period - 1,
    history=lambda period: period))


def relative_volume(volume, period):
    """Volume / SMA(volume, period) (the average includes the current candle); 1 when the window has
    no volume at all (nothing is unusual)."""
    return compute("relative_volume", (volume,), period=period)[0]
