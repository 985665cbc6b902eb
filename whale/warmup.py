"""Compiles, before the first tick, every numba kernel the live loop and the simulator call.

With a cold cache (a fresh clone, an update) the first book update, the first entry and the first
stop move would each stall their thread for 0.1-2 s while numba compiles: on a live market, with a
position's exit checks waiting behind it, and in the demo long enough for the book to move on
unseen. numba compiles per argument-type signature, so every call here passes the types its live
call site passes (Python int sides and stop kinds, float prices, bool flags, float64 arrays), on
throwaway inputs; no bot or exchange state is touched.

`prepare_kernels` runs it all in named groups before the WebSocket streams start (compiling takes
30-60 s on a cold cache, which must neither look like a hang nor trip the streams' stale check):
it says when it is compiling (first run only), which group, n of m, and ticks every few seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from whale.book_fills import book_fill_ticks
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
from whale.market.book import OrderBook
from whale.market.instruments import Instrument
from whale.risk.account import Closes, OpenPosition, size_entry
from whale.risk.sizing import size_steps
from whale.strategy.decide import candle_action
from whale.strategy.density import DensityTracker
from whale.strategy.finaliser import BUY, SELL
from whale.strategy.stops import STOP_INITIAL, initial_levels, move_stop

PRICE, ATR = 100.0, 1.0
TICK_S = 5.0  # a long group says it is still compiling this often
SLOW_GROUP_S = 2.0  # a group that took longer is reported even when the cache looked warm
KernelGroup = tuple[str, Callable[[], object]]
_ready_logged = False  # "kernels ready" once per process (the demo prepares before the bot does)


def compile_fill_kernels(tick: float, fees: Fees) -> None:
    """The fill model as the paper broker and the simulator's matching call it."""
    for side in (LONG, SHORT):
        level = PRICE - side * ATR
        stop_crossed(side, level, PRICE)
        target_crossed(side, PRICE + side * ATR, PRICE)
        taker_fill_ticks(side == LONG, PRICE, PRICE, fees.slippage_rate, tick)
        book_fill_ticks(side == LONG, np.array([PRICE, PRICE + tick]), np.ones(2), 1.5, tick)
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
    """A throwaway tracker fed as the Trader feeds it (MarketState.density_levels): a small book with
    one wall as a whole book (detection), then a delta that erodes the wall (tracking)."""
    tracker = DensityTracker(cfg.density)
    levels = np.arange(1, 21, dtype=np.float64)
    px = np.concatenate((PRICE - levels * 0.01, PRICE + levels * 0.01))
    sizes = np.ones(px.size)
    sizes[22] = 10.0 * cfg.density.multiplier + cfg.density.min_notional / PRICE
    tracker.apply_levels(0, True, px, sizes, 0, levels.size, levels.size)
    tracker.apply_levels(1_000, False, px[22:23].copy(), sizes[22:23] * 0.5, 0, 0, 1)
    rows_px, rows_sz = np.zeros((2, 1)), np.zeros((2, 1))  # a delta as the book's change log holds it
    rows_px[1, 0], rows_sz[1, 0] = px[22], sizes[22] * 0.25
    tracker.apply_changes(2_000, rows_px, rows_sz, 0, 1)
    book = OrderBook("WARMUPUSDT")  # the live book's kernel, which a stream thread calls on each delta
    book.apply_snapshot([(PRICE - 0.01, 1.0)], [(PRICE + 0.01, 1.0)], update_id=1)
    book.apply_delta([(str(PRICE - 0.02), "2")], [(str(PRICE + 0.01), "0")], update_id=2)


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


def kernel_groups(cfg: Config, inst: Instrument) -> list[KernelGroup]:
    """Everything the live loop compiles, as (what, how) groups in the order they run: the analyzer's
    kernels (higher-timeframe trends, then indicators, scores and signals), the fill model, densities,
    then stops, sizing and the candle decision."""
    from whale.strategy.analyzer import Analyzer, synthetic_candles

    candles = synthetic_candles()
    analyzer = Analyzer(cfg, "15", capacity=512, live=True)
    groups: list[KernelGroup] = []
    def trends() -> None:
        for htf in analyzer.mtf_intervals:
            analyzer.add_htf_candles(htf, candles)  # values do not matter, types do

    if analyzer.mtf_intervals:
        groups.append(("higher-timeframe trends", trends))

    def scores() -> None:
        n = len(candles)
        analyzer.process(candles, scores=np.zeros(n), ready=np.zeros(n, np.bool_), signals=np.zeros(n, np.int8),
                         cooled=np.zeros(n, np.bool_))

    groups.append(("indicators, scores and signals", scores))
    groups.append(("the fill model", lambda: compile_fill_kernels(inst.tick, cfg.fees)))
    groups.append(("order-book densities", lambda: compile_density_kernels(cfg)))
    groups.append(("stops, sizing and decisions", lambda: compile_live_kernels(cfg, inst)))
    return groups


def cache_is_cold() -> bool:
    """No compiled kernel in numba's cache directory yet: this is the first run (or the first after an
    update). Without a cache directory we cannot tell, and say nothing up front."""
    where = os.environ.get("NUMBA_CACHE_DIR")
    if not where:
        return False
    root = Path(where)
    return not root.is_dir() or next(root.rglob("*.nbi"), None) is None


def prepare_kernels(cfg: Config, inst: Instrument, log: logging.Logger,
                    extra: Sequence[KernelGroup] = ()) -> float:
    """Compile (or load from the cache) every kernel of `kernel_groups` plus `extra` (the demo's
    simulator), saying what it does: on a cold cache a first line (first run only) and each group,
    n of m; a group still running after TICK_S says so every TICK_S. Returns the seconds spent."""
    global _ready_logged
    groups = [*kernel_groups(cfg, inst), *extra]
    cold = cache_is_cold()
    if cold:
        log.info("Compiling the numba kernels: first run only (on this machine, or after an update), about "
                 "30-60 s; later starts load them from the cache in about a second")
    t0 = time.monotonic()
    for i, (what, build) in enumerate(groups, 1):
        step = f"{i} of {len(groups)}: {what}"
        if cold:
            log.info(f"Compiling kernels {step}")
        t = time.monotonic()
        with _StillCompiling(log, step):
            build()
        spent = time.monotonic() - t
        if cold or spent > SLOW_GROUP_S:
            log.info(f"Compiled kernels {i} of {len(groups)} in {spent:.1f} s")
    total = time.monotonic() - t0
    if cold or total > SLOW_GROUP_S or not _ready_logged:
        log.info(f"Kernels ready in {total:.1f} s" + (" (compiled once; later starts load them from the cache)"
                                                      if cold else ""))
    _ready_logged = True
    return total


class _StillCompiling:
    """While a group runs, a line every TICK_S (the compiler holds the main thread for up to ~30 s)."""

    def __init__(self, log: logging.Logger, step: str) -> None:
        self.log, self.step = log, step
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._tick, name="whalebot-compile-ticker", daemon=True)

    def _tick(self) -> None:
        t0 = time.monotonic()
        while not self.done.wait(TICK_S):
            self.log.info(f"Still compiling kernels {self.step} ({time.monotonic() - t0:.0f} s)")

    def __enter__(self) -> _StillCompiling:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=TICK_S)
