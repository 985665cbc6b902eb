"""The live display: the original's `display_indicator_values_and_price` look, as text.

    snap = DisplaySnapshot.from_decision(decision, price=last_price, mtf_trends={"60_ema": "UP"},
                                         positions=tracker.open_trades(), summary=tracker.summary(),
                                         trading_state="ACTIVE", densities=None)
    log_display(log, snap)                    # one INFO line each, coloured on the console
    lines = render(snap, colour=False)        # or the plain lines

It only formats what the loop already computed (the original rebuilt an analyzer for it). Sections,
in order: banner, current price, indicator values (the original's key names, sorted, each in its
INDICATOR_COLORS colour), Fibonacci levels (by ratio), multi-timeframe trends, the score
breakdown (by absolute contribution, descending; it always adds up to the total shown), total
score and signal, open positions, trading state, densities (when given), performance summary
(when given), closing dashed line.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from whale.indicators.structure import FIB_RATIOS
from whale.journal import STOP_KIND_NAMES, format_summary_lines
from whale.logs import NEON_BLUE, NEON_CYAN, NEON_GREEN, NEON_RED, NEON_YELLOW, RESET, indicator_color
from whale.market.intervals import interval_ms, label
from whale.strategy.finaliser import SIGNAL_NAMES

BANNER = "--- Current Market Data & Indicators ---"
CLOSING = "-" * len(BANNER)
NAME_WIDTH = 25  # the original's breakdown name field; longer names widen it for that display
UNATTRIBUTED = "(unattributed)"

# Our feature names -> the original's indicator keys (docs/original.md#indicator-keys-and-colours);
# others are title-cased.
DISPLAY_NAMES: dict[str, str] = {
    "sma_short": "SMA_10", "sma_long": "SMA_Long", "ema_short": "EMA_Short", "ema_long": "EMA_Long",
    "atr": "ATR", "rsi": "RSI", "stoch_k": "StochRSI_K", "stoch_d": "StochRSI_D",
    "bb_upper": "BB_Upper", "bb_middle": "BB_Middle", "bb_lower": "BB_Lower",
    "cci": "CCI", "wr": "WR", "mfi": "MFI", "obv": "OBV", "obv_ema": "OBV_EMA", "obv_gap": "OBV_Gap",
    "cmf": "CMF", "tenkan": "Tenkan_Sen", "kijun": "Kijun_Sen", "span_a": "Senkou_Span_A",
    "span_b": "Senkou_Span_B", "chikou": "Chikou_Span", "psar": "PSAR_Val", "psar_dir": "PSAR_Dir",
    "vwap": "VWAP", "st_fast_dir": "ST_Fast_Dir", "st_fast_val": "ST_Fast_Val", "st_slow_dir": "ST_Slow_Dir",
    "st_slow_val": "ST_Slow_Val", "macd": "MACD_Line", "macd_signal": "MACD_Signal", "macd_hist": "MACD_Hist",
    "adx": "ADX", "plus_di": "PlusDI", "minus_di": "MinusDI", "volatility_index": "Volatility_Index",
    "volume_delta": "Volume_Delta", "vwma": "VWMA", "volume_avg": "Volume_Avg", "mtf_net": "MTF_Net",
    "kama": "KAMA", "dema": "DEMA", "keltner_upper": "Keltner_Upper", "keltner_lower": "Keltner_Lower",
    "roc": "ROC", "relative_volume": "Relative_Volume", "market_structure": "Market_Structure",
    "candle_signal": "Candlestick_Pattern", "pivot": "Pivot_P", "pivot_r1": "Pivot_R1", "pivot_r2": "Pivot_R2",
    "pivot_s1": "Pivot_S1", "pivot_s2": "Pivot_S2", "book_imbalance": "Orderbook_Imbalance", "density": "Density",
}
# Shown as the Fibonacci section (level 0% is the window's high, 100% its low), not as values.
HIDDEN_FEATURES = frozenset(("fib_high", "fib_low"))
TREND_COLOURS = {"UP": NEON_GREEN, "DOWN": NEON_RED}
STATE_COLOURS = {"ACTIVE": NEON_GREEN, "HALTED": NEON_YELLOW, "REDUCING": NEON_YELLOW, "EMERGENCY": NEON_RED}
SIGNAL_COLOURS = {"BUY": NEON_GREEN, "SELL": NEON_RED}


def display_name(feature: str) -> str:
    """The original's key for one of our feature names ('ema_short' -> 'EMA_Short'); a name that
    is already one of the original's keys, or unknown, is kept / title-cased by its parts."""
    if feature in DISPLAY_NAMES:
        return DISPLAY_NAMES[feature]
    if any(c.isupper() for c in feature):
        return feature
    return "_".join(part.capitalize() for part in feature.split("_"))


