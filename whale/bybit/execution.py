"""The Bybit Execution: real orders through BybitRest (Bybit itself, or the simulator in demo), for
every symbol of the account (whale.venue.protocols.Execution).

Our own orders' fills are read back by their orderLinkId (the execution list), so the entry price
the bot records is the real average fill, not the pre-trade ticker. Whatever the exchange does on
its own — a stop-loss, take-profit or trailing stop that fills, funding, a manual close — arrives
on the private stream; `handle_private` turns it into venue events, each with its symbol.

Every Bybit error leaves this class as one of the venue-neutral errors (whale.venue.errors), with
the Bybit error as its cause. For an order the class depends on what is known: a 10006, an IP ban,
a connection that never reached Bybit or an order confirmed absent did not execute
(TemporaryError / RateLimitedError); a lost answer, or a fill that cannot be read after the order
was accepted, is OutcomeUnknownError with the orderLinkId (looked up later, never sent again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from operator import attrgetter
from typing import Any

from whale.bybit import errors as bx
from whale.bybit.quirks import CLOSE_CAUSES, FINAL_WITHOUT_FILL, WORKING_STATES
from whale.bybit.rest import BybitRest
from whale.market.instruments import Instrument
from whale.timefmt import epoch_ms
from whale.venue import errors as ve
from whale.venue.protocols import ForSymbol, TradeLike
from whale.venue.types import (
    CAUSE_OTHER,
    ORDER_FILLED,
    ORDER_MISSING,
    ORDER_REFUSED,
    ORDER_WORKING,
    ExitEvent,
    Fill,
    FundingEvent,
    OrderLookup,
    Side,
    VenueEvents,
    VenueOrder,
    VenuePosition,
)

D0 = Decimal(0)


def translate(exc: bx.BybitError) -> ve.VenueError:
    """The venue error for a Bybit error (raise it `from exc`). OutcomeUnknownError needs the order's
    link id, so callers that send orders handle it themselves."""
    text = str(exc)
    if isinstance(exc, bx.AuthError):
        return ve.AuthError(text)
    if isinstance(exc, bx.RateLimitedError):
        return ve.RateLimitedError(text, retry_after_s=exc.retry_after_s)
    if isinstance(exc, (bx.RetryableError, bx.OrderNotPlacedError, bx.BadDataError)):
        return ve.TemporaryError(text)  # nothing happened (bad data is never used): try again later
    if isinstance(exc, bx.RejectedError):
        return ve.RejectedError(text)
    if isinstance(exc, bx.OutcomeUnknownError):
        return ve.OutcomeUnknownError(text, link_id=exc.link_id or "")
    return ve.VenueError(text)


@contextmanager
def translated() -> Iterator[None]:
    """Bybit errors raised inside become venue errors (the Bybit error kept as the cause)."""
    try:
        yield
    except bx.BybitError as exc:
        raise translate(exc) from exc


def cause_of(stop_order_type: str | None, create_type: str | None) -> str:
    return CLOSE_CAUSES.get(stop_order_type or "") or CLOSE_CAUSES.get(create_type or "") or CAUSE_OTHER


def aggregate(symbol: str, execs: Iterable, side: Side | str, link_id: str) -> Fill | None:
    """One Fill from an order's executions (quantity-weighted price, summed fees)."""
    qty = value = fee = D0
    last_ms, order_id = 0, ""
    for e in execs:
        qty += e.qty
        value += e.qty * e.price
        fee += e.fee
        last_ms = max(last_ms, int(e.exec_time))
        order_id = e.order_id
    if qty <= 0:
        return None
    return Fill(symbol, Side.of(side), qty, value / qty, fee, last_ms, order_id, link_id)


