"""`python whalebot.py backtest`: the strategy over a candle file, with a report directory."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from whale.candle_file import BUNDLED_DATA
from whale.errors import BadInputError


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("backtest", parents=[parent], help="run the strategy over candle files",
                              description="Backtest the full Whalebot strategy on candle CSVs "
                                          "(timestamp_ms,open,high,low,close,volume; gzip allowed). Several "
                                          "--data files trade as one account (a portfolio).")
    p.add_argument("--data", action="append", metavar="FILE",
                   help=f"candle file; repeat for several symbols on one account, each file named after its "
                        f"symbol (e.g. ETHUSDT_1m.csv.gz) (default: the bundled {BUNDLED_DATA.name})")
    p.add_argument("--report", metavar="DIR",
                   help="report directory (default: reports/<symbols>-<interval>-<UTC stamp>/)")
    p.add_argument("--from", dest="date_from", metavar="DATE",
                   help="first candle to trade, UTC (YYYY-MM-DD or YYYY-MM-DDTHH:MM); earlier candles warm up")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="stop before this UTC date/time (exclusive)")
    p.add_argument("--symbol", help="with one --data file: symbol for instrument rules and the report (default: "
                                    "from the file name, else the config's symbol)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--book", metavar="DIR",
                   help="backtest on a book recording (docs/recording.md) instead of candle files: the live bot "
                        "replayed on its books and trades, every strategy mode, advanced exits on; adds densities.csv")
    p.add_argument("--symbols", metavar="S1,S2", help="with --book: the recording's symbols to trade (default: all)")
    return p


def parse_date(text: str | None, flag: str) -> int | None:
    """UTC date or date-time -> ms since the epoch."""
    if text is None:
        return None
    cleaned = text.strip().replace(" ", "T").rstrip("Z")
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            dt = datetime.strptime(cleaned, fmt).replace(tzinfo=UTC)
            return int(dt.timestamp() * 1000)
        except ValueError:
            continue
    raise BadInputError(f"{flag} {text!r}: expected a UTC date such as 2025-05-20 or 2025-05-20T14:30")


def run(args: argparse.Namespace) -> int:
    from whale.backtest.metrics import drawdown_curve
    from whale.backtest.outputs import (
        plot_equity,
        write_report_json,
        write_signals_csv,
        write_trades_csv,
    )
    from whale.backtest.runner import run_portfolio
    from whale.commands._shared import load_cli_config
    from whale.market.intervals import label

    date_from = parse_date(args.date_from, "--from")
    date_to = parse_date(args.date_to, "--to")
    if args.book is not None:
        return run_book(args, date_from, date_to)
    if args.symbols is not None:
        raise BadInputError("--symbols goes with --book (a recording); candle files name their symbols")
    loaded, log = load_cli_config(args, console=True)
    cfg = loaded.config
    result = run_portfolio(cfg, args.data or [str(BUNDLED_DATA)], date_from=date_from, date_to=date_to,
                           progress=not args.no_progress and sys.stderr.isatty(), symbol=args.symbol)
    for w in result.warnings:
        log.warning(w)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.report) if args.report else Path("reports") / f"{report_name(result.symbols)}-" \
        f"{label(result.interval)}-{stamp}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--report {out}: cannot create the directory ({exc.strerror})") from exc
    runs = result.per_symbol
    t_out = time.perf_counter()
    write_trades_csv(out / "trades.csv", result.trades, result.symbols, [r.instrument.price_decimals for r in runs],
                     [r.instrument.qty_decimals for r in runs])
    write_signals_csv(out / "signals.csv", [(r.symbol, r.ts, r.scores, r.signals) for r in runs])
    names = " + ".join(result.symbols) if len(runs) <= 6 else f"{len(runs)} symbols"
    plot_equity(out / "equity.png", result.ts, result.equity, drawdown_curve(result.equity),
                f"{names} {label(result.interval)} — equity and drawdown",
                dict(zip(result.symbols, result.contribution, strict=True)))
    result.report["timing"]["outputs_s"] = time.perf_counter() - t_out
    write_report_json(out / "report.json", result.report)
    print_summary(result.report, out)
    return 0


def run_book(args: argparse.Namespace, date_from: int | None, date_to: int | None) -> int:
    """`backtest --book DIR`: the live bot over a recording (whale.backtest.book_run)."""
    from whale.backtest.book_run import run_book_backtest, write_outputs
    from whale.commands._shared import load_args_config
    from whale.config.model import replace_path
    from whale.logs import setup_logging

    for flag, value in (("--data", args.data), ("--symbol", args.symbol)):
        if value:
            raise BadInputError(f"{flag} goes with candle files; with --book use --symbols S1,S2")
    if date_from is not None and date_to is not None and date_from >= date_to:
        raise BadInputError(f"--from {args.date_from} is not before --to {args.date_to}")
    symbols = None
    if args.symbols is not None:
        symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if not symbols:
            raise BadInputError("--symbols: give symbols separated by commas, e.g. --symbols BTCUSDT,ETHUSDT")
    root = Path(args.book)
    if not root.is_dir():
        raise BadInputError(f"--book {root}: not a directory (a recording directory, docs/recording.md)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.report) if args.report else Path("reports") / f"book-{root.name or 'recording'}-{stamp}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--report {out}: cannot create the directory ({exc.strerror})") from exc
    loaded = load_args_config(args)
    cfg = replace_path(loaded.config, "logging.file", str(out / "whalebot.log"))
    log = setup_logging(cfg, console=False, log_level_override=args.log_level)
    loaded.log_to(log)
    result = run_book_backtest(cfg, root, out, log, symbols=symbols, from_ms=date_from, to_ms=date_to)
    rep = write_outputs(result, out, root)
    for w in result.warnings:
        log.warning(w)
    s = rep["summary"]
    t = rep["timing"]
    print(f"=== Backtest on books {', '.join(result.symbols)}: {rep['start']} -> {rep['end']} ===")
    print(f"events         {rep['events']['total']:,} ({rep['events']['book']:,} book, {rep['events']['trades']:,} "
          f"trade messages) in {t['replay_wall_s']:.1f} s, {t['events_per_s'] or 0:,.0f} events/s")
    print(f"trades         {rep['trades']} closed, {rep['open_at_end']} open at the end; exits "
          + (", ".join(f"{k} {v}" for k, v in sorted(rep['exit_reasons'].items())) or "none"))
    print(f"net PnL        {float(s.get('total_pnl') or 0):+.2f} USDT, fees {float(s.get('fees') or 0):.2f}")
    print("densities      " + (", ".join(f"{k} {v}" for k, v in sorted(rep['density_events'].items())) or "none"))
    print(f"report         {out}/ (report.json, trades.csv, signals.csv, densities.csv"
          f"{', equity.png' if (out / 'equity.png').exists() else ''}, whalebot.log)")
    if result.emergency:
        print("EMERGENCY stop by the safety monitor: " + "; ".join(result.emergency))
        return 1
    return 0


def report_name(symbols: tuple[str, ...]) -> str:
    """The report directory's symbol part: every symbol, or the first three and a count when long."""
    joined = "-".join(symbols)
    if len(joined) <= 80:
        return joined
    return "-".join(symbols[:3]) + f"-and-{len(symbols) - 3}-more"


