"""The config model: every key, its type, its default and its allowed range, in one place.

`config.json` in the repository is `to_dict(Config())` (a test checks it), so the defaults
cannot drift. Field metadata (`lo`, `hi`, `choices`, `doc`) drives validation in
`whale.config.loader`; nothing else hard-codes a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

BYBIT_INTERVALS: tuple[str, ...] = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
NETWORKS: tuple[str, ...] = ("mainnet", "testnet", "demo-trading", "custom")
STRATEGY_MODES: tuple[str, ...] = ("indicators", "density", "combined")
MTF_METHODS: tuple[str, ...] = ("sma", "ema", "ehlers_supertrend")
ORDERBOOK_DEPTHS: tuple[int, ...] = (1, 50, 200, 1000)
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
ALERT_EVENTS: tuple[str, ...] = ("entry", "exit", "halt", "error", "reduce", "emergency", "info")


def setting(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: tuple[Any, ...] | None = None,
    item_choices: tuple[Any, ...] | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field carrying its validation rules, so range and default live together."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "choices": choices,
            "item_choices": item_choices, "doc": doc}
    if isinstance(default, (list, tuple)):
        frozen = tuple(default)
        return field(default=frozen, metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type) -> Any:
    return field(default_factory=cls)


@dataclass(frozen=True)
class StrategySettings:
    mode: str = setting("indicators", choices=STRATEGY_MODES,
                        doc="indicators, density, or combined (indicator score plus Density_Signal)")


@dataclass(frozen=True)
class TradeManagement:
    enabled: bool = setting(True, doc="if false: signals only, no orders")
    account_balance: float = setting(1000.0, lo=0, lo_open=True, doc="start balance of paper trading and backtests (USDT)")
    risk_per_trade_percent: float = setting(1.0, lo=0, hi=100, lo_open=True, doc="% of equity risked per trade")
    stop_loss_atr_multiple: float = setting(1.5, lo=0, lo_open=True, doc="SL distance in ATR")
    take_profit_atr_multiple: float = setting(2.0, lo=0, lo_open=True, doc="TP distance in ATR")
    max_open_positions: int = setting(1, lo=1, hi=100, doc="cap on open positions")
    enable_trailing_stop: bool = setting(True)
    trailing_stop_atr_multiple: float = setting(0.8, lo=0, lo_open=True, doc="trailing distance in ATR")
    break_even_atr_trigger: float = setting(0.5, lo=0, doc="profit in ATR that arms the trailing stop")
    move_to_breakeven_atr_trigger: float = setting(1.0, lo=0, doc="profit in ATR that moves the stop to entry (0 = off)")
    profit_lock_in_atr_multiple: float = setting(0.5, lo=0, doc="after break-even, stop follows the close at this ATR distance (0 = off)")
    close_on_opposite_signal: bool = setting(True)
    reverse_position_on_opposite_signal: bool = setting(False)
    leverage: float = setting(5.0, lo=1, hi=200, doc="leverage set at start; also caps position size")


@dataclass(frozen=True)
class MtfAnalysis:
    enabled: bool = setting(True)
    higher_timeframes: tuple[str, ...] = setting(("60", "240"), item_choices=BYBIT_INTERVALS)
    trend_indicators: tuple[str, ...] = setting(("ema", "ehlers_supertrend"), item_choices=MTF_METHODS)
    trend_period: int = setting(50, lo=2, hi=1000, doc="SMA/EMA length on the higher timeframe")
    mtf_request_delay_seconds: float = setting(0.5, lo=0, hi=60, doc="pause between higher-timeframe REST fetches")


@dataclass(frozen=True)
class IndicatorToggles:
    ema_alignment: bool = setting(True)
    sma_trend_filter: bool = setting(True)
    momentum: bool = setting(True, doc="gate for RSI/StochRSI/CCI/WR/MFI")
    volume_confirmation: bool = setting(True)
    stoch_rsi: bool = setting(True)
    rsi: bool = setting(True)
    bollinger_bands: bool = setting(True)
    vwap: bool = setting(True)
    cci: bool = setting(True)
    wr: bool = setting(True)
    psar: bool = setting(True)
    sma_10: bool = setting(True)
    mfi: bool = setting(True)
    orderbook_imbalance: bool = setting(True)
    fibonacci_levels: bool = setting(True)
    ehlers_supertrend: bool = setting(True)
    macd: bool = setting(True)
    adx: bool = setting(True)
    ichimoku_cloud: bool = setting(True)
    obv: bool = setting(True)
    cmf: bool = setting(True)
    volatility_index: bool = setting(True)
    vwma: bool = setting(True)
    volume_delta: bool = setting(True)
    kaufman_ama: bool = setting(False)
    relative_volume: bool = setting(False)
    market_structure: bool = setting(False)
    dema: bool = setting(False)
    keltner_channels: bool = setting(False)
    roc: bool = setting(False)
    candlestick_patterns: bool = setting(False)
    fibonacci_pivot_points: bool = setting(False)
    adx_trend_multiplier: bool = setting(False, doc="scale trend scorers by ADX strength (Appendix A)")


@dataclass(frozen=True)
class ActiveWeights:
    ema_alignment: float = setting(0.22)
    sma_trend_filter: float = setting(0.28)
    momentum_rsi_stoch_cci_wr_mfi: float = setting(0.18)
    bollinger_bands: float = setting(0.22)
    vwap: float = setting(0.22)
    psar: float = setting(0.22)
    sma_10: float = setting(0.07)
    orderbook_imbalance: float = setting(0.07)
    fibonacci_levels: float = setting(0.10)
    ehlers_supertrend_alignment: float = setting(0.55)
    macd_alignment: float = setting(0.28)
    adx_strength: float = setting(0.18)
    ichimoku_confluence: float = setting(0.38)
    obv_momentum: float = setting(0.18)
    cmf_flow: float = setting(0.12)
    mtf_trend_confluence: float = setting(0.32)
    volatility_index_signal: float = setting(0.15)
    vwma_cross: float = setting(0.15)
    volume_delta_signal: float = setting(0.10)
    density_signal: float = setting(0.25)
    kaufman_ama_cross: float = setting(0.18)
    relative_volume_confirmation: float = setting(0.10)
    market_structure_confluence: float = setting(0.25)
    dema_crossover: float = setting(0.15)
    keltner_breakout: float = setting(0.18)
    roc_signal: float = setting(0.10)
    candlestick_confirmation: float = setting(0.15)
    fibonacci_pivot_points_confluence: float = setting(0.18)


@dataclass(frozen=True)
class IndicatorSettings:
    atr_period: int = setting(14, lo=1, hi=1000)
    ema_short_period: int = setting(9, lo=1, hi=1000)
    ema_long_period: int = setting(21, lo=1, hi=1000)
    rsi_period: int = setting(14, lo=2, hi=1000)
    stoch_rsi_period: int = setting(14, lo=2, hi=1000)
    stoch_k_period: int = setting(3, lo=1, hi=100)
    stoch_d_period: int = setting(3, lo=1, hi=100)
    bollinger_bands_period: int = setting(20, lo=2, hi=1000)
    bollinger_bands_std_dev: float = setting(2.0, lo=0, lo_open=True, hi=10)
    cci_period: int = setting(20, lo=2, hi=1000)
    williams_r_period: int = setting(14, lo=2, hi=1000)
    mfi_period: int = setting(14, lo=2, hi=1000)
    psar_acceleration: float = setting(0.02, lo=0, lo_open=True, hi=1)
    psar_max_acceleration: float = setting(0.2, lo=0, lo_open=True, hi=1)
    sma_short_period: int = setting(10, lo=1, hi=1000)
    sma_long_period: int = setting(50, lo=1, hi=1000)
    fibonacci_window: int = setting(60, lo=2, hi=5000)
    ehlers_fast_period: int = setting(10, lo=2, hi=500)
    ehlers_fast_multiplier: float = setting(2.0, lo=0, lo_open=True, hi=20)
    ehlers_slow_period: int = setting(20, lo=2, hi=500)
    ehlers_slow_multiplier: float = setting(3.0, lo=0, lo_open=True, hi=20)
    macd_fast_period: int = setting(12, lo=1, hi=1000)
    macd_slow_period: int = setting(26, lo=2, hi=1000)
    macd_signal_period: int = setting(9, lo=1, hi=1000)
    adx_period: int = setting(14, lo=2, hi=1000)
    ichimoku_tenkan_period: int = setting(9, lo=1, hi=1000)
    ichimoku_kijun_period: int = setting(26, lo=1, hi=1000)
    ichimoku_senkou_span_b_period: int = setting(52, lo=1, hi=1000)
    ichimoku_chikou_span_offset: int = setting(26, lo=1, hi=1000)
    obv_ema_period: int = setting(20, lo=1, hi=1000)
    cmf_period: int = setting(20, lo=1, hi=1000)
    rsi_oversold: float = setting(30.0, lo=0, hi=100)
    rsi_overbought: float = setting(70.0, lo=0, hi=100)
    stoch_rsi_oversold: float = setting(20.0, lo=0, hi=100)
    stoch_rsi_overbought: float = setting(80.0, lo=0, hi=100)
    cci_oversold: float = setting(-100.0, lo=-1000, hi=1000)
    cci_overbought: float = setting(100.0, lo=-1000, hi=1000)
    williams_r_oversold: float = setting(-80.0, lo=-100, hi=0)
    williams_r_overbought: float = setting(-20.0, lo=-100, hi=0)
    mfi_oversold: float = setting(20.0, lo=0, hi=100)
    mfi_overbought: float = setting(80.0, lo=0, hi=100)
    volatility_index_period: int = setting(20, lo=1, hi=1000)
    vwma_period: int = setting(20, lo=1, hi=1000)
    volume_delta_period: int = setting(5, lo=1, hi=1000)
    volume_delta_threshold: float = setting(0.2, lo=0, hi=1)
    volume_confirmation_period: int = setting(20, lo=1, hi=1000, doc="candles in the volume average of volume confirmation")
    ADX_STRONG_TREND_THRESHOLD: float = setting(25.0, lo=0, hi=100)
    ADX_WEAK_TREND_THRESHOLD: float = setting(20.0, lo=0, hi=100)
    kama_period: int = setting(10, lo=1, hi=1000)
    kama_fast_period: int = setting(2, lo=1, hi=1000)
    kama_slow_period: int = setting(30, lo=1, hi=1000)
    relative_volume_period: int = setting(20, lo=1, hi=1000)
    relative_volume_threshold: float = setting(1.5, lo=0, lo_open=True, hi=100)
    market_structure_lookback_period: int = setting(20, lo=2, hi=1000)
    dema_period: int = setting(14, lo=1, hi=1000)
    keltner_period: int = setting(20, lo=1, hi=1000)
    keltner_atr_multiplier: float = setting(2.0, lo=0, lo_open=True, hi=20)
    roc_period: int = setting(12, lo=1, hi=1000)
    roc_oversold: float = setting(-5.0, lo=-100, hi=100)
    roc_overbought: float = setting(5.0, lo=-100, hi=100)


@dataclass(frozen=True)
class Fees:
    taker_rate: float = setting(0.00055, lo=0, hi=0.05, doc="fraction of notional per taker fill")
    maker_rate: float = setting(0.0002, lo=-0.01, hi=0.05, doc="fraction of notional per maker fill")
    slippage_rate: float = setting(0.0001, lo=0, hi=0.05, doc="adverse price move on market fills, fraction")
    funding_rate_8h: float = setting(0.0001, lo=-0.05, hi=0.05, doc="paid by longs (received by shorts) every 8 h when > 0")


@dataclass(frozen=True)
class Density:
    book_depth: int = setting(200, choices=ORDERBOOK_DEPTHS, doc="order book depth subscribed for density detection")
    depth_percent: float = setting(1.0, lo=0, lo_open=True, hi=50)
    multiplier: float = setting(5.0, lo=1, hi=1000)
    min_notional: float = setting(50000.0, lo=0)
    min_lifetime_sec: float = setting(30.0, lo=0, hi=86400)
    breakout_erosion_percent: float = setting(30.0, lo=0, lo_open=True, hi=100)
    breakout_min_stop_loss_percent: float = setting(0.1, lo=0, hi=50)
    breakout_breakeven_profit_percent: float = setting(0.5, lo=0, hi=100)
    bounce_touch_tolerance_percent: float = setting(0.2, lo=0, hi=50)
    bounce_stop_loss_behind_density_percent: float = setting(0.3, lo=0, hi=50)
    bounce_density_erosion_exit_percent: float = setting(65.0, lo=0, lo_open=True, hi=100)


@dataclass(frozen=True)
class TakeProfit:
    enabled: bool = setting(True)
    min_profit_percent: float = setting(0.1, lo=0, hi=100)
    momentum_slowdown: bool = setting(True)
    counter_density: bool = setting(True)
    aggressive_reversal: bool = setting(True)
    return_to_range: bool = setting(True)
    velocity_slowdown_threshold: float = setting(0.5, lo=0, hi=10)
    velocity_short_window_sec: float = setting(3.0, lo=0, lo_open=True, hi=3600)
    velocity_long_window_sec: float = setting(15.0, lo=0, lo_open=True, hi=86400)
    imbalance_change_threshold: float = setting(2.0, lo=0, lo_open=True, hi=100)
    volume_history_window_sec: float = setting(10.0, lo=0, lo_open=True, hi=86400)
    local_extrema_window_min: float = setting(60.0, lo=0, lo_open=True, hi=10080)


@dataclass(frozen=True)
class Risk:
    max_total_exposure_percent: float = setting(300.0, lo=0, lo_open=True, hi=100000)
    max_book_impact_percent: float = setting(10.0, lo=0, lo_open=True, hi=100)
    impact_depth_percent: float = setting(0.5, lo=0, lo_open=True, hi=50)


@dataclass(frozen=True)
class Safety:
    check_interval_sec: float = setting(30.0, lo=1, hi=86400)
    min_balance_usdt: float = setting(100.0, lo=0)
    daily_loss_limit_percent: float = setting(5.0, lo=0, lo_open=True, hi=100)
    max_drawdown_soft_percent: float = setting(10.0, lo=0, lo_open=True, hi=100)
    max_drawdown_hard_percent: float = setting(20.0, lo=0, lo_open=True, hi=100)
    stale_stream_sec: float = setting(30.0, lo=1, hi=86400)


@dataclass(frozen=True)
class Alerts:
    webhook_url_env: str = setting("WHALEBOT_WEBHOOK_URL", doc="name of the environment variable holding the webhook URL")
    events: tuple[str, ...] = setting(("entry", "exit", "halt", "error"), item_choices=ALERT_EVENTS)


@dataclass(frozen=True)
class Logging:
    level: str = setting("INFO", choices=LOG_LEVELS)
    file: str = setting("logs/whalebot.log")
    max_bytes: int = setting(10 * 1024 * 1024, lo=1024, hi=10 * 1024 ** 3)
    backups: int = setting(5, lo=0, hi=1000)


@dataclass(frozen=True)
class Config:
    symbol: str = setting("BTCUSDT", doc="linear USDT perpetual")
    interval: str = setting("15", choices=BYBIT_INTERVALS)
    loop_delay: float = setting(15.0, lo=0, lo_open=True, hi=3600)
    orderbook_limit: int = setting(50, choices=ORDERBOOK_DEPTHS)
    signal_score_threshold: float = setting(2.0, lo=0, lo_open=True, hi=100)
    cooldown_sec: float = setting(60.0, lo=0, hi=10 ** 7)
    hysteresis_ratio: float = setting(0.85, lo=0, hi=1)
    volume_confirmation_multiplier: float = setting(1.5, lo=1, lo_open=True, hi=100)
    network: str = setting("mainnet", choices=NETWORKS)
    rest_url: str = setting("", doc="only with network custom")
    public_ws_url: str = setting("", doc="only with network custom")
    private_ws_url: str = setting("", doc="only with network custom")
    dry_run: bool = setting(True, doc="paper trading on real public data")
    strategy: StrategySettings = section(StrategySettings)
    trade_management: TradeManagement = section(TradeManagement)
    mtf_analysis: MtfAnalysis = section(MtfAnalysis)
    indicators: IndicatorToggles = section(IndicatorToggles)
    active_weights: ActiveWeights = section(ActiveWeights)
    indicator_settings: IndicatorSettings = section(IndicatorSettings)
    fees: Fees = section(Fees)
    density: Density = section(Density)
    take_profit: TakeProfit = section(TakeProfit)
    risk: Risk = section(Risk)
    safety: Safety = section(Safety)
    alerts: Alerts = section(Alerts)
    logging: Logging = section(Logging)


def to_dict(obj: Any) -> Any:
    """JSON-ready dict of a config (tuples become lists), in field order."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


def replace_path(cfg: Any, path: str, value: Any) -> Any:
    """A copy of a frozen config with one dotted key changed (for tests, demo and benches)."""
    head, _, rest = path.partition(".")
    if not rest:
        if isinstance(value, list):
            value = tuple(value)
        return dataclasses.replace(cfg, **{head: value})
    return dataclasses.replace(cfg, **{head: replace_path(getattr(cfg, head), rest, value)})


DEFAULTS = Config()
