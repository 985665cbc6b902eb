"""`backtest --book DIR`: run the live bot over a recording (whale.backtest.book_replay) and write the
report directory: report.json, trades.csv, signals.csv (the bot's own rows), densities.csv, equity.png,
the paper journal and the log of the run."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from whale.backtest.book_replay import ReplayStats, drive, replay_venue
from whale.bot.demo import BOOK_HISTORY_MINUTES
from whale.bot.loop import Bot, BotHooks, BotOptions, EmergencyStop
from whale.config.model import Config, replace_path
from whale.errors import BadInputError
from whale.journal import TradeRecord
from whale.sim.recorded_replay import load_recording
from whale.strategy.density import DensityEvent
from whale.timefmt import iso_utc

JOURNAL = "trade_history.paper.json"
TRADE_COLUMNS = ("symbol", "side", "qty", "entry_time", "entry_price", "exit_time", "exit_price", "initial_stop",
                 "take_profit", "fees", "funding", "net_pnl", "exit_reason", "strategy", "setup", "density_price")
DENSITY_COLUMNS = ("time", "time_ms", "symbol", "event", "side", "price", "qty", "initial_qty", "erosion_pct",
                   "age_s", "detail")


@dataclass
class BookBacktest:
    """What a run gives: the closed trades (journal records), the density events, the replay's figures."""

    symbols: list[str]
    trades: list[TradeRecord]
    densities: list[tuple[str, DensityEvent]]
    stats: ReplayStats
    summary: dict
    start_ms: int
    end_ms: int
    latency_ms: int
    still_open: int = 0
    emergency: list[str] | None = None
    beyond_book: int = 0
    warnings: list[str] = field(default_factory=list)


def check_fresh_report(out: Path) -> None:
    """A report directory that holds a paper journal from an earlier run would be reconciled with it
    (its open positions restored): refuse it (exit 2) rather than mix two runs."""
    if (out / JOURNAL).exists() or (out / "signals.csv").exists():
        raise BadInputError(f"--report {out} already holds {JOURNAL} or signals.csv from an earlier run; a backtest "
                            f"starts from a fresh paper account. Pass a new --report directory, or delete them first")


def run_book_backtest(cfg: Config, root: Path | str, out: Path, log: logging.Logger, *,
                      symbols: Sequence[str] | None = None, from_ms: int | None = None, to_ms: int | None = None,
                      stop: threading.Event | None = None) -> BookBacktest:
    """Replay the recording under `root` through the live bot, on paper, into the report directory `out`."""
    setup = load_recording(root, symbols, from_ms, to_ms)
    start = setup.start_index + BOOK_HISTORY_MINUTES  # the first minute is history, as in demo --book
    if start >= len(setup.times):
        raise BadInputError(f"{root}: the recording holds {len(setup.times) - setup.start_index} minute(s) from the "
                            f"start asked for; the first is history, so it needs at least two")
    setup = dataclasses.replace(setup, start_index=start, start_ms=int(setup.times[start]))
    cfg = replace_path(cfg, "symbols", list(setup.symbols))
    cfg = replace_path(cfg, "dry_run", True)
    latency = int(cfg.backtest.latency_ms)
    clock, data, venue = replay_venue(setup, latency)
    out.mkdir(parents=True, exist_ok=True)
    check_fresh_report(out)
    densities: list[tuple[str, DensityEvent]] = []
    hooks = BotHooks(on_density=lambda symbol, ev: densities.append((symbol, ev)))
    bot = Bot(cfg, BotOptions(mode="paper", workdir=out, hooks=hooks, market_time_checks=True, venue=venue,
                              config_path="--config", durable_journal=False,
                              journal_at_close=True), log, clock=clock)
    emergency = None
    stop = stop or threading.Event()
    try:
        bot.start(stop)
        stats = drive(bot, data, clock, stop)
        if bot.emergency_reasons is not None:
            raise EmergencyStop(bot.emergency_reasons)
    except EmergencyStop as exc:
        emergency = exc.reasons
        stats = ReplayStats(events=data.events, book_events=data.book_events, trade_events=data.trade_events)
    finally:
        bot.shutdown()
    trades = bot.tracker.closed_trades()
    paper = bot.execution
    result = BookBacktest(list(setup.symbols), trades, densities, stats, bot.tracker.summary(),
                          int(setup.times[setup.start_index]), int(setup.times[-1]) + 60_000, latency,
                          len(bot.tracker.open_trades()), emergency, int(getattr(paper, "beyond_book", 0)))
    if data.book_resyncs:
        result.warnings.append(f"{data.book_resyncs} recorded book message(s) broke the update-id sequence; the book "
                               "waited for the next snapshot each time")
    if result.beyond_book:
        result.warnings.append(f"{result.beyond_book} fill(s) took more than the recorded book held: the rest filled "
                               "at its last level")
    return result


