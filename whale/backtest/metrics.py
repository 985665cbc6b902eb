"""Performance statistics from trades and an equity curve (pure functions, shared by the backtest
report and the journal's summary)."""

from __future__ import annotations

import math

import numpy as np

DAY_MS = 86_400_000


def max_drawdown(equity: np.ndarray) -> tuple[float, float]:
    """(largest peak-to-trough fall as a fraction of the peak, the same in quote currency)."""
    if equity.size == 0:
        return 0.0, 0.0
    peaks = np.maximum.accumulate(equity)
    falls = peaks - equity
    usdt = float(falls.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(peaks > 0, falls / peaks, 0.0)
    return float(frac.max()), usdt


def drawdown_curve(equity: np.ndarray) -> np.ndarray:
    peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peaks > 0, (equity - peaks) / peaks, 0.0)


def daily_returns(ts_ms: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Returns from one UTC day's last equity to the next day's; empty with fewer than three days."""
    if equity.size < 2:
        return np.zeros(0)
    day = ts_ms // DAY_MS
    last_of_day = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    closes = equity[last_of_day]
    if closes.size < 3:
        return np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = np.diff(closes) / closes[:-1]
    return rets[np.isfinite(rets)]


def daily_sharpe(ts_ms: np.ndarray, equity: np.ndarray) -> float:
    """Sharpe ratio of daily returns (equity at each UTC day's last candle), annualised with √365
    (crypto trades every day); 0 when there are fewer than two daily returns or no variation."""
    return sharpe_of(daily_returns(ts_ms, equity))


def sharpe_of(rets: np.ndarray) -> float:
    """daily_sharpe of returns already taken (the report takes them once for both ratios)."""
    if rets.size < 2:
        return 0.0
    sd = float(rets.std(ddof=1))
    if sd == 0.0:
        return 0.0
    return float(rets.mean() / sd * math.sqrt(365.0))


def sortino_of(rets: np.ndarray) -> float:
    """The mean over the downside deviation (root mean square of the returns below 0, over all
    days), annualised with √365; 0 without a losing day or fewer than two daily returns."""
    if rets.size < 2:
        return 0.0
    downside = float(np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2)))
    if downside == 0.0:
        return 0.0
    return float(rets.mean() / downside * math.sqrt(365.0))


def annual_return_pct(start_balance: float, end_balance: float, days: float) -> float:
    """Compound annual growth over `days`, in %; -100 when the balance is gone, 0 for no time."""
    if days <= 0.0 or start_balance <= 0.0:
        return 0.0
    if end_balance <= 0.0:
        return -100.0
    return float(((end_balance / start_balance) ** (365.0 / days) - 1.0) * 100.0)


def calmar(annual_pct: float, max_dd: float) -> float | None:
    """Annual return (%) over the max drawdown (%); None (JSON null) without a drawdown."""
    return annual_pct / (max_dd * 100.0) if max_dd > 0.0 else None


def trade_stats(net: np.ndarray) -> dict:
    """Counts and ratios over closed trades' net PnL. A zero PnL is neither a win nor a loss."""
    wins = int((net > 0).sum())
    losses = int((net < 0).sum())
    gross_win = float(net[net > 0].sum())
    gross_loss = float(-net[net < 0].sum())
    # Undefined (None, JSON null) without losing trades rather than an infinity JSON cannot hold.
    pf = gross_win / gross_loss if gross_loss > 0 else None
    n = int(net.size)
    return {
        "trades": n,
        "wins": wins,
        "losses": losses,
        "win_rate": wins / n if n else 0.0,
        "total_pnl": float(net.sum()),
        "avg_pnl": float(net.mean()) if n else 0.0,
        "profit_factor": pf,
        # The best winner and the worst loser; None (JSON null) when no trade won (lost), not the
        # smallest loss passed off as a win.
        "largest_win": float(net.max()) if wins else None,
        "largest_loss": float(net.min()) if losses else None,
    }
