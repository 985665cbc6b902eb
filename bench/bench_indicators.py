"""Indicator speed on a year of 1-minute candles, and (--history) how much history each one needs.

    python bench/bench_indicators.py             # timing table, default config parameters
    python bench/bench_indicators.py --history   # measure cold-start history on data/

Timing: 525,600 candles stitched from the BTC and ETH 1-minute perp files by bench/stitched.py (each
segment scaled so the price is continuous, volumes scaled inversely so notional is kept, timestamps
regenerated 1 minute apart), JIT warmed up first, best of 3 per indicator, single thread.

History: for end candles spread over every series in data/, the smallest history H such that
computing from a cold start over the last H candles gives, at the end candle, every output within
1e-9 of the full-history value (relative, with the floor 1e-9 * median |output| for values near 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import whale.indicators as wi  # noqa: E402
from bench.stitched import stitched_1m  # noqa: E402
from tests.paths import DATA_DIR  # noqa: E402
from whale.config.model import IndicatorSettings  # noqa: E402
from whale.indicators import kernels  # noqa: E402

N_CANDLES = 525_600


def load(path: Path) -> dict[str, np.ndarray]:
    df = pd.read_csv(path)
    out = {c: np.ascontiguousarray(df[c].to_numpy(dtype=np.float64)) for c in
           ("open", "high", "low", "close", "volume")}
    out["timestamp_ms"] = np.ascontiguousarray(df["timestamp_ms"].to_numpy(dtype=np.int64))
    return out


def default_calls(s: IndicatorSettings) -> list[tuple[str, bool, object]]:
    """(label, in the default-enabled set, fn(d)) with the config's default parameters."""
    return [
        (f"ema({s.ema_short_period})", True, lambda d: wi.ema(d["close"], s.ema_short_period)),
        (f"ema({s.ema_long_period})", True, lambda d: wi.ema(d["close"], s.ema_long_period)),
        (f"sma({s.sma_short_period})", True, lambda d: wi.sma(d["close"], s.sma_short_period)),
        (f"sma({s.sma_long_period})", True, lambda d: wi.sma(d["close"], s.sma_long_period)),
        (f"rsi({s.rsi_period})", True, lambda d: wi.rsi(d["close"], s.rsi_period)),
        ("stoch_rsi", True, lambda d: wi.stoch_rsi(d["close"], s.stoch_rsi_period, s.stoch_k_period,
                                                   s.stoch_d_period)),
        ("macd", True, lambda d: wi.macd(d["close"], s.macd_fast_period, s.macd_slow_period,
                                         s.macd_signal_period)),
        ("bollinger", True, lambda d: wi.bollinger(d["close"], s.bollinger_bands_period,
                                                   s.bollinger_bands_std_dev)),
        ("atr", True, lambda d: wi.atr(d["high"], d["low"], d["close"], s.atr_period)),
        ("adx", True, lambda d: wi.adx(d["high"], d["low"], d["close"], s.adx_period)),
        ("cci", True, lambda d: wi.cci(d["high"], d["low"], d["close"], s.cci_period)),
        ("williams_r", True, lambda d: wi.williams_r(d["high"], d["low"], d["close"], s.williams_r_period)),
        ("mfi", True, lambda d: wi.mfi(d["high"], d["low"], d["close"], d["volume"], s.mfi_period)),
        ("obv", True, lambda d: wi.obv(d["close"], d["volume"])),
        (f"ema(obv, {s.obv_ema_period})", True, lambda d: wi.ema(d["obv"], s.obv_ema_period)),
        ("psar", True, lambda d: wi.psar(d["high"], d["low"], s.psar_acceleration, s.psar_max_acceleration)),
        ("vwap", True, lambda d: wi.vwap(d["timestamp_ms"], d["high"], d["low"], d["close"], d["volume"])),
        ("vwma", True, lambda d: wi.vwma(d["close"], d["volume"], s.vwma_period)),
        ("cmf", True, lambda d: wi.cmf(d["high"], d["low"], d["close"], d["volume"], s.cmf_period)),
        ("ichimoku", True, lambda d: wi.ichimoku(d["high"], d["low"], d["close"], s.ichimoku_tenkan_period,
                                                 s.ichimoku_kijun_period, s.ichimoku_senkou_span_b_period,
                                                 s.ichimoku_chikou_span_offset)),
        ("ehlers_supertrend fast", True, lambda d: wi.ehlers_supertrend(
            d["high"], d["low"], d["close"], s.ehlers_fast_period, s.ehlers_fast_multiplier)),
        ("ehlers_supertrend slow", True, lambda d: wi.ehlers_supertrend(
            d["high"], d["low"], d["close"], s.ehlers_slow_period, s.ehlers_slow_multiplier)),
        ("volume_delta", True, lambda d: wi.volume_delta(d["open"], d["close"], d["volume"],
                                                         s.volume_delta_period)),
        ("volatility_index", True, lambda d: wi.volatility_index(d["high"], d["low"], d["close"], s.atr_period,
                                                                 s.volatility_index_period)),
        ("fibonacci_retracements", True, lambda d: wi.fibonacci_retracements(d["high"], d["low"],
                                                                             s.fibonacci_window)),
        (f"sma(volume, {s.volume_confirmation_period})", True,
         lambda d: wi.sma(d["volume"], s.volume_confirmation_period)),
        ("kama", False, lambda d: wi.kama(d["close"], s.kama_period, s.kama_fast_period, s.kama_slow_period)),
        ("dema", False, lambda d: wi.dema(d["close"], s.dema_period)),
        ("roc", False, lambda d: wi.roc(d["close"], s.roc_period)),
        ("keltner", False, lambda d: wi.keltner(d["high"], d["low"], d["close"], s.keltner_period,
                                                s.keltner_atr_multiplier)),
        ("relative_volume", False, lambda d: wi.relative_volume(d["volume"], s.relative_volume_period)),
        ("market_structure", False, lambda d: wi.market_structure(d["high"], d["low"],
                                                                  s.market_structure_lookback_period)),
        ("fibonacci_pivots", False, lambda d: wi.fibonacci_pivots(d["high"], d["low"], d["close"])),
        ("candlestick_patterns", False, lambda d: wi.candlestick_patterns(d["open"], d["high"], d["low"],
                                                                          d["close"])),
        ("true_range", False, lambda d: wi.true_range(d["high"], d["low"], d["close"])),
        ("highest(high, 52)", False, lambda d: wi.highest(d["high"], 52)),
        ("lowest(low, 52)", False, lambda d: wi.lowest(d["low"], 52)),
    ]


