"""Overfitting measures (docs/optimize.md#overfitting-defences). Pure functions, no I/O.

- The deflated Sharpe ratio of Bailey and López de Prado (2014, "The Deflated Sharpe Ratio:
  Correcting for Selection Bias, Backtest Overfitting and Non-Normality"): the probability that
  the best trial's true Sharpe ratio is above the best one would expect from N trials of zero skill.
- A Monte Carlo of the best trial's trade order: the same trades in 1,000 seeded random orders,
  giving the 50th and 95th percentiles of the max drawdown.
- Walk-forward efficiency: out-of-sample annual return over in-sample annual return.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

EULER_GAMMA = 0.5772156649015329
CHANCE_LEVEL = 0.95  # below this DSR probability the report says "not better than chance"


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))  # erfc keeps the precision of the tails


def norm_ppf(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation, refined by one Newton step)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    elif p > 1.0 - lo:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    e = norm_cdf(x) - p
    return x - e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)


@dataclass(frozen=True)
class DeflatedSharpe:
    sharpe: float  # the best trial's Sharpe ratio per period (per day, not annualised)
    skewness: float  # of its daily returns
    kurtosis: float  # of its daily returns (not excess: 3 for a normal distribution)
    n_returns: int  # T
    n_trials: int  # N
    trials_sharpe_variance: float  # variance of the trials' per-period Sharpe ratios
    expected_max_sharpe: float  # SR0: the best per-period Sharpe N zero-skill trials would show
    probability: float | None  # DSR: P(true Sharpe > SR0); None when it cannot be computed

    @property
    def better_than_chance(self) -> bool:
        return self.probability is not None and self.probability >= CHANCE_LEVEL

    def as_dict(self) -> dict:
        return {**asdict(self), "better_than_chance": self.better_than_chance}


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """E[max SR] over N independent zero-skill trials whose Sharpe ratios have this variance
    (Bailey & López de Prado 2014, eq. 6 of the DSR paper, via the false strategy theorem)."""
    if n_trials < 2 or variance <= 0.0:
        return 0.0
    sd = math.sqrt(variance)
    return sd * ((1.0 - EULER_GAMMA) * norm_ppf(1.0 - 1.0 / n_trials)
                 + EULER_GAMMA * norm_ppf(1.0 - 1.0 / (n_trials * math.e)))


def deflated_sharpe(returns: np.ndarray, trial_sharpes: np.ndarray) -> DeflatedSharpe:
    """DSR of the strategy with these per-period `returns`, selected as the best of trials whose
    per-period Sharpe ratios are `trial_sharpes` (every trial, the best one included)."""
    r = np.asarray(returns, dtype=float)
    t = int(r.size)
    sh = np.asarray(trial_sharpes, dtype=float)
    sh = sh[np.isfinite(sh)]
    n = int(sh.size)
    var = float(sh.var(ddof=1)) if n > 1 else 0.0
    sr0 = expected_max_sharpe(n, var)
    if t < 3 or float(r.std(ddof=1)) == 0.0:
        return DeflatedSharpe(0.0, 0.0, 3.0, t, n, var, sr0, None)
    mu, sd = float(r.mean()), float(r.std(ddof=1))
    sr = mu / sd
    z = (r - mu) / float(r.std(ddof=0))
    skew = float(np.mean(z ** 3))
    kurt = float(np.mean(z ** 4))
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if denom <= 0.0:
        return DeflatedSharpe(sr, skew, kurt, t, n, var, sr0, None)
    prob = norm_cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(denom))
    return DeflatedSharpe(sr, skew, kurt, t, n, var, sr0, prob)


@dataclass(frozen=True)
class TradeOrderMonteCarlo:
    shuffles: int
    seed: int
    max_drawdown_p50: float  # fraction of the peak
    max_drawdown_p95: float
    actual_max_drawdown: float  # of the trades in their real order (closed-trade equity)

    def as_dict(self) -> dict:
        return asdict(self)


def trade_order_monte_carlo(net_pnl: np.ndarray, start_balance: float, shuffles: int = 1000,
                            seed: int = 0) -> TradeOrderMonteCarlo:
    """Max drawdown of the closed-trade equity (start balance + cumulative net PnL in USDT) over
    `shuffles` seeded random orders of the same trades."""
    pnl = np.asarray(net_pnl, dtype=float)
    rng = np.random.default_rng(seed)
    if pnl.size == 0:
        return TradeOrderMonteCarlo(shuffles, seed, 0.0, 0.0, 0.0)
    orders = np.argsort(rng.random((shuffles, pnl.size)), axis=1)
    paths = start_balance + np.cumsum(pnl[orders], axis=1)
    paths = np.concatenate([np.full((shuffles, 1), start_balance), paths], axis=1)
    dds = _max_dd_rows(paths)
    actual = float(_max_dd_rows(np.r_[start_balance, start_balance + np.cumsum(pnl)][None, :])[0])
    return TradeOrderMonteCarlo(shuffles, seed, float(np.percentile(dds, 50)), float(np.percentile(dds, 95)), actual)


def _max_dd_rows(paths: np.ndarray) -> np.ndarray:
    peaks = np.maximum.accumulate(paths, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(peaks > 0, (peaks - paths) / peaks, 1.0)
    return np.minimum(frac.max(axis=1), 1.0)


def walk_forward_efficiency(oos_annual_pct: float, is_annual_pct: float) -> float | None:
    """OOS annual return / IS annual return; None (n/a) when the in-sample return is <= 0."""
    if is_annual_pct <= 0.0:
        return None
    return oos_annual_pct / is_annual_pct
