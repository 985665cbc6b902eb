"""Writing a backtest's results: report.json, trades.csv, signals.csv and equity.png."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from whale.backtest.simulate import (
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
    T_TARGET,
)
from whale.strategy.finaliser import SIGNAL_NAMES
from whale.strategy.stops import EXIT_REASONS


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_report_json(path: Path, report: dict) -> None:
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")


def write_trades_csv(path: Path, trades: np.ndarray, price_decimals: int, qty_decimals: int) -> None:
    header = ("trade,side,entry_time,exit_time,entry_price,exit_price,qty,initial_stop,target,"
              "gross_pnl,fees,funding,net_pnl,exit_reason,balance_after\n")
    pf, qf = f"{{:.{price_decimals}f}}", f"{{:.{qty_decimals}f}}"
    lines = [header]
    for n, t in enumerate(trades, start=1):
        lines.append(",".join((
            str(n), "long" if t[T_SIDE] > 0 else "short", iso(int(t[T_ENTRY_TS])), iso(int(t[T_EXIT_TS])),
            pf.format(t[T_ENTRY_PRICE]), pf.format(t[T_EXIT_PRICE]), qf.format(t[T_QTY]),
            pf.format(t[T_INIT_STOP]), pf.format(t[T_TARGET]), f"{t[T_GROSS]:.6f}", f"{t[T_FEES]:.6f}",
            f"{t[T_FUNDING]:.6f}", f"{t[T_NET]:.6f}", EXIT_REASONS[int(t[T_REASON])], f"{t[T_BALANCE]:.6f}",
        )) + "\n")
    path.write_text("".join(lines))


def signals_csv_text(ts: np.ndarray, scores: np.ndarray, signals: np.ndarray) -> str:
    """One row per closed candle: its open time, the score (empty during warm-up) and the
    finaliser's BUY / SELL / HOLD. The demo writes the same format, row for row."""
    rows = map(format_signal_row, ts.tolist(), scores.tolist(), signals.tolist())
    return "timestamp_ms,score,signal\n" + "".join(rows)


def format_signal_row(ts_ms: int, score: float, signal: int) -> str:
    """The same row format for one candle (the live loop appends rows as candles close)."""
    score_txt = "" if score != score else f"{score:.10f}"
    return f"{ts_ms},{score_txt},{SIGNAL_NAMES[int(signal)]}\n"


def plot_equity(path: Path, ts: np.ndarray, equity: np.ndarray, drawdown: np.ndarray, title: str) -> None:
    """Equity curve with the drawdown underneath; long runs are thinned to about 4,000 points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    step = max(1, math.ceil(len(ts) / 4000))
    when = (ts[::step] // 1000).astype("datetime64[s]")
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax1.plot(when, equity[::step], color="#1f77b4", linewidth=1.0)
    ax1.set_ylabel("equity (USDT)")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    ax2.fill_between(when, drawdown[::step] * 100.0, 0.0, color="#d62728", alpha=0.5, linewidth=0)
    ax2.set_ylabel("drawdown %")
    ax2.grid(alpha=0.3)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
