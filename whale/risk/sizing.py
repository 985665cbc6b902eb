"""Position sizing: risk amount / stop distance, quantized down to the instrument's qtyStep.

A size that falls below minOrderQty or minNotionalValue, or needs more than the leverage allows,
skips the entry with a reason; risk is never rounded up. Quantities are returned as whole
numbers of qtyStep so the live path builds an exact Decimal (steps x Decimal(qtyStep)).
"""

from __future__ import annotations

import math

from numba import njit

SIZE_OK = 0
SKIP_NO_STOP_DISTANCE = 1
SKIP_BELOW_MIN_QTY = 2
SKIP_BELOW_MIN_NOTIONAL = 3
SKIP_BEYOND_LEVERAGE = 4
SKIP_ABOVE_MAX_QTY = 5
SKIP_NO_EQUITY = 6
SKIP_EXPOSURE = 7
SKIP_REASONS = ("ok", "stop distance is zero", "below minOrderQty", "below minNotionalValue",
                "needs more than the leverage allows", "above maxOrderQty", "no equity",
                "exposure beyond risk.max_total_exposure_percent")


@njit(cache=True)
def size_steps(equity: float, risk_percent: float, entry: float, stop: float, qty_step: float,
               min_qty: float, min_notional: float, max_qty: float, leverage: float,
               max_exposure_percent: float) -> tuple[int, int]:
    """(steps of qtyStep, reason code). steps is 0 whenever the reason is not SIZE_OK. The notional may
    not exceed equity x leverage, nor max_exposure_percent % of equity (the validator's exposure rule,
    applied here too so a backtest skips what the live bot would refuse)."""
    if not (equity > 0.0):
        return 0, SKIP_NO_EQUITY
    distance = abs(entry - stop)
    if not (distance > 0.0):
        return 0, SKIP_NO_STOP_DISTANCE
    risk_amount = equity * risk_percent / 100.0
    steps = int(math.floor(risk_amount / distance / qty_step + 1e-9))
    qty = steps * qty_step
    if steps <= 0 or qty < min_qty - 1e-12:
        return 0, SKIP_BELOW_MIN_QTY
    if qty * entry < min_notional:
        return 0, SKIP_BELOW_MIN_NOTIONAL
    if max_qty > 0.0 and qty > max_qty + 1e-12:
        return 0, SKIP_ABOVE_MAX_QTY
    if qty * entry > equity * leverage:
        return 0, SKIP_BEYOND_LEVERAGE
    if qty * entry > equity * max_exposure_percent / 100.0:
        return 0, SKIP_EXPOSURE
    return steps, SIZE_OK
