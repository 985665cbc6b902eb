"""Objective names, the report figure behind each, its direction, and the minimum-trades constraint."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from whale.errors import BadInputError


@dataclass(frozen=True)
class Objective:
    name: str
    metric: str  # the report.json figure
    maximize: bool
    label: str

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    def value(self, metrics: dict[str, Any]) -> float:
        """The figure as Optuna gets it. A ratio that report.json leaves null (profit factor without a
        losing trade, Calmar without a drawdown) is +inf when the trial made money, else 0."""
        v = metrics[self.metric]
        if v is None:
            return math.inf if metrics["total_pnl"] > 0 else 0.0
        return float(v)


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("net_profit", "total_pnl", True, "net profit (USDT)"),
    Objective("return", "return_pct", True, "return %"),
    Objective("sharpe", "sharpe", True, "Sharpe (daily, annualised)"),
    Objective("sortino", "sortino", True, "Sortino (daily, annualised)"),
    Objective("calmar", "calmar", True, "Calmar (annual return / max drawdown)"),
    Objective("profit_factor", "profit_factor", True, "profit factor"),
    Objective("max_drawdown", "max_drawdown", False, "max drawdown (fraction)"),
)}
DEFAULT_OBJECTIVES = "net_profit"


def parse_objectives(text: str) -> list[Objective]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise BadInputError(f"--objective: name one or more of {', '.join(OBJECTIVES)}")
    out = []
    for n in names:
        if n not in OBJECTIVES:
            import difflib
            guess = difflib.get_close_matches(n, list(OBJECTIVES), n=1)
            mean = f"; did you mean {guess[0]!r}?" if guess else ""
            raise BadInputError(f"--objective {n!r} is not one of {', '.join(OBJECTIVES)}{mean}")
        if OBJECTIVES[n] in out:
            raise BadInputError(f"--objective names {n!r} twice")
        out.append(OBJECTIVES[n])
    return out


def feasible(metrics: dict[str, Any], min_trades: int) -> bool:
    return int(metrics["trades"]) >= min_trades


def pareto_mask(values: np.ndarray, maximize: list[bool]) -> np.ndarray:
    """Rows of `values` (trials x objectives) that no other row dominates."""
    v = np.where(np.array(maximize), -values, values)  # all minimised
    n = len(v)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        dominated = np.all(v <= v[i], axis=1) & np.any(v < v[i], axis=1)
        if dominated.any():
            keep[i] = False
    return keep
