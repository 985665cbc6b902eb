"""Writing a backtest's results: report.json, trades.csv, signals.csv and equity.png."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from whale.backtest.simulate import (
    BACKTEST_EXIT_REASONS,
    T_BALANCE,
    T_ENTRY_PRICE,
    T_ENTRY_TS,
    T_EXIT_PRICE,
    T_EXIT_TS,
    T_FEES,
    T_FUNDING,
    T_GROSS,
    T_INIT_STOP,
    T_NET,
    T_QTY,
    T_REASON,
    T_SIDE,
    T_SYMBOL,
    T_TARGET,
)
from whale.strategy.finaliser import SIGNAL_NAMES


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_report_json(path: Path, report: dict) -> None:
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")


def write_trades_csv(path: Path, trades: np.ndarray, symbols: tuple[str, ...], price_decimals: list[int],
                     qty_decimals: list[int]) -> None:
    """One row per trade in closing order; prices and quantities with each symbol's decimals."""
    header = ("symbol,trade,side,entry_time,exit_time,entry_price,exit_price,qty,initial_stop,target,"
              "gross_pnl,fees,funding,net_pnl,exit_reason,balance_after\n")
    lines = [header]
    for n, t in enumerate(trades, start=1):
        s = int(t[T_SYMBOL])
        pf, qf = f"{{:.{price_decimals[s]}f}}", f"{{:.{qty_decimals[s]}f}}"
        lines.append(",".join((
            symbols[s], str(n), "long" if t[T_SIDE] > 0 else "short", iso(int(t[T_ENTRY_TS])), iso(int(t[T_EXIT_TS])),
            pf.format(t[T_ENTRY_PRICE]), pf.format(t[T_EXIT_PRICE]), qf.format(t[T_QTY]),
            pf.format(t[T_INIT_STOP]), pf.format(t[T_TARGET]), f"{t[T_GROSS]:.6f}", f"{t[T_FEES]:.6f}",
            f"{t[T_FUNDING]:.6f}", f"{t[T_NET]:.6f}", BACKTEST_EXIT_REASONS[int(t[T_REASON])],
            f"{t[T_BALANCE]:.6f}",
        )) + "\n")
    path.write_text("".join(lines))


SIGNALS_HEADER = "symbol,timestamp_ms,score,signal\n"


def signals_csv_text(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """One row per closed candle and symbol: the symbol, the candle's open time, the score (empty during
    warm-up) and the finaliser's BUY / SELL / HOLD; in time order, symbols in the run's fixed order at
    equal times. `rows`: (symbol, ts, scores, signals) per symbol. The live bot writes the same rows."""
    parts = []
    for k, (symbol, ts, scores, signals) in enumerate(rows):
        parts.append((ts, np.full(len(ts), k), [symbol] * len(ts), scores.tolist(), signals.tolist()))
    if not parts:
        return SIGNALS_HEADER
    ts_all = np.concatenate([p[0] for p in parts])
    sym_all = np.concatenate([p[1] for p in parts])
    order = np.lexsort((sym_all, ts_all))
    names = [x for p in parts for x in p[2]]
    scores_all = [x for p in parts for x in p[3]]
    signals_all = [x for p in parts for x in p[4]]
    ts_list = ts_all.tolist()
    out = [signal_row(names[i], ts_list[i], scores_all[i], signals_all[i]) for i in order.tolist()]
    return SIGNALS_HEADER + "".join(out)


def signal_row(symbol: str, ts_ms: int, score: float, signal: int) -> str:
    """One row of signals.csv with its symbol (the header SIGNALS_HEADER)."""
    return f"{symbol}," + format_signal_row(ts_ms, score, signal)


def format_signal_row(ts_ms: int, score: float, signal: int) -> str:
    """A row's candle part: the open time, the score (empty while warming up) and the signal."""
    score_txt = "" if score != score else f"{score:.10f}"
    return f"{ts_ms},{score_txt},{SIGNAL_NAMES[int(signal)]}\n"


def plot_equity(path: Path, ts: np.ndarray, equity: np.ndarray, drawdown: np.ndarray, title: str,
                contributions: dict[str, np.ndarray] | None = None) -> None:
    """The account's equity curve with the drawdown underneath and, for several symbols, each one's
    contribution (its net result so far, open PnL included) between them; long runs are thinned to
    about 4,000 points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    step = max(1, math.ceil(len(ts) / 4000))
    when = (ts[::step] // 1000).astype("datetime64[s]")
    parts = contributions if contributions and len(contributions) > 1 else None
    rows = 3 if parts else 2
    ratios = [3, 2, 1] if parts else [3, 1]
    fig, axes = plt.subplots(rows, 1, figsize=(11, 8 if parts else 6), sharex=True,
                             gridspec_kw={"height_ratios": ratios})
    ax1, ax2 = axes[0], axes[-1]
    ax1.plot(when, equity[::step], color="#1f77b4", linewidth=1.0, label="account")
    ax1.set_ylabel("equity (USDT)")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    if parts:
        ax_c = axes[1]
        for name, values in parts.items():
            ax_c.plot(when, values[::step], linewidth=0.9, label=name)
        ax_c.axhline(0.0, color="#777777", linewidth=0.6)
        ax_c.set_ylabel("contribution (USDT)")
        ax_c.grid(alpha=0.3)
        ax_c.legend(loc="upper left", fontsize=7, ncol=min(5, len(parts)))
    ax2.fill_between(when, drawdown[::step] * 100.0, 0.0, color="#d62728", alpha=0.5, linewidth=0)
    ax2.set_ylabel("drawdown %")
    ax2.grid(alpha=0.3)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
