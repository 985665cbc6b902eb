"""The report directory of `optimize`: trials.csv, best-config.json, pareto.csv, summary.json, the
plots, and the colored terminal summary (docs/optimize.md#outputs)."""

from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from whale.optimize.driver import ERROR_ATTR, METRICS_ATTR
from whale.optimize.objectives import Objective, feasible, pareto_mask
from whale.optimize.space import Space, decode_choice

METRIC_COLUMNS = ("trades", "wins", "losses", "win_rate", "total_pnl", "return_pct", "annual_return_pct", "sharpe",
                  "sortino", "calmar", "profit_factor", "max_drawdown", "max_drawdown_usdt", "fees", "funding",
                  "exposure_time", "end_balance", "bars", "warmup_bars")


def metrics_of(t: FrozenTrial) -> dict[str, Any] | None:
    m = t.user_attrs.get(METRICS_ATTR)
    return m if isinstance(m, dict) else None


def feasible_trials(trials: Sequence[FrozenTrial], min_trades: int) -> list[FrozenTrial]:
    return [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
            and (m := metrics_of(t)) is not None and feasible(m, min_trades)]


def pareto_trials(trials: Sequence[FrozenTrial], objectives: list[Objective], min_trades: int) -> list[FrozenTrial]:
    ok = feasible_trials(trials, min_trades)
    if not ok:
        return []
    values = np.array([t.values for t in ok], dtype=float)
    values = np.nan_to_num(values, nan=-np.inf, posinf=1e300, neginf=-1e300)
    mask = pareto_mask(values, [o.maximize for o in objectives])
    return [t for t, k in zip(ok, mask, strict=True) if k]


def best_trial(trials: Sequence[FrozenTrial], objectives: list[Objective], min_trades: int) -> FrozenTrial | None:
    """The feasible trial best in the first objective (for several objectives: on the Pareto front,
    the best in the first one); ties go to the earlier trial."""
    pool = pareto_trials(trials, objectives, min_trades) if len(objectives) > 1 else \
        feasible_trials(trials, min_trades)
    if not pool:
        return None
    o = objectives[0]
    key = (lambda t: (-t.values[0], t.number)) if o.maximize else (lambda t: (t.values[0], t.number))
    return min(pool, key=key)


def write_trials_csv(path: Path, trials: Sequence[FrozenTrial], space: Space, objectives: list[Objective],
                     min_trades: int) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["number", "state", "feasible", *[f"value_{o.name}" for o in objectives], *space.keys,
                    *METRIC_COLUMNS, "error"])
        for t in sorted(trials, key=lambda t: t.number):
            m = metrics_of(t) or {}
            values = list(t.values) if t.values is not None else [None] * len(objectives)
            w.writerow([t.number, t.state.name, bool(m) and feasible(m, min_trades), *[_cell(v) for v in values],
                        *[_cell(decode_choice(t.params.get(k))) for k in space.keys],
                        *[_cell(m.get(c)) for c in METRIC_COLUMNS], t.user_attrs.get(ERROR_ATTR, "")])


def write_pareto_csv(path: Path, front: Sequence[FrozenTrial], space: Space, objectives: list[Objective]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["number", *[o.name for o in objectives], *space.keys])
        for t in sorted(front, key=lambda t: t.number):
            w.writerow([t.number, *[_cell(v) for v in t.values],
                        *[_cell(decode_choice(t.params.get(k))) for k in space.keys]])


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return v


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON")


