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


def write_signals_csv(path: Path, rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                      chunk: int = 200_000) -> None:
    """One row per closed candle and symbol: the symbol, the candle's open time, the score (empty during
    warm-up) and the finaliser's BUY / SELL / HOLD; in time order, symbols in the run's fixed order at
    equal times. `rows`: (symbol, ts, scores, signals) per symbol. Written in chunks, so millions of
    rows take little memory. The live bot writes the same rows (signal_row)."""
    sizes = [len(ts) for _, ts, _, _ in rows]
    ts_all = np.concatenate([ts for _, ts, _, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
    sym_all = np.repeat(np.arange(len(rows)), sizes)
    order = np.lexsort((sym_all, ts_all))
    del ts_all
    starts = np.cumsum([0, *sizes])
    names = [name for name, _, _, _ in rows]
    scores = np.concatenate([sc for _, _, sc, _ in rows]) if rows else np.zeros(0)
    signals = np.concatenate([sg for _, _, _, sg in rows]) if rows else np.zeros(0, dtype=np.int8)
    ts_cat = np.concatenate([ts for _, ts, _, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
    words = {g: f",{name}\n" for g, name in SIGNAL_NAMES.items()}
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(SIGNALS_HEADER)
        for a in range(0, len(order), chunk):
            idx = order[a:a + chunk]
            sym = (np.searchsorted(starts, idx, side="right") - 1).tolist()
            # signal_row's format, written out: one call per row would double the time of millions of rows.
            f.write("".join([f"{names[k]},{t},{'' if x != x else f'{x:.10f}'}{words[g]}" for k, t, x, g in
                             zip(sym, ts_cat[idx].tolist(), scores[idx].tolist(), signals[idx].tolist(),
                                 strict=True)]))


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
