"""The live display: sections, ordering, colours on and off, alignment, a breakdown that adds up."""

from __future__ import annotations

import io
import math
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from colorama import Fore

from whale import logs
from whale.display import (
    BANNER,
    CLOSING,
    UNATTRIBUTED,
    DisplaySnapshot,
    display_name,
    fib_levels,
    fmt_value,
    log_display,
    render,
)
from whale.journal import TradeRecord
from whale.logs import INDICATOR_COLORS, NEON_BLUE, NEON_CYAN, NEON_GREEN, NEON_RED, NEON_YELLOW, RESET

pytestmark = pytest.mark.timeout(60)

INDICATORS = {"rsi": 55.1234567, "ema_short": 65010.25, "sma_long": 64000.0, "stoch_k": 12.5, "psar": 64100.5,
              "psar_dir": 1.0, "st_fast_dir": -1.0, "macd": -12.345678, "plus_di": 25.5, "volatility_index": 0.0012345,
              "fib_high": 66000.0, "fib_low": 64000.0, "kama": 64999.0}
BREAKDOWN = {"EMA_Alignment": 0.22, "Ehlers_SuperTrend_Alignment": -0.55, "RSI_Signal": 0.031, "MACD_Alignment": 0.28,
             "Volume_Delta_Signal": 0.0, "SMA_Trend_Filter": -0.28}


def snapshot(**kw) -> DisplaySnapshot:
    fields = dict(price=Decimal("65000.50"), indicators=INDICATORS,
                  fib_levels={"61.8%": 64764.0, "0.0%": 66000.0, "100.0%": 64000.0, "23.6%": 65528.0},
                  mtf_trends={"240_ema": "DOWN", "60_ema": "UP", "60_ehlers_supertrend": "SIDEWAYS"},
                  breakdown=BREAKDOWN, score=sum(BREAKDOWN.values()), signal=0, positions=[], summary=None,
                  trading_state="ACTIVE", densities=None)
    fields.update(kw)
    return DisplaySnapshot(**fields)


def section(lines: list[str], header: str) -> list[str]:
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def test_the_original_layout_in_order():
    lines = render(snapshot(), colour=False)
    assert lines[0] == BANNER == "--- Current Market Data & Indicators ---"
    assert lines[1] == "Current Price: 65000.5"
    headers = [line for line in lines if line.startswith("---")]
    assert headers == [BANNER, "--- Indicator Values ---", "--- Fibonacci Levels ---", "--- Multi-Timeframe Trends ---",
                       "--- Signal Score Breakdown ---", "--- Open Positions ---", CLOSING]
    assert lines[-1] == CLOSING == "-" * 40 and lines[-2] == "Trading State: ACTIVE"
    assert section(lines, "--- Open Positions ---") == ["  No open positions"]


def test_indicators_use_the_originals_names_sorted():
    lines = section(render(snapshot(), colour=False), "--- Indicator Values ---")
    names = [line.strip().split(":")[0] for line in lines]
    assert names == sorted(names)
    assert names == ["EMA_Short", "KAMA", "MACD_Line", "PSAR_Dir", "PSAR_Val", "PlusDI", "RSI", "SMA_Long",
                     "ST_Fast_Dir", "StochRSI_K", "Volatility_Index"]  # fib_high/low are the Fibonacci section
    values = dict(line.strip().split(": ") for line in lines)
    assert values["RSI"] == "55.123457" and values["PSAR_Dir"] == "1" and values["ST_Fast_Dir"] == "-1"
    assert values["EMA_Short"] == "65010.25" and values["SMA_Long"] == "64000" and values["MACD_Line"] == "-12.345678"
    assert values["Volatility_Index"] == "0.0012345"
    for ours, original in [("ema_short", "EMA_Short"), ("sma_long", "SMA_Long"), ("sma_short", "SMA_10"),
                           ("stoch_k", "StochRSI_K"), ("psar", "PSAR_Val"), ("psar_dir", "PSAR_Dir"),
                           ("st_fast_dir", "ST_Fast_Dir"), ("macd", "MACD_Line"), ("plus_di", "PlusDI"),
                           ("minus_di", "MinusDI"), ("volatility_index", "Volatility_Index"),
                           ("span_a", "Senkou_Span_A"),
                           ("tenkan", "Tenkan_Sen"), ("bb_upper", "BB_Upper"), ("wr", "WR"), ("EMA_Short", "EMA_Short"),
                           ("relative_volume", "Relative_Volume")]:
        assert display_name(ours) == original


