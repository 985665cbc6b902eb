"""Position sizing, the one rule of the backtest kernel and the live PositionManager / Account.

Size = equity x risk % / stop distance, floored to qtyStep; risk is never rounded up. Then every cap
on size is applied in turn: maxOrderQty, the leverage, the account's total exposure (every open
position plus this one) and the correlated group's room (whale.risk.correlation). With `shrink`
(`risk.when_capped: "shrink"`) a size over a cap is cut to the largest the cap allows, floored to
qtyStep, so the entry risks less than asked; otherwise the entry is skipped. A size below
minOrderQty or minNotionalValue, before or after shrinking, skips the entry. Before any of that, an
account already holding `trade_management.max_open_positions` positions makes no entry.

The leverage cap is Bybit's order cost: the initial margin plus the taker fee to open and to close
(at the bankruptcy price, the larger short-side figure) must fit in equity, so the exchange never
refuses a size this rule allows. It counts this order only (as the exchange's order-cost check
does against the available balance); the exposure cap is what limits the account as a whole.

Quantities are whole numbers of qtyStep so the live path builds an exact Decimal (steps x
Decimal(qtyStep)). `size_account_steps` is the whole rule; `size_steps` is it for an account with
nothing open (one symbol, the single-symbol callers). whale.risk.account is the Python-facing
front that gathers the account's figures for the live bot.
"""

from __future__ import annotations

import math

from numba import njit

from whale.risk.correlation import Group
from whale.risk.validator import fmt_amount, fmt_pct

SIZE_OK = 0
SKIP_NO_STOP_DISTANCE = 1
SKIP_BELOW_MIN_QTY = 2
SKIP_BELOW_MIN_NOTIONAL = 3
SKIP_BEYOND_LEVERAGE = 4
SKIP_ABOVE_MAX_QTY = 5
SKIP_NO_EQUITY = 6
SKIP_EXPOSURE = 7
SKIP_CAPPED_BELOW_MIN = 8
SKIP_CORRELATION = 9
SKIP_MAX_OPEN_POSITIONS = 10
SIZE_SHRUNK_MAX_QTY = 11
SIZE_SHRUNK_LEVERAGE = 12
SIZE_SHRUNK_EXPOSURE = 13
SIZE_SHRUNK_CORRELATION = 14
N_SIZE_CODES = 15
FIRST_SHRUNK = SIZE_SHRUNK_MAX_QTY

SIZE_REASONS = ("ok", "stop distance is zero", "below minOrderQty", "below minNotionalValue",
                "needs more than the leverage allows", "above maxOrderQty", "no equity",
                "exposure beyond risk.max_total_exposure_percent",
                "shrunk to a cap, below the instrument's minimum",
                "correlated group beyond risk.max_correlated_exposure_percent",
                "max_open_positions reached",
                "shrunk to maxOrderQty", "shrunk to the leverage", "shrunk to the exposure cap",
                "shrunk to the correlation cap")
SKIP_REASONS = SIZE_REASONS  # the skip codes' texts (1..10), kept under the older name
CAP_NAMES = {SIZE_SHRUNK_MAX_QTY: "max_order_qty", SIZE_SHRUNK_LEVERAGE: "leverage",
             SIZE_SHRUNK_EXPOSURE: "exposure", SIZE_SHRUNK_CORRELATION: "correlation"}
NO_CAP = 1 << 62
NO_GROUP = -1.0  # group_notional when the entry joins no open position: the correlation cap is off


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
def size_account_steps(equity: float, risk_percent: float, entry: float, stop: float, qty_step: float,
                       min_qty: float, min_notional: float, max_qty: float, leverage: float, fee_rate: float,
                       max_exposure_percent: float, shrink: bool, open_notional: float, group_notional: float,
                       max_group_percent: float, open_positions: int, max_open_positions: int) -> tuple[int, int]:
    """(steps of qtyStep, size code). steps is 0 when the entry is skipped (a SKIP_* code); SIZE_OK is the
    full risk; SIZE_SHRUNK_* names the cap that cut it. `entry` is the expected fill price; `max_qty`
    0 means no limit; `fee_rate` is the taker rate the leverage cap's order cost counts.

    The account: `open_notional` is the notional of every open position (qty x mark price),
    `group_notional` that of the open positions this entry joins as one bet (NO_GROUP when it joins
    none), `open_positions` how many are open; `max_open_positions` <= 0 means no limit."""
    if max_open_positions > 0 and open_positions >= max_open_positions:
        return 0, SKIP_MAX_OPEN_POSITIONS
    if not (equity > 0.0):
        return 0, SKIP_NO_EQUITY
    distance = abs(entry - stop)
    if not (distance > 0.0):
        return 0, SKIP_NO_STOP_DISTANCE
    steps = _steps_of(equity * risk_percent / 100.0 / distance, qty_step)
    code = _below_minimum(steps, qty_step, entry, min_qty, min_notional)
    if code != SIZE_OK:
        return 0, code
    # The caps, in the order that names a shrink when two bind alike (and the skip order).
    max_steps = _steps_of(max_qty, qty_step) if max_qty > 0.0 else NO_CAP
    steps, code = _cap(steps, code, max_steps, SIZE_SHRUNK_MAX_QTY, SKIP_ABOVE_MAX_QTY, shrink)
    lev_steps = _steps_of(equity / order_cost_per_notional(leverage, fee_rate) / entry, qty_step)
    steps, code = _cap(steps, code, lev_steps, SIZE_SHRUNK_LEVERAGE, SKIP_BEYOND_LEVERAGE, shrink)
    exp_steps = _steps_of((equity * max_exposure_percent / 100.0 - open_notional) / entry, qty_step)
    steps, code = _cap(steps, code, exp_steps, SIZE_SHRUNK_EXPOSURE, SKIP_EXPOSURE, shrink)
    if group_notional >= 0.0:
        grp_steps = _steps_of((equity * max_group_percent / 100.0 - group_notional) / entry, qty_step)
        steps, code = _cap(steps, code, grp_steps, SIZE_SHRUNK_CORRELATION, SKIP_CORRELATION, shrink)
    if code != SIZE_OK and code < FIRST_SHRUNK:
        return 0, code
    if code != SIZE_OK and _below_minimum(steps, qty_step, entry, min_qty, min_notional) != SIZE_OK:
        return 0, SKIP_CAPPED_BELOW_MIN
    return steps, code


