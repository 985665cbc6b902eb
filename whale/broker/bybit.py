"""The Bybit broker: real orders through BybitRest (Bybit itself, or the simulator in demo).

Our own orders' fills are read back by their orderLinkId (the execution list), so the entry price
the bot records is the real average fill, not the pre-trade ticker. Whatever the exchange does on
its own — a stop-loss, take-profit or trailing stop that fills, funding, a manual close — arrives
on the private stream; `handle_private` turns it into broker events for the PositionManager.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from decimal import Decimal

from whale.broker.base import (
    CAUSE_OTHER,
    CAUSE_STOP_LOSS,
    CAUSE_TAKE_PROFIT,
    CAUSE_TRAILING_STOP,
    BrokerError,
    BrokerEvents,
    BrokerPosition,
    ExitEvent,
    Fill,
    FundingEvent,
)
from whale.bybit.errors import BybitError, OutcomeUnknownError, RateLimitedError, RejectedError
from whale.bybit.rest import BybitRest
from whale.fills import LONG
from whale.journal import epoch_ms
from whale.market.instruments import Instrument

D0 = Decimal(0)
_CAUSES = {"StopLoss": CAUSE_STOP_LOSS, "PartialStopLoss": CAUSE_STOP_LOSS, "TakeProfit": CAUSE_TAKE_PROFIT,
           "PartialTakeProfit": CAUSE_TAKE_PROFIT, "TrailingStop": CAUSE_TRAILING_STOP,
           "CreateByStopLoss": CAUSE_STOP_LOSS, "CreateByTakeProfit": CAUSE_TAKE_PROFIT,
           "CreateByTrailingStop": CAUSE_TRAILING_STOP, "CreateByPartialStopLoss": CAUSE_STOP_LOSS,
           "CreateByPartialTakeProfit": CAUSE_TAKE_PROFIT}


def cause_of(stop_order_type: str | None, create_type: str | None) -> str:
    return _CAUSES.get(stop_order_type or "") or _CAUSES.get(create_type or "") or CAUSE_OTHER


def aggregate(execs: Iterable, side: str, link_id: str) -> Fill | None:
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
    return Fill(side, qty, value / qty, fee, last_ms, order_id, link_id)


class BybitBroker:
    def __init__(self, rest: BybitRest, symbol: str, instrument: Instrument, *, log: logging.Logger,
                 position_idx: int = 0, fill_timeout_s: float = 10.0, sleep=time.sleep) -> None:
        self.rest = rest
        self.symbol = symbol
        self.instrument = instrument
        self.log = log
        self.position_idx = position_idx
        self.fill_timeout_s = fill_timeout_s
        self._sleep = sleep
        self._ours: set[str] = set()  # orderLinkIds this bot sent
        self._pending_exits: dict[str, list] = {}  # orderId -> executions of an exchange-side close
        self._events = BrokerEvents()

    # ---- Broker interface ------------------------------------------------------------------------
    def equity(self) -> Decimal:
        return self.rest.wallet().total_equity

    def position(self) -> BrokerPosition | None:
        for p in self.positions():
            if p.position_idx == self.position_idx:
                return p
        return None

    def positions(self) -> list[BrokerPosition]:
        """Every open position of the symbol (both sides in hedge mode), ours or not."""
        out = []
        for p in self.rest.positions(self.symbol):
            if not (p.size and p.size > 0):
                continue
            if p.avg_price is None:  # Bybit always gives an open position's avgPrice (or entryPrice)
                raise BrokerError(f"the position cannot be read: Bybit gave an open {self.symbol} position of "
                                  f"{p.size} without its avgPrice")
            out.append(BrokerPosition(LONG if p.side == "Buy" else -LONG, p.size, p.avg_price, p.stop_loss,
                                      p.take_profit, p.position_idx))
        return out

    def open_position(self, side: int, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        side_name = "Buy" if side == LONG else "Sell"
        self._ours.add(link_id)
        try:
            self.rest.place_order(self.symbol, side_name, qty, stop_loss=stop_loss, take_profit=take_profit,
                                  position_idx=self.position_idx, link_id=link_id)
        except RejectedError as exc:
            raise BrokerError(str(exc)) from None
        except OutcomeUnknownError as exc:
            # Never resend: the fill check below finds the order if it executed after all.
            self.log.warning(f"Entry {link_id}: outcome unknown ({exc}); checking its executions")
        return self._await_fill(link_id, side_name, qty)

    def set_stops(self, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        try:
            return self.rest.set_trading_stop(self.symbol, position_idx=self.position_idx, stop_loss=stop_loss,
                                              take_profit=take_profit)
        except BybitError as exc:
            raise BrokerError(str(exc)) from None

    def close_position(self, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        idx = self.position_idx if position_idx is None else position_idx
        try:
            pos = next((p for p in self.positions() if p.position_idx == idx), None)
        except BybitError as exc:
            raise BrokerError(f"the position cannot be read: {exc}") from None
        if pos is None:
            raise BrokerError("no position to close on the exchange")
        side_name = "Sell" if pos.side == LONG else "Buy"
        self._ours.add(link_id)
        try:
            self.rest.place_order(self.symbol, side_name, min(qty, pos.size), reduce_only=True,
                                  position_idx=idx, link_id=link_id)
        except (RejectedError, RateLimitedError) as exc:  # a rate limit or IP ban: not executed
            raise BrokerError(str(exc)) from None
        except OutcomeUnknownError as exc:
            self.log.warning(f"Close {link_id}: outcome unknown ({exc}); checking its executions")
        return self._await_fill(link_id, side_name, min(qty, pos.size))

    def cancel_all(self) -> None:
        self.rest.cancel_all(self.symbol)

    def poll(self) -> BrokerEvents:
        ev, self._events = self._events, BrokerEvents()
        return ev

    # ---- the private stream ---------------------------------------------------------------------------
    def handle_private(self, topic: str, data: list) -> None:
        """One private-stream message (from the WebSocket thread's queue, on the main thread)."""
        if topic.startswith("position"):
            self._events.position_changed = True
            return
        if not topic.startswith("execution"):
            return
        for item in data:
            if item.get("symbol") != self.symbol:
                continue
            kind = item.get("execType")
            if kind == "Funding":
                self._events.funding.append(FundingEvent(Decimal(item.get("execFee") or "0"),
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
                fill = aggregate(execs, item.get("side", ""), item.get("orderLinkId") or order_id)
                if fill is not None:
                    cause = cause_of(item.get("stopOrderType"), item.get("createType"))
                    self._events.exits.append(ExitEvent(cause, fill))

    # ---- restart: an exit that happened while the bot was down ------------------------------------
    def last_exit(self, trade) -> tuple[Fill | None, str]:
        entry_ms = epoch_ms(trade.entry_time)
        closes = [e for e in self.rest.executions(self.symbol, start_ms=entry_ms)
                  if e.exec_type == "Trade" and e.closed_size and e.closed_size > 0 and int(e.exec_time) >= entry_ms]
        if not closes:
            return None, ""
        last_order = max(closes, key=lambda e: int(e.exec_time)).order_id
        execs = [e for e in closes if e.order_id == last_order]
        fill = aggregate(execs, execs[0].side, execs[0].link_id or last_order)
        return fill, cause_of(getattr(execs[0], "stop_order_type", None), getattr(execs[0], "create_type", None))

    # ---- internals --------------------------------------------------------------------------------------
    def _await_fill(self, link_id: str, side_name: str, qty: Decimal) -> Fill:
        """Our order's executions by orderLinkId: a market order fills at once, but the execution list
        can lag the acknowledgement by a moment."""
        deadline = time.monotonic() + self.fill_timeout_s
        delay = 0.05
        while True:
            execs = [e for e in self.rest.executions(self.symbol, link_id=link_id) if e.exec_type == "Trade"]
            fill = aggregate(execs, side_name, link_id)
            if fill is not None and fill.qty >= qty:
                return fill
            order = self.rest.get_order(self.symbol, link_id=link_id)
            if order is not None and order.get("orderStatus") in ("Rejected", "Cancelled", "Deactivated"):
                if fill is not None:
                    return fill  # partly filled then cancelled: what filled is the position
                raise BrokerError(f"order {link_id} was {order.get('orderStatus')}: {order.get('rejectReason', '')}")
            if time.monotonic() > deadline:
                if fill is not None:
                    return fill
                raise BrokerError(f"order {link_id} shows no execution after {self.fill_timeout_s:.0f} s")
            self._sleep(delay)
            delay = min(delay * 2, 0.5)


class _WsExec:
    """A private-stream execution with the attribute names of BybitRest's Execution."""

    def __init__(self, d: dict) -> None:
        self.qty = Decimal(d.get("execQty") or "0")
        self.price = Decimal(d.get("execPrice") or "0")
        self.fee = Decimal(d.get("execFee") or "0")
        self.exec_time = int(d.get("execTime") or 0)
        self.order_id = d.get("orderId", "")