def test_fibonacci_by_ratio_and_mtf_by_timeframe():
    lines = render(snapshot(), colour=False)
    assert section(lines, "--- Fibonacci Levels ---") == ["  0.0%: 66000", "  23.6%: 65528", "  61.8%: 64764",
                                                         "  100.0%: 64000"]
    assert section(lines, "--- Multi-Timeframe Trends ---") == ["  60_ehlers_supertrend: SIDEWAYS", "  60_ema: UP",
                                                               "  240_ema: DOWN"]
    levels = fib_levels(66000.0, 64000.0)
    assert list(levels) == ["0.0%", "23.6%", "38.2%", "50.0%", "61.8%", "78.6%", "100.0%"]
    assert levels["50.0%"] == 65000.0 and levels["100.0%"] == 64000.0 and fib_levels(math.nan, 1.0) == {}
    assert "--- Fibonacci Levels ---" not in render(snapshot(fib_levels={}, mtf_trends={}), colour=False)


def _breakdown_rows(lines: list[str]) -> list[tuple[str, str]]:
    rows = section(lines, "--- Signal Score Breakdown ---")
    return [(row[2:].split()[0], row.split()[-1]) for row in rows]


def test_breakdown_sorted_aligned_and_adding_up():
    lines = render(snapshot(), colour=False)
    rows = section(lines, "--- Signal Score Breakdown ---")
    names = [row[2:].split()[0] for row in rows]
    assert names == ["Ehlers_SuperTrend_Alignment", "MACD_Alignment", "SMA_Trend_Filter", "EMA_Alignment",
                     "RSI_Signal", "Volume_Delta_Signal", "Total", "Signal"]
    values = [row.split()[-1] for row in rows[:-1]]
    assert values == ["-0.55", "+0.28", "-0.28", "+0.22", "+0.03", "+0.00", "-0.30"]
    assert rows[-1].split()[-1] == "HOLD"
    # names left-aligned in one field (25 wide, or the longest name), values right-aligned in one column
    assert rows[1].startswith("  MACD_Alignment" + " " * (27 - len("MACD_Alignment")) + " ")
    assert len({len(row) for row in rows[:-1]}) == 1
    short = section(render(snapshot(breakdown={"RSI_Signal": 0.5, "WR_Signal": -0.25}, score=0.25), colour=False),
                    "--- Signal Score Breakdown ---")
    assert short[0] == "  RSI_Signal" + " " * 15 + " +0.50" and short[1] == "  WR_Signal" + " " * 16 + " -0.25"
    assert short[2] == "  Total Score" + " " * 14 + " +0.25"


def test_the_breakdown_always_adds_up_to_the_total_shown():
    snap = snapshot()
    assert sum(snap.breakdown.values()) == pytest.approx(snap.score)
    assert UNATTRIBUTED not in "\n".join(render(snap, colour=False))
    # a total the contributions do not explain shows the rest as its own row
    lines = render(snapshot(breakdown={"RSI_Signal": 0.5, "WR_Signal": -0.25}, score=1.0, signal="BUY"), colour=False)
    rows = section(lines, "--- Signal Score Breakdown ---")
    assert rows[0].split() == [UNATTRIBUTED, "+0.75"]
    shown = [float(row.split()[-1]) for row in rows[:3]]
    assert sum(shown) == pytest.approx(1.0) and rows[3].split()[-1] == "+1.00" and rows[4].split()[-1] == "BUY"
    warming = section(render(snapshot(breakdown={}, score=math.nan), colour=False), "--- Signal Score Breakdown ---")
    assert warming == ["  (no contributions)", "  Total Score" + " " * 14 + " n/a (warming up)",
                       "  Signal" + " " * 19 + " HOLD"]