def fmt_value(value: Any, digits: int = 8) -> str:
    """A number for people: Decimals exact, whole floats without decimals (directions show as 1 / -1),
    other floats to `digits` significant digits without an exponent; NaN / None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else "n/a"
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    x = float(value)
    if not math.isfinite(x):
        return "n/a"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    decimals = min(12, max(0, digits - 1 - math.floor(math.log10(abs(x)))))
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fib_levels(high: float, low: float) -> dict[str, float]:
    """Retracement levels of a window's high and low, keyed as the original ("0.0%" ... "100.0%")."""
    if not (math.isfinite(high) and math.isfinite(low)) or high < low:
        return {}
    span = high - low
    return {f"{r * 100:.1f}%": high - span * r for r in FIB_RATIOS}


@dataclass
class DisplaySnapshot:
    """What one display shows. `indicators` are keyed by our feature names or the original's keys;
    `fib_levels` by "23.6%"-style labels (or ratios); `mtf_trends` as {"60_ema": "UP"};
    `breakdown` by scorer name; `signal` "BUY"/"SELL"/"HOLD" (or 1/-1/0); `positions` TradeRecords
    or dicts (side, qty, entry_price, stop_loss, take_profit, stop_kind, unrealised_pnl, ...);
    `densities` dicts (price, side, size, notional, age_sec, erosion_percent) or None to leave
    the section out."""

    price: Decimal | float | None
    indicators: Mapping[str, Any] = field(default_factory=dict)
    fib_levels: Mapping[Any, Any] = field(default_factory=dict)
    mtf_trends: Mapping[str, str] = field(default_factory=dict)
    breakdown: Mapping[str, float] = field(default_factory=dict)
    score: float = math.nan
    signal: str | int = "HOLD"
    positions: Sequence[Any] = ()
    summary: Mapping[str, Any] | None = None
    trading_state: str = "ACTIVE"
    densities: Sequence[Mapping[str, Any]] | None = None
    threshold: float | None = None  # signal_score_threshold: says when a signal is only held by hysteresis
    money_places: int = 2  # decimals of USDT amounts (the instrument's price scale)

    @classmethod
    def from_decision(cls, decision: Any, *, price: Decimal | float | None, **kwargs: Any) -> DisplaySnapshot:
        """From the Analyzer's Decision (score, signal, breakdown, indicators); the Fibonacci levels
        come from its fib_high / fib_low. Other fields as keywords."""
        ind = dict(decision.indicators)
        kwargs.setdefault("fib_levels", fib_levels(ind.get("fib_high", math.nan), ind.get("fib_low", math.nan)))
        return cls(price=price, indicators=ind, breakdown=dict(decision.breakdown), score=decision.score,
                   signal=decision.signal, **kwargs)


# ----------------------------------------------------------------------------------------------
# Rendering


