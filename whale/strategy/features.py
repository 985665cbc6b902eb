"""Which indicators the enabled scorers need, as feature-buffer groups built from the indicator
kernel registry (whale.indicators), plus the one scorer-specific feature (the OBV gap)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from whale.config.model import Config
from whale.indicators import kernels as K
from whale.strategy import feature_ids as fi
from whale.strategy import scorers as sc
from whale.strategy.buffer import FeatureBuffer, Group

CANDLE_ROWS = ("open", "high", "low", "close", "volume")


def spec_group(indicator: str, group: str, inputs: dict[str, str], outputs: dict[str, str],
               **params) -> Group:
    """A buffer group running one registered indicator kernel.

    `inputs` maps the kernel's input names to buffer rows (unmapped names are candle rows of the
    same name; "timestamp_ms" is the buffer's time column); `outputs` names the rows of the outputs
    the strategy reads; other outputs and all state arrays get private rows "group.name".
    """
    spec = K.spec(indicator)
    args = tuple(spec.resolve(**params)[p] for p, _ in spec.params)
    in_rows = tuple(inputs.get(name, name) for name in spec.inputs)
    out_rows = tuple(outputs.get(name, f"{group}.{name}") for name in spec.outputs)
    state_rows = tuple(f"{group}.{name}" for name in spec.states)
    kernel = spec.kernel
    lookback = int(spec.lookback(**spec.resolve(**params)))

    def run(buf: FeatureBuffer, start: int, end: int) -> None:
        X, rows = buf.X, buf.rows
        ins = [buf.ts if r == "timestamp_ms" else X[rows[r]] for r in in_rows]
        outs = [X[rows[r]] for r in out_rows + state_rows]
        kernel(*ins, *args, *outs, start, end)

    return Group(group, out_rows + state_rows, run, lookback=lookback,
                 reads=tuple(r for r in in_rows if r != "timestamp_ms"),
                 history=int(K.history_needed(indicator, **params)), key=(indicator, in_rows, args))


@njit(cache=True)
def _k_obv_gap(close, volume, period, gap, start, end):
    """OBV minus its EMA, computed from OBV's steps (gap_i = (1-a)(gap_{i-1} + step_i)), so it does not
    depend on where the cumulative OBV started: the live bot and a backtest agree after the EMA's
    memory fades, whatever history each began with. Seeded with 0 (OBV equal to its average)."""
    keep = 1.0 - 2.0 / (period + 1.0)
    for i in range(start, end):
        if i == 0:
            gap[i] = np.nan
            continue
        c, pc, v = close[i], close[i - 1], volume[i]
        step = v if c > pc else (-v if c < pc else 0.0)
        prev = gap[i - 1]
        gap[i] = keep * ((0.0 if prev != prev else prev) + step)


def obv_gap_group(period: int) -> Group:
    def run(buf: FeatureBuffer, start: int, end: int) -> None:
        X, rows = buf.X, buf.rows
        _k_obv_gap(X[rows["close"]], X[rows["volume"]], period, X[rows["obv_gap"]], start, end)

    return Group("obv_gap", ("obv_gap",), run, lookback=1, reads=("close", "volume"),
                 history=int(math.ceil(math.log(1e-12) / math.log(1.0 - 2.0 / (period + 1.0)))),
                 key=("obv_gap", ("close", "volume"), (period,)))


def enabled_scorers(cfg: Config, live: bool) -> np.ndarray:
    """Which scorers run: their toggles on, weight > 0, and their data available in this mode."""
    toggles = cfg.indicators
    weights = cfg.active_weights
    on = np.zeros(sc.N_SCORERS, dtype=np.bool_)
    for s in sc.SCORERS:
        ok = all(getattr(toggles, t) for t in s.toggles)
        if s.weight is not None:
            ok = ok and getattr(weights, s.weight) > 0
        if s.id == sc.S_MTF:
            ok = ok and cfg.mtf_analysis.enabled and len(cfg.mtf_analysis.higher_timeframes) > 0 \
                and len(cfg.mtf_analysis.trend_indicators) > 0
        if s.id == sc.S_DENSITY:
            ok = ok and cfg.strategy.mode == "combined"
        if s.live_only and not live:
            ok = False
        on[s.id] = ok
    return on


def weight_vector(cfg: Config) -> np.ndarray:
    w = np.zeros(sc.N_SCORERS)
    for s in sc.SCORERS:
        if s.weight is not None:
            w[s.id] = getattr(cfg.active_weights, s.weight)
    return w


def build_groups(cfg: Config, enabled: np.ndarray) -> list[Group]:
    """The indicator groups the enabled scorers read (ATR always: stops and sizing need it)."""
    s = cfg.indicator_settings
    on = lambda *ids: any(enabled[i] for i in ids)  # noqa: E731
    groups: list[Group] = [spec_group("atr", "atr", {}, {"out": "atr"}, period=s.atr_period)]
    if on(sc.S_EMA, sc.S_DEMA):
        groups.append(spec_group("ema", "ema_short", {"x": "close"}, {"out": "ema_short"}, period=s.ema_short_period))
    if on(sc.S_EMA):
        groups.append(spec_group("ema", "ema_long", {"x": "close"}, {"out": "ema_long"}, period=s.ema_long_period))
    if on(sc.S_SMA_TREND):
        groups.append(spec_group("sma", "sma_long", {"x": "close"}, {"out": "sma_long"}, period=s.sma_long_period))
    if on(sc.S_SMA10):
        groups.append(spec_group("sma", "sma_short", {"x": "close"}, {"out": "sma_short"},
                                 period=s.sma_short_period))
    if on(sc.S_RSI):
        groups.append(spec_group("rsi", "rsi", {}, {"out": "rsi"}, period=s.rsi_period))
    if on(sc.S_STOCH):
        groups.append(spec_group("stoch_rsi", "stoch", {}, {"k": "stoch_k", "d": "stoch_d"},
                                 period=s.stoch_rsi_period, k=s.stoch_k_period, d=s.stoch_d_period))
    if on(sc.S_CCI):
        groups.append(spec_group("cci", "cci", {}, {"out": "cci"}, period=s.cci_period))
    if on(sc.S_WR):
        groups.append(spec_group("williams_r", "wr", {}, {"out": "wr"}, period=s.williams_r_period))
    if on(sc.S_MFI):
        groups.append(spec_group("mfi", "mfi", {}, {"out": "mfi"}, period=s.mfi_period))
    if on(sc.S_BB):
        groups.append(spec_group("bollinger", "bb", {}, {"upper": "bb_upper", "lower": "bb_lower"},
                                 period=s.bollinger_bands_period, std_dev=s.bollinger_bands_std_dev))
    if on(sc.S_VWAP):
        groups.append(spec_group("vwap", "vwap", {}, {"out": "vwap"}))
    if on(sc.S_PSAR):
        groups.append(spec_group("psar", "psar", {}, {"sar": "psar", "direction": "psar_dir"},
                                 acceleration=s.psar_acceleration, max_acceleration=s.psar_max_acceleration))
    if on(sc.S_FIB):
        groups.append(spec_group("highest", "fib_high", {"x": "high"}, {"out": "fib_high"}, period=s.fibonacci_window))
        groups.append(spec_group("lowest", "fib_low", {"x": "low"}, {"out": "fib_low"}, period=s.fibonacci_window))
    if on(sc.S_ST):
        groups.append(spec_group("ehlers_supertrend", "st_fast", {}, {"direction": "st_fast_dir"},
                                 period=s.ehlers_fast_period, multiplier=s.ehlers_fast_multiplier))
        groups.append(spec_group("ehlers_supertrend", "st_slow", {}, {"direction": "st_slow_dir"},
                                 period=s.ehlers_slow_period, multiplier=s.ehlers_slow_multiplier))
    if on(sc.S_MACD):
        groups.append(spec_group("macd", "macd", {}, {"line": "macd", "signal": "macd_signal"},
                                 fast=s.macd_fast_period, slow=s.macd_slow_period, signal=s.macd_signal_period))
    if on(sc.S_ADX) or cfg.indicators.adx_trend_multiplier:
        groups.append(spec_group("adx", "adx", {}, {"adx": "adx", "plus_di": "plus_di", "minus_di": "minus_di"},
                                 period=s.adx_period))
    if on(sc.S_ICHI):
        groups.append(spec_group("ichimoku", "ichimoku", {}, {"tenkan": "tenkan", "kijun": "kijun",
                                                              "span_a": "span_a", "span_b": "span_b"},
                                 tenkan=s.ichimoku_tenkan_period, kijun=s.ichimoku_kijun_period,
                                 senkou_b=s.ichimoku_senkou_span_b_period,
                                 chikou_offset=s.ichimoku_chikou_span_offset))
    if on(sc.S_OBV):
        groups.append(obv_gap_group(s.obv_ema_period))
    if on(sc.S_CMF):
        groups.append(spec_group("cmf", "cmf", {}, {"out": "cmf"}, period=s.cmf_period))
    if on(sc.S_VOLIDX):
        groups.append(spec_group("volatility_index", "volidx", {}, {"out": "volatility_index"},
                                 atr_period=s.atr_period, period=s.volatility_index_period))
    if on(sc.S_VWMA):
        groups.append(spec_group("vwma", "vwma", {}, {"out": "vwma"}, period=s.vwma_period))
    if on(sc.S_VDELTA, sc.S_VOLCONF):
        groups.append(spec_group("volume_delta", "vdelta", {}, {"out": "volume_delta"}, period=s.volume_delta_period))
    if on(sc.S_VOLCONF):
        groups.append(spec_group("sma", "volume_avg", {"x": "volume"}, {"out": "volume_avg"},
                                 period=s.volume_confirmation_period))
    if on(sc.S_KAMA):
        groups.append(spec_group("kama", "kama", {}, {"out": "kama"}, period=s.kama_period,
                                 fast=s.kama_fast_period, slow=s.kama_slow_period))
    if on(sc.S_DEMA):
        groups.append(spec_group("dema", "dema", {"x": "close"}, {"out": "dema"}, period=s.dema_period))
    if on(sc.S_KELT):
        groups.append(spec_group("keltner", "keltner", {}, {"upper": "keltner_upper", "lower": "keltner_lower"},
                                 period=s.keltner_period, atr_multiplier=s.keltner_atr_multiplier))
    if on(sc.S_ROC):
        groups.append(spec_group("roc", "roc", {}, {"out": "roc"}, period=s.roc_period))
    if on(sc.S_RELVOL):
        groups.append(spec_group("relative_volume", "relvol", {}, {"out": "relative_volume"},
                                 period=s.relative_volume_period))
    if on(sc.S_MSTRUCT):
        groups.append(spec_group("market_structure", "mstruct", {}, {"out": "market_structure"},
                                 lookback=s.market_structure_lookback_period))
    if on(sc.S_CANDLE):
        groups.append(spec_group("candlestick_patterns", "candle", {}, {"signal": "candle_signal"}))
    if on(sc.S_PIVOT):
        groups.append(spec_group("fibonacci_pivots", "pivots", {}, {"pivot": "pivot", "r1": "pivot_r1",
                                                                     "r2": "pivot_r2", "s1": "pivot_s1",
                                                                     "s2": "pivot_s2"}))
    return groups


def feature_index(buffer: FeatureBuffer) -> np.ndarray:
    """fidx[f] = the buffer row of feature f, or -1 when no group computes it."""
    return np.array([buffer.rows.get(name, -1) for name in fi.FEATURE_NAMES], dtype=np.int64)