def bench() -> None:
    t0 = time.perf_counter()
    d = stitched_1m(N_CANDLES)
    n = d["close"].shape[0]
    d["obv"] = wi.obv(d["close"], d["volume"])
    print(f"{n:,} candles built in {time.perf_counter() - t0:.2f} s")
    calls = default_calls(IndicatorSettings())
    t0 = time.perf_counter()
    small = {k: v[:2000] for k, v in d.items()}
    for _, _, fn in calls:  # JIT warm-up (loads the numba cache, compiles on a cold one)
        fn(small)
    print(f"JIT warm-up {time.perf_counter() - t0:.2f} s")
    rows = []
    for label, default, fn in calls:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            fn(d)
            best = min(best, time.perf_counter() - t)
        rows.append((label, default, best))
    print(f"\n{'indicator':<28} {'default':>7} {'ms':>8} {'Mcandles/s':>11}")
    for label, default, best in rows:
        print(f"{label:<28} {'yes' if default else 'no':>7} {best * 1e3:8.2f} {n / best / 1e6:11.1f}")
    for title, sel in (("default set", [r for r in rows if r[1]]), ("everything", rows)):
        tot = sum(r[2] for r in sel)
        print(f"{'TOTAL ' + title:<28} {len(sel):>7} {tot * 1e3:8.2f} {n / tot / 1e6:11.2f}")


# ----------------------------------------------------------------------------------------------
# history needed


def history_cases(s: IndicatorSettings) -> list[tuple[str, dict]]:
    """(registry name, parameters) with the config defaults."""
    return [
        ("ema", {"period": s.ema_short_period}), ("ema", {"period": s.ema_long_period}),
        ("ema", {"period": s.sma_long_period}),
        ("sma", {"period": s.sma_long_period}), ("rsi", {"period": s.rsi_period}),
        ("stoch_rsi", {"period": s.stoch_rsi_period, "k": s.stoch_k_period, "d": s.stoch_d_period}),
        ("macd", {"fast": s.macd_fast_period, "slow": s.macd_slow_period, "signal": s.macd_signal_period}),
        ("bollinger", {"period": s.bollinger_bands_period, "std_dev": s.bollinger_bands_std_dev}),
        ("atr", {"period": s.atr_period}), ("adx", {"period": s.adx_period}), ("cci", {"period": s.cci_period}),
        ("williams_r", {"period": s.williams_r_period}), ("mfi", {"period": s.mfi_period}), ("obv", {}),
        ("psar", {"acceleration": s.psar_acceleration, "max_acceleration": s.psar_max_acceleration}),
        ("kama", {"period": s.kama_period, "fast": s.kama_fast_period, "slow": s.kama_slow_period}),
        ("dema", {"period": s.dema_period}), ("roc", {"period": s.roc_period}),
        ("vwma", {"period": s.vwma_period}), ("cmf", {"period": s.cmf_period}),
        ("ichimoku", {"tenkan": s.ichimoku_tenkan_period, "kijun": s.ichimoku_kijun_period,
                      "senkou_b": s.ichimoku_senkou_span_b_period,
                      "chikou_offset": s.ichimoku_chikou_span_offset}),
        ("ehlers_supertrend", {"period": s.ehlers_fast_period, "multiplier": s.ehlers_fast_multiplier}),
        ("ehlers_supertrend", {"period": s.ehlers_slow_period, "multiplier": s.ehlers_slow_multiplier}),
        ("volume_delta", {"period": s.volume_delta_period}),
        ("keltner", {"period": s.keltner_period, "atr_multiplier": s.keltner_atr_multiplier}),
        ("volatility_index", {"atr_period": s.atr_period, "period": s.volatility_index_period}),
        ("true_range", {}), ("highest", {"period": 52}), ("lowest", {"period": 52}),
        ("relative_volume", {"period": s.relative_volume_period}),
        ("market_structure", {"lookback": s.market_structure_lookback_period}),
        ("fibonacci_retracements", {"window": s.fibonacci_window}), ("fibonacci_pivots", {}),
        ("candlestick_patterns", {}),
    ]


