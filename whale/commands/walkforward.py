"""`python whalebot.py walkforward`: optimise on rolling train windows, test on the unseen window after
each (docs/optimize.md#walk-forward)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from whale.commands.optimize import add_study_options, one_data_file, report_dir


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("walkforward", parents=[parent], help="walk-forward analysis (optimise, test unseen)",
                              description="Optimise on each train window and run the best parameters on the next, "
                                          "unseen, test window; report in-sample next to out-of-sample.")
    add_study_options(p, "trials per fold (default 200)")
    p.add_argument("--train", required=True, metavar="LEN", help="train window, e.g. 60d (units m, h, d, w)")
    p.add_argument("--test", required=True, metavar="LEN", help="test window, e.g. 20d")
    p.add_argument("--step", metavar="LEN", help="how far each fold moves (default: --test)")
    p.add_argument("--anchored", action="store_true", help="every train window starts at the first candle")
    return p


def run(args: argparse.Namespace) -> int:
    from whale.backtest.metrics import annual_return_pct
    from whale.candle_file import load_candle_file
    from whale.commands._shared import load_cli_config
    from whale.errors import BadInputError
    from whale.market.intervals import interval_ms
    from whale.optimize.evaluate import Evaluator, TrialError
    from whale.optimize.market import market_from_file
    from whale.optimize.objectives import parse_objectives
    from whale.optimize.outputs import best_config, overfitting
    from whale.optimize.report import metrics_of, write_json, write_trials_csv
    from whale.optimize.statistics import trade_order_monte_carlo, walk_forward_efficiency
    from whale.optimize.study import StudySettings, check_settings, run_study, warm_evaluator
    from whale.optimize.walkforward import make_folds, parse_duration, stitch, trades_net
    from whale.strategy.analyzer import Analyzer

    path = one_data_file(args)
    train = parse_duration(args.train, "--train")
    test = parse_duration(args.test, "--test")
    step = parse_duration(args.step, "--step") if args.step else test
    objectives = parse_objectives(args.objective)
    loaded, log = load_cli_config(args, console=True)
    cfg = loaded.config
    from whale.optimize.space import load_space

    space = load_space(args.space, cfg)
    progress = not args.no_progress and sys.stderr.isatty()
    settings = StudySettings(space, objectives, args.sampler, args.trials, args.jobs, args.min_trades, args.seed,
                             "whalebot", None, False, progress)
    check_settings(settings)
    if cfg.strategy.mode == "density":
        raise BadInputError("strategy.mode is 'density': density trading needs a live order book; walk forward "
                            "with strategy.mode 'indicators' or 'combined'")
    data = load_candle_file(path)
    whole = market_from_file(cfg, data, path, None, None)
    warmup = Analyzer(cfg, cfg.interval, capacity=1).warmup_candles
    folds = make_folds(data, cfg.interval, train, test, step, args.anchored, warmup)
    out = report_dir(args, "walkforward", [whole.symbol])
    log.info(f"walkforward {whole.symbol}: {len(folds)} folds, train {args.train}, test {args.test}, step "
             f"{args.step or args.test}{', anchored' if args.anchored else ''}; {args.trials} trials per fold; "
             f"report {out}/")
    rows: list[dict[str, Any]] = []
    oos_parts: list[tuple[np.ndarray, np.ndarray]] = []
    oos_net: list[np.ndarray] = []
    start_balance = cfg.trade_management.account_balance
    for fold in folds:
        fold_dir = out / f"fold-{fold.index}"
        fold_dir.mkdir(exist_ok=True)
        train_m = market_from_file(cfg, data, path, fold.train_from, fold.train_to, whole.symbol)
        test_m = market_from_file(cfg, data, path, fold.test_from, fold.test_to, whole.symbol)
        ev = Evaluator(cfg, train_m)
        try:
            ev.evaluate(cfg)
        except TrialError as exc:
            raise BadInputError(f"fold {fold.index}: too few candles for a fold ({exc})") from exc
        warm_evaluator(cfg, ev, space)
        log.info(f"fold {fold.index}/{len(folds)}: train {fold.as_dict()['train_from']} -> "
                 f"{fold.as_dict()['train_to']}, test -> {fold.as_dict()['test_to']}")
        result = run_study(cfg, ev, settings, fold_dir)
        write_trials_csv(fold_dir / "trials.csv", result.trials, space, objectives, args.min_trades)
        row: dict[str, Any] = {**fold.as_dict(), "best_trial": None}
        if result.best is None:
            log.warning(f"fold {fold.index}: no trial made {args.min_trades} trades; the fold has no out-of-sample run")
            rows.append(row)
            continue
        values = space.values(result.best.params)
        write_json(fold_dir / "best-config.json", best_config(cfg, values))
        trial_cfg = ev.config_for(values)
        is_m = metrics_of(result.best) or {}
        of = overfitting(ev, trial_cfg, result, args.seed)
        try:
            oos = Evaluator(cfg, test_m).evaluate(trial_cfg, keep=True)
        except TrialError as exc:
            raise BadInputError(f"fold {fold.index}: too few candles in the test window ({exc})") from exc
        assert oos.ts is not None and oos.equity is not None and oos.trades is not None
        oos_parts.append((oos.ts, oos.equity))
        oos_net.append(trades_net(oos.trades))
        om = oos.metrics
        row.update({"best_trial": result.best.number, "params": values,
                    "is_trades": is_m.get("trades"), "is_return_pct": is_m.get("return_pct"),
                    "is_annual_return_pct": is_m.get("annual_return_pct"), "is_sharpe": is_m.get("sharpe"),
                    "is_max_drawdown": is_m.get("max_drawdown"),
                    "oos_trades": om["trades"], "oos_return_pct": om["return_pct"],
                    "oos_annual_return_pct": om["annual_return_pct"], "oos_sharpe": om["sharpe"],
                    "oos_max_drawdown": om["max_drawdown"],
                    "efficiency": walk_forward_efficiency(om["annual_return_pct"], is_m.get("annual_return_pct", 0.0)),
                    "is_deflated_sharpe_probability": of["deflated_sharpe"]["probability"]})
        rows.append(row)
    ts, eq = stitch(start_balance, oos_parts)
    days = len(ts) * interval_ms(whole.candles.interval) / 86_400_000
    oos_annual = annual_return_pct(start_balance, float(eq[-1]), days) if len(eq) else 0.0
    is_annuals = [r["is_annual_return_pct"] for r in rows if r.get("is_annual_return_pct") is not None]
    is_mean = float(np.mean(is_annuals)) if is_annuals else 0.0
    net = np.concatenate(oos_net) if oos_net else np.zeros(0)
    mc = trade_order_monte_carlo(net, start_balance, 1000, args.seed or 0)
    summary = {"data": path, "symbol": whole.symbol, "interval": whole.candles.interval, "train": args.train,
               "test": args.test, "step": args.step or args.test, "anchored": args.anchored,
               "trials_per_fold": args.trials, "objectives": [o.name for o in objectives], "folds": rows,
               "oos": {"start_balance": start_balance, "end_balance": float(eq[-1]) if len(eq) else start_balance,
                       "return_pct": (float(eq[-1]) / start_balance - 1) * 100 if len(eq) else 0.0,
                       "annual_return_pct": oos_annual, "trades": int(net.size)},
               "is_mean_annual_return_pct": is_mean,
               "efficiency": walk_forward_efficiency(oos_annual, is_mean),
               "oos_trade_order_monte_carlo": mc.as_dict()}
    write_json(out / "walkforward.json", summary)
    _write_csv(out / "walkforward.csv", rows)
    _plot(out / "walkforward.png", ts, eq, rows, whole.symbol)
    _print(summary, out)
    return 0


FOLD_COLUMNS = ("fold", "train_from", "train_to", "test_from", "test_to", "best_trial", "is_trades", "is_return_pct",
                "is_annual_return_pct", "is_sharpe", "is_max_drawdown", "oos_trades", "oos_return_pct",
                "oos_annual_return_pct", "oos_sharpe", "oos_max_drawdown", "efficiency",
                "is_deflated_sharpe_probability")


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FOLD_COLUMNS)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in FOLD_COLUMNS])


def _plot(path: Path, ts: np.ndarray, eq: np.ndarray, rows: list[dict[str, Any]], symbol: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 2]})
    if len(ts):
        ax1.plot((ts // 1000).astype("datetime64[s]"), eq, color="#1f77b4", linewidth=1.0)
    ax1.set_title(f"{symbol} walk-forward: stitched out-of-sample equity")
    ax1.set_ylabel("equity (USDT)")
    ax1.grid(alpha=0.3)
    folds = [r["fold"] for r in rows]
    is_r = [r.get("is_return_pct") or 0.0 for r in rows]
    oos_r = [r.get("oos_return_pct") or 0.0 for r in rows]
    x = np.arange(len(folds))
    ax2.bar(x - 0.2, is_r, 0.4, label="in-sample return %", color="#9ecae1")
    ax2.bar(x + 0.2, oos_r, 0.4, label="out-of-sample return %", color="#d62728")
    ax2.set_xticks(x, [f"fold {f}" for f in folds])
    ax2.axhline(0, color="black", linewidth=0.5)
    ax2.legend(loc="best")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _print(sm: dict[str, Any], out: Path) -> None:
    from whale.optimize.report import print_summary

    lines = [("NEON_PURPLE", f"=== Walk-forward {sm['symbol']}: train {sm['train']}, test {sm['test']}, step "
                             f"{sm['step']}{', anchored' if sm['anchored'] else ''} ===")]
    for r in sm["folds"]:
        if r.get("best_trial") is None:
            lines.append(("NEON_YELLOW", f"fold {r['fold']}  {r['test_from'][:10]}  no feasible trial"))
            continue
        eff = "n/a" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        colour = "NEON_GREEN" if r["oos_return_pct"] > 0 else "NEON_RED"
        dsr = r["is_deflated_sharpe_probability"]
        dsr_text = "n/a" if dsr is None else f"{dsr:.2f}"
        lines.append((colour, f"fold {r['fold']}  IS {r['is_return_pct']:+7.2f}% ({r['is_trades']} trades)  "
                              f"OOS {r['oos_return_pct']:+7.2f}% ({r['oos_trades']} trades)  test "
                              f"{r['test_from'][:10]} -> {r['test_to'][:10]}  efficiency {eff}  IS deflated "
                              f"sharpe {dsr_text}"))
    chance = [r["fold"] for r in sm["folds"] if r.get("best_trial") is not None
              and (r["is_deflated_sharpe_probability"] is None or r["is_deflated_sharpe_probability"] < 0.95)]
    if chance:
        lines.append(("NEON_RED", f"not better than chance in-sample (deflated Sharpe probability below 0.95): fold "
                                  f"{', '.join(map(str, chance))}"))
    eff = "n/a (in-sample return <= 0)" if sm["efficiency"] is None else f"{sm['efficiency']:.2f}"
    o = sm["oos"]
    lines.append(("NEON_CYAN", f"out-of-sample  {o['return_pct']:+.2f}% ({o['annual_return_pct']:+.1f}% a year, "
                               f"{o['trades']} trades); walk-forward efficiency {eff}"))
    mc = sm["oos_trade_order_monte_carlo"]
    lines.append(("NEON_CYAN", f"trade order    {mc['shuffles']:,} shuffles of the OOS trades: max drawdown p50 "
                               f"{mc['max_drawdown_p50'] * 100:.2f}%, p95 {mc['max_drawdown_p95'] * 100:.2f}%"))
    lines.append(("NEON_GREEN", f"report         {out}/ (walkforward.csv, walkforward.json, walkforward.png, "
                                "fold-N/trials.csv, fold-N/best-config.json)"))
    print_summary(lines)
