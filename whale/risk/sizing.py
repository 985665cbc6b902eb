"""Position sizing, the one rule of the backtest kernel and the live PositionManager.

Size = equity x risk % / stop distance, floored to qtyStep; risk is never rounded up. Then every cap
on size is applied in turn: maxOrderQty, the leverage, the exposure cap. With `shrink`
(`risk.when_capped: "shrink"`) a size over a cap is cut to the largest the cap allows, floored to
qtyStep, so the entry risks less than asked; otherwise the entry is skipped. A size below
minOrderQty or minNotionalValue, before or after shrinking, skips the entry.

The leverage cap is Bybit's order cost: the initial margin plus the taker fee to open and to close
(at the bankruptcy price, the larger short-side figure) must fit in equity, so the exchange never
refuses a size this rule allows.

Quantities are whole numbers of qtyStep so the live path builds an exact Decimal (steps x
Decimal(qtyStep)). A new cap (a correlation cap, say) is one more argument and one more `_cap`
line in `size_steps`, with its pair of codes below.
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
SKIP_CAPPED_BELOW_MIN = 8
SIZE_SHRUNK_MAX_QTY = 9
SIZE_SHRUNK_LEVERAGE = 10
SIZE_SHRUNK_EXPOSURE = 11
N_SIZE_CODES = 12
FIRST_SHRUNK = SIZE_SHRUNK_MAX_QTY

SIZE_REASONS = ("ok", "stop distance is zero", "below minOrderQty", "below minNotionalValue",
                "needs more than the leverage allows", "above maxOrderQty", "no equity",
                "exposure beyond risk.max_total_exposure_percent",
                "shrunk to a cap, below the instrument's minimum",
                "shrunk to maxOrderQty", "shrunk to the leverage", "shrunk to the exposure cap")
SKIP_REASONS = SIZE_REASONS  # the skip codes' texts (1..8), kept under the older name
CAP_NAMES = {SIZE_SHRUNK_MAX_QTY: "max_order_qty", SIZE_SHRUNK_LEVERAGE: "leverage",
             SIZE_SHRUNK_EXPOSURE: "exposure"}
NO_CAP = 1 << 62


def is_sized(code: int) -> bool:
    """An entry goes ahead: at full risk, or shrunk to a cap."""
    return code == SIZE_OK or code >= FIRST_SHRUNK


def is_shrunk(code: int) -> bool:
    return code >= FIRST_SHRUNK


@njit(cache=True)
def _steps_of(qty: float, qty_step: float) -> int:
    """Whole qtySteps at or below `qty` (tolerant of float noise)."""
    if not (qty > 0.0):
        return 0
    return int(math.floor(qty / qty_step + 1e-9))


@njit(cache=True)
def order_cost_per_notional(leverage: float, fee_rate: float) -> float:
    """Bybit's order cost per unit of notional: margin 1/leverage plus the taker fee to open and to close
    (the close at the short's bankruptcy price, notional x (1 + 1/leverage), the larger of the two sides)."""
    return 1.0 / leverage + fee_rate * (2.0 + 1.0 / leverage)


@njit(cache=True)
def _below_minimum(steps: int, qty_step: float, entry: float, min_qty: float, min_notional: float) -> int:
    qty = steps * qty_step
    if steps <= 0 or qty < min_qty - 1e-12:
        return SKIP_BELOW_MIN_QTY
    if qty * entry < min_notional:
        return SKIP_BELOW_MIN_NOTIONAL
    return SIZE_OK


@njit(cache=True)
def _cap(steps: int, code: int, cap_steps: int, shrunk_code: int, skip_code: int, shrink: bool) -> tuple[int, int]:
    """One cap on size: within it nothing changes; beyond it the size shrinks to it, or the entry is
    skipped. A skipped entry (steps 0) stays skipped; the tightest cap names the shrink."""
    if steps <= cap_steps:
        return steps, code
    if not shrink:
        return 0, skip_code
    return cap_steps, shrunk_code


@njit(cache=True)
def size_steps(equity: float, risk_percent: float, entry: float, stop: float, qty_step: float,
               min_qty: float, min_notional: float, max_qty: float, leverage: float, fee_rate: float,
               max_exposure_percent: float, shrink: bool) -> tuple[int, int]:
    """(steps of qtyStep, size code). steps is 0 when the entry is skipped (a SKIP_* code); SIZE_OK is the
    full risk; SIZE_SHRUNK_* names the cap that cut it. `entry` is the expected fill price; `max_qty`
    0 means no limit; `fee_rate` is the taker rate the leverage cap's order cost counts."""
    if not (equity > 0.0):
        return 0, SKIP_NO_EQUITY
    distance = abs(entry - stop)
    if not (distance > 0.0):
        return 0, SKIP_NO_STOP_DISTANCE
    steps = _steps_of(equity * risk_percent / 100.0 / distance, qty_step)
    code = _below_minimum(steps, qty_step, entry, min_qty, min_notional)
    if code != SIZE_OK:
        return 0, code
    # The caps, in the order that names a shrink when two bind alike (and today's skip order).
    max_steps = _steps_of(max_qty, qty_step) if max_qty > 0.0 else NO_CAP
    steps, code = _cap(steps, code, max_steps, SIZE_SHRUNK_MAX_QTY, SKIP_ABOVE_MAX_QTY, shrink)
    lev_steps = _steps_of(equity / order_cost_per_notional(leverage, fee_rate) / entry, qty_step)
    steps, code = _cap(steps, code, lev_steps, SIZE_SHRUNK_LEVERAGE, SKIP_BEYOND_LEVERAGE, shrink)
    exp_steps = _steps_of(equity * max_exposure_percent / 100.0 / entry, qty_step)
    steps, code = _cap(steps, code, exp_steps, SIZE_SHRUNK_EXPOSURE, SKIP_EXPOSURE, shrink)
    if code != SIZE_OK and code < FIRST_SHRUNK:
        return 0, code
    if code != SIZE_OK and _below_minimum(steps, qty_step, entry, min_qty, min_notional) != SIZE_OK:
        return 0, SKIP_CAPPED_BELOW_MIN
    return steps, code


def describe_size(code: int, steps: int, *, equity: float, risk_percent: float, entry: float, stop: float,
                  qty_step: float, min_qty: float, min_notional: float, max_qty: float, leverage: float,
                  fee_rate: float, max_exposure_percent: float, coin: str = "") -> str:
    """What sizing did, in words and numbers (empty for SIZE_OK): for a cap, what the full risk would
    need against the limit; for a shrink, the size taken and the risk it carries."""
    if code == SIZE_OK:
        return ""
    distance = abs(entry - stop)
    unit = f" {coin}" if coin else ""
    decimals = max(0, -math.floor(math.log10(qty_step) + 1e-9))
    if not (distance > 0.0 and equity > 0.0 and entry > 0.0):
        return (f"size {SIZE_REASONS[code]} (equity {equity:.2f} USDT, risk {risk_percent:g} %, stop distance "
                f"{distance:.6g})")
    want = equity * risk_percent / 100.0 / distance
    if code in (SKIP_BELOW_MIN_QTY, SKIP_BELOW_MIN_NOTIONAL):
        return (f"size {SIZE_REASONS[code]}: the {risk_percent:g} % risk over a stop distance of {distance:.6g} "
                f"is {want:.{decimals}f}{unit}, {want * entry:,.2f} USDT (minOrderQty {min_qty:g}, "
                f"minNotionalValue {min_notional:g} USDT)")
    caps = {SIZE_SHRUNK_MAX_QTY: max_qty if max_qty > 0.0 else math.inf,
            SIZE_SHRUNK_LEVERAGE: equity / order_cost_per_notional(leverage, fee_rate) / entry,
            SIZE_SHRUNK_EXPOSURE: equity * max_exposure_percent / 100.0 / entry}
    cap = {SKIP_ABOVE_MAX_QTY: SIZE_SHRUNK_MAX_QTY, SKIP_BEYOND_LEVERAGE: SIZE_SHRUNK_LEVERAGE,
           SKIP_EXPOSURE: SIZE_SHRUNK_EXPOSURE}.get(code, code)
    if cap not in caps:  # shrunk below the minimum: the tightest cap did it
        cap = min(caps, key=lambda c: (caps[c], c))
    notional = want * entry
    if cap == SIZE_SHRUNK_MAX_QTY:
        need = f"{want:.{decimals}f}{unit}, maxOrderQty {max_qty:g}"
    elif cap == SIZE_SHRUNK_EXPOSURE:
        need = (f"{notional:,.0f} USDT, {notional / equity * 100.0:,.0f} % of equity, exposure cap "
                f"{max_exposure_percent:g} %")
    else:
        most = 1.0 / order_cost_per_notional(leverage, fee_rate)
        need = f"{notional / equity:.1f}x, leverage {leverage:g}x ({most:.2f}x with the fees to open and close)"
    need = f"the {risk_percent:g} % risk needs {need}"
    if code == SKIP_CAPPED_BELOW_MIN:
        return (f"size {SIZE_REASONS[code]}: {need}, and the largest size it allows, "
                f"{caps[cap]:.{decimals + 2}f}{unit}, is below minOrderQty {min_qty:g} or minNotionalValue "
                f"{min_notional:g} USDT")
    if not is_shrunk(code):
        return f"size {SIZE_REASONS[code]}: {need} (risk.when_capped is skip)"
    qty = steps * qty_step
    return f"Entry shrunk to {qty:.{decimals}f}{unit}: {need}; risking {qty * distance / equity * 100.0:.2f} %"
