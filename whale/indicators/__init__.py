"""Technical indicators over numpy arrays: one implementation for backtests and the live bot.

Every function takes array-likes (converted to contiguous float64), returns arrays of the input's
length with NaN during the warm-up, and never reads a later candle than the one it computes.
Definitions, warm-ups and the history each needs: docs/indicators.md. The numba kernels behind
them, for callers that keep state and extend one candle at a time: `whale.indicators.kernels`.
"""

from whale.indicators import kernels
from whale.indicators._registry import history_needed, lookback
from whale.indicators.momentum import cci, mfi, roc, rsi, stoch_rsi, williams_r
from whale.indicators.structure import (
                                        FIB_RATIOS,
                                        PATTERN_BEARISH_ENGULFING,
                                        PATTERN_BULLISH_ENGULFING,
                                        PATTERN_DOJI,
                                        PATTERN_HAMMER,
                                        PATTERN_NAMES,
                                        PATTERN_NONE,
                                        PATTERN_SHOOTING_STAR,
                                        candlestick_patterns,
                                        fibonacci_pivots,
                                        fibonacci_retracements,
                                        market_structure,
)
from whale.indicators.trend import adx, dema, ehlers_supertrend, ema, ichimoku, kama, macd, psar, sma
from whale.indicators.volatility import atr, bollinger, highest, keltner, lowest, true_range, volatility_index
from whale.indicators.volume import cmf, obv, relative_volume, volume_delta, vwap, vwma

__all__ = [
    "FIB_RATIOS", "PATTERN_BEARISH_ENGULFING", "PATTERN_BULLISH_ENGULFING", "PATTERN_DOJI", "PATTERN_HAMMER",
    "PATTERN_NAMES", "PATTERN_NONE", "PATTERN_SHOOTING_STAR",
    "adx", "atr", "bollinger", "candlestick_patterns", "cci", "cmf", "dema", "ehlers_supertrend", "ema",
    "fibonacci_pivots", "fibonacci_retracements", "highest", "history_needed", "ichimoku", "kama", "keltner",
    "kernels",
    "lookback", "lowest", "macd", "market_structure", "mfi", "obv", "psar", "relative_volume", "roc", "rsi",
    "sma", "stoch_rsi", "true_range", "volatility_index", "volume_delta", "vwap", "vwma", "williams_r",
]