def test_colours_on_and_off():
    plain = render(snapshot(), colour=False)
    assert all("\x1b" not in line for line in plain)
    lines = render(snapshot(), colour=True)
    assert lines[0] == f"{NEON_BLUE}{BANNER}{RESET}" and lines[-1] == f"{NEON_BLUE}{CLOSING}{RESET}"
    assert lines[1] == f"{NEON_GREEN}Current Price: 65000.5{RESET}"
    assert lines[2] == f"{NEON_CYAN}--- Indicator Values ---{RESET}"
    for line in lines[3:14]:
        name = logs.strip_ansi(line).strip().split(":")[0]
        assert line.startswith(INDICATOR_COLORS.get(name, NEON_YELLOW) + "  " + name)
    assert INDICATOR_COLORS["RSI"] == Fore.GREEN and f"{Fore.GREEN}  RSI: 55.123457{RESET}" in lines
    assert f"{NEON_YELLOW}  KAMA: 64999{RESET}" in lines  # not an original key: NEON_YELLOW
    rows = {logs.strip_ansi(line).split()[0]: line for line in lines if "_" in line and ("+" in line or "-0" in line)}
    assert f"{NEON_RED}-0.55{RESET}" in rows["Ehlers_SuperTrend_Alignment"]
    assert f"{NEON_GREEN}+0.28{RESET}" in rows["MACD_Alignment"]
    assert f"{NEON_YELLOW}+0.00{RESET}" in rows["Volume_Delta_Signal"]
    assert f"  240_ema: {NEON_RED}DOWN{RESET}" in lines and f"  60_ema: {NEON_GREEN}UP{RESET}" in lines
    assert [logs.strip_ansi(line) for line in lines] == plain


def test_positions_state_densities_and_summary():
    trade = TradeRecord(id="wb-1", symbol="BTCUSDT", side="Sell", qty=Decimal("0.010"), network="testnet", mode="paper",
                        strategy="density", entry_time=0, entry_price=Decimal("65100"), stop_loss=Decimal("65050"),
                        take_profit=Decimal("64000"), stop_kind=1, breakeven_done=True)
    adopted = {"side": "Buy", "qty": 0.5, "entry_price": 64000.0, "stop_loss": None, "take_profit": None,
               "unrealised_pnl": -1.5, "adopted": True}
    densities = [{"price": 64800.0, "side": "bid", "size": 12.5, "notional": 810000.0, "age_sec": 45.2,
                  "erosion_percent": 12.34}]
    summary = {"trades": 4, "open": 1, "wins": 3, "losses": 1, "win_rate": 0.75, "total_pnl": 12.5, "avg_pnl": 3.125,
               "fees": 0.9, "funding": 0.02, "profit_factor": 3.5, "max_drawdown": 0.02, "max_drawdown_usdt": 20.0}
    lines = render(snapshot(positions=[trade, adopted], densities=densities, summary=summary,
                            trading_state="halted"), colour=False)
    assert section(lines, "--- Open Positions ---") == [
        "  Sell 0.01 BTCUSDT @ 65100 | SL 65050 (break-even) | TP 64000 | uPnL +0.99 USDT",
        "  Buy 0.5 @ 64000 | SL n/a (initial) | TP n/a | uPnL -1.50 USDT | adopted"]
    assert "Trading State: HALTED" in lines
    assert section(lines, "--- Densities ---") == ["  bid 64800 | size 12.5 (810,000 USDT) | age 45s | erosion 12.3%"]
    i = lines.index("--- Performance Summary ---")
    assert lines[i + 1] == "Trades: 4 (open: 1) | Wins: 3 | Losses: 1 | Win rate: 75.00%"
    assert lines[i + 4] == "Profit factor: 3.50 | Max drawdown: 2.00% (20.00 USDT)" and lines[-1] == CLOSING
    assert lines.index("Trading State: HALTED") < lines.index("--- Densities ---") < i
    empty = render(snapshot(densities=[], trading_state="EMERGENCY"), colour=True)
    assert f"{NEON_YELLOW}  No stable densities{RESET}" in empty
    assert f"Trading State: {NEON_RED}EMERGENCY{RESET}" in empty


