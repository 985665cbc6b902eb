"""The scorer table: breakdown name, toggles, weight key and which features each scorer reads.

Order is application order (docs/strategy.md#scorers): directional scorers first, then the volatility
index (which scales the running score), then volume confirmation (which may halve the total).
The numba scoring kernel refers to scorers by the integer ids defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Scorer ids (indices into weight/enable vectors and breakdown rows).
S_EMA, S_SMA_TREND, S_RSI, S_STOCH, S_CCI, S_WR, S_MFI, S_BB, S_VWAP, S_PSAR, S_SMA10, S_BOOK, S_FIB, \
    S_ST, S_MACD, S_ADX, S_ICHI, S_OBV, S_CMF, S_VWMA, S_VDELTA, S_MTF, S_DENSITY, S_KAMA, S_DEMA, S_KELT, \
    S_ROC, S_RELVOL, S_MSTRUCT, S_CANDLE, S_PIVOT, S_VOLIDX, S_VOLCONF = range(33)
N_SCORERS = 33


@dataclass(frozen=True)
class Scorer:
    id: int
    name: str  # breakdown name shown to the user
    toggles: tuple[str, ...]  # every one must be on (keys of config.indicators)
    weight: str | None  # key of config.active_weights (None: no weight)
    live_only: bool = False  # needs an order book or trades: off in candle backtests
    why_off_in_backtest: str = ""


MOMENTUM_WEIGHT = "momentum_rsi_stoch_cci_wr_mfi"

SCORERS: tuple[Scorer, ...] = (
    Scorer(S_EMA, "EMA_Alignment", ("ema_alignment",), "ema_alignment"),
    Scorer(S_SMA_TREND, "SMA_Trend_Filter", ("sma_trend_filter",), "sma_trend_filter"),
    Scorer(S_RSI, "RSI_Signal", ("momentum", "rsi"), MOMENTUM_WEIGHT),
    Scorer(S_STOCH, "StochRSI_Signal", ("momentum", "stoch_rsi"), MOMENTUM_WEIGHT),
    Scorer(S_CCI, "CCI_Signal", ("momentum", "cci"), MOMENTUM_WEIGHT),
    Scorer(S_WR, "WR_Signal", ("momentum", "wr"), MOMENTUM_WEIGHT),
    Scorer(S_MFI, "MFI_Signal", ("momentum", "mfi"), MOMENTUM_WEIGHT),
    Scorer(S_BB, "Bollinger_Bands_Signal", ("bollinger_bands",), "bollinger_bands"),
    Scorer(S_VWAP, "VWAP_Signal", ("vwap",), "vwap"),
    Scorer(S_PSAR, "PSAR_Signal", ("psar",), "psar"),
    Scorer(S_SMA10, "SMA_10_Signal", ("sma_10",), "sma_10"),
    Scorer(S_BOOK, "Orderbook_Imbalance", ("orderbook_imbalance",), "orderbook_imbalance", live_only=True,
           why_off_in_backtest="needs the live order book"),
    Scorer(S_FIB, "Fibonacci_Levels_Signal", ("fibonacci_levels",), "fibonacci_levels"),
    Scorer(S_ST, "Ehlers_SuperTrend_Alignment", ("ehlers_supertrend",), "ehlers_supertrend_alignment"),
    Scorer(S_MACD, "MACD_Alignment", ("macd",), "macd_alignment"),
    Scorer(S_ADX, "ADX_Strength", ("adx",), "adx_strength"),
    Scorer(S_ICHI, "Ichimoku_Confluence", ("ichimoku_cloud",), "ichimoku_confluence"),
    Scorer(S_OBV, "OBV_Momentum", ("obv",), "obv_momentum"),
    Scorer(S_CMF, "CMF_Flow", ("cmf",), "cmf_flow"),
    Scorer(S_VWMA, "VWMA_Cross", ("vwma",), "vwma_cross"),
    Scorer(S_VDELTA, "Volume_Delta_Signal", ("volume_delta",), "volume_delta_signal"),
    Scorer(S_MTF, "MTF_Trend_Confluence", (), "mtf_trend_confluence"),  # gated by mtf_analysis.enabled
    Scorer(S_DENSITY, "Density_Signal", (), "density_signal", live_only=True,  # gated by strategy.mode
           why_off_in_backtest="needs the live order book (densities)"),
    Scorer(S_KAMA, "KAMA_Cross", ("kaufman_ama",), "kaufman_ama_cross"),
    Scorer(S_DEMA, "DEMA_Crossover", ("dema",), "dema_crossover"),
    Scorer(S_KELT, "Keltner_Breakout", ("keltner_channels",), "keltner_breakout"),
    Scorer(S_ROC, "ROC_Signal", ("roc",), "roc_signal"),
    Scorer(S_RELVOL, "Relative_Volume_Confirmation", ("relative_volume",), "relative_volume_confirmation"),
    Scorer(S_MSTRUCT, "Market_Structure_Confluence", ("market_structure",), "market_structure_confluence"),
    Scorer(S_CANDLE, "Candlestick_Confirmation", ("candlestick_patterns",), "candlestick_confirmation"),
    Scorer(S_PIVOT, "Fibonacci_Pivot_Points_Confluence", ("fibonacci_pivot_points",),
           "fibonacci_pivot_points_confluence"),
    Scorer(S_VOLIDX, "Volatility_Index_Signal", ("volatility_index",), "volatility_index_signal"),
    Scorer(S_VOLCONF, "Volume_Confirmation_Filter", ("volume_confirmation",), None),
)

assert [s.id for s in SCORERS] == list(range(N_SCORERS))
SCORER_NAMES: tuple[str, ...] = tuple(s.name for s in SCORERS)
WEIGHT_KEYS: frozenset[str] = frozenset(s.weight for s in SCORERS if s.weight)
