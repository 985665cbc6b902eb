"""The signal finaliser: threshold, hysteresis and cooldown (docs/strategy.md#the-signal-finaliser), with state that
persists across candles (the original rebuilt it every loop, so both features were no-ops).

State lives in a small array owned by the caller, so a backtest and the live loop carry it the
same way; cooldown is counted in candle time (the candle's close), not the wall clock.
"""

from __future__ import annotations

import numpy as np
from numba import njit

HOLD = 0
BUY = 1
SELL = -1
SIGNAL_NAMES = {BUY: "BUY", SELL: "SELL", HOLD: "HOLD"}

# State layout.
ST_LAST_SCORE, ST_LAST_SIGNAL_S, N_STATE = 0, 1, 2


def new_state() -> np.ndarray:
    return np.zeros(N_STATE)


@njit(cache=True)
def finalise_range(scores, ready, close_time_s, threshold, hysteresis, cooldown_s, state, start, end,
                   signals, cooled):
    """Turn scores[start:end] into BUY / SELL / HOLD in signals[start:end]. cooled[k] is True where a
    signal was replaced by HOLD because of the cooldown (the caller logs it). Candles that are not
    ready (warm-up) give HOLD and leave the state untouched."""
    for k in range(start, end):
        cooled[k] = False
        if not ready[k]:
            signals[k] = HOLD
            continue
        score = scores[k]
        last = state[ST_LAST_SCORE]
        strong_buy = score >= threshold
        strong_sell = score <= -threshold
        if last > 0.0 and score > -threshold * hysteresis and not strong_buy:
            sig = BUY
        elif last < 0.0 and score < threshold * hysteresis and not strong_sell:
            sig = SELL
        elif strong_buy:
            sig = BUY
        elif strong_sell:
            sig = SELL
        else:
            sig = HOLD
        if sig != HOLD:
            now = close_time_s[k]
            if now - state[ST_LAST_SIGNAL_S] < cooldown_s:
                sig = HOLD
                cooled[k] = True
            else:
                state[ST_LAST_SIGNAL_S] = now
        state[ST_LAST_SCORE] = score
        signals[k] = sig
