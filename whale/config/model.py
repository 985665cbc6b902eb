"""The config model: every key, its type, its default and its allowed range, in one place.

`config.json` in the repository is `to_dict(Config())` (a test checks it), so the defaults
cannot drift. Field metadata (`lo`, `hi`, `choices`, `doc`) drives validation in
`whale.config.loader`; nothing else hard-codes a default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

EXCHANGES: tuple[str, ...] = ("bybit",)
"""Exchanges `exchange.name` may name; a second exchange is one more entry here (and its venue package)."""
BYBIT_INTERVALS: tuple[str, ...] = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
NETWORKS: tuple[str, ...] = ("mainnet", "testnet", "demo-trading", "custom")
STRATEGY_MODES: tuple[str, ...] = ("indicators", "density", "combined")
MTF_METHODS: tuple[str, ...] = ("sma", "ema", "ehlers_supertrend")
ORDERBOOK_DEPTHS: tuple[int, ...] = (1, 50, 200, 1000)
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
ALERT_EVENTS: tuple[str, ...] = ("entry", "exit", "halt", "error", "reduce", "emergency", "info")
WHEN_CAPPED: tuple[str, ...] = ("shrink", "skip")


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
    account_balance: float = setting(1000.0, lo=0, lo_open=True,
                                     doc="start balance of paper trading and backtests (USDT)")
    risk_per_trade_percent: float = setting(1.0, lo=0, hi=100, lo_open=True, doc="% of equity risked per trade")
    stop_loss_atr_multiple: float = setting(1.5, lo=0, lo_open=True, doc="SL distance in ATR")
    take_profit_atr_multiple: float = setting(2.0, lo=0, lo_open=True, doc="TP distance in ATR")
    max_open_positions: int = setting(3, lo=1, hi=100, doc=(
        "open positions of the account (every symbol, also ones Whalebot did not open) at which no new entry is "
        "made; one symbol holds at most one position (one-way mode), so a one-symbol config behaves as with 1"))
    enable_trailing_stop: bool = setting(True, doc="trail the stop behind the price once armed")
    trailing_stop_atr_multiple: float = setting(0.8, lo=0, lo_open=True, doc="trailing distance in ATR")
    break_even_atr_trigger: float = setting(0.5, lo=0, doc="profit in ATR that arms the trailing stop")
    move_to_breakeven_atr_trigger: float = setting(1.0, lo=0,
                                                   doc="profit in ATR that moves the stop to entry (0 = off)")
    profit_lock_in_atr_multiple: float = setting(0.5, lo=0, doc=(
        "after break-even, stop follows the close at this ATR distance (0 = off)"))
    close_on_opposite_signal: bool = setting(True, doc="close an open position on a strong opposite signal")
    reverse_position_on_opposite_signal: bool = setting(False, doc=(
        "after that close, open the opposite side (needs close_on_opposite_signal)"))
    leverage: float = setting(5.0, lo=1, hi=200, doc="leverage set at start; also caps position size")


@dataclass(frozen=True)
class MtfAnalysis:
    enabled: bool = setting(True, doc="score higher-timeframe trend confluence (MTF_Trend_Confluence)")
    higher_timeframes: tuple[str, ...] = setting(("60", "240"), item_choices=BYBIT_INTERVALS, doc=(
        "Bybit intervals, each longer than interval (one that is not is ignored, with a warning)"))
    trend_indicators: tuple[str, ...] = setting(("ema", "ehlers_supertrend"), item_choices=MTF_METHODS, doc=(
        "trend methods run on each higher timeframe: sma, ema, ehlers_supertrend"))
    trend_period: int = setting(50, lo=2, hi=1000, doc="SMA/EMA length on the higher timeframe")
    mtf_request_delay_seconds: float = setting(0.5, lo=0, hi=60, doc="pause between higher-timeframe REST fetches")


@dataclass(frozen=True)
class IndicatorToggles:
    ema_alignment: bool = setting(True, doc="EMA_Alignment: short EMA vs long EMA")
    sma_trend_filter: bool = setting(True, doc="SMA_Trend_Filter: close vs long SMA")
    momentum: bool = setting(True, doc="gate for RSI/StochRSI/CCI/WR/MFI")
    volume_confirmation: bool = setting(True, doc="volume confirmation filter (halves a score on weak volume)")
    stoch_rsi: bool = setting(True, doc="StochRSI_Signal (needs momentum)")
    rsi: bool = setting(True, doc="RSI_Signal (needs momentum)")
    bollinger_bands: bool = setting(True, doc="Bollinger_Bands_Signal")
    vwap: bool = setting(True, doc="VWAP_Signal (daily VWAP)")
    cci: bool = setting(True, doc="CCI_Signal (needs momentum)")
    wr: bool = setting(True, doc="WR_Signal, Williams %R (needs momentum)")
    psar: bool = setting(True, doc="PSAR_Signal, Parabolic SAR")
    sma_10: bool = setting(True, doc="SMA_10_Signal: close vs short SMA")
    mfi: bool = setting(True, doc="MFI_Signal (needs momentum)")
    orderbook_imbalance: bool = setting(True, doc="Orderbook_Imbalance (live only)")
    fibonacci_levels: bool = setting(True, doc="Fibonacci_Levels_Signal")
    ehlers_supertrend: bool = setting(True, doc="Ehlers_SuperTrend_Alignment (fast and slow SuperTrend)")
    macd: bool = setting(True, doc="MACD_Alignment")
    adx: bool = setting(True, doc="ADX_Strength")
    ichimoku_cloud: bool = setting(True, doc="Ichimoku_Confluence")
    obv: bool = setting(True, doc="OBV_Momentum")
    cmf: bool = setting(True, doc="CMF_Flow")
    volatility_index: bool = setting(True, doc="Volatility_Index_Signal")
    vwma: bool = setting(True, doc="VWMA_Cross")
    volume_delta: bool = setting(True, doc="Volume_Delta_Signal")
    kaufman_ama: bool = setting(False, doc="KAMA cross (extended set)")
    relative_volume: bool = setting(False, doc="relative volume confirmation (extended set)")
    market_structure: bool = setting(False, doc="market structure confluence (extended set)")
    dema: bool = setting(False, doc="DEMA crossover (extended set; needs ema_alignment)")
    keltner_channels: bool = setting(False, doc="Keltner breakout (extended set)")
    roc: bool = setting(False, doc="ROC signal (extended set)")
    candlestick_patterns: bool = setting(False, doc="candlestick confirmation (extended set)")
    fibonacci_pivot_points: bool = setting(False, doc="Fibonacci pivot points confluence (extended set)")
    adx_trend_multiplier: bool = setting(False, doc="scale trend scorers by ADX strength (docs/original.md)")


@dataclass(frozen=True)
class ActiveWeights:
    ema_alignment: float = setting(0.22, doc="weight of EMA_Alignment")
    sma_trend_filter: float = setting(0.28, doc="weight of SMA_Trend_Filter")
    momentum_rsi_stoch_cci_wr_mfi: float = setting(0.18, doc=(
        "one weight for the momentum block (RSI, StochRSI, CCI, WR, MFI)"))
    bollinger_bands: float = setting(0.22, doc="weight of Bollinger_Bands_Signal")
    vwap: float = setting(0.22, doc="weight of VWAP_Signal")
    psar: float = setting(0.22, doc="weight of PSAR_Signal")
    sma_10: float = setting(0.07, doc="weight of SMA_10_Signal")
    orderbook_imbalance: float = setting(0.07, doc="weight of Orderbook_Imbalance")
    fibonacci_levels: float = setting(0.10, doc="weight of Fibonacci_Levels_Signal (the key the original lacked)")
    ehlers_supertrend_alignment: float = setting(0.55, doc="weight of Ehlers_SuperTrend_Alignment")
    macd_alignment: float = setting(0.28, doc="weight of MACD_Alignment")
    adx_strength: float = setting(0.18, doc="weight of ADX_Strength")
    ichimoku_confluence: float = setting(0.38, doc="weight of Ichimoku_Confluence")
    obv_momentum: float = setting(0.18, doc="weight of OBV_Momentum")
    cmf_flow: float = setting(0.12, doc="weight of CMF_Flow")
    mtf_trend_confluence: float = setting(0.32, doc="weight of MTF_Trend_Confluence")
    volatility_index_signal: float = setting(0.15, doc="weight of Volatility_Index_Signal")
    vwma_cross: float = setting(0.15, doc="weight of VWMA_Cross")
    volume_delta_signal: float = setting(0.10, doc="weight of Volume_Delta_Signal")
    density_signal: float = setting(0.25, doc="weight of Density_Signal (strategy.mode combined)")
    kaufman_ama_cross: float = setting(0.18, doc="weight of the KAMA cross")
    relative_volume_confirmation: float = setting(0.10, doc="weight of relative volume confirmation")
    market_structure_confluence: float = setting(0.25, doc="weight of market structure confluence")
    dema_crossover: float = setting(0.15, doc="weight of the DEMA crossover")
    keltner_breakout: float = setting(0.18, doc="weight of the Keltner breakout")
    roc_signal: float = setting(0.10, doc="weight of the ROC signal")
    candlestick_confirmation: float = setting(0.15, doc="weight of candlestick confirmation")
    fibonacci_pivot_points_confluence: float = setting(0.18, doc="weight of Fibonacci pivot points confluence")


@dataclass(frozen=True)
class IndicatorSettings:
    atr_period: int = setting(14, lo=1, hi=1000, doc="ATR length (Wilder smoothing)")
    ema_short_period: int = setting(9, lo=1, hi=1000, doc="short EMA length")
    ema_long_period: int = setting(21, lo=1, hi=1000, doc="long EMA length")
    rsi_period: int = setting(14, lo=2, hi=1000, doc="RSI length (Wilder smoothing)")
    stoch_rsi_period: int = setting(14, lo=2, hi=1000, doc="Stochastic window over RSI")
    stoch_k_period: int = setting(3, lo=1, hi=100, doc="StochRSI %K smoothing (SMA)")
    stoch_d_period: int = setting(3, lo=1, hi=100, doc="StochRSI %D smoothing (SMA of %K)")
    bollinger_bands_period: int = setting(20, lo=2, hi=1000, doc="Bollinger middle band SMA length")
    bollinger_bands_std_dev: float = setting(2.0, lo=0, lo_open=True, hi=10,
                                             doc="Bollinger band width in standard deviations")
    cci_period: int = setting(20, lo=2, hi=1000, doc="CCI length")
    williams_r_period: int = setting(14, lo=2, hi=1000, doc="Williams %R length")
    mfi_period: int = setting(14, lo=2, hi=1000, doc="MFI length")
    psar_acceleration: float = setting(0.02, lo=0, lo_open=True, hi=1, doc="Parabolic SAR acceleration step")
    psar_max_acceleration: float = setting(0.2, lo=0, lo_open=True, hi=1, doc="Parabolic SAR acceleration cap")
    sma_short_period: int = setting(10, lo=1, hi=1000, doc="short SMA length (SMA_10)")
    sma_long_period: int = setting(50, lo=1, hi=1000, doc="long SMA length (trend filter)")
    fibonacci_window: int = setting(60, lo=2, hi=5000, doc="candles whose high/low span the Fibonacci levels")
    ehlers_fast_period: int = setting(10, lo=2, hi=500, doc="fast Ehlers SuperTrend smoothing length")
    ehlers_fast_multiplier: float = setting(2.0, lo=0, lo_open=True, hi=20,
                                            doc="fast Ehlers SuperTrend band width (x smoothed true range)")
    ehlers_slow_period: int = setting(20, lo=2, hi=500,
                                      doc="slow Ehlers SuperTrend smoothing length (also the MTF SuperTrend)")
    ehlers_slow_multiplier: float = setting(3.0, lo=0, lo_open=True, hi=20,
                                            doc="slow Ehlers SuperTrend band width (x smoothed true range)")
    macd_fast_period: int = setting(12, lo=1, hi=1000, doc="MACD fast EMA length")
    macd_slow_period: int = setting(26, lo=2, hi=1000, doc="MACD slow EMA length")
    macd_signal_period: int = setting(9, lo=1, hi=1000, doc="MACD signal EMA length")
    adx_period: int = setting(14, lo=2, hi=1000, doc="ADX / DI length (Wilder smoothing)")
    ichimoku_tenkan_period: int = setting(9, lo=1, hi=1000, doc="Ichimoku Tenkan-sen window")
    ichimoku_kijun_period: int = setting(26, lo=1, hi=1000, doc="Ichimoku Kijun-sen window (also the cloud shift)")
    ichimoku_senkou_span_b_period: int = setting(52, lo=1, hi=1000, doc="Ichimoku Senkou Span B window")
    ichimoku_chikou_span_offset: int = setting(26, lo=1, hi=1000, doc="candles back that the Chikou span compares with")
    obv_ema_period: int = setting(20, lo=1, hi=1000, doc="EMA length over OBV")
    cmf_period: int = setting(20, lo=1, hi=1000, doc="Chaikin Money Flow length")
    rsi_oversold: float = setting(30.0, lo=0, hi=100, doc="RSI oversold level")
    rsi_overbought: float = setting(70.0, lo=0, hi=100, doc="RSI overbought level")
    stoch_rsi_oversold: float = setting(20.0, lo=0, hi=100, doc="StochRSI oversold level")
    stoch_rsi_overbought: float = setting(80.0, lo=0, hi=100, doc="StochRSI overbought level")
    cci_oversold: float = setting(-100.0, lo=-1000, hi=1000, doc="CCI oversold level")
    cci_overbought: float = setting(100.0, lo=-1000, hi=1000, doc="CCI overbought level")
    williams_r_oversold: float = setting(-80.0, lo=-100, hi=0, doc="Williams %R oversold level")
    williams_r_overbought: float = setting(-20.0, lo=-100, hi=0, doc="Williams %R overbought level")
    mfi_oversold: float = setting(20.0, lo=0, hi=100, doc="MFI oversold level")
    mfi_overbought: float = setting(80.0, lo=0, hi=100, doc="MFI overbought level")
    volatility_index_period: int = setting(20, lo=1, hi=1000, doc="SMA length of ATR / close")
    vwma_period: int = setting(20, lo=1, hi=1000, doc="VWMA length")
    volume_delta_period: int = setting(5, lo=1, hi=1000, doc="candles in the volume delta")
    volume_delta_threshold: float = setting(0.2, lo=0, hi=1, doc="|volume delta| that counts as strong")
    volume_confirmation_period: int = setting(20, lo=1, hi=1000,
                                              doc="candles in the volume average of volume confirmation")
    ADX_STRONG_TREND_THRESHOLD: float = setting(25.0, lo=0, hi=100, doc="ADX above this is a strong trend")
    ADX_WEAK_TREND_THRESHOLD: float = setting(20.0, lo=0, hi=100, doc="ADX below this is a weak trend")
    kama_period: int = setting(10, lo=1, hi=1000, doc="KAMA efficiency-ratio length")
    kama_fast_period: int = setting(2, lo=1, hi=1000, doc="KAMA fastest smoothing length")
    kama_slow_period: int = setting(30, lo=1, hi=1000, doc="KAMA slowest smoothing length")
    relative_volume_period: int = setting(20, lo=1, hi=1000, doc="candles in the relative-volume average")
    relative_volume_threshold: float = setting(1.5, lo=0, lo_open=True, hi=100,
                                               doc="relative volume that confirms a move")
    market_structure_lookback_period: int = setting(20, lo=2, hi=1000,
                                                    doc="candles per market-structure window (two windows compared)")
    dema_period: int = setting(14, lo=1, hi=1000, doc="DEMA length")
    keltner_period: int = setting(20, lo=1, hi=1000, doc="Keltner middle EMA length")
    keltner_atr_multiplier: float = setting(2.0, lo=0, lo_open=True, hi=20, doc="Keltner band width in ATR")
    roc_period: int = setting(12, lo=1, hi=1000, doc="rate-of-change length")
    roc_oversold: float = setting(-5.0, lo=-100, hi=100, doc="ROC oversold level (%)")
    roc_overbought: float = setting(5.0, lo=-100, hi=100, doc="ROC overbought level (%)")


@dataclass(frozen=True)
class Fees:
    taker_rate: float = setting(0.00055, lo=0, hi=0.05, doc="fraction of notional per taker fill")
    maker_rate: float = setting(0.0002, lo=-0.01, hi=0.05, doc="fraction of notional per maker fill")
    slippage_rate: float = setting(0.0001, lo=0, hi=0.05, doc=(
        "adverse price move on market fills, fraction (candles and the synthetic book; on a recorded book the walk "
        "alone decides, see backtest.latency_ms)"))
    funding_rate_8h: float = setting(0.0001, lo=-0.05, hi=0.05,
                                     doc="paid by longs (received by shorts) every 8 h when > 0")


@dataclass(frozen=True)
class Backtest:
    latency_ms: int = setting(100, lo=0, hi=10_000, doc=(
        "on recorded order books (sim --book, backtest --book): a market order sent at time t takes the book as "
        "it stands at t + this (ms); stops and targets, which the exchange triggers itself, take it as it stands "
        "at the trade that triggers them"))


@dataclass(frozen=True)
class Density:
    book_depth: int = setting(200, choices=ORDERBOOK_DEPTHS, doc="order book depth subscribed for density detection")
    depth_percent: float = setting(1.0, lo=0, lo_open=True, hi=50,
                                   doc="band around the mid price searched for densities (%)")
    multiplier: float = setting(5.0, lo=1, hi=1000,
                                doc="a density rests at least this x the median level size in the band")
    min_notional: float = setting(50000.0, lo=0, doc="least quote value of a density (USDT)")
    min_lifetime_sec: float = setting(30.0, lo=0, hi=86400,
                                      doc="a density counts once it has lived this long (spoof filter)")
    breakout_erosion_percent: float = setting(30.0, lo=0, lo_open=True, hi=100, doc=(
        "breakout entry once a stable density near the price has eroded this much (%)"))
    breakout_min_stop_loss_percent: float = setting(0.1, lo=0, hi=50,
                                                    doc="breakout stop at least this far behind the density (%)")
    breakout_breakeven_profit_percent: float = setting(0.5, lo=0, hi=100,
                                                       doc="breakout stop to break-even at this profit (%)")
    bounce_touch_tolerance_percent: float = setting(0.2, lo=0, hi=50, doc=(
        "bounce entry when the price comes this close to a stable density (%)"))
    bounce_stop_loss_behind_density_percent: float = setting(0.3, lo=0, hi=50,
                                                             doc="bounce stop this far behind the density (%)")
    bounce_density_erosion_exit_percent: float = setting(65.0, lo=0, lo_open=True, hi=100, doc=(
        "bounce exit when the density erodes this much (%) or disappears"))


@dataclass(frozen=True)
class TakeProfit:
    enabled: bool = setting(True, doc="advanced exits, checked on every tick")
    min_profit_percent: float = setting(0.1, lo=0, hi=100, doc=(
        "advanced take-profit exits act from this profit on, net of a market round trip's fees and slippage (%)"))
    momentum_slowdown: bool = setting(True, doc="exit when the price velocity slows (see the velocity keys)")
    counter_density: bool = setting(True, doc="exit on a density ahead of the price, against the position")
    aggressive_reversal: bool = setting(True, doc="exit on aggressive counter-flow (taker volume or an imbalance jump)")
    return_to_range: bool = setting(True, doc="exit a breakout that falls back behind its density or broken extreme")
    velocity_slowdown_threshold: float = setting(0.5, lo=0, hi=10, doc=(
        "slowdown when short-window velocity < this x long-window velocity"))
    velocity_short_window_sec: float = setting(3.0, lo=0, lo_open=True, hi=3600, doc="short velocity window (s)")
    velocity_long_window_sec: float = setting(15.0, lo=0, lo_open=True, hi=86400, doc="long velocity window (s)")
    imbalance_change_threshold: float = setting(2.0, lo=0, lo_open=True, hi=100, doc=(
        "bid/ask imbalance jump, x its recent average, that counts as aggressive"))
    volume_history_window_sec: float = setting(10.0, lo=0, lo_open=True, hi=86400,
                                               doc="window of the bid/ask volume history (s)")
    local_extrema_window_min: float = setting(60.0, lo=0, lo_open=True, hi=10080,
                                              doc="window of the local high/low a breakout broke (minutes)")


@dataclass(frozen=True)
class Risk:
    max_total_exposure_percent: float = setting(300.0, lo=0, lo_open=True, hi=100000,
                                                doc="total position notional after an entry, at most this % of equity")
    max_book_impact_percent: float = setting(10.0, lo=0, lo_open=True, hi=100,
                                             doc="an order takes at most this % of the book depth near the price")
    impact_depth_percent: float = setting(0.5, lo=0, lo_open=True, hi=50,
                                          doc="band around the price (%) whose depth counts for the impact check")
    when_capped: str = setting("shrink", choices=WHEN_CAPPED, doc=(
        "an entry whose risk needs more than a cap on size allows (maxOrderQty, trade_management.leverage with "
        "the fees to open and close, max_total_exposure_percent, max_correlated_exposure_percent): shrink takes the "
        "largest size the caps allow (risking less, and the log says so), skip does not enter"))
    correlation_lookback: int = setting(500, lo=20, hi=10000, doc=(
        "candles of interval over which the correlation of two symbols' log returns is measured (500 x 15m is "
        "about 5 days; one REST request per symbol loads it)"))
    correlation_threshold: float = setting(0.7, lo=0, hi=1, doc=(
        "two symbols whose return correlation is above this are one bet for positions on the same side (below "
        "minus this: on opposite sides); 1 switches the group cap off"))
    max_correlated_exposure_percent: float = setting(200.0, lo=0, lo_open=True, hi=100000, doc=(
        "notional of a correlated group of positions after an entry, at most this % of equity"))


@dataclass(frozen=True)
class Safety:
    check_interval_sec: float = setting(30.0, lo=1, hi=86400, doc="safety monitor period (s)")
    min_balance_usdt: float = setting(100.0, lo=0, doc="EMERGENCY when the balance falls below this (USDT)")
    daily_loss_limit_percent: float = setting(5.0, lo=0, lo_open=True, hi=100,
                                              doc="HALTED after losing this % of equity in a day")
    max_drawdown_soft_percent: float = setting(10.0, lo=0, lo_open=True, hi=100,
                                               doc="REDUCING beyond this drawdown (%)")
    max_drawdown_hard_percent: float = setting(20.0, lo=0, lo_open=True, hi=100,
                                               doc="EMERGENCY beyond this drawdown (%)")
    stale_stream_sec: float = setting(30.0, lo=1, hi=86400, doc="HALTED when a stream has been silent this long (s)")


@dataclass(frozen=True)
class Alerts:
    webhook_url_env: str = setting("WHALEBOT_WEBHOOK_URL",
                                   doc="name of the environment variable holding the webhook URL")
    events: tuple[str, ...] = setting(("entry", "exit", "halt", "error"), item_choices=ALERT_EVENTS,
                                      doc="events sent to the webhook")


@dataclass(frozen=True)
class Logging:
    level: str = setting("INFO", choices=LOG_LEVELS, doc="log level of console and file")
    file: str = setting("logs/whalebot.log", doc="rotating log file (its directory is created); empty: no log file")
    max_bytes: int = setting(10 * 1024 * 1024, lo=1024, hi=10 * 1024 ** 3,
                             doc="rotate the log file at this size (bytes)")
    backups: int = setting(5, lo=0, hi=1000, doc="rotated log files kept")


@dataclass(frozen=True)
class Exchange:
    """The exchange account the bot connects to (one connection for all symbols)."""

    name: str = setting("bybit", choices=EXCHANGES, doc="the exchange (its venue package)")
    network: str = setting("mainnet", choices=NETWORKS,
                           doc="mainnet, testnet, demo-trading (Bybit's demo host) or custom (the three URLs)")
    rest_url: str = setting("", doc="only with network custom")
    public_ws_url: str = setting("", doc="only with network custom")
    private_ws_url: str = setting("", doc="only with network custom")


class Overrides(Mapping[str, Mapping[str, Any]]):
    """Per-symbol settings over the top level: symbol -> the keys it sets differently, nested as in
    `config.json` (`{"ETHUSDT": {"trade_management": {"leverage": 3}}}`).

    Immutable and hashable like the rest of `Config`; kept as (dotted path, value) pairs so that
    `Config.for_symbol` applies them with `replace_path`. The loader validates them (docs/config.md);
    one built in code is applied as given.
    """

    __slots__ = ("_items",)

    def __init__(self, data: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        items: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
        for symbol, settings in (data or {}).items():
            leaves: list[tuple[str, Any]] = []
            _flatten(settings, "", leaves)
            items.append((symbol, tuple(leaves)))
        self._items: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = tuple(items)

    @classmethod
    def from_paths(cls, items: Mapping[str, Iterable[tuple[str, Any]]]) -> Overrides:
        """Overrides from symbol -> (dotted path, value) pairs."""
        return cls({symbol: _nest(tuple(leaves)) for symbol, leaves in items.items()})

    def paths(self, symbol: str) -> tuple[tuple[str, Any], ...]:
        """The (dotted path, value) pairs `symbol` overrides, in the order written."""
        return next((leaves for s, leaves in self._items if s == symbol), ())

    def __getitem__(self, symbol: str) -> Mapping[str, Any]:
        for s, leaves in self._items:
            if s == symbol:
                return _nest(leaves)
        raise KeyError(symbol)

    def __iter__(self) -> Iterator[str]:
        return (s for s, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Overrides):
            return self._items == other._items
        return isinstance(other, Mapping) and self == Overrides(other)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Overrides({ {s: self[s] for s in self}!r})"


def _flatten(value: Any, path: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(sub, f"{path}.{key}" if path else str(key), out)
    elif path:
        out.append((path, tuple(value) if isinstance(value, list) else value))


def _nest(leaves: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in leaves:
        *parents, key = path.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass(frozen=True)
class Config:
    symbols: tuple[str, ...] = setting(("BTCUSDT",), doc=(
        "linear USDT perpetuals traded on the one account, each listed once"))
    interval: str = setting("15", choices=BYBIT_INTERVALS, doc="primary candle interval, a Bybit interval string")
    loop_delay: float = setting(15.0, lo=0, lo_open=True, hi=3600,
                                doc="longest wait of the main loop between two passes (s)")
    orderbook_limit: int = setting(50, choices=ORDERBOOK_DEPTHS, doc=(
        "order-book depth: REST limit, WebSocket orderbook.{depth} topic, imbalance scorer"))
    signal_score_threshold: float = setting(2.0, lo=0, lo_open=True, hi=100,
                                            doc="absolute score needed for a BUY/SELL signal and for an entry")
    cooldown_sec: float = setting(60.0, lo=0, hi=10 ** 7,
                                  doc="least time between two non-HOLD signals, in candle time (s)")
    hysteresis_ratio: float = setting(0.85, lo=0, hi=1, doc=(
        "after a positive score BUY holds while the score stays above -threshold x ratio (SELL mirrored)"))
    volume_confirmation_multiplier: float = setting(1.5, lo=1, lo_open=True, hi=100, doc=(
        "volume confirmation: the score is halved unless volume beats its average x this"))
    dry_run: bool = setting(True, doc="paper trading on real public data")
    exchange: Exchange = section(Exchange)
    strategy: StrategySettings = section(StrategySettings)
    trade_management: TradeManagement = section(TradeManagement)
    mtf_analysis: MtfAnalysis = section(MtfAnalysis)
    indicators: IndicatorToggles = section(IndicatorToggles)
    active_weights: ActiveWeights = section(ActiveWeights)
    indicator_settings: IndicatorSettings = section(IndicatorSettings)
    fees: Fees = section(Fees)
    backtest: Backtest = section(Backtest)
    density: Density = section(Density)
    take_profit: TakeProfit = section(TakeProfit)
    risk: Risk = section(Risk)
    safety: Safety = section(Safety)
    alerts: Alerts = section(Alerts)
    logging: Logging = section(Logging)
    overrides: Overrides = setting(Overrides(), doc=(
        "per-symbol settings over the ones above: symbol -> an object of strategy and risk keys, nested as "
        "above; account-wide keys cannot be overridden (see Symbols, exchange and overrides)"))

    @property
    def symbol(self) -> str:
        """The single-symbol view: the first of `symbols` (a `for_symbol` config has just its own)."""
        return self.symbols[0]

    @property
    def network(self) -> str:
        return self.exchange.network

    @property
    def rest_url(self) -> str:
        return self.exchange.rest_url

    @property
    def public_ws_url(self) -> str:
        return self.exchange.public_ws_url

    @property
    def private_ws_url(self) -> str:
        return self.exchange.private_ws_url

    def for_symbol(self, symbol: str) -> Config:
        """The effective config of one symbol: the top level with its overrides applied, `symbols`
        just that symbol (so `.symbol` is it) and no overrides left. The loader has validated it."""
        if symbol not in self.symbols:
            raise ValueError(f"{symbol!r} is not one of the config's symbols ({', '.join(self.symbols)})")
        cfg = dataclasses.replace(self, symbols=(symbol,), overrides=Overrides())
        for path, value in self.overrides.paths(symbol):
            cfg = replace_path(cfg, path, value)
        return cfg


ACCOUNT_WIDE: dict[str, str] = {
    "symbols": "it is the account's list of symbols",
    "overrides": "overrides do not nest",
    "exchange": "one connection to one exchange account serves every symbol",
    "interval": "one loop closes every symbol's candles together, and correlation compares the symbols' "
                "candles at common times",
    "loop_delay": "one loop serves every symbol",
    "dry_run": "the account trades either on paper or for real",
    "trade_management.account_balance": "one wallet (paper trading and backtests) serves every symbol",
    "trade_management.max_open_positions": "it counts the open positions of every symbol",
    "mtf_analysis.mtf_request_delay_seconds": "it paces the account's REST requests, which share one rate budget",
    "risk.max_total_exposure_percent": "it caps the notional of every open position against the account's equity",
    "risk.max_correlated_exposure_percent": "it caps a group of symbols, not one symbol",
    "risk.correlation_lookback": "two symbols have one correlation, whichever of them enters",
    "risk.correlation_threshold": "two symbols have one correlation, whichever of them enters",
    "safety": "the safety monitor watches the account's equity: drawdown, daily loss and the emergency close act "
              "on every symbol",
    "alerts": "one webhook serves the account",
    "logging": "one log serves the process",
    "backtest.latency_ms": "one connection to the exchange carries every symbol's orders",
}
"""Keys (dotted paths; a section covers its keys) that `overrides` may not set, and why: they are
the account's or the loop's, not one symbol's. Everything else may differ per symbol."""


