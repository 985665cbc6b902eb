"""Running the backtest kernel (whale.backtest.simulate) on hand-made arrays, for the tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.runner import account_params, sim_params
from whale.config.model import Config
from whale.market.candles import Candles
from whale.market.instruments import instrument_for


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


@dataclass
class Leg:
    """One symbol of a hand-made run: its candles, BUY/SELL per candle (score ±5) and a constant ATR."""

    symbol: str
    candles: Candles
    signals: np.ndarray
    atr: float


def run_many(cfg: Config, legs: list[Leg], *, trade_buffer: int = 4096) -> sim.PortfolioRun:
    """Several symbols on one account, instrument rules from each symbol (known or inferred)."""
    cols, rows = [], []
    for leg in legs:
        c = leg.candles
        n = len(c)
        sig = np.asarray(leg.signals, dtype=np.int8)
        cols.append({"ts": c.ts, "open": c.open, "high": c.high, "low": c.low, "close": c.close,
                     "atr": np.full(n, leg.atr), "signals": sig, "scores": sig * 5.0, "ready": np.ones(n, dtype=bool)})
        rows.append(sim_params(cfg, instrument_for(leg.symbol, c.close), c.interval, 0))
    market = sim.Market.of(tuple(leg.symbol for leg in legs), cols)
    return sim.simulate_portfolio(market, np.stack(rows), account_params(cfg), trade_buffer=trade_buffer)
