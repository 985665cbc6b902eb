"""Position rules shared by every mode: initial SL/TP from ATR, and the stop moves made on each
candle close (trailing stop, break-even, profit lock-in). Stops are never loosened and are
rounded to the tick away from the market (see whale.fills.round_away_from_market).

Numba functions, so the backtest kernel calls them natively and the live PositionManager calls
the very same code from Python.
"""

from __future__ import annotations

from numba import njit

from whale.fills import LONG, round_away_from_market

# Why the current stop is where it is; decides the exit reason when it is hit.
STOP_INITIAL = 0
STOP_BREAKEVEN = 1
STOP_TRAILING = 2

# Exit reasons (docs/strategy.md#stops-and-exit-reasons), in the order of their codes.
EXIT_REASONS = ("take_profit", "stop_loss", "trailing_stop", "breakeven_stop", "opposite_signal",
                "end_of_backtest", "density_erosion", "momentum_slowdown", "counter_density",
                "aggressive_reversal", "return_to_range", "emergency", "manual")
(R_TAKE_PROFIT, R_STOP_LOSS, R_TRAILING, R_BREAKEVEN, R_OPPOSITE, R_END, R_DENSITY_EROSION, R_MOMENTUM,
 R_COUNTER_DENSITY, R_AGGRESSIVE, R_RETURN_TO_RANGE, R_EMERGENCY, R_MANUAL) = range(len(EXIT_REASONS))


@njit(cache=True)
def stop_exit_reason(stop_kind: int) -> int:
    if stop_kind == STOP_TRAILING:
        return R_TRAILING
    if stop_kind == STOP_BREAKEVEN:
        return R_BREAKEVEN
    return R_STOP_LOSS


@njit(cache=True)
def initial_levels(side: int, entry: float, atr: float, sl_mult: float, tp_mult: float,
                   tick: float) -> tuple[float, float]:
    """SL = entry -/+ ATR x sl_mult, TP = entry +/- ATR x tp_mult, both rounded away from the market."""
    sl = round_away_from_market(entry - side * atr * sl_mult, tick, side, True)
    tp = round_away_from_market(entry + side * atr * tp_mult, tick, side, False)
    return sl, tp


@njit(cache=True)
def _tighter(side: int, candidate: float, stop: float) -> bool:
    return candidate > stop if side == LONG else candidate < stop


@njit(cache=True)
def move_stop(side: int, entry: float, stop: float, stop_kind: int, breakeven_done: bool, close: float,
              atr: float, tick: float, trailing_enabled: bool, trail_trigger_atr: float, trail_mult: float,
              breakeven_trigger_atr: float, lock_in_mult: float) -> tuple[float, int, bool]:
    """The stop after a candle closes at `close`: (stop, stop_kind, breakeven_done).

    - break-even: once profit reaches `breakeven_trigger_atr` ATR (0 = off) the stop goes to the
      entry (one-shot flag, kept even if the price comes back);
    - profit lock-in: after break-even, a stop `lock_in_mult` ATR behind the close when that is
      beyond the entry (0 = off);
    - trailing: armed at `trail_trigger_atr` ATR of profit, `trail_mult` ATR behind the close.
    The tightest candidate wins; a stop only ever tightens, and never at or through the close.
    """
    if not (atr > 0.0) or close != close:
        return stop, stop_kind, breakeven_done
    profit = (close - entry) * side
    new_stop, new_kind = stop, stop_kind
    if breakeven_trigger_atr > 0.0 and profit >= breakeven_trigger_atr * atr:
        breakeven_done = True
    if breakeven_done:
        be = round_away_from_market(entry, tick, side, True)
        if _tighter(side, be, new_stop) and _tighter(side, close, be):
            new_stop, new_kind = be, STOP_BREAKEVEN
        if lock_in_mult > 0.0:
            lock = round_away_from_market(close - side * lock_in_mult * atr, tick, side, True)
            if (lock - entry) * side > 0.0 and _tighter(side, lock, new_stop) and _tighter(side, close, lock):
                new_stop, new_kind = lock, STOP_TRAILING
    if trailing_enabled and profit >= trail_trigger_atr * atr:
        trail = round_away_from_market(close - side * trail_mult * atr, tick, side, True)
        if _tighter(side, trail, new_stop) and _tighter(side, close, trail):
            new_stop, new_kind = trail, STOP_TRAILING
    return new_stop, new_kind, breakeven_done