def _paint(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{RESET}" if on and colour else text


def _signed_colour(x: float) -> str:
    return NEON_GREEN if x > 0 else NEON_RED if x < 0 else NEON_YELLOW


def _fib_ratio(key: Any) -> float:
    if isinstance(key, str):
        text = key.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            return math.inf
    return float(key)


def _mtf_order(key: str) -> tuple[float, str]:
    """Shorter timeframes first ("60_ema" before "240_ema" before "D_sma"), then by method."""
    interval, _, method = str(key).partition("_")
    try:
        return float(interval_ms(interval)), method
    except ValueError:
        return math.inf, str(key)


def _get(item: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value is not None:
            return value
    return default


def _signal_name(signal: Any) -> str:
    if isinstance(signal, str):
        return signal.upper()
    return SIGNAL_NAMES.get(int(signal), str(signal))


def held_by_hysteresis(signal: Any, score: float, threshold: float | None) -> bool:
    """A BUY (SELL) whose score is below the threshold: kept from the candles before by the
    finaliser's hysteresis (docs/strategy.md), not strong enough to enter on."""
    name = _signal_name(signal)
    if threshold is None or name not in ("BUY", "SELL") or not math.isfinite(score):
        return False
    return score < threshold if name == "BUY" else score > -threshold


def signal_text(signal: Any, score: float, threshold: float | None, *, short: bool = False) -> str:
    """'BUY', or 'BUY (held by hysteresis; entry needs |score| >= 2.00)' when the score alone would
    not give it: the sticky signal is by design, and the display says so. `short` for the compact line."""
    name = _signal_name(signal)
    if not held_by_hysteresis(signal, score, threshold):
        return name
    if short:
        return f"{name} (held; entry at |score| >= {threshold:.2f})"
    return f"{name} (held by hysteresis; entry needs |score| >= {threshold:.2f})"


def render(snap: DisplaySnapshot, *, colour: bool = True) -> list[str]:
    """The display's lines; with `colour` False there is no ANSI code in them."""
    c = colour
    out = [_paint(BANNER, NEON_BLUE, c), _paint(f"Current Price: {fmt_value(snap.price)}", NEON_GREEN, c)]
    out += _indicator_lines(snap, c)
    if snap.fib_levels:
        out.append(_paint("--- Fibonacci Levels ---", NEON_CYAN, c))
        for key in sorted(snap.fib_levels, key=_fib_ratio):
            out.append(_paint(f"  {key}: {fmt_value(snap.fib_levels[key])}", NEON_YELLOW, c))
    if snap.mtf_trends:
        out.append(_paint("--- Multi-Timeframe Trends ---", NEON_CYAN, c))
        for key in sorted(snap.mtf_trends, key=_mtf_order):
            trend = str(snap.mtf_trends[key])
            out.append(f"  {key}: " + _paint(trend, TREND_COLOURS.get(trend.upper(), NEON_YELLOW), c))
    out += _breakdown_lines(snap, c)
    out += _position_lines(snap, c)
    state = str(snap.trading_state).upper()
    out.append("Trading State: " + _paint(state, STATE_COLOURS.get(state, NEON_YELLOW), c))
    if snap.densities is not None:
        out += _density_lines(snap.densities, c)
    if snap.summary is not None:
        out += format_summary_lines(snap.summary, colour=c, money_places=snap.money_places)
    out.append(_paint(CLOSING, NEON_BLUE, c))
    return out


def _indicator_lines(snap: DisplaySnapshot, c: bool) -> list[str]:
    out = [_paint("--- Indicator Values ---", NEON_CYAN, c)]
    named = {display_name(k): v for k, v in snap.indicators.items() if k not in HIDDEN_FEATURES}
    if not named:
        out.append("  n/a (warming up)")
    for name in sorted(named):
        out.append(_paint(f"  {name}: {fmt_value(named[name])}", indicator_color(name), c))
    return out


def _breakdown_lines(snap: DisplaySnapshot, c: bool) -> list[str]:
    items = {str(k): float(v) for k, v in snap.breakdown.items()}
    score = float(snap.score) if snap.score is not None else math.nan
    if math.isfinite(score) and abs(score - sum(items.values())) > 1e-9:
        items[UNATTRIBUTED] = score - sum(items.values())  # the section always adds up to the total
    ordered = sorted(items.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    texts = [f"{v:+.2f}" for _, v in ordered] + ([f"{score:+.2f}"] if math.isfinite(score) else [])
    value_width = max((len(t) for t in texts), default=5)
    width = max([NAME_WIDTH] + [len(k) for k in items])
    out = [_paint("--- Signal Score Breakdown ---", NEON_CYAN, c)]
    if not ordered:
        out.append("  (no contributions)")
    for name, value in ordered:
        out.append(f"  {name:<{width}} " + _paint(f"{value:>+{value_width}.2f}", _signed_colour(value), c))
    if math.isfinite(score):
        total = _paint(f"{score:>+{value_width}.2f}", _signed_colour(score), c)
    else:
        total = _paint("n/a (warming up)", NEON_YELLOW, c)
    out.append(f"  {'Total Score':<{width}} " + total)
    signal = _signal_name(snap.signal)
    text = signal_text(snap.signal, score, snap.threshold)
    out.append(f"  {'Signal':<{width}} " + _paint(text, SIGNAL_COLOURS.get(signal, NEON_YELLOW), c))
    return out


def _position_lines(snap: DisplaySnapshot, c: bool) -> list[str]:
    out = [_paint("--- Open Positions ---", NEON_CYAN, c)]
    if not snap.positions:
        out.append(_paint("  No open positions", NEON_YELLOW, c))
    for pos in snap.positions:
        side = str(_get(pos, "side", default="?"))
        qty, entry = _get(pos, "qty", "size"), _get(pos, "entry_price", "avg_price")
        kind = _get(pos, "stop_kind", default=0)
        stop_state = STOP_KIND_NAMES.get(kind) or str(kind)
        symbol = _get(pos, "symbol", default="")
        head = _paint(f"{side} {fmt_value(qty)}{' ' + symbol if symbol else ''} @ {fmt_value(entry)}",
                      NEON_GREEN if side == "Buy" else NEON_RED if side == "Sell" else "", c)
        parts = [head, f"SL {fmt_value(_get(pos, 'stop_loss'))} ({stop_state})",
                 f"TP {fmt_value(_get(pos, 'take_profit'))}"]
        upnl = _unrealised(pos, snap.price)
        if upnl is not None:
            parts.append("uPnL " + _paint(f"{upnl:+.2f} USDT", _signed_colour(upnl), c))
        if _get(pos, "adopted", default=False):
            parts.append("adopted")
        out.append("  " + " | ".join(parts))
    return out


def _unrealised(pos: Any, price: Any) -> float | None:
    given = _get(pos, "unrealised_pnl", "unrealized_pnl", "unrealisedPnl")
    if given is not None:
        return float(given)
    qty, entry, side = _get(pos, "qty", "size"), _get(pos, "entry_price", "avg_price"), _get(pos, "side")
    if price is None or qty is None or entry is None or side not in ("Buy", "Sell"):
        return None
    value = (float(price) - float(entry)) * float(qty) * (1.0 if side == "Buy" else -1.0)
    return value if math.isfinite(value) else None


def _density_lines(densities: Sequence[Mapping[str, Any]], c: bool) -> list[str]:
    out = [_paint("--- Densities ---", NEON_CYAN, c)]
    if not densities:
        out.append(_paint("  No stable densities", NEON_YELLOW, c))
    for d in densities:
        side = str(_get(d, "side", default="?"))
        bid = side.lower() in ("bid", "buy")
        parts = [_paint(f"{side} {fmt_value(_get(d, 'price'))}", NEON_GREEN if bid else NEON_RED, c),
                 f"size {fmt_value(_get(d, 'size', 'volume'))}"]
        notional = _get(d, "notional")
        if notional is not None:
            parts[-1] += f" ({float(notional):,.0f} USDT)"
        age = _get(d, "age_sec", "age")
        if age is not None:
            parts.append(f"age {float(age):.0f}s")
        erosion = _get(d, "erosion_percent", "erosion")
        if erosion is not None:
            parts.append(f"erosion {float(erosion):.1f}%")
        out.append("  " + " | ".join(parts))
    return out


def log_display(logger: logging.Logger, snap: DisplaySnapshot, *, colour: bool = True,
                level: int = logging.INFO, extra: Mapping[str, object] | None = None) -> list[str]:
    """Log the display one line per record. Colour codes are kept by default: the whalebot
    console handler shows them on a terminal and strips them elsewhere; the log file never has them.
    `extra=whale.logs.FILE_ONLY` keeps it out of the console."""
    lines = render(snap, colour=colour)
    if logger.isEnabledFor(level):
        for line in lines:
            logger.log(level, line, extra=extra)
    return lines


# ----------------------------------------------------------------------------------------------
# The compact console: one line per candle (and a heartbeat when candles are far apart). A row per
# symbol plus the account's part; with one symbol they share a line.


@dataclass(frozen=True)
class SymbolRow:
    """One symbol's state for the compact line: its candle (None for a heartbeat), price, decision
    and position. Build it with `symbol_row`."""

    symbol: str
    interval: str
    price: Decimal | float | None
    close_ms: int | None = None  # the decided candle's close (market time)
    score: float = math.nan
    signal: str | int = "HOLD"
    threshold: float | None = None
    cooled: bool = False
    ready: bool = True
    side: str | None = None  # the open position's "Buy" / "Sell"
    qty: Any = None
    entry: Any = None
    upnl: float | None = None
    price_places: int = 2


@dataclass(frozen=True)
class AccountLine:
    """The account's part: trading state, closed PnL, open positions; for a heartbeat the seconds since
    each stream's last message (None: nothing yet) and which streams are stale."""

    state: str
    closed_pnl: float | None = None
    open_positions: int | None = None
    streams: Mapping[str, float | None] | None = None
    stale: Sequence[str] = ()
    money_places: int = 2


def symbol_row(symbol: str, interval: str, price: Decimal | float | None, *, decision: Any = None, trade: Any = None,
               threshold: float | None = None, price_places: int = 2) -> SymbolRow:
    """A SymbolRow from the Analyzer's Decision (ts, score, signal, cooled, ready; None for a heartbeat)
    and the open trade (a TradeRecord or a dict with side, qty, entry_price; None when flat)."""
    fields: dict[str, Any] = {}
    if decision is not None:
        fields = dict(close_ms=int(decision.ts) + interval_ms(interval), score=float(decision.score),
                      signal=decision.signal, cooled=bool(decision.cooled), ready=bool(decision.ready))
    if trade is not None:
        fields.update(side=str(_get(trade, "side", default="?")), qty=_get(trade, "qty", "size"),
                      entry=_get(trade, "entry_price", "avg_price"), upnl=_unrealised(trade, price))
    return SymbolRow(symbol, interval, price, threshold=threshold, price_places=price_places, **fields)


def render_compact(rows: Sequence[SymbolRow], account: AccountLine, *, colour: bool = True) -> list[str]:
    """The candle line: `BTCUSDT 15m 2025-06-15 15:15 | 104,700.50 | score -0.46 BUY | long 0.028 @ ... uPnL
    -10.09 | ACTIVE, closed PnL -13.14 USDT`. One row shares its line with the account; several rows
    get a line each and an `Account:` line."""
    c = colour
    texts = [" | ".join([_row_head(r), _price_text(r), _decision_text(r, c), _position_text(r, c)]) for r in rows]
    if len(rows) == 1:
        return [texts[0] + " | " + ", ".join(_account_parts(account, c, many=False))]
    return texts + ["Account: " + " | ".join(_account_parts(account, c, many=True))]


def render_heartbeat(rows: Sequence[SymbolRow], account: AccountLine, *, colour: bool = True) -> list[str]:
    """The heartbeat between candles: `Heartbeat: BTCUSDT 104,700.50 | flat | ACTIVE | streams: public
    0.4 s ago, private 12 s ago` (one line per symbol when there are several, then the account)."""
    c = colour
    texts = [f"{r.symbol} {_price_text(r)} | {_position_text(r, c)}" for r in rows]
    tail = [_paint(account.state, STATE_COLOURS.get(account.state.upper(), NEON_YELLOW), c), _streams_text(account, c)]
    if len(rows) == 1:
        return ["Heartbeat: " + " | ".join([texts[0], *tail])]
    return [f"Heartbeat: {t}" for t in texts] + ["Heartbeat: " + " | ".join(tail)]


def _row_head(r: SymbolRow) -> str:
    from datetime import UTC, datetime

    head = f"{r.symbol} {label(r.interval)}"
    if r.close_ms is not None:
        head += " " + datetime.fromtimestamp(r.close_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    return head


def _number(value: Any, places: int) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):,.{places}f}"


def _price_text(r: SymbolRow) -> str:
    return _number(r.price, r.price_places)


def _decision_text(r: SymbolRow, c: bool) -> str:
    if not r.ready:
        return "warming up"
    name = _signal_name(r.signal)
    if r.cooled:
        text = f"{name} (cooldown)"
    else:
        text = signal_text(r.signal, r.score, r.threshold, short=True)
    score = f"{r.score:+.2f}" if math.isfinite(r.score) else "n/a"
    return f"score {score} " + _paint(text, SIGNAL_COLOURS.get(name, NEON_YELLOW), c)


def _position_text(r: SymbolRow, c: bool) -> str:
    if r.side is None:
        return "flat"
    side = {"Buy": "long", "Sell": "short"}.get(r.side, r.side)
    text = f"{side} {fmt_value(r.qty)} @ {_number(r.entry, r.price_places)}"
    if r.upnl is not None:
        text += " uPnL " + _paint(f"{r.upnl:+.2f}", _signed_colour(r.upnl), c)
    return text


def _account_parts(a: AccountLine, c: bool, many: bool) -> list[str]:
    parts = [_paint(a.state, STATE_COLOURS.get(a.state.upper(), NEON_YELLOW), c)]
    if a.closed_pnl is not None:
        parts.append("closed PnL " + _paint(f"{a.closed_pnl:+.{a.money_places}f}", _signed_colour(a.closed_pnl), c)
                     + " USDT")
    if many and a.open_positions is not None:
        n = a.open_positions
        parts.append(f"{n} open position{'' if n == 1 else 's'}")
    return parts


def _streams_text(a: AccountLine, c: bool) -> str:
    if not a.streams:
        return "streams: n/a"
    parts = []
    for name, age in a.streams.items():
        if age is None:
            text = f"{name} no data yet"
        else:
            text = f"{name} {age:.1f} s ago" if age < 10 else f"{name} {age:.0f} s ago"
        if name in a.stale:
            text = _paint(text + " (stale)", NEON_RED, c)
        parts.append(text)
    return "streams: " + ", ".join(parts)
