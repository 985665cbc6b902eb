"""The signal validator: the last check before an entry order is sent (docs/density_and_safety.md#signal-validator).

Rules, in the order they are checked (the first that fails is reported):

1. `bad_input`   quantity and price must be positive and finite;
2. `min_qty`     qty >= the instrument's minOrderQty;
3. `qty_step`    qty is a whole multiple of qtyStep;
4. `max_qty`     qty <= maxMktOrderQty (entries are market orders) and <= maxOrderQty;
5. `min_notional` qty x price >= minNotionalValue;
6. `equity`      equity must be positive;
7. `exposure`    open exposure + qty x price <= `risk.max_total_exposure_percent` % of equity;
8. `book_impact` qty <= `risk.max_book_impact_percent` % of the size resting on the side the
   order takes (asks for a buy, bids for a sell) within `risk.impact_depth_percent` % of the
   price. Skipped when no book is given (backtests have none).

Instrument and exposure rules are exact: numbers go through Decimal (floats by their shortest
repr). The impact rule works on the float book. A new entry is taken to add to the exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from whale.config.model import Risk
from whale.market.instruments import Instrument

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Validation:
    ok: bool
    rule: str  # "ok" or the failing rule's name
    message: str

    def __bool__(self) -> bool:
        return self.ok


def to_decimal(x: Any) -> Decimal:
    if isinstance(x, Decimal):
        return x
    if isinstance(x, (int, np.integer)):
        return Decimal(int(x))
    if isinstance(x, str):
        return Decimal(x.strip())
    return Decimal(repr(float(x)))  # a float by its shortest repr: 0.003 is 0.003


def fmt_amount(x: Decimal | float) -> str:
    """Money and notional for messages: 3,412 / 95.12 (two decimals below 100)."""
    v = float(x)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def fmt_pct(x: Decimal | float, *, beyond: Decimal | float | None = None) -> str:
    """A percentage for messages: whole from 100 up, one decimal from 1, and two significant digits
    below 1, so a small limit (0.05 %) never shows as 0.0. With `beyond` (the limit a value broke)
    more digits are added, up to 6 decimals, until the value no longer reads as the limit."""
    v = float(x)
    if not math.isfinite(v) or v == 0.0:
        return f"{v:g}"
    if abs(v) >= 100 or v.is_integer():
        decimals = 0
    elif abs(v) >= 1:
        decimals = 1
    else:
        decimals = 1 - math.floor(math.log10(abs(v)))  # two significant digits
    if beyond is not None:
        limit = float(beyond)
        while decimals < 6 and round(v, decimals) == limit and v != limit:
            decimals += 1
    text = f"{v:,.{decimals}f}"
    if abs(v) < 1 and "." in text:
        text = text.rstrip("0").rstrip(".")  # 0.50 -> 0.5
    return text


def _plain(x: Decimal) -> str:
    return format(x.normalize(), ",f")


def _side(side: int | str) -> int:
    if isinstance(side, str):
        return 1 if side.lower() in ("buy", "long") else -1
    return 1 if side > 0 else -1


def _instrument_rule(qty: Decimal, price: Decimal, inst: Instrument) -> Validation | None:
    if qty < inst.min_order_qty:
        return Validation(False, "min_qty", f"quantity {_plain(qty)} is below the instrument's minimum order "
                                            f"quantity {_plain(inst.min_order_qty)} ({inst.symbol})")
    if inst.qty_step > 0 and qty % inst.qty_step != 0:
        return Validation(False, "qty_step", f"quantity {_plain(qty)} is not a multiple of the quantity step "
                                             f"{_plain(inst.qty_step)} ({inst.symbol})")
    for limit, what in ((inst.max_mkt_order_qty, "maximum market order quantity"),
                        (inst.max_order_qty, "maximum order quantity")):
        if limit > 0 and qty > limit:
            return Validation(False, "max_qty", f"quantity {_plain(qty)} is above the instrument's {what} "
                                                f"{_plain(limit)} ({inst.symbol})")
    notional = qty * price
    if notional < inst.min_notional:
        return Validation(False, "min_notional", f"order value {fmt_amount(notional)} USDT ({_plain(qty)} x "
                                                 f"{_plain(price)}) is below the instrument's minimum "
                                                 f"{_plain(inst.min_notional)} USDT ({inst.symbol})")
    return None


def book_depth_near(side: int, price: float, book: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                    depth_percent: float) -> float:
    """Size resting on the side a `side` market order takes, within depth_percent % of price."""
    bid_px, bid_sz, ask_px, ask_sz = book
    if side > 0:
        n = int(np.searchsorted(ask_px, price * (1.0 + depth_percent / 100.0), side="right"))
        return float(ask_sz[:n].sum())
    n = int(np.searchsorted(-bid_px, -price * (1.0 - depth_percent / 100.0), side="right"))
    return float(bid_sz[:n].sum())


def validate_entry(side: int | str, qty: Any, price: Any, equity: Any, open_exposure_notional: Any,
                   book: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
                   instrument: Instrument, risk_settings: Risk) -> Validation:
    """Check one entry (a market order of `qty` at about `price`) against every rule above."""
    try:
        q, p = to_decimal(qty), to_decimal(price)
        eq, open_notional = to_decimal(equity), to_decimal(open_exposure_notional)
    except (ValueError, ArithmeticError, TypeError):
        return Validation(False, "bad_input", f"not a number among qty {qty!r}, price {price!r}, "
                                              f"equity {equity!r}, exposure {open_exposure_notional!r}")
    if not (q.is_finite() and p.is_finite() and q > 0 and p > 0):
        return Validation(False, "bad_input", f"quantity {qty} and price {price} must be positive numbers")
    bad = _instrument_rule(q, p, instrument)
    if bad is not None:
        return bad
    if not (eq.is_finite() and eq > 0):
        return Validation(False, "equity", f"equity {equity} USDT leaves nothing to trade with")
    after = abs(open_notional) + q * p
    limit_pct = to_decimal(risk_settings.max_total_exposure_percent)
    if after * HUNDRED > eq * limit_pct:
        pct = after / eq * HUNDRED
        return Validation(False, "exposure", (
            f"exposure {fmt_amount(after)} USDT after the trade would be {fmt_pct(pct, beyond=limit_pct)} % of equity "
            f"{fmt_amount(eq)} USDT (limit {fmt_pct(limit_pct)} %)"))
    if book is not None:
        s = _side(side)
        depth_pct = risk_settings.impact_depth_percent
        depth = book_depth_near(s, float(p), book, depth_pct)
        limit = risk_settings.max_book_impact_percent
        book_side = "ask" if s > 0 else "bid"
        if not (depth > 0.0) or math.isnan(depth):
            return Validation(False, "book_impact", f"no {book_side} depth within {fmt_pct(depth_pct)} % of the "
                                                    f"price {_plain(p)} to take the order")
        if q * HUNDRED > to_decimal(limit) * to_decimal(depth):
            share = float(q) / depth * 100.0
            return Validation(False, "book_impact", (
                f"the order {_plain(q)} would take {fmt_pct(share, beyond=limit)} % of the {depth:,.6g} resting "
                f"on the {book_side} side within {fmt_pct(depth_pct)} % of the price {_plain(p)} "
                f"(limit {fmt_pct(limit)} %)"))
    return Validation(True, "ok", f"{_plain(q)} at {_plain(p)}: exposure {fmt_amount(after)} USDT, "
                                  f"{fmt_pct(after / eq * HUNDRED)} % of equity {fmt_amount(eq)} USDT")
