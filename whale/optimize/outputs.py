"""Everything `optimize` writes after the study: files, statistics of the best trial, the summary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.metrics import daily_returns
from whale.config.model import Config, to_dict
from whale.optimize.evaluate import Evaluator, apply_params
from whale.optimize.report import (
    metrics_of,
    parameter_importance,
    pareto_trials,
    plot_history,
    plot_importance,
    plot_pareto,
    plot_slices,
    print_summary,
    write_json,
    write_pareto_csv,
    write_trials_csv,
)
from whale.optimize.statistics import deflated_sharpe, trade_order_monte_carlo
from whale.optimize.study import StudyResult, StudySettings

MONTE_CARLO_SHUFFLES = 1000


def best_config(base: Config, space_values: dict[str, Any]) -> dict[str, Any]:
    """The complete config of a trial, as JSON data: backtest, demo and the live bot take it as it is."""
    return apply_params(to_dict(base), space_values)


def overfitting(evaluator: Evaluator, cfg: Config, result: StudyResult, seed: int | None) -> dict[str, Any]:
    """Deflated Sharpe ratio and the trade-order Monte Carlo of the best trial."""
    assert result.best is not None
    ev = evaluator.evaluate(cfg, keep=True)
    assert ev.ts is not None and ev.equity is not None and ev.trades is not None
    sharpes = [m["sharpe"] / math.sqrt(365.0) for t in result.trials if (m := metrics_of(t)) is not None]
    dsr = deflated_sharpe(daily_returns(ev.ts, ev.equity), np.array(sharpes))
    net = ev.trades[:, sim.T_NET] if len(ev.trades) else np.zeros(0)
    mc = trade_order_monte_carlo(net, cfg.trade_management.account_balance, MONTE_CARLO_SHUFFLES, seed or 0)
    return {"deflated_sharpe": dsr.as_dict(), "trade_order_monte_carlo": mc.as_dict(),
            "verdict": "better than chance" if dsr.better_than_chance else "not better than chance"}


def write_optimize_report(out: Path, base: Config, evaluator: Evaluator, s: StudySettings, result: StudyResult,
                          command_line: list[Any]) -> dict[str, Any]:
    trials = result.trials
    objectives = s.objectives
    write_trials_csv(out / "trials.csv", trials, s.space, objectives, s.min_trades)
    files = ["trials.csv"]
    front = pareto_trials(trials, objectives, s.min_trades)
    if len(objectives) > 1:
        write_pareto_csv(out / "pareto.csv", front, s.space, objectives)
        plot_pareto(out / "pareto.png", trials, front, objectives)
        files += ["pareto.csv", "pareto.png"]
    plot_history(out / "history.png", trials, objectives[0], s.min_trades)
    importance = parameter_importance(trials, 0, objectives[0].maximize)
    if importance:
        plot_importance(out / "importance.png", importance, objectives[0])
        files.append("importance.png")
    plot_slices(out / "slices.png", trials, s.space, objectives[0])
    files += ["history.png", "slices.png"]
    st = result.stats
    counts = {state: sum(1 for t in trials if t.state.name == state) for state in ("COMPLETE", "FAIL")}
    summary: dict[str, Any] = {
        "command": command_line,
        "data": [m.name for m in evaluator.markets],
        "from": _arg(command_line, "--from"),
        "to": _arg(command_line, "--to"),
        "symbol": evaluator.symbol,
        "interval": evaluator.interval,
        "candles": evaluator.candles,
        "study": s.study_name,
        "storage": result.written_to,
        "sampler": s.sampler,
        "seed": s.seed,
        "objectives": [o.name for o in objectives],
        "min_trades": s.min_trades,
        "space": s.space.keys,
        "trials": {"total": len(trials), "complete": counts["COMPLETE"], "failed": counts["FAIL"],
                   "this_run": st.evaluated + st.failed, "from_other_processes": st.adopted},
        "timing": {"wall_s": st.wall_s, "trials_per_s": (st.evaluated + st.failed) / st.wall_s,
                   "sampler_s": st.sampler_s, "sampler_share": st.sampler_s / st.wall_s,
                   "sampler_cpu_s": st.sampler_cpu_s, "processes": result.jobs,
                   "cpu_utilisation": st.cpu_utilisation,
                   "per_process": [{"trials": p.trials, "cpu_s": p.cpu_s, "evaluating_cpu_s": p.eval_cpu_s,
                                    "waiting_s": p.idle_s, "cache_misses": p.cache_misses} for p in st.processes]},
        "importance": importance,
        "pareto_front": [t.number for t in front] if len(objectives) > 1 else None,
        "interrupted": st.interrupted,
    }
    best = result.best
    if best is not None:
        values = s.space.values(best.params)
        cfg_data = best_config(base, values)
        write_json(out / "best-config.json", cfg_data)
        files.insert(1, "best-config.json")
        cfg = evaluator.config_for(values)
        summary["best"] = {"number": best.number, "params": values, "metrics": metrics_of(best),
                           "values": dict(zip([o.name for o in objectives], best.values, strict=True))}
        summary["overfitting"] = overfitting(evaluator, cfg, result, s.seed)
    else:
        summary["best"] = None
        summary["overfitting"] = None
    files.append("summary.json")
    summary["files"] = files + ([Path(result.written_to).name] if result.written_to.endswith("journal") else [])
    write_json(out / "summary.json", summary)
    print_summary(summary_lines(summary, out))
    return summary


def summary_lines(sm: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    t = sm["timing"]
    lines = [("NEON_PURPLE", f"=== Optimize {sm['symbol']} ({sm['candles']:,} candles, {len(sm['space'])} parameters, "
                             f"sampler {sm['sampler']}) ==="),
             ("NEON_BLUE", f"trials         {sm['trials']['total']:,} ({sm['trials']['complete']:,} complete, "
                           f"{sm['trials']['failed']:,} failed); this run {sm['trials']['this_run']:,} in "
                           f"{t['wall_s']:.1f} s = {t['trials_per_s']:,.0f} trials/s with {t['processes']} "
                           f"process(es); sampler {t['sampler_share'] * 100:.0f}% of the time")]
    if sm.get("interrupted"):
        lines.append(("NEON_YELLOW", "stopped by Ctrl-C: the report covers the trials finished; --resume continues"))
    best = sm["best"]
    if best is None:
        lines.append(("NEON_RED", f"no trial made {sm['min_trades']} trades or more: no best config (lower "
                                  "--min-trades or widen the space)"))
    else:
        m = best["metrics"]
        pf = "n/a" if m["profit_factor"] is None else f"{m['profit_factor']:.2f}"
        colour = "NEON_GREEN" if m["total_pnl"] > 0 else "NEON_RED"
        lines.append((colour, f"best trial     #{best['number']}: net {m['total_pnl']:+.2f} USDT "
                              f"({m['return_pct']:+.2f}%), {m['trades']} trades, win rate {m['win_rate'] * 100:.1f}%, "
                              f"profit factor {pf}, "
                              f"sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown'] * 100:.2f}%"))
        of = sm["overfitting"]
        d = of["deflated_sharpe"]
        prob = "n/a" if d["probability"] is None else f"{d['probability']:.3f}"
        lines.append(("NEON_CYAN", f"deflated sharpe probability {prob} (SR {d['sharpe']:.4f}/day vs "
                                   f"{d['expected_max_sharpe']:.4f} expected from {d['n_trials']:,} trials of no "
                                   "skill; "
                                   f"T {d['n_returns']}, skew {d['skewness']:.2f}, kurtosis {d['kurtosis']:.2f})"))
        mc = of["trade_order_monte_carlo"]
        lines.append(("NEON_CYAN", f"trade order    {mc['shuffles']:,} shuffles: max drawdown p50 "
                                   f"{mc['max_drawdown_p50'] * 100:.2f}%, p95 {mc['max_drawdown_p95'] * 100:.2f}%"))
        if d["better_than_chance"]:
            lines.append(("NEON_GREEN", "verdict        better than chance (deflated Sharpe probability >= 0.95)"))
        else:
            lines.append(("NEON_RED", "verdict        not better than chance: the best trial's Sharpe ratio is what "
                                      f"the best of {d['n_trials']:,} random strategies would show (deflated Sharpe "
                                      "probability below 0.95)"))
    lines.append(("NEON_GREEN", f"report         {out}/ ({', '.join(sm['files'])})"))
    if best is not None:
        cut = "".join(f" --{k} {sm[k]}" for k in ("from", "to") if sm.get(k))
        lines.append(("NEON_BLUE", f"reproduce      python whalebot.py backtest --config {out}/best-config.json "
                                   f"{' '.join(f'--data {d}' for d in sm['data'])}{cut}"))
    return lines



def _arg(command_line: list[Any], flag: str) -> str | None:
    for i, a in enumerate(command_line):
        if a == flag and i + 1 < len(command_line):
            return str(command_line[i + 1])
        if isinstance(a, str) and a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None
