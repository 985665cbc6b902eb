"""What a closed candle's signal means for the position: one rule for the backtest broker and the
live loop (the same function, so the two cannot drift apart)."""

from __future__ import annotations

from numba import njit

from whale.fills import LONG
from whale.strategy.finaliser import BUY, SELL


@njit(cache=True)
def candle_action(position_side: int, signal: int, score: float, threshold: float, close_on_opposite: bool,
                  reverse_on_opposite: bool) -> tuple[bool, int]:
    """(exit the open position?, side to enter: +1, -1 or 0).

    An entry needs the finaliser's BUY / SELL and |score| >= threshold. A strong opposite signal
    closes the position when close_on_opposite is on, and re-enters the other way when
    reverse_on_opposite is on too; otherwise an open position is held.
    """
    strong_long = signal == BUY and score >= threshold
    strong_short = signal == SELL and score <= -threshold
    if position_side != 0:
        opposite = strong_short if position_side == LONG else strong_long
        if opposite and close_on_opposite:
            return True, (-position_side if reverse_on_opposite else 0)
        return False, 0
    if strong_long:
        return False, LONG
    if strong_short:
        return False, -LONG
    return False, 0
