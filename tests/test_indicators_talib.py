"""Our indicators agree with TA-Lib (the test-only oracle) on every real series in data/.

Agreement rule, from candle 1000 on: |ours - talib| <= 1e-6 * |talib| + 1e-6 * scale, where scale is
the median of |talib| over the compared candles. The absolute floor is relative to the series' own
typical magnitude, so values that cross zero (MACD, ROC, DI differences...) are compared at the
series' scale rather than at an arbitrarily small value; NaNs must sit at the same places.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import whale.indicators as wi
from tests.paths import DATA_DIR

talib = pytest.importorskip("talib")

# Named, not globbed: a missing file fails its test instead of silently running fewer.
SERIES = ("BTCUSDT-PERP_1m", "ETHUSDT-PERP_1m", "BTCUSDT_5m", "ETHUSDT_5m", "BTCUSDT_1h", "ETHUSDT_1h")
FILES = [DATA_DIR / f"{name}.csv.gz" for name in SERIES]
SKIP = 1000
RTOL = 1e-6

# (config defaults, a second set). Periods follow whale/config/model.py IndicatorSettings.
PARAMS = [
    dict(ema=9, ema_long=21, sma=10, sma_long=50, rsi=14, stoch=(14, 3, 3), macd=(12, 26, 9), bb=(20, 2.0),
         atr=14, adx=14, cci=20, wr=14, mfi=14, sar=(0.02, 0.2), kama=10, dema=14, roc=12),
    dict(ema=30, ema_long=100, sma=7, sma_long=200, rsi=7, stoch=(21, 5, 4), macd=(8, 21, 5), bb=(50, 2.5),
         atr=21, adx=9, cci=14, wr=30, mfi=21, sar=(0.01, 0.1), kama=21, dema=30, roc=3),
]


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name.split(".")[0])
def series(request):
    df = pd.read_csv(request.param)
    return {c: np.ascontiguousarray(df[c].to_numpy(dtype=np.float64)) for c in
            ("open", "high", "low", "close", "volume")}


def _cases(p):
    """name -> (ours(d), talib(d)), each returning a tuple of arrays."""
    k, s, d = p["stoch"]
    f, sl, sg = p["macd"]
    bp, bd = p["bb"]
    acc, mx = p["sar"]
    return {
        "ema": (lambda a: (wi.ema(a["close"], p["ema"]), wi.ema(a["close"], p["ema_long"])),
                lambda a: (talib.EMA(a["close"], p["ema"]), talib.EMA(a["close"], p["ema_long"]))),
        "sma": (lambda a: (wi.sma(a["close"], p["sma"]), wi.sma(a["close"], p["sma_long"])),
                lambda a: (talib.SMA(a["close"], p["sma"]), talib.SMA(a["close"], p["sma_long"]))),
        "rsi": (lambda a: (wi.rsi(a["close"], p["rsi"]),), lambda a: (talib.RSI(a["close"], p["rsi"]),)),
        "stoch_rsi": (lambda a: wi.stoch_rsi(a["close"], k, s, d),
                      lambda a: talib.STOCH(*(talib.RSI(a["close"], k),) * 3, fastk_period=k, slowk_period=s,
                                            slowk_matype=0, slowd_period=d, slowd_matype=0)),
        "macd": (lambda a: wi.macd(a["close"], f, sl, sg),
                 lambda a: talib.MACD(a["close"], fastperiod=f, slowperiod=sl, signalperiod=sg)),
        "bollinger": (lambda a: wi.bollinger(a["close"], bp, bd),
                      lambda a: talib.BBANDS(a["close"], timeperiod=bp, nbdevup=bd, nbdevdn=bd, matype=0)),
        "atr": (lambda a: (wi.atr(a["high"], a["low"], a["close"], p["atr"]),),
                lambda a: (talib.ATR(a["high"], a["low"], a["close"], p["atr"]),)),
        "adx": (lambda a: wi.adx(a["high"], a["low"], a["close"], p["adx"]),
                lambda a: (talib.ADX(a["high"], a["low"], a["close"], p["adx"]),
                           talib.PLUS_DI(a["high"], a["low"], a["close"], p["adx"]),
                           talib.MINUS_DI(a["high"], a["low"], a["close"], p["adx"]))),
        "cci": (lambda a: (wi.cci(a["high"], a["low"], a["close"], p["cci"]),),
                lambda a: (talib.CCI(a["high"], a["low"], a["close"], p["cci"]),)),
        "williams_r": (lambda a: (wi.williams_r(a["high"], a["low"], a["close"], p["wr"]),),
                       lambda a: (talib.WILLR(a["high"], a["low"], a["close"], p["wr"]),)),
        "mfi": (lambda a: (wi.mfi(a["high"], a["low"], a["close"], a["volume"], p["mfi"]),),
                lambda a: (talib.MFI(a["high"], a["low"], a["close"], a["volume"], p["mfi"]),)),
        "obv": (lambda a: (wi.obv(a["close"], a["volume"]),), lambda a: (talib.OBV(a["close"], a["volume"]),)),
        "psar": (lambda a: (wi.psar(a["high"], a["low"], acc, mx)[0],),
                 lambda a: (talib.SAR(a["high"], a["low"], acceleration=acc, maximum=mx),)),
        "kama": (lambda a: (wi.kama(a["close"], p["kama"], 2, 30),),
                 lambda a: (talib.KAMA(a["close"], p["kama"]),)),
        "dema": (lambda a: (wi.dema(a["close"], p["dema"]),), lambda a: (talib.DEMA(a["close"], p["dema"]),)),
        "roc": (lambda a: (wi.roc(a["close"], p["roc"]),), lambda a: (talib.ROC(a["close"], p["roc"]),)),
        # not required, but TA-Lib has them: the range building blocks of %R, Ichimoku, fib, structure
        "highest_lowest": (lambda a: (wi.highest(a["high"], 52), wi.lowest(a["low"], 52)),
                           lambda a: (talib.MAX(a["high"], 52), talib.MIN(a["low"], 52))),
        "true_range": (lambda a: (wi.true_range(a["high"], a["low"], a["close"]),),
                       lambda a: (talib.TRANGE(a["high"], a["low"], a["close"]),)),
        "ichimoku_tenkan_kijun": (lambda a: wi.ichimoku(a["high"], a["low"], a["close"], 9, 26, 52)[:2],
                                  lambda a: (talib.MIDPRICE(a["high"], a["low"], 9),
                                             talib.MIDPRICE(a["high"], a["low"], 26))),
    }


CASE_NAMES = list(_cases(PARAMS[0]))


def assert_agrees(ours, ref, label):
    ours = np.asarray(ours)[SKIP:]
    ref = np.asarray(ref)[SKIP:]
    assert ours.shape == ref.shape, label
    nan_o, nan_r = np.isnan(ours), np.isnan(ref)
    assert np.array_equal(nan_o, nan_r), f"{label}: NaN positions differ at {np.flatnonzero(nan_o != nan_r)[:5] + SKIP}"
    o, r = ours[~nan_r], ref[~nan_r]
    scale = float(np.median(np.abs(r))) if r.size else 0.0
    err = np.abs(o - r)
    bad = err > RTOL * np.abs(r) + RTOL * scale
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = int(np.flatnonzero(~nan_r)[i]) + SKIP
        pytest.fail(f"{label}: {int(bad.sum())} values disagree; first at candle {where}: ours {o[i]!r}, "
                    f"talib {r[i]!r} (scale {scale:.3g})")


@pytest.mark.parametrize("pset", [0, 1], ids=["defaults", "second"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_agrees_with_talib(series, name, pset):
    ours_fn, ref_fn = _cases(PARAMS[pset])[name]
    ours = ours_fn(series)
    ref = ref_fn(series)
    assert len(ours) == len(ref)
    for k, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert_agrees(a, b, f"{name}[{k}]")