class BybitExecution:
    name = "Bybit"
    remote = True
    keeps_positions = "left protected on the exchange"

    def __init__(self, rest: BybitRest, *, log: logging.Logger, position_idx: int = 0, fill_timeout_s: float = 10.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.rest = rest
        self.log = log
        self.position_idx = position_idx
        self.fill_timeout_s = fill_timeout_s
        self._sleep = sleep or rest.sleep  # the client's sleep: interrupted when the bot stops
        self._ours: set[str] = set()  # orderLinkIds this bot sent
        self._pending_exits: dict[str, list] = {}  # orderId -> executions of an exchange-side close
        self._events = VenueEvents()
        self._views: dict[str, ForSymbol] = {}

    # ---- Execution ----------------------------------------------------------------------------------
    def instrument(self, symbol: str) -> Instrument:
        with translated():
            return self.rest.instrument(symbol)

    def prepare(self, symbol: str, leverage: Decimal) -> str:
        with translated():
            changed = self.rest.set_leverage(symbol, leverage)
        return f"Leverage {leverage}x {'set' if changed else 'already set'} for {symbol}"

    def equity(self) -> Decimal:
        with translated():
            return self.rest.wallet().total_equity

    def start_equity(self, configured: Decimal) -> Decimal:
        """The drawdown % is of the real wallet, not of the paper account_balance setting."""
        return self.equity()

    def positions(self, symbol: str | None = None) -> list[VenuePosition]:
        """Every open position of the account (of one symbol; both sides in hedge mode), ours or not."""
        with translated():
            rows = self.rest.positions(symbol)
        out = []
        for p in rows:
            if not (p.size and p.size > 0):
                continue
            if p.avg_price is None:  # Bybit always gives an open position's avgPrice (or entryPrice)
                raise ve.TemporaryError(f"the position cannot be read: Bybit gave an open {p.symbol or symbol} "
                                        f"position of {p.size} without its avgPrice")
            out.append(VenuePosition(p.symbol or symbol or "", Side.of(p.side or "Buy"), p.size, p.avg_price,
                                     p.stop_loss, p.take_profit, p.position_idx))
        return out

    def position(self, symbol: str, position_idx: int | None = None) -> VenuePosition | None:
        idx = self.position_idx if position_idx is None else position_idx
        return next((p for p in self.positions(symbol) if p.position_idx == idx), None)

    def open_position(self, symbol: str, side: Side, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        side = Side.of(side)
        self._ours.add(link_id)
        self._send(link_id, lambda: self.rest.place_order(
            symbol, side.name, qty, stop_loss=stop_loss, take_profit=take_profit,
            position_idx=self.position_idx, link_id=link_id))
        return self._fill_of(symbol, link_id, side, qty)

    def lookup_order(self, symbol: str, link_id: str, side: Side) -> OrderLookup:
        """Our order by its orderLinkId: its executions and its status (order/realtime, which also
        lists recently closed orders). TemporaryError when the exchange cannot be asked now."""
        with translated():
            execs = [e for e in self.rest.executions(symbol, link_id=link_id) if e.exec_type == "Trade"]
            order = self.rest.get_order(symbol, link_id=link_id)
        fill = aggregate(symbol, execs, side, link_id)
        status = str(order.get("orderStatus") or "") if order is not None else ""
        if fill is not None and (order is None or status not in WORKING_STATES):
            return OrderLookup(ORDER_FILLED, fill, f"{status or 'executed'}: {fill.qty} @ {fill.price}")
        if order is None:
            return OrderLookup(ORDER_MISSING, None, "no such order and no execution on the exchange")
        if status in FINAL_WITHOUT_FILL:
            return OrderLookup(ORDER_REFUSED, None, f"{status} {order.get('rejectReason') or ''}".strip())
        return OrderLookup(ORDER_WORKING, fill, f"status {status}")

    def set_stops(self, symbol: str, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        with translated():
            return self.rest.set_trading_stop(symbol, position_idx=self.position_idx, stop_loss=stop_loss,
                                              take_profit=take_profit)

    def close_position(self, symbol: str, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        idx = self.position_idx if position_idx is None else position_idx
        pos = self.position(symbol, idx)
        if pos is None:
            raise ve.RejectedError(f"no {symbol} position to close on the exchange")
        side = pos.side.opposite
        self._ours.add(link_id)
        size = min(qty, pos.size)
        self._send(link_id, lambda: self.rest.place_order(
            symbol, side.name, size, reduce_only=True, position_idx=idx, link_id=link_id))
        return self._fill_of(symbol, link_id, side, size)

    def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        with translated():
            rows = self.rest.open_orders(symbol)
        return [_order(o) for o in rows]

    def cancel_all(self, symbol: str | None = None) -> list[VenueOrder]:
        with translated():
            rows = self.rest.cancel_all(symbol)
        return [_order(o) for o in rows]

    events = property(attrgetter("_events"), doc="Execution.events (a getter without a Python call)")

    def poll(self) -> VenueEvents:
        ev, self._events = self._events, VenueEvents()
        return ev

    def on_tick(self, symbol: str, price: float, time_ms: int) -> None:
        """The exchange fills stops and targets itself: nothing to do on a tick."""

    def for_symbol(self, symbol: str) -> ForSymbol:
        view = self._views.get(symbol)
        if view is None:
            view = self._views[symbol] = ForSymbol(self, symbol)
        return view

    # ---- the private stream ---------------------------------------------------------------------------
    def handle_private(self, topic: str, data: Any) -> None:
        """One private-stream message (from the stream thread's queue, on the main thread)."""
        if topic.startswith("position"):
            for item in data:
                self._events.position_changed.add(str(item.get("symbol") or ""))
            return
        if not topic.startswith("execution"):
            return
        for item in data:
            symbol = str(item.get("symbol") or "")
            kind = item.get("execType")
            if kind == "Funding":
                self._events.funding.append(FundingEvent(symbol, Decimal(item.get("execFee") or "0"),
                                                         int(item.get("execTime") or 0)))
                continue
            if kind != "Trade" or item.get("orderLinkId") in self._ours:
                continue
            if Decimal(item.get("closedSize") or "0") <= 0:
                continue  # not a close: an entry someone else placed (seen through position updates)
            order_id = item.get("orderId", "")
            self._pending_exits.setdefault(order_id, []).append(item)
            if Decimal(item.get("leavesQty") or "0") == 0:
                items = self._pending_exits.pop(order_id)
                execs = [_WsExec(x) for x in items]
                fill = aggregate(symbol, execs, item.get("side", ""), item.get("orderLinkId") or order_id)
                if fill is not None:
                    cause = cause_of(item.get("stopOrderType"), item.get("createType"))
                    self._events.exits.append(ExitEvent(symbol, cause, fill))

    # ---- restart: an exit that happened while the bot was down ------------------------------------
    def last_exit(self, trade: TradeLike) -> tuple[Fill | None, str]:
        entry_ms = epoch_ms(trade.entry_time)
        with translated():
            listed = self.rest.executions(trade.symbol, start_ms=entry_ms)
        closes = [e for e in listed
                  if e.exec_type == "Trade" and e.closed_size and e.closed_size > 0 and int(e.exec_time) >= entry_ms]
        if not closes:
            return None, ""
        last_order = max(closes, key=lambda e: int(e.exec_time)).order_id
        execs = [e for e in closes if e.order_id == last_order]
        fill = aggregate(trade.symbol, execs, execs[0].side, execs[0].link_id or last_order)
        return fill, cause_of(getattr(execs[0], "stop_order_type", None), getattr(execs[0], "create_type", None))

    # ---- internals --------------------------------------------------------------------------------------
    def _send(self, link_id: str, place: Callable[[], object]) -> None:
        """Send one order. Raises what the PositionManager needs to know: not executed (TemporaryError,
        RateLimitedError), refused (RejectedError), maybe executed (OutcomeUnknownError)."""
        try:
            place()
        except (bx.RateLimitedError, bx.UnreachableError, bx.OrderNotPlacedError, bx.AuthError,
                bx.RejectedError) as exc:  # refused before executing (a 10006, an IP ban, never sent, refused)
            raise translate(exc) from exc
        except bx.BybitError as exc:  # the answer is lost or unreadable: it may have executed
            raise ve.OutcomeUnknownError(f"order {link_id}: {exc}; it is looked up by its orderLinkId, never sent "
                                         f"again", link_id=link_id) from exc

    def _fill_of(self, symbol: str, link_id: str, side: Side, qty: Decimal) -> Fill:
        """The accepted order's fill; OutcomeUnknownError when it cannot be read now (the order is on
        the exchange: it is looked up later by its orderLinkId)."""
        try:
            return self._await_fill(symbol, link_id, side, qty)
        except bx.BybitError as exc:
            raise ve.OutcomeUnknownError(f"order {link_id} was sent but its fill cannot be read: {exc}",
                                         link_id=link_id) from exc

    def _await_fill(self, symbol: str, link_id: str, side: Side, qty: Decimal) -> Fill:
        """Our order's executions by orderLinkId: a market order fills at once, but the execution list
        can lag the acknowledgement by a moment."""
        deadline = time.monotonic() + self.fill_timeout_s
        delay = 0.05
        while True:
            execs = [e for e in self.rest.executions(symbol, link_id=link_id) if e.exec_type == "Trade"]
            fill = aggregate(symbol, execs, side, link_id)
            if fill is not None and fill.qty >= qty:
                return fill
            order = self.rest.get_order(symbol, link_id=link_id)
            if order is not None and order.get("orderStatus") in FINAL_WITHOUT_FILL:
                if fill is not None:
                    return fill  # partly filled then cancelled: what filled is the position
                raise ve.RejectedError(f"order {link_id} was {order.get('orderStatus')}: "
                                       f"{order.get('rejectReason', '')}")
            if time.monotonic() > deadline:
                if fill is not None:
                    return fill
                raise ve.OutcomeUnknownError(f"order {link_id} shows no execution after {self.fill_timeout_s:.0f} s",
                                             link_id=link_id)
            self._sleep(delay)
            delay = min(delay * 2, 0.5)


def _order(o: dict) -> VenueOrder:
    """A Bybit order record (order/realtime, or what order/cancel-all lists: ids only)."""
    return VenueOrder(str(o.get("symbol") or ""), str(o.get("orderId") or ""), str(o.get("orderLinkId") or ""),
                      describe_order(o) if o.get("orderType") else "")


def describe_order(order: dict) -> str:
    """`Buy Limit 0.005 @ 85140` / `Sell StopLoss Market 0.01 trigger 92699.3`, from Bybit's fields
    (which write "0" or "0.00" for no price and "UNKNOWN" for no stop type)."""
    stop_type = order.get("stopOrderType") or ""
    parts = [order.get("side") or "", "" if stop_type.upper() == "UNKNOWN" else stop_type,
             order.get("orderType") or "order", str(order.get("qty") or "")]
    if _is_price(order.get("triggerPrice")):
        parts.append(f"trigger {order['triggerPrice']}")
    elif _is_price(order.get("price")):
        parts.append(f"@ {order['price']}")
    return " ".join(p for p in parts if p)


def _is_price(text) -> bool:
    """A price field that holds a price (not empty, not zero)."""
    try:
        return Decimal(str(text)) != 0
    except (ArithmeticError, ValueError):
        return False


class _WsExec:
    """A private-stream execution with the attribute names of BybitRest's Execution."""

    def __init__(self, d: dict) -> None:
        self.qty = Decimal(d.get("execQty") or "0")
        self.price = Decimal(d.get("execPrice") or "0")
        self.fee = Decimal(d.get("execFee") or "0")
        self.exec_time = int(d.get("execTime") or 0)
        self.order_id = d.get("orderId", "")
