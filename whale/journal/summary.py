"""Numbers and text about trades: the performance summary (the backtest's formulas) and its coloured
console lines, and the one-line description of a trade for logs and alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np

from whale.backtest.metrics import max_drawdown, trade_stats
from whale.journal.records import STOP_KIND_NAMES, TradeRecord, decimal_text
from whale.logs import NEON_CYAN, NEON_GREEN, NEON_RED, NEON_YELLOW, RESET


def summarize(closed: Sequence[TradeRecord], *, open_count: int, start_balance: Decimal | None) -> dict:
    """Statistics of closed trades (whale.backtest.metrics). max_drawdown is a fraction of the peak of
    the closed-trade equity curve that starts at `start_balance`; without one it is None and only
    max_drawdown_usdt (over cumulative PnL) is given. A zero PnL is neither win nor loss."""
    # A closed trade always has its pnl (TradeRecord checks it); the filter only tells mypy so.
    net = np.array([float(t.pnl) for t in closed if t.pnl is not None], dtype=np.float64)
    out = trade_stats(net)
    curve = np.concatenate([[0.0], np.cumsum(net)])
    if start_balance is None:
        out["max_drawdown"], out["max_drawdown_usdt"] = None, max_drawdown(curve)[1]
    else:
        out["max_drawdown"], out["max_drawdown_usdt"] = max_drawdown(curve + float(start_balance))
    out["fees"] = float(sum((t.fees for t in closed), Decimal(0)))
    out["funding"] = float(sum((t.funding for t in closed), Decimal(0)))
    out["open"] = open_count
    out["start_balance"] = None if start_balance is None else float(start_balance)
    return out


def _paint(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{RESET}" if on else text


def format_summary_lines(summary: Mapping, *, colour: bool = True, title: str = "Performance Summary",
                         money_places: int = 2) -> list[str]:
    """The console summary in the original's cyan/yellow look (the display uses it too). The PnL line
    is green in profit, red at a loss; fees and funding have `money_places` decimals (the
    instrument's price scale, so BTCUSDT's fees read 3.23, not 3.23041796)."""
    pf = summary.get("profit_factor")
    trades = int(summary.get("trades", 0))
    pf_text = f"{pf:.2f}" if pf is not None else ("n/a (no losses)" if trades else "n/a")
    dd = summary.get("max_drawdown")
    dd_usdt = float(summary.get("max_drawdown_usdt", 0.0))
    dd_text = f"{dd * 100:.2f}% ({dd_usdt:.2f} USDT)" if dd is not None else f"{dd_usdt:.2f} USDT"
    total = float(summary.get("total_pnl", 0.0))
    fees, funding, m = float(summary.get("fees", 0.0)), float(summary.get("funding", 0.0)), money_places
    rows = [
        (f"--- {title} ---", NEON_YELLOW),
        (f"Trades: {trades} (open: {int(summary.get('open', 0))}) | Wins: {summary.get('wins', 0)} | "
         f"Losses: {summary.get('losses', 0)} | Win rate: {float(summary.get('win_rate', 0.0)) * 100:.2f}%", NEON_CYAN),
        (f"Total PnL: {total:+.2f} USDT | Avg PnL: {float(summary.get('avg_pnl', 0.0)):+.2f} USDT",
         pnl_colour(round(total, 2))),
        (f"Fees: {fees:.{m}f} USDT | Funding: {funding:.{m}f} USDT", NEON_CYAN),
        (f"Profit factor: {pf_text} | Max drawdown: {dd_text}", NEON_YELLOW),
    ]
    return [_paint(text, c, colour) for text, c in rows]


def pnl_colour(value: float) -> str:
    """Green for a profit, red for a loss, yellow for zero: every summary colours PnL the same way."""
    return NEON_GREEN if value > 0 else NEON_RED if value < 0 else NEON_YELLOW


def describe_trade(record: TradeRecord, money_places: int = 2) -> str:
    """One line for logs and alerts: 'BTCUSDT Buy 0.01 @ 65000.5 -> 65500 (take_profit), PnL +4.49 USDT
    (fees 0.65, funding 0.00)', amounts with `money_places` decimals (the instrument's price scale)."""
    head = f"{record.symbol} {record.side} {decimal_text(record.qty)} @ {decimal_text(record.entry_price)}"
    if record.is_pending:
        return f"{head} (pending: sent as {record.entry_order_link_id}, fill not confirmed)"
    if record.is_open:
        sl = decimal_text(record.stop_loss) if record.stop_loss is not None else "none"
        tp = decimal_text(record.take_profit) if record.take_profit is not None else "none"
        extra = " (adopted)" if record.adopted else ""
        return f"{head}, SL {sl} ({STOP_KIND_NAMES[record.stop_kind]}), TP {tp}{extra}"
    exit_price = decimal_text(record.exit_price) if record.exit_price is not None else "none"
    return (f"{head} -> {exit_price} ({record.reason}), "
            f"PnL {record.pnl:+.2f} USDT (fees {record.fees:.{money_places}f}, "
            f"funding {record.funding:.{money_places}f})")