# ---- plots -----------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(path: Path, trials: Sequence[FrozenTrial], objective: Objective, min_trades: int) -> None:
    plt = _plt()
    ok = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None]
    xs = np.array([t.number for t in ok])
    ys = np.array([t.values[0] for t in ok], dtype=float)
    feas = np.array([feasible(metrics_of(t) or {"trades": 0}, min_trades) for t in ok], dtype=bool)
    fig, ax = plt.subplots(figsize=(10, 5))
    if len(ok):
        finite = np.isfinite(ys)
        ax.scatter(xs[feas & finite], ys[feas & finite], s=6, alpha=0.5, label="trials")
        ax.scatter(xs[~feas & finite], ys[~feas & finite], s=6, alpha=0.3, color="#bbbbbb",
                   label=f"fewer than {min_trades} trades")
        best = np.where(feas & finite, ys, -np.inf if objective.maximize else np.inf)
        run = np.maximum.accumulate(best) if objective.maximize else np.minimum.accumulate(best)
        good = np.isfinite(run)
        ax.plot(xs[good], run[good], color="#d62728", linewidth=1.5, label="best so far")
    _finish(plt, fig, ax, path, "trial", objective.label, "Optimisation history")


def parameter_importance(trials: Sequence[FrozenTrial], objective_index: int, maximize: bool) -> dict[str, float]:
    """Optuna's PED-ANOVA importances of the parameters for one objective, over the completed trials
    with finite values (fANOVA, Optuna's other evaluator, would need scikit-learn)."""
    import optuna

    ok = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
          and math.isfinite(t.values[objective_index])]
    if len(ok) < 3:
        return {}
    study = optuna.create_study(directions=["maximize"] * len(ok[0].values))
    study.add_trials(ok)
    sign = -1.0 if maximize else 1.0  # PED-ANOVA looks at what makes the target low (and warns so)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return optuna.importance.get_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                                                       target=lambda t: sign * t.values[objective_index])


def plot_importance(path: Path, importance: dict[str, float], objective: Objective) -> None:
    plt = _plt()
    names = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.3 * len(names) + 1)))
    ax.barh(names, [importance[n] for n in names], color="#1f77b4")
    ax.set_xlabel(f"importance for {objective.label} (Optuna PED-ANOVA)")
    ax.set_title("Parameter importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_pareto(path: Path, trials: Sequence[FrozenTrial], front: Sequence[FrozenTrial],
                objectives: list[Objective]) -> None:
    plt = _plt()
    ok = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None]
    fig, ax = plt.subplots(figsize=(8, 6))
    a = np.array([t.values[:2] for t in ok], dtype=float) if ok else np.zeros((0, 2))
    ax.scatter(a[:, 0], a[:, 1], s=6, alpha=0.3, color="#999999", label="trials")
    f = np.array(sorted([t.values[:2] for t in front]), dtype=float) if front else np.zeros((0, 2))
    ax.plot(f[:, 0], f[:, 1], "o-", color="#d62728", markersize=4, label="Pareto front")
    _finish(plt, fig, ax, path, objectives[0].label, objectives[1].label, "Pareto front")


def _finish(plt, fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> None:
    """Labels, grid and legend of a one-panel plot, then the PNG."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_slices(path: Path, trials: Sequence[FrozenTrial], space: Space, objective: Objective) -> None:
    """Each parameter against the objective, one small panel per parameter."""
    plt = _plt()
    ok = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None and math.isfinite(t.values[0])]
    keys = space.keys
    cols = 4
    rows = max(1, math.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    ys = np.array([t.values[0] for t in ok], dtype=float)
    for i, key in enumerate(keys):
        ax = axes[i // cols][i % cols]
        xs = [t.params.get(key) for t in ok]
        if xs and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
            ax.scatter(xs, ys, s=4, alpha=0.4, c=[t.number for t in ok], cmap="viridis")
        else:
            labels = sorted({str(x) for x in xs})
            pos = {lab: j for j, lab in enumerate(labels)}
            ax.scatter([pos[str(x)] for x in xs], ys, s=4, alpha=0.4)
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(key.split(".")[-1], fontsize=8)
        ax.tick_params(labelsize=7)
    for j in range(len(keys), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(f"Each parameter against {objective.label}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---- terminal ---------------------------------------------------------------------------------------
def print_summary(lines: list[tuple[str, str]]) -> None:
    """(colour name, text) lines, coloured when stdout is a terminal."""
    from whale import logs

    use = logs.use_colour(sys.stdout)
    for colour, text in lines:
        code = getattr(logs, colour, "")
        print(f"{code}{text}{logs.RESET}" if use and code else text)