def funding_text(funding: float) -> str:
    """Funding for the summary, worded by direction: report.json's `funding` is what the trades
    paid (negative: received), and a bare signed number next to the fees reads like income."""
    if round(funding, 2) > 0:
        return f"funding paid {funding:.2f}"
    if round(funding, 2) < 0:
        return f"funding received {-funding:.2f}"
    return "funding 0.00"


def print_summary(r: dict, out: Path) -> None:
    from whale.logs import NEON_BLUE, NEON_CYAN, NEON_GREEN, NEON_PURPLE, NEON_RED, NEON_YELLOW, RESET, use_colour
    from whale.market.intervals import label

    c = use_colour(sys.stdout)
    col = (lambda code, text: f"{code}{text}{RESET}") if c else (lambda code, text: text)  # noqa: E731

    def pnl_col(x: float) -> str:
        return NEON_GREEN if x > 0 else (NEON_RED if x < 0 else NEON_YELLOW)

    pf = "n/a" if r["profit_factor"] is None else f"{r['profit_factor']:.2f}"
    t = r["timing"]
    candles = r.get("candles", r["bars"] + r["warmup_bars"])
    speed = candles / max(t["indicators_s"] + t["simulate_s"], 1e-9)
    per = r.get("per_symbol", {})
    lines = [
        col(NEON_PURPLE, f"=== Backtest {r['symbol']} {label(r['interval'])}: {r['start']} -> {r['end']} ==="),
    ]
    if len(per) > 1:
        width = max(len(s) for s in per)
        for s, x in per.items():
            extra = []
            if x["skipped_entries"]:
                extra.append(f"skipped {sum(x['skipped_entries'].values())}")
            if x["shrunk_entries"]:
                extra.append(f"shrunk {sum(x['shrunk_entries'].values())}")
            tail = f", {', '.join(extra)}" if extra else ""
            lines.append(col(pnl_col(x["total_pnl"]),
                             f"{s:<{width}}  {x['trades']:>4} trades, win rate {x['win_rate'] * 100:5.1f}%, "
                             f"net {x['total_pnl']:+.2f} USDT, fees {x['fees']:.2f}, "
                             f"exposure {x['exposure_time'] * 100:.1f}%{tail}"))
        lines.append(col(NEON_PURPLE, f"--- account ({len(per)} symbols, one balance) ---"))
    lines += [
        col(NEON_BLUE, f"candles        {r['bars']:,} (+{r['warmup_bars']:,} warm-up)"),
        col(NEON_CYAN, f"trades         {r['trades']} ({r['long_trades']} long, {r['short_trades']} short), "
                       f"wins {r['wins']}, losses {r['losses']}, win rate {r['win_rate'] * 100:.1f}%"),
        col(pnl_col(r["total_pnl"]), f"net PnL        {r['total_pnl']:+.2f} USDT ({r['return_pct']:+.2f}%), "
                                     f"fees {r['fees']:.2f}, {funding_text(r['funding'])}"),
        col(NEON_CYAN, f"profit factor  {pf}   sharpe {r['sharpe']:.2f}   exposure {r['exposure_time'] * 100:.1f}%"),
        col(NEON_RED if r["max_drawdown"] > 0.1 else NEON_YELLOW,
            f"max drawdown   {r['max_drawdown'] * 100:.2f}% ({r['max_drawdown_usdt']:.2f} USDT)"),
    ]
    if r["exit_reasons"]:
        lines.append(col(NEON_BLUE, "exits          " + ", ".join(f"{k} {v}" for k, v in r["exit_reasons"].items())))
    if r["skipped_entries"]:
        skipped = ", ".join(f"{k}: {v}" for k, v in r["skipped_entries"].items())
        lines.append(col(NEON_YELLOW, "skipped        " + skipped))
    if r.get("shrunk_entries"):
        lines.append(col(NEON_YELLOW, "shrunk to cap  " + ", ".join(f"{k}: {v}" for k, v in r["shrunk_entries"].items())
                         + " (risking less than risk_per_trade_percent)"))
    lines.append(col(NEON_YELLOW, "off            " + "; ".join(r["off_in_backtest"])))
    outputs = f"; then files {t['outputs_s']:.2f} s" if "outputs_s" in t else ""
    lines.append(col(NEON_BLUE, f"time           {t['total_s']:.2f} s (load {t['load_s']:.2f}, jit {t['jit_s']:.2f}, "
                                f"indicators {t['indicators_s']:.3f}, simulate {t['simulate_s']:.3f}; "
                                f"{speed:,.0f} candles/s{outputs})"))
    lines.append(col(NEON_GREEN, f"report         {out}/ (report.json, trades.csv, signals.csv, equity.png)"))
    print("\n".join(lines))
