"""Feature ids: the rows of the engine's feature matrix the scorers read.

Rows 0-4 are the candle itself; the rest are indicator outputs. Only the features an enabled
scorer needs are computed; `fidx[f]` maps a feature id to its row, -1 when absent.
"""

from __future__ import annotations

FEATURE_NAMES: tuple[str, ...] = (
    "open", "high", "low", "close", "volume",
    "ema_short", "ema_long", "sma_long", "sma_short", "rsi", "stoch_k", "stoch_d",
    "bb_upper", "bb_lower", "vwap", "cci", "wr", "mfi", "psar", "psar_dir",
    "fib_high", "fib_low", "st_fast_dir", "st_slow_dir", "macd", "macd_signal",
    "adx", "plus_di", "minus_di", "tenkan", "kijun", "span_a", "span_b",
    "obv_gap", "cmf", "volatility_index", "vwma", "volume_delta", "atr", "volume_avg", "mtf_net",
    "kama", "dema", "keltner_upper", "keltner_lower", "roc", "relative_volume", "market_structure",
    "candle_signal", "pivot", "pivot_r1", "pivot_r2", "pivot_s1", "pivot_s2",
    "book_imbalance", "density",
)
N_FEATURES = len(FEATURE_NAMES)
F = {name: i for i, name in enumerate(FEATURE_NAMES)}

(F_OPEN, F_HIGH, F_LOW, F_CLOSE, F_VOLUME,
 F_EMA_S, F_EMA_L, F_SMA_L, F_SMA_S, F_RSI, F_STOCH_K, F_STOCH_D,
 F_BB_U, F_BB_L, F_VWAP, F_CCI, F_WR, F_MFI, F_PSAR, F_PSAR_DIR,
 F_FIB_HI, F_FIB_LO, F_STF_DIR, F_STS_DIR, F_MACD, F_MACD_SIG,
 F_ADX, F_PDI, F_MDI, F_TENKAN, F_KIJUN, F_SPAN_A, F_SPAN_B,
 F_OBV_GAP, F_CMF, F_VOLIDX, F_VWMA, F_VDELTA, F_ATR, F_VOL_AVG, F_MTF_NET,
 F_KAMA, F_DEMA, F_KELT_U, F_KELT_L, F_ROC, F_RELVOL, F_MSTRUCT,
 F_CANDLE, F_PIV, F_PIV_R1, F_PIV_R2, F_PIV_S1, F_PIV_S2,
 F_BOOK_IMB, F_DENSITY) = range(N_FEATURES)
N_CANDLE_ROWS = 5
