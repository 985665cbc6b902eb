"""Indicator definitions, edge cases, and the kernel contract the live engine relies on.

Contract (every registered kernel): one batch over [0, n) equals [0, m) followed by single-candle
steps, bit for bit, outputs and states alike; a buffer trimmed to its last `lookback + 2` candles
keeps producing the same values; and no output ever depends on a later candle.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import whale.indicators as wi
from tests.paths import BUNDLED, DATA_DIR
from whale.indicators import kernels
from whale.indicators.trend import _k_super_smoother, super_smoother_coefficients

N = 3000
M = 1500

# registry name -> parameter sets (config defaults first, then a second set)
PARAMS: dict[str, list[dict]] = {
    "ema": [dict(period=9), dict(period=50)],
    "sma": [dict(period=10), dict(period=50)],
    "rsi": [dict(period=14), dict(period=5)],
    "stoch_rsi": [dict(period=14, k=3, d=3), dict(period=9, k=5, d=4)],
    "macd": [dict(fast=12, slow=26, signal=9), dict(fast=21, slow=8, signal=5)],
    "bollinger": [dict(period=20, std_dev=2.0), dict(period=50, std_dev=1.5)],
    "atr": [dict(period=14), dict(period=30)],
    "adx": [dict(period=14), dict(period=9)],
    "cci": [dict(period=20), dict(period=13)],
    "williams_r": [dict(period=14), dict(period=60)],
    "mfi": [dict(period=14), dict(period=30)],
    "obv": [dict()],
    "psar": [dict(acceleration=0.02, max_acceleration=0.2), dict(acceleration=0.01, max_acceleration=0.1)],
    "kama": [dict(period=10, fast=2, slow=30), dict(period=20, fast=3, slow=40)],
    "dema": [dict(period=14), dict(period=30)],
    "roc": [dict(period=12), dict(period=3)],
    "vwap": [dict()],
    "vwma": [dict(period=20), dict(period=7)],
    "cmf": [dict(period=20), dict(period=7)],
    "ichimoku": [dict(tenkan=9, kijun=26, senkou_b=52, chikou_offset=26), dict(tenkan=7, kijun=22, senkou_b=44)],
    "ehlers_supertrend": [dict(period=10, multiplier=2.0), dict(period=20, multiplier=3.0)],
    "volume_delta": [dict(period=5), dict(period=20)],
    "keltner": [dict(period=20, atr_multiplier=2.0), dict(period=10, atr_multiplier=1.5)],
    "true_range": [dict()],
    "highest": [dict(period=52), dict(period=3)],
    "lowest": [dict(period=52), dict(period=3)],
    "relative_volume": [dict(period=20), dict(period=5)],
    "market_structure": [dict(lookback=20), dict(lookback=5)],
    "fibonacci_retracements": [dict(window=60), dict(window=10)],
    "fibonacci_pivots": [dict()],
    "candlestick_patterns": [dict()],
    "volatility_index": [dict(atr_period=14, period=20), dict(atr_period=7, period=5)],
}
CASES = [(name, k) for name in sorted(PARAMS) for k in range(len(PARAMS[name]))]


def test_every_registered_kernel_is_covered():
    assert sorted(PARAMS) == kernels.names()


@pytest.fixture(scope="module")
def candles():
    df = pd.read_csv(BUNDLED, nrows=N)
    d = {c: np.ascontiguousarray(df[c].to_numpy(dtype=np.float64)) for c in
         ("open", "high", "low", "close", "volume")}
    d["timestamp_ms"] = np.ascontiguousarray(df["timestamp_ms"].to_numpy(dtype=np.int64))
    d["x"] = d["close"]
    return d


def _inputs(name, d):
    return {k: d[k] for k in kernels.spec(name).inputs}


def _nan_equal(a, b):
    return np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name,k", CASES)
def test_batch_equals_one_candle_at_a_time(candles, name, k):
    params = PARAMS[name][k]
    ins = _inputs(name, candles)
    batch = kernels.IndicatorBuffers(name, N, **params)
    batch.run(ins, 0, N)
    step = kernels.IndicatorBuffers(name, M, **params)
    step.run({a: v[:M] for a, v in ins.items()}, 0, M)
    for n in range(M + 1, N + 1):  # the live path: the buffers grow by one candle, one index computed
        step.resize(n)
        step.run({a: v[:n] for a, v in ins.items()}, n - 1, n)
    for a in batch.arrays:
        assert _nan_equal(batch.arrays[a], step.arrays[a]), f"{name}.{a} differs"
    # public wrapper (np.empty buffers) == NaN-filled buffers: every element is written
    for o, ref in zip(kernels.compute(name, list(ins.values()), **params), batch.outputs, strict=True):
        assert _nan_equal(o, ref)


@pytest.mark.parametrize("name,k", CASES)
def test_trimmed_buffer_gives_the_same_values(candles, name, k):
    """The engine keeps a bounded buffer: dropping all but lookback + 2 candles changes nothing."""
    params = PARAMS[name][k]
    ins = _inputs(name, candles)
    batch = kernels.IndicatorBuffers(name, N, **params)
    batch.run(ins, 0, N)
    keep = kernels.lookback(name, **params) + 2
    live = kernels.IndicatorBuffers(name, M, **params)
    live.run({a: v[:M] for a, v in ins.items()}, 0, M)
    first = 0  # index in the full series of the buffer's element 0
    for n in range(M + 1, N + 1):
        if live.n >= keep + 50:  # trim in chunks, as an engine would
            drop = live.n - keep
            live.drop_front(drop)
            first += drop
        live.resize(live.n + 1)
        live.run({a: v[first:n] for a, v in ins.items()}, live.n - 1, live.n)
    for a in batch.spec.outputs:
        assert _nan_equal(live.arrays[a], batch.arrays[a][first:]), f"{name}.{a} differs after trimming"


@pytest.mark.parametrize("name,k", CASES)
def test_no_look_ahead(candles, name, k):
    """Changing candles from index c on never changes an output before c."""
    params = PARAMS[name][k]
    ins = _inputs(name, candles)
    ref = kernels.compute(name, list(ins.values()), **params)
    rng = np.random.default_rng(7)
    for c in (1, 200, 2000):
        changed = []
        for a, v in ins.items():
            w = v.copy()
            if a == "timestamp_ms":
                w[c:] += 86_400_000 * 3  # a jump of days: VWAP must not look at it early
            else:
                w[c:] *= rng.uniform(0.5, 1.5, N - c)
            changed.append(w)
        out = kernels.compute(name, changed, **params)
        for o, r in zip(out, ref, strict=True):
            assert _nan_equal(o[:c], r[:c]), f"{name}: an output before {c} changed"


@pytest.mark.parametrize("name,k", CASES)
def test_lookback_is_the_first_defined_candle(candles, name, k):
    """lookback() is where every output is defined (some, like MACD's line, start earlier)."""
    params = PARAMS[name][k]
    lb = kernels.lookback(name, **params)
    outs = kernels.compute(name, list(_inputs(name, candles).values()), **params)
    assert not any(np.isnan(o[lb:]).any() for o in outs), name
    assert lb == 0 or any(np.isnan(o[lb - 1]) for o in outs), name


def test_leading_nan_prefix_is_a_later_start(candles):
    """Kernels seed from what they see: a NaN prefix is the same as a series that starts later."""
    x = candles["close"]
    y = x.copy()
    y[:37] = np.nan
    for fn in (lambda v: wi.ema(v, 9), lambda v: wi.sma(v, 10), lambda v: wi.rsi(v, 14),
               lambda v: wi.dema(v, 14), lambda v: wi.kama(v, 10, 2, 30), lambda v: wi.highest(v, 5),
               lambda v: wi.stoch_rsi(v, 14, 3, 3)[1], lambda v: wi.macd(v, 12, 26, 9)[1]):
        assert _nan_equal(fn(y)[37:], fn(x[37:]))


# ------------------------------------------------------------------------------------------------
# definitions


def test_super_smoother_has_unity_dc_gain():
    for period in (3, 10, 20, 55):
        c1, c2, c3 = super_smoother_coefficients(period)
        assert math.isclose(c1 + c2 + c3, 1.0, abs_tol=1e-15)
        n = 40 * period
        x = np.full(n, 123.45)
        out = np.full(n, np.nan)
        _k_super_smoother(x, period, out, 0, n)
        assert np.allclose(out, 123.45, rtol=0, atol=1e-9)
        x[n // 2:] = 50.0  # a step settles at the new level
        _k_super_smoother(x, period, out, 0, n)
        assert abs(out[-1] - 50.0) < 1e-9


def test_supertrend_follows_a_synthetic_trend():
    n = 600
    up = np.linspace(100.0, 200.0, n // 2)
    down = np.linspace(200.0, 80.0, n // 2)
    close = np.concatenate([up, down])
    high, low = close + 0.5, close - 0.5
    value, direction = wi.ehlers_supertrend(high, low, close, 10, 2.0)
    lb = wi.lookback("ehlers_supertrend", period=10, multiplier=2.0)
    assert lb == 30 and np.isnan(direction[:lb]).all()
    assert (direction[lb:n // 2] == 1).all() and (value[lb:n // 2] < close[lb:n // 2]).all()
    flip = lb + np.flatnonzero(direction[lb:] == -1)[0]
    assert n // 2 < flip < n // 2 + 15  # turns soon after the top
    assert (direction[flip:] == -1).all() and (value[flip:] > close[flip:]).all()


def test_supertrend_value_ratchets():
    rng = np.random.default_rng(1)
    close = 100 + np.cumsum(rng.normal(0, 1, 3000))
    high, low = close + rng.uniform(0, 1, 3000), close - rng.uniform(0, 1, 3000)
    value, direction = wi.ehlers_supertrend(high, low, close, 10, 2.0)
    same = (direction[1:] == direction[:-1]) & ~np.isnan(direction[1:])
    step = np.diff(value)[same]
    assert ((step >= 0) | (direction[1:][same] < 0)).all()  # a long stop never moves down
    assert ((step <= 0) | (direction[1:][same] > 0)).all()
    assert {-1.0, 1.0} == set(np.unique(direction[~np.isnan(direction)]))


def test_ichimoku_shifts_and_chikou(candles):
    h, lo, c = candles["high"], candles["low"], candles["close"]
    tenkan, kijun, span_a, span_b, chikou = wi.ichimoku(h, lo, c, 9, 26, 52)
    i = 500
    assert tenkan[i] == (h[i - 8:i + 1].max() + lo[i - 8:i + 1].min()) / 2
    assert kijun[i] == (h[i - 25:i + 1].max() + lo[i - 25:i + 1].min()) / 2
    assert span_a[i] == (tenkan[i - 26] + kijun[i - 26]) / 2
    assert span_b[i] == (h[i - 26 - 51:i - 26 + 1].max() + lo[i - 26 - 51:i - 26 + 1].min()) / 2
    assert chikou[i] == c[i - 26]
    assert wi.ichimoku(h, lo, c, 9, 26, 52, chikou_offset=30)[4][i] == c[i - 30]


def test_vwap_resets_each_utc_day():
    day = 86_400_000
    ts = np.array([day - 120_000, day - 60_000, day, day + 60_000, 2 * day + 5], dtype=np.int64)
    h = np.array([11.0, 12, 13, 14, 15])
    lo = h - 1
    c = h - 0.5
    v = np.array([1.0, 3, 2, 0, 0])
    tp = (h + lo + c) / 3
    out = wi.vwap(ts, h, lo, c, v)
    assert out[0] == tp[0]
    assert math.isclose(out[1], (tp[0] * 1 + tp[1] * 3) / 4)
    assert out[2] == tp[2]  # new day
    assert out[3] == out[2]  # zero volume changes nothing
    assert out[4] == tp[4]  # new day without volume: the typical price


def test_vwap_matches_a_daily_groupby(candles):
    ts = candles["timestamp_ms"]
    tp = (candles["high"] + candles["low"] + candles["close"]) / 3
    df = pd.DataFrame({"day": ts // 86_400_000, "pv": tp * candles["volume"], "v": candles["volume"]})
    ref = df.groupby("day")["pv"].cumsum() / df.groupby("day")["v"].cumsum()
    out = wi.vwap(ts, candles["high"], candles["low"], candles["close"], candles["volume"])
    assert np.allclose(out, ref.to_numpy(), rtol=1e-12)


def test_volume_delta():
    o = np.array([1.0, 2, 3, 3, 5, 5])
    c = np.array([2.0, 1, 3, 4, 5, 5])
    v = np.array([10.0, 30, 7, 10, 4, 4])
    out = wi.volume_delta(o, c, v, 2)
    assert np.isnan(out[0])
    assert out[1] == (10 - 30) / 40  # up then down
    assert out[2] == -1.0  # doji carries no side
    assert out[3] == 1.0
    assert out[4] == 1.0
    assert out[5] == 0.0  # neither side traded


def test_fibonacci_retracements():
    h = np.array([10.0, 12, 11, 15, 13])
    lo = np.array([9.0, 8, 10, 11, 12])
    levels = wi.fibonacci_retracements(h, lo, 3)
    assert levels.shape == (7, 5) and np.isnan(levels[:, :2]).all()
    hh, ll = 15.0, 10.0  # window 2..4
    for k, r in enumerate(wi.FIB_RATIOS):
        assert math.isclose(levels[k, 4], hh - (hh - ll) * r)
    assert levels[0, 4] == hh and levels[6, 4] == ll


def test_fibonacci_pivots_use_the_previous_candle():
    h = np.array([10.0, 20])
    lo = np.array([4.0, 10])
    c = np.array([7.0, 15])
    p, r1, r2, s1, s2 = wi.fibonacci_pivots(h, lo, c)
    assert np.isnan([p[0], r1[0], r2[0], s1[0], s2[0]]).all()
    assert p[1] == 7.0
    assert math.isclose(r1[1], 7 + 0.382 * 6) and math.isclose(r2[1], 7 + 0.618 * 6)
    assert math.isclose(s1[1], 7 - 0.382 * 6) and math.isclose(s2[1], 7 - 0.618 * 6)


def test_candlestick_codes():
    rows = [  # open, high, low, close -> expected (signal, pattern) of this candle
        ((10.0, 10.5, 9.5, 10.02), (0, wi.PATTERN_DOJI)),
        ((10.0, 10.1, 8.0, 10.4), (1, wi.PATTERN_HAMMER)),  # body .4 / range 2.1, lower wick 2
        ((10.4, 12.5, 10.0, 10.0), (-1, wi.PATTERN_SHOOTING_STAR)),
        ((10.0, 10.5, 8.9, 9.0), (0, wi.PATTERN_NONE)),  # plain down candle
        ((8.8, 10.6, 8.7, 10.5), (1, wi.PATTERN_BULLISH_ENGULFING)),  # engulfs 10.0 -> 9.0
        ((10.7, 10.9, 8.0, 8.5), (-1, wi.PATTERN_BEARISH_ENGULFING)),  # engulfs 8.8 -> 10.5
        ((5.0, 5.0, 5.0, 5.0), (0, wi.PATTERN_DOJI)),  # four-price candle
    ]
    o, h, lo, c = (np.array(col) for col in zip(*(r[0] for r in rows), strict=True))
    signal, pattern = wi.candlestick_patterns(o, h, lo, c)
    assert list(zip(signal, pattern, strict=True)) == [r[1] for r in rows]
    assert set(wi.PATTERN_NAMES) == set(range(6))


def test_market_structure():
    base = np.arange(10, dtype=float)
    h = np.concatenate([base + 10, base + 20])  # the second 10 candles are higher
    lo = h - 5
    out = wi.market_structure(h, lo, 10)
    assert np.isnan(out[:19]).all() and out[19] == 1.0
    assert wi.market_structure(h[::-1].copy(), lo[::-1].copy(), 10)[19] == -1.0
    wide_h = np.concatenate([base + 10, base + 20])
    wide_l = np.concatenate([base + 5, base - 20])  # higher high but lower low
    assert wi.market_structure(wide_h, wide_l, 10)[19] == 0.0


def test_bollinger_uses_population_std(candles):
    c = candles["close"]
    up, mid, lo = wi.bollinger(c, 20, 2.0)
    i = 1234
    w = c[i - 19:i + 1]
    assert math.isclose(mid[i], w.mean(), rel_tol=1e-13)
    assert math.isclose(up[i] - mid[i], 2.0 * w.std(ddof=0), rel_tol=1e-7)
    flat = np.full(50, 7.0)
    assert (wi.bollinger(flat, 20, 2.0)[0][19:] == 7.0).all()


def test_cci_definition(candles):
    h, lo, c = candles["high"], candles["low"], candles["close"]
    tp = (h + lo + c) / 3
    i = 777
    w = tp[i - 19:i + 1]
    expect = (tp[i] - w.mean()) / (0.015 * np.abs(w - w.mean()).mean())
    assert math.isclose(wi.cci(h, lo, c, 20)[i], expect, rel_tol=1e-9)
    assert (wi.cci(np.ones(30), np.ones(30), np.ones(30), 5)[4:] == 0).all()


def test_degenerate_windows_are_neutral():
    flat = np.full(60, 100.0)
    vol = np.full(60, 5.0)
    assert (wi.rsi(flat, 14)[14:] == 50).all()
    assert (wi.stoch_rsi(flat, 14, 3, 3)[0][31:] == 50).all()
    assert (wi.williams_r(flat, flat, flat, 14)[13:] == -50).all()
    assert (wi.mfi(flat, flat, flat, vol, 14)[14:] == 50).all()
    zero = np.zeros(60)
    assert (wi.cmf(flat + 1, flat - 1, flat, zero, 20)[19:] == 0).all()
    assert (wi.relative_volume(zero, 20)[19:] == 1).all()
    assert (wi.vwma(flat, zero, 20)[19:] == 100).all()


def test_zero_volume_window_is_exactly_empty():
    """Running sums would leave residue once the volume has left the window; it must read 0."""
    rng = np.random.default_rng(3)
    c = 100 + np.cumsum(rng.normal(0, 1, 200))
    o = np.roll(c, 1)
    v = rng.uniform(1e3, 1e6, 200)
    v[100:] = 0.0
    assert (wi.volume_delta(o, c, v, 5)[104:] == 0).all()
    assert (wi.cmf(c + 1, c - 1, c, v, 5)[104:] == 0).all()
    assert (wi.relative_volume(v, 5)[104:] == 1).all()
    assert np.allclose(wi.vwma(c, v, 5)[104:], wi.sma(c, 5)[104:], rtol=1e-14)


def test_composites_match_their_parts(candles):
    h, lo, c, v = candles["high"], candles["low"], candles["close"], candles["volume"]
    up, mid, low_band = wi.keltner(h, lo, c, 20, 2.0)
    a = wi.atr(h, lo, c, 20)
    assert _nan_equal(mid, wi.ema(c, 20)) and np.allclose(up - mid, 2 * a, equal_nan=True)
    e = wi.ema(c, 14)
    assert np.allclose(wi.dema(c, 14), 2 * e - wi.ema(e, 14), equal_nan=True, rtol=1e-14)
    vi = wi.volatility_index(h, lo, c, 14, 20)
    assert np.allclose(vi, wi.sma(wi.atr(h, lo, c, 14) / c, 20), equal_nan=True, rtol=1e-12)
    assert np.allclose(wi.relative_volume(v, 20), v / wi.sma(v, 20), equal_nan=True, rtol=1e-9)
    k, d = wi.stoch_rsi(c, 14, 3, 3)
    assert np.allclose(d, wi.sma(k, 3), equal_nan=True, rtol=1e-12, atol=1e-9)
    assert _nan_equal(wi.highest(h, 52)[51:], pd.Series(h).rolling(52).max().to_numpy()[51:])
    tr = wi.true_range(h, lo, c)
    assert tr[0] == h[0] - lo[0]
    assert math.isclose(wi.roc(c, 12)[100], 100 * (c[100] - c[88]) / c[88])
    assert wi.obv(c, v)[0] == v[0]


def test_kama_seeds_on_the_previous_close():
    x = np.array([10.0, 11, 12, 13, 14])  # steady trend: ER = 1, SC = (2/3)^2
    out = wi.kama(x, 3, 2, 30)
    assert np.isnan(out[:3]).all()
    assert math.isclose(out[3], 12 + (13 - 12) * (2 / 3) ** 2)


def test_psar_reverses_on_penetration():
    h = np.array([10.0, 11, 12, 13, 14, 13, 11, 9])
    lo = h - 1
    sar, direction = wi.psar(h, lo, 0.02, 0.2)
    assert np.isnan(sar[0]) and direction[1] == 1
    assert (sar[1:5] < lo[1:5]).all()
    flip = int(np.flatnonzero(direction == -1)[0])
    assert flip == 6 and sar[flip] == 14.0  # reversal: the stop jumps to the long run's extreme
    assert (sar[flip:] > h[flip:]).all()


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        wi.ema(np.ones(5), 0)
    with pytest.raises(TypeError):
        kernels.lookback("ema", period=5, extra=1)
    with pytest.raises(KeyError):
        kernels.spec("nope")
    with pytest.raises(ValueError):
        wi.rsi(np.ones((2, 3)), 2)


def test_history_needed_is_enough():
    """A cold start over history_needed candles matches the full-history value (docs, tolerance)."""
    names = {"ema": dict(period=21), "rsi": dict(period=14), "macd": dict(fast=12, slow=26, signal=9),
             "adx": dict(period=14), "psar": dict(acceleration=0.02, max_acceleration=0.2),
             "kama": dict(period=10, fast=2, slow=30), "ehlers_supertrend": dict(period=20, multiplier=3.0),
             "stoch_rsi": dict(period=14, k=3, d=3), "bollinger": dict(period=20, std_dev=2.0)}
    for path in (BUNDLED, DATA_DIR / "ETHUSDT_1h.csv.gz"):  # 1h: gaps, zero volumes
        df = pd.read_csv(path)
        d = {c: np.ascontiguousarray(df[c].to_numpy(dtype=np.float64)) for c in ("high", "low", "close")}
        d["x"] = d["close"]
        for name, params in names.items():
            ins = [d[k] for k in kernels.spec(name).inputs]
            full = kernels.compute(name, ins, **params)
            scales = [float(np.nanmedian(np.abs(f))) for f in full]
            h = kernels.history_needed(name, **params)
            for e in np.linspace(h + 100, len(d["close"]) - 1, 12).astype(int):
                cold = kernels.compute(name, [x[e - h + 1:e + 1] for x in ins], **params)
                for cv, fv, sc in zip(cold, full, scales, strict=True):
                    assert abs(cv[-1] - fv[e]) <= kernels.HISTORY_TOLERANCE * max(abs(fv[e]), sc), \
                        (path.name, name, e)