def inputs_for(name: str, d: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [d["close"] if k == "x" else d[k] for k in kernels.spec(name).inputs]


def matches(cold: tuple, full: tuple, scales: list[float], e: int, tol: float, offset_free: bool) -> bool:
    """Every output's last cold value within tol of full[e] (OBV: compare the last change instead)."""
    for c, f, sc in zip(cold, full, scales, strict=True):
        a, b = c[-1], f[e]
        if offset_free:
            a, b = c[-1] - c[-2], f[e] - f[e - 1]
        if np.isnan(b):
            if not np.isnan(a):
                return False
            continue
        if not abs(a - b) <= tol * max(abs(b), sc):
            return False
    return True


def min_history(name: str, params: dict, d: dict, full: tuple, scales: list[float], e: int,
                tol: float, cap: int) -> int:
    """Smallest H (binary search; assumes more history never hurts) matching at candle e."""
    ins = inputs_for(name, d)
    lo = kernels.lookback(name, **params) + 1
    hi = min(cap, e + 1)
    offset_free = name == "obv"
    if offset_free:
        lo = max(lo, 2)

    def ok(h: int) -> bool:
        cold = kernels.compute(name, [x[e - h + 1:e + 1] for x in ins], **params)
        return matches(cold, full, scales, e, tol, offset_free)

    if not ok(hi):
        return -1
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def measure_history(ends_per_series: int, cap: int, tol: float, check_every: int) -> None:
    """Worst minimal history over sampled ends, then history_needed() checked at dense ends."""
    series = {p.name.split(".")[0]: load(p) for p in sorted(DATA_DIR.glob("*.csv.gz"))}
    print(f"{'indicator':<22} {'params':<40} {'lookback':>8} {'measured':>8} {'history_needed':>14} "
          f"{'checked ends':>12} {'failed':>6}")
    for name, params in history_cases(IndicatorSettings()):
        worst, checked, failed = 0, 0, 0
        need = kernels.history_needed(name, **params)
        for d in series.values():
            ins = inputs_for(name, d)
            full = kernels.compute(name, ins, **params)
            scales = [float(np.nanmedian(np.abs(f))) if np.isfinite(f).any() else 0.0 for f in full]
            n = d["close"].shape[0]
            for e in np.linspace(cap + 10, n - 1, ends_per_series).astype(int):
                h = min_history(name, params, d, full, scales, int(e), tol, cap)
                worst = max(worst, h) if h >= 0 and worst >= 0 else -1
            for e in range(need + 1, n, check_every):  # the figure itself, at many more ends
                cold = kernels.compute(name, [x[e - need + 1:e + 1] for x in ins], **params)
                checked += 1
                failed += not matches(cold, full, scales, e, tol, name == "obv")
        pstr = ", ".join(f"{k}={v}" for k, v in params.items())
        print(f"{name:<22} {pstr:<40} {kernels.lookback(name, **params):>8} "
              f"{worst if worst >= 0 else f'>{cap}':>8} {need:>14} {checked:>12} {failed:>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", action="store_true", help="measure history needed instead of timing")
    ap.add_argument("--ends", type=int, default=30, help="end candles per series for --history")
    ap.add_argument("--cap", type=int, default=12_000, help="largest history tried by --history")
    ap.add_argument("--check-every", type=int, default=7, help="--history: check history_needed() at "
                    "every Nth candle of every series")
    args = ap.parse_args()
    if args.history:
        measure_history(args.ends, args.cap, kernels.HISTORY_TOLERANCE, args.check_every)
    else:
        bench()


if __name__ == "__main__":
    main()
