"""`python whalebot.py optimize`: search the strategy's parameters with Optuna (docs/optimize.md)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whale.errors import BadInputError


def add_study_options(p: argparse.ArgumentParser, trials_help: str) -> None:
    """Options `optimize` and `walkforward` share."""
    p.add_argument("--data", action="append", required=True, metavar="FILE",
                   help="candle file (timestamp_ms,open,high,low,close,volume; gzip allowed); optimize: once per "
                        "symbol to optimise a portfolio on one account, as `backtest` runs it")
    p.add_argument("--space", metavar="SPACE.json",
                   help="search space: config key paths and ranges (default: whale/optimize/default_space.json)")
    p.add_argument("--trials", type=int, default=200, metavar="N", help=trials_help)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="processes evaluating trials, this one included (default: the CPU count)")
    p.add_argument("--sampler", choices=("nsga2", "tpe", "random"), default="nsga2",
                   help="Optuna sampler (default nsga2; tpe slows down past ~1,000 trials)")
    p.add_argument("--objective", default="net_profit", metavar="NAME[,NAME]",
                   help="net_profit, return, sharpe, sortino, calmar, profit_factor, max_drawdown; several "
                        "give a Pareto front (default net_profit)")
    p.add_argument("--min-trades", type=int, default=20, metavar="N",
                   help="a trial with fewer trades is infeasible (default 20)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed of the sampler and the Monte Carlo")
    p.add_argument("--report", metavar="DIR", help="report directory (default: reports/<command>-<symbols>-<stamp>/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("optimize", parents=[parent], help="search strategy parameters (Optuna)",
                              description="Search the strategy's parameters over one candle file, or several "
                                          "traded on one account, with Optuna; every trial equals `backtest` "
                                          "with its config and the same --data files.")
    add_study_options(p, "trials the study should hold when done (default 200)")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first candle to trade, UTC (earlier ones warm up)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="stop before this UTC date/time (exclusive)")
    p.add_argument("--study", default="whalebot", metavar="NAME", help="study name (default whalebot)")
    p.add_argument("--storage", metavar="URL",
                   help="postgresql://user:password@host/db: the study lives there; several processes or machines "
                        "with the same --storage and --study work on it together")
    p.add_argument("--resume", action="store_true",
                   help="continue the study checkpointed in --report DIR (or the --storage study)")
    return p


def one_data_file(args: argparse.Namespace) -> str:
    """walkforward's one file (its folds cut one timeline)."""
    files = args.data or []
    if not files:
        raise BadInputError("--data FILE is required: the candle file to walk forward on")
    if len(files) > 1:
        raise BadInputError(f"--data was given {len(files)} times ({', '.join(files)}): walkforward takes one data "
                            "file; optimize takes several (a portfolio)")
    return files[0]


def report_dir(args: argparse.Namespace, command: str, symbols: list[str]) -> Path:
    if args.report:
        out = Path(args.report)
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = Path("reports") / f"{command}-{'-'.join(symbols)}-{stamp}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--report {out}: cannot create the directory ({exc.strerror})") from exc
    return out


def run(args: argparse.Namespace) -> int:
    from whale.commands._shared import load_cli_config
    from whale.commands.backtest import parse_date
    from whale.optimize.evaluate import Evaluator
    from whale.optimize.market import load_markets
    from whale.optimize.objectives import parse_objectives
    from whale.optimize.space import load_space
    from whale.optimize.study import StudySettings, run_study, warm_evaluator

    if not args.data:
        raise BadInputError("--data FILE is required: the candle file to optimise on (once per symbol)")
    date_from = parse_date(args.date_from, "--from")
    date_to = parse_date(args.date_to, "--to")
    if args.resume and not args.report and not args.storage:
        raise BadInputError("--resume needs --report DIR: the directory of the run to continue")
    objectives = parse_objectives(args.objective)
    loaded, log = load_cli_config(args, console=True)
    cfg = loaded.config
    space = load_space(args.space, cfg)
    settings = StudySettings(space, objectives, args.sampler, args.trials, args.jobs, args.min_trades, args.seed,
                             args.study, args.storage, args.resume, not args.no_progress and sys.stderr.isatty())
    from whale.optimize.study import check_settings

    check_settings(settings)
    markets = load_markets(cfg, args.data, date_from, date_to)
    evaluator = Evaluator(cfg, markets)
    out = report_dir(args, "optimize", list(evaluator.symbols))
    warm_evaluator(cfg, evaluator, space)
    log.info(f"optimize {evaluator.symbol} {evaluator.candles:,} candles, {len(space.params)} parameters, "
             f"{args.trials:,} trials, {args.jobs} process(es), sampler {args.sampler}, objective "
             f"{','.join(o.name for o in objectives)}; report {out}/")
    result = run_study(cfg, evaluator, settings, out)
    from whale.optimize.outputs import write_optimize_report

    write_optimize_report(out, cfg, evaluator, settings, result, command_line=_command_line())
    return 0


def _command_line() -> list[Any]:
    return ["whalebot.py", *sys.argv[1:]]