def _num(x: Decimal | float | None) -> str:
    return "" if x is None else str(x)


def write_trades(path: Path, trades: Sequence[TradeRecord]) -> None:
    """One row per closed trade, in closing order, as the journal has it."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(TRADE_COLUMNS)
        for t in trades:
            w.writerow((t.symbol, t.side, t.qty, t.entry_time, t.entry_price, t.exit_time or "", _num(t.exit_price),
                        _num(t.initial_stop), _num(t.take_profit), t.fees, t.funding, _num(t.pnl), t.reason or "",
                        t.strategy, t.setup or "", _num(t.density_price)))


def write_densities(path: Path, events: Sequence[tuple[str, DensityEvent]]) -> None:
    """Every density event of the run (appeared, eroded, consumed, vanished), in the order they happened."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DENSITY_COLUMNS)
        for symbol, ev in events:
            w.writerow((iso_utc(int(ev.ts_ms)), ev.ts_ms, symbol, ev.kind, ev.side, repr(ev.price), repr(ev.qty),
                        repr(ev.initial_qty), f"{ev.erosion_pct:.4f}", f"{ev.age_s:.3f}", ev.detail))


def report(result: BookBacktest, recording: Path | str) -> dict:
    """report.json: the journal's summary, the replay's figures and the assumptions of the fills."""
    s = result.stats
    kinds: dict[str, int] = {}
    for _, ev in result.densities:
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
    reasons: dict[str, int] = {}
    for t in result.trades:
        reasons[t.reason or ""] = reasons.get(t.reason or "", 0) + 1
    summary = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in result.summary.items()}
    summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
    return {
        "mode": "book",
        "recording": str(recording),
        "symbols": result.symbols,
        "start": iso_utc(result.start_ms),
        "end": iso_utc(result.end_ms),
        "trades": len(result.trades),
        "open_at_end": result.still_open,
        "exit_reasons": reasons,
        "density_events": kinds,
        "summary": summary,
        "emergency": result.emergency,
        "events": {"total": s.events, "book": s.book_events, "trades": s.trade_events, "loop_passes": s.passes},
        "timing": {"replay_wall_s": round(s.wall_s, 3), "replay_cpu_s": round(s.cpu_s, 3),
                   "events_per_s": round(s.events / s.wall_s, 1) if s.wall_s > 0 else None},
        "warnings": result.warnings,
        "assumptions": {
            "code_path": "the live bot (Trader, Account, loop) on a replay venue and the recording's clock",
            "fills": f"market orders walk the recorded book as it stands {result.latency_ms} ms after they are sent "
                     "(backtest.latency_ms), average price rounded to the tick against the taker, no slippage floor",
            "stops_and_targets": "trigger on each recorded trade print (last price) and fill by the same walk on the "
                                 "book as it stands at that print",
            "candles": "built from the recorded trades (recorded klines are not used)",
            "fees": "taker fee on every fill; funding every 8 h at fees.funding_rate_8h",
        },
    }


def write_outputs(result: BookBacktest, out: Path, recording: Path | str) -> dict:
    """trades.csv, densities.csv, report.json and equity.png (signals.csv and the journal the bot wrote)."""
    from whale.backtest.metrics import drawdown_curve
    from whale.backtest.outputs import plot_equity, write_report_json

    write_trades(out / "trades.csv", result.trades)
    write_densities(out / "densities.csv", result.densities)
    rep = report(result, recording)
    write_report_json(out / "report.json", rep)
    if result.stats.equity:
        ts = np.array([t for t, _ in result.stats.equity], dtype=np.int64)
        eq = np.array([e for _, e in result.stats.equity], dtype=np.float64)
        plot_equity(out / "equity.png", ts, eq, drawdown_curve(eq),
                    f"{' + '.join(result.symbols)} on recorded books — equity and drawdown")
    return rep