def test_from_decision_and_log_display():
    decision = SimpleNamespace(score=0.5, signal=1, breakdown={"RSI_Signal": 0.5},
                               indicators={"rsi": 61.0, "fib_high": 110.0, "fib_low": 100.0})
    snap = DisplaySnapshot.from_decision(decision, price=105.25, mtf_trends={"60_ema": "UP"})
    assert snap.fib_levels["50.0%"] == 105.0 and snap.signal == 1 and snap.trading_state == "ACTIVE"
    stream = io.StringIO()
    log = logs.setup_logging(logs.Logging(file=""), stream=stream, color=False)
    try:
        lines = log_display(log, snap)
    finally:
        logs.shutdown_logging()
    out = stream.getvalue().splitlines()
    assert len(out) == len(lines) and "\x1b" not in stream.getvalue()
    assert [re.sub(r"^\S+ - INFO - ", "", line) for line in out] == [logs.strip_ansi(x) for x in lines]
    assert any(line.endswith("  Signal                    BUY") for line in out)


@pytest.mark.parametrize("value, text", [
    (None, "n/a"), (math.nan, "n/a"), (Decimal("65000.500"), "65000.5"), (Decimal("1E+3"), "1000"), (-0.0, "0"),
    (1.0, "1"), (0.000123456789, "0.00012345679"), (123456789.25, "123456789"), (-5.5, "-5.5"), (7, "7"),
])
def test_number_format(value, text):
    assert fmt_value(value) == text


# ----------------------------------------------------------------------------------------------
# Issue 11 item 10: the sticky signal says it is sticky; negative PnL is red; fees with the
# instrument's precision.


def test_a_signal_held_by_hysteresis_says_so():
    from whale.display import signal_text

    lines = render(snapshot(score=-0.46, breakdown={"EMA_Alignment": -0.46}, signal=1, threshold=2.0), colour=False)
    assert "  Signal                    BUY (held by hysteresis; entry needs |score| >= 2.00)" in lines
    assert signal_text(1, 2.3, 2.0) == "BUY"  # a strong signal is just itself
    assert signal_text(-1, -0.5, 1.0) == "SELL (held by hysteresis; entry needs |score| >= 1.00)"
    assert signal_text(0, 0.4, 1.0) == "HOLD"
    assert signal_text(1, 0.4, None) == "BUY"  # no threshold known: nothing to explain


def test_negative_pnl_is_red_in_the_summary_and_fees_use_the_instruments_places():
    from whale.journal import format_summary_lines

    summary = {"trades": 13, "open": 0, "wins": 6, "losses": 7, "win_rate": 6 / 13, "total_pnl": -62.9,
               "avg_pnl": -4.84, "fees": 37.25419876, "funding": 0.58012345, "profit_factor": 0.35,
               "max_drawdown": 0.0653, "max_drawdown_usdt": 65.28}
    lines = format_summary_lines(summary, colour=True, money_places=2)
    pnl = next(line for line in lines if "Total PnL" in line)
    assert pnl.startswith(NEON_RED) and "-62.90 USDT" in pnl
    plain = format_summary_lines(summary, colour=False, money_places=2)
    assert "Fees: 37.25 USDT | Funding: 0.58 USDT" in plain
    assert "Fees: 37.2542 USDT | Funding: 0.5801 USDT" in format_summary_lines(summary, colour=False, money_places=4)
    win = format_summary_lines(dict(summary, total_pnl=5.0, avg_pnl=0.4), colour=True)
    assert next(line for line in win if "Total PnL" in line).startswith(NEON_GREEN)


def test_a_closed_trade_prints_fees_and_funding_with_the_instruments_places():
    from whale.journal import describe_trade

    t = TradeRecord(id="wb-1", status="closed", symbol="BTCUSDT", side="Buy", qty=Decimal("0.028"), network="custom",
                    mode="demo", strategy="indicators", entry_time="2025-06-01T00:00:00Z",
                    exit_time="2025-06-01T01:00:00Z",
                    entry_price=Decimal("105060.60"), exit_price=Decimal("104706.80"), reason="stop_loss",
                    pnl=Decimal("-13.14"), fees=Decimal("3.23041796"), funding=Decimal("0.29563324"))
    text = describe_trade(t, money_places=2)
    assert text.endswith("PnL -13.14 USDT (fees 3.23, funding 0.30)"), text