@njit(cache=True)
def size_steps(equity: float, risk_percent: float, entry: float, stop: float, qty_step: float,
               min_qty: float, min_notional: float, max_qty: float, leverage: float, fee_rate: float,
               max_exposure_percent: float, shrink: bool) -> tuple[int, int]:
    """size_account_steps for an account with nothing else open: no other exposure, no group, no
    position count."""
    return size_account_steps(equity, risk_percent, entry, stop, qty_step, min_qty, min_notional, max_qty, leverage,
                              fee_rate, max_exposure_percent, shrink, 0.0, NO_GROUP, 0.0, 0, 0)


def describe_size(code: int, steps: int, *, equity: float, risk_percent: float, entry: float, stop: float,
                  qty_step: float, min_qty: float, min_notional: float, max_qty: float, leverage: float,
                  fee_rate: float, max_exposure_percent: float, coin: str = "", open_notional: float = 0.0,
                  group: Group | None = None, open_positions: int = 0, max_open_positions: int = 0,
                  open_symbols: tuple[str, ...] = ()) -> str:
    """What sizing did, in words and numbers (empty for SIZE_OK): the rule, what the full risk would
    need against its limit; for a shrink, the size taken and the risk it carries. The account's
    figures are the ones size_account_steps was given (`group` describes its group_notional)."""
    if code == SIZE_OK:
        return ""
    if code == SKIP_MAX_OPEN_POSITIONS:
        names = f" ({', '.join(open_symbols)})" if open_symbols else ""
        return (f"max_open_positions: {open_positions} position{'s' if open_positions != 1 else ''} open{names}, "
                f"the limit is {max_open_positions}")
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
            SIZE_SHRUNK_EXPOSURE: (equity * max_exposure_percent / 100.0 - open_notional) / entry}
    if group is not None and group.members:
        caps[SIZE_SHRUNK_CORRELATION] = (equity * group.max_percent / 100.0 - group.notional) / entry
    cap = {SKIP_ABOVE_MAX_QTY: SIZE_SHRUNK_MAX_QTY, SKIP_BEYOND_LEVERAGE: SIZE_SHRUNK_LEVERAGE,
           SKIP_EXPOSURE: SIZE_SHRUNK_EXPOSURE, SKIP_CORRELATION: SIZE_SHRUNK_CORRELATION}.get(code, code)
    if cap not in caps:  # shrunk below the minimum: the tightest cap did it
        cap = min(caps, key=lambda c: (caps[c], c))
    notional = want * entry
    if cap == SIZE_SHRUNK_CORRELATION and group is not None:
        after = group.notional + notional
        need = (f"correlation: {group.phrase()}: group {fmt_amount(after)} USDT after the trade would be "
                f"{fmt_pct(after / equity * 100.0, beyond=group.max_percent)} % of equity {fmt_amount(equity)} USDT "
                f"(limit {fmt_pct(group.max_percent)} %)")
    else:
        if cap == SIZE_SHRUNK_MAX_QTY:
            need = f"{want:.{decimals}f}{unit}, maxOrderQty {max_qty:g}"
        elif cap == SIZE_SHRUNK_EXPOSURE and open_notional > 0.0:
            after = open_notional + notional
            need = (f"{notional:,.0f} USDT; with the open positions' {open_notional:,.0f} USDT that is "
                    f"{after / equity * 100.0:,.0f} % of equity {equity:,.0f} USDT, exposure cap "
                    f"{max_exposure_percent:g} %")
        elif cap == SIZE_SHRUNK_EXPOSURE:
            need = (f"{notional:,.0f} USDT, {notional / equity * 100.0:,.0f} % of equity, exposure cap "
                    f"{max_exposure_percent:g} %")
        else:
            most = 1.0 / order_cost_per_notional(leverage, fee_rate)
            need = f"{notional / equity:.1f}x, leverage {leverage:g}x ({most:.2f}x with the fees to open and close)"
        need = f"the {risk_percent:g} % risk needs {need}"
    largest = max(caps[cap], 0.0)
    if code == SKIP_CAPPED_BELOW_MIN:
        return (f"size {SIZE_REASONS[code]}: {need}, and the largest size it allows, "
                f"{largest:.{decimals + 2}f}{unit}, is below minOrderQty {min_qty:g} or minNotionalValue "
                f"{min_notional:g} USDT")
    if not is_shrunk(code):
        if cap == SIZE_SHRUNK_CORRELATION:
            return f"{need}; risk.when_capped is skip"
        return f"size {SIZE_REASONS[code]}: {need} (risk.when_capped is skip)"
    qty = steps * qty_step
    return f"Entry shrunk to {qty:.{decimals}f}{unit}: {need}; risking {qty * distance / equity * 100.0:.2f} %"