MOVED: dict[str, str] = {
    "symbol": "symbols",
    "network": "exchange.network",
    "rest_url": "exchange.rest_url",
    "public_ws_url": "exchange.public_ws_url",
    "private_ws_url": "exchange.private_ws_url",
}
"""Top-level keys that moved for multi-symbol accounts -> where they live now. `replace_path` takes
the old spelling (code written for one symbol keeps working); a config file with them loads with a
deprecation warning each (whale.config.legacy). `symbol` becomes a one-symbol `symbols` list."""


def to_dict(obj: Any) -> Any:
    """JSON-ready dict of a config (tuples become lists), in field order."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Overrides):
        return {symbol: obj[symbol] for symbol in obj}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


def replace_path(cfg: Any, path: str, value: Any) -> Any:
    """A copy of a frozen config with one dotted key changed (for tests, demo and benches).

    A moved key (`MOVED`: "symbol", "network", ...) is accepted at its old top-level path;
    "overrides" takes a plain nested dict."""
    if isinstance(cfg, Config) and path in MOVED:
        value = [value] if path == "symbol" else value
        path = MOVED[path]
    head, _, rest = path.partition(".")
    if not rest:
        if isinstance(value, list):
            value = tuple(value)
        if head == "overrides" and not isinstance(value, Overrides):
            value = Overrides(value)
        return dataclasses.replace(cfg, **{head: value})
    return dataclasses.replace(cfg, **{head: replace_path(getattr(cfg, head), rest, value)})


DEFAULTS = Config()