# ----------------------------------------------------------------------------------------------
# The compact console line (issue 11 items 4 and 9): one line per candle, or per heartbeat; a row
# per symbol plus an account part.


def _trade(side="Buy", qty="0.028", entry="105060.60"):
    return TradeRecord(id="wb-1", symbol="BTCUSDT", side=side, qty=Decimal(qty), network="custom", mode="demo",
                       strategy="indicators", entry_time=0, entry_price=Decimal(entry), stop_loss=Decimal("104706.70"),
                       take_profit=Decimal("105507.70"))


def test_the_compact_candle_line_has_time_price_score_signal_position_and_state():
    from whale.display import AccountLine, render_compact, symbol_row

    d = SimpleNamespace(ts=1_750_000_500_000 - 900_000, score=-0.46, signal=1, cooled=False, ready=True)
    row = symbol_row("BTCUSDT", "15", 104700.5, decision=d, trade=_trade(), threshold=2.0, price_places=2)
    lines = render_compact([row], AccountLine("ACTIVE", closed_pnl=-13.14), colour=False)
    assert lines == ["BTCUSDT 15m 2025-06-15 15:15 | 104,700.50 | score -0.46 BUY (held; entry at |score| >= 2.00) | "
                     "long 0.028 @ 105,060.60 uPnL -10.08 | ACTIVE, closed PnL -13.14 USDT"]
    flat = symbol_row("BTCUSDT", "15", 104700.5, decision=SimpleNamespace(ts=d.ts, score=2.5, signal=1, cooled=False,
                                                                          ready=True), threshold=2.0, price_places=2)
    coloured = render_compact([flat], AccountLine("HALTED"), colour=True)[0]
    assert f"{NEON_GREEN}BUY{RESET}" in coloured and f"{NEON_YELLOW}HALTED{RESET}" in coloured
    assert "| flat |" in coloured
    warm = symbol_row("BTCUSDT", "15", 100.0, decision=SimpleNamespace(ts=d.ts, score=math.nan, signal=0, cooled=False,
                                                                       ready=False), price_places=2)
    assert "| warming up |" in render_compact([warm], AccountLine("ACTIVE"), colour=False)[0]


def test_a_red_upnl_and_several_symbols_get_an_account_line():
    from whale.display import AccountLine, render_compact, symbol_row

    d = SimpleNamespace(ts=1_750_000_500_000, score=1.2, signal=0, cooled=True, ready=True)
    rows = [symbol_row("BTCUSDT", "15", 104700.5, decision=d, trade=_trade(), price_places=2),
            symbol_row("ETHUSDT", "15", 2526.59, decision=d, price_places=2)]
    lines = render_compact(rows, AccountLine("ACTIVE", closed_pnl=2.5, open_positions=1), colour=True)
    assert len(lines) == 3 and lines[0].startswith("BTCUSDT 15m") and lines[1].startswith("ETHUSDT 15m")
    assert f"uPnL {NEON_RED}-10.08{RESET}" in lines[0] and "HOLD (cooldown)" in lines[1]
    assert logs.strip_ansi(lines[2]) == "Account: ACTIVE | closed PnL +2.50 USDT | 1 open position"


def test_the_heartbeat_line_says_price_position_state_and_stream_health():
    from whale.display import AccountLine, render_heartbeat, symbol_row

    row = symbol_row("BTCUSDT", "15", 104700.5, trade=_trade("Sell"), price_places=2)
    line = render_heartbeat([row], AccountLine("ACTIVE", streams={"public": 0.42, "private": 12.0}, stale=("private",)),
                            colour=False)
    assert line == ["Heartbeat: BTCUSDT 104,700.50 | short 0.028 @ 105,060.60 uPnL +10.08 | ACTIVE | streams: public "
                    "0.4 s ago, private 12 s ago (stale)"]
    quiet = render_heartbeat([symbol_row("BTCUSDT", "15", None, price_places=2)],
                             AccountLine("HALTED", streams={"public": None}), colour=False)[0]
    assert quiet == "Heartbeat: BTCUSDT n/a | flat | HALTED | streams: public no data yet"
