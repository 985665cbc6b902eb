"""Running the backtest kernel (whale.backtest.simulate) on hand-made arrays, for the tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.runner import account_params
from whale.config.model import Config


@dataclass
class OneRun:
    trades: np.ndarray
    state: np.ndarray  # the symbol's state row
    equity: np.ndarray  # per candle
    in_position: np.ndarray  # per candle
    balance: float
    run: sim.PortfolioRun


def run_one(P: np.ndarray, o, h, lo, c, ts, atr, signals, scores, *, cfg: Config | None = None, ready=None,
            balance: float | None = None, symbol: str = "ETHUSDT") -> OneRun:
    """One symbol on one account: the kernel the backtest runs, with the account's keys from `cfg`."""
    cfg = cfg or Config()
    n = len(o)
    col = {"ts": np.asarray(ts, dtype=np.int64), "open": np.asarray(o, dtype=float), "high": np.asarray(h, dtype=float),
           "low": np.asarray(lo, dtype=float), "close": np.asarray(c, dtype=float),
           "atr": np.broadcast_to(np.asarray(atr, dtype=float), (n,)).copy(),
           "signals": np.asarray(signals, dtype=np.int8), "scores": np.asarray(scores, dtype=float),
           "ready": np.ones(n, dtype=bool) if ready is None else np.asarray(ready, dtype=bool)}
    AP = account_params(cfg)
    if balance is not None:
        AP[sim.AP_BALANCE] = balance
    run = sim.simulate_portfolio(sim.Market.of((symbol,), [col]), P[None, :], AP)
    return OneRun(run.trades, run.state[0], run.equity, run.symbol_in_position, run.balance, run)
