"""Compiles, before the first tick, every numba kernel the live loop and the simulator call.

With a cold cache (a fresh clone, an update) the first book update, the first entry and the first
stop move would each stall their thread for 0.1-2 s while numba compiles: on a live market, with a
position's exit checks waiting behind it, and in the demo long enough for the book to move on
unseen. numba compiles per argument-type signature, so every call here passes the types its live
call site passes (Python int sides and stop kinds, float prices, bool flags, float64 arrays), on
throwaway inputs; no bot or exchange state is touched.
"""

from __future__ import annotations

import numpy as np

from whale.config.model import Config, Fees
from whale.fills import (
    LONG,
    SHORT,
    ceil_ticks,
    fee,
    floor_ticks,
    funding_payment,
    funding_times_in,
    limit_reached,
    pnl,
    round_away_from_market,
    stop_crossed,
    taker_fill_ticks,
    target_crossed,
    trailing_stop_level,
)
from whale.market.instruments import Instrument
from whale.risk.account import Closes, OpenPosition, size_entry
from whale.risk.sizing import size_steps
from whale.strategy.decide import candle_action
from whale.strategy.density import DensityTracker
from whale.strategy.finaliser import BUY, SELL
from whale.strategy.stops import STOP_INITIAL, initial_levels, move_stop

PRICE, ATR = 100.0, 1.0


def compile_fill_kernels(tick: float, fees: Fees) -> None:
    """The fill model as the paper broker and the simulator's matching call it."""
    for side in (LONG, SHORT):
        level = PRICE - side * ATR
        stop_crossed(side, level, PRICE)
        target_crossed(side, PRICE + side * ATR, PRICE)
        taker_fill_ticks(side == LONG, PRICE, PRICE, fees.slippage_rate, tick)
        limit_reached(side == LONG, level, PRICE)
        trailing_stop_level(side, PRICE, ATR, tick)
        pnl(side, PRICE, level, 1.0)
        funding_payment(side, 1.0, PRICE, fees.funding_rate_8h)
        round_away_from_market(level, tick, side, True)  # the density stops call it from Python
    fee(PRICE, 1.0, fees.taker_rate)
    ceil_ticks(PRICE, tick)
    floor_ticks(PRICE, tick)
    funding_times_in(0, 1)


def compile_density_kernels(cfg: Config) -> None:
    """A throwaway tracker over a small book with one wall, seen twice (detection, then tracking)."""
    tracker = DensityTracker(cfg.density)
    levels = np.arange(1, 21, dtype=np.float64)
    bid_px, ask_px = PRICE - levels * 0.01, PRICE + levels * 0.01
    sizes = np.ones(levels.size)
    wall = sizes.copy()
    wall[2] = 10.0 * cfg.density.multiplier + cfg.density.min_notional / PRICE
    for now_ms in (0, 1_000):
        tracker.update(now_ms, bid_px, sizes, ask_px, wall)


def compile_account_sizing(cfg: Config, inst: Instrument, side: int, stop: float) -> None:
    """The account's sizing as the live Account calls it: another open position, both symbols' closes
    (the correlation and the group rule), so the first entry next to an open position compiles nothing."""
    ts = np.arange(64, dtype=np.int64) * 60_000
    walk = PRICE * np.exp(np.cumsum(np.sin(np.arange(64.0))) * 0.001)
    closes = {inst.symbol: Closes.of(ts, walk), "WARMUPUSDT": Closes.of(ts, walk[::-1].copy())}
    size_entry(cfg, inst, symbol=inst.symbol, side=side, entry=PRICE, stop=stop, equity=1000.0,
               positions=[OpenPosition("WARMUPUSDT", side, 1.0, PRICE)], closes=closes, decision_ts=int(ts[-1]))


def compile_live_kernels(cfg: Config, inst: Instrument) -> None:
    """Everything the live loop's main thread compiles on its first book update, entry and stop move."""
    tm = cfg.trade_management
    tick = inst.tick
    compile_fill_kernels(tick, cfg.fees)
    compile_density_kernels(cfg)
    for side, signal in ((LONG, BUY), (SHORT, SELL)):
        sl, _ = initial_levels(side, PRICE, ATR, tm.stop_loss_atr_multiple, tm.take_profit_atr_multiple, tick)
        size_steps(1000.0, tm.risk_per_trade_percent, PRICE, sl, inst.step, float(inst.min_order_qty),
                   float(inst.min_notional), float(inst.max_mkt_order_qty), min(tm.leverage, float(inst.max_leverage)),
                   cfg.fees.taker_rate, cfg.risk.max_total_exposure_percent, cfg.risk.when_capped == "shrink")
        compile_account_sizing(cfg, inst, side, sl)
        move_stop(side, PRICE, sl, STOP_INITIAL, False, PRICE + side * ATR, ATR, tick, tm.enable_trailing_stop,
                  tm.break_even_atr_trigger, tm.trailing_stop_atr_multiple, tm.move_to_breakeven_atr_trigger,
                  tm.profit_lock_in_atr_multiple)
        candle_action(0, signal, float(signal), cfg.signal_score_threshold, tm.close_on_opposite_signal,
                      tm.reverse_position_on_opposite_signal)
