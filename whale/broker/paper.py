"""The paper broker (`dry_run: true`): real public market data, local fills through the core fill
model (whale.fills), and a wallet and position kept in the paper journal, so a restart continues
where it stopped. Stops and targets trigger on the ticks the live loop passes in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal

import numpy as np

from whale.broker.base import (
    CAUSE_STOP_LOSS,
    CAUSE_TAKE_PROFIT,
    ORDER_FILLED,
    ORDER_MISSING,
    BrokerEvents,
    BrokerPosition,
    ExitEvent,
    Fill,
    FundingEvent,
    OrderLookup,
    RejectedError,
)
from whale.config.model import Fees
from whale.fills import LONG, fee, funding_payment, funding_times_in, stop_crossed, taker_fill_ticks, target_crossed
from whale.market.instruments import Instrument
from whale.timefmt import iso_utc

D0 = Decimal(0)


def book_average_price(prices: np.ndarray, sizes: np.ndarray, qty: float) -> float:
    """Average price of taking `qty` from one side of the book (best first); the last level
    absorbs what is left, so a thin book still gives a (pessimistic) price."""
    if prices.size == 0 or qty <= 0:
        return float("nan")
    cum = np.cumsum(sizes)
    k = min(int(np.searchsorted(cum, qty, side="left")), prices.size - 1)
    before = float(cum[k - 1]) if k > 0 else 0.0
    return float((np.dot(prices[:k], sizes[:k]) + prices[k] * (qty - before)) / qty)


def _fill(e: dict) -> Fill:
    return Fill(e["side"], Decimal(e["qty"]), Decimal(e["price"]), Decimal(e["fee"]), int(e["time_ms"]), e["order_id"],
                e["link_id"])


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in d.items()}


class PaperBroker:
    def __init__(self, instrument: Instrument, fees: Fees, *, start_balance: Decimal, leverage: Decimal,
                 state: dict | None = None, save: Callable[[dict], None] | None = None) -> None:
        self.instrument = instrument
        self.fees = fees
        self.leverage = Decimal(leverage)
        self._save = save or (lambda s: None)
        self._events = BrokerEvents()
        self.last_price: float | None = None
        self.last_ms: int | None = None
        self._book: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        st = state or {}
        self.balance = Decimal(str(st.get("balance", start_balance)))
        self.orders = int(st.get("orders", 0))
        pos = st.get("position")
        self._pos = None if not pos else BrokerPosition(
            int(pos["side"]), Decimal(pos["size"]), Decimal(pos["entry_price"]),
            Decimal(pos["stop_loss"]) if pos.get("stop_loss") else None,
            Decimal(pos["take_profit"]) if pos.get("take_profit") else None)
        self.funding_from_ms = st.get("funding_from_ms")
        self.last_exits: list[tuple[str, Fill]] = [(e["cause"], _fill(e)) for e in st.get("last_exits", [])]
        # The last entries' fills by orderLinkId: a restart between the fill and the journal's record of
        # it (kill -9) finds the fill here (lookup_order).
        self.last_entries: list[Fill] = [_fill(e) for e in st.get("last_entries", [])]

    # ---- market input -------------------------------------------------------------------------
    def on_book(self, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray, ask_sz: np.ndarray) -> None:
        self._book = (bid_px, bid_sz, ask_px, ask_sz)

    def on_tick(self, price: float, time_ms: int) -> None:
        """A new last price: funding due since the previous tick, then stop / target."""
        self.last_price, self.last_ms = price, time_ms
        pos = self._pos
        if pos is None:
            self.funding_from_ms = time_ms
            return
        if self.funding_from_ms is not None:
            due = funding_times_in(int(self.funding_from_ms) + 1, time_ms + 1)
            for _ in range(due):
                pay = Decimal(repr(funding_payment(pos.side, float(pos.size), price, self.fees.funding_rate_8h)))
                pay = pay.quantize(Decimal("0.00000001"))
                self.balance -= pay
                self._events.funding.append(FundingEvent(pay, time_ms))
        self.funding_from_ms = time_ms
        if pos.stop_loss is not None and stop_crossed(pos.side, float(pos.stop_loss), price):
            self._exit_by_exchange(CAUSE_STOP_LOSS)
        elif pos.take_profit is not None and target_crossed(pos.side, float(pos.take_profit), price):
            self._exit_by_exchange(CAUSE_TAKE_PROFIT)
        self._persist()

    # ---- Broker interface ------------------------------------------------------------------------
    def equity(self) -> Decimal:
        pos = self._pos
        if pos is None or self.last_price is None:
            return self.balance
        upnl = (Decimal(repr(self.last_price)) - pos.entry_price) * pos.size * pos.side
        return self.balance + upnl

    def position(self) -> BrokerPosition | None:
        return self._pos

    def positions(self) -> list[BrokerPosition]:
        """Every open position (paper trading holds at most one)."""
        return [] if self._pos is None else [self._pos]

    def open_position(self, side: int, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        if self._pos is not None:
            raise RejectedError("paper: a position is already open (one-way mode)")
        fill = self._market_fill(side == LONG, qty, link_id)
        if fill.price * qty > self.balance * self.leverage:
            raise RejectedError(f"paper: insufficient balance: {fill.price * qty:.2f} USDT notional needs more than "
                              f"{self.balance:.2f} USDT x {self.leverage} leverage")
        self.balance -= fill.fee
        self._pos = BrokerPosition(side, qty, fill.price, stop_loss, take_profit)
        self.funding_from_ms = fill.time_ms
        self.last_entries = (self.last_entries + [fill])[-5:]
        self._persist()
        return fill

    def lookup_order(self, link_id: str, side: str) -> OrderLookup:
        """Paper fills are immediate: an entry is filled (and listed) or was never made."""
        for fill in self.last_entries:
            if fill.link_id == link_id:
                return OrderLookup(ORDER_FILLED, fill, f"paper fill {fill.qty} @ {fill.price}")
        return OrderLookup(ORDER_MISSING, None, "paper trading never filled it")

    def set_stops(self, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        pos = self._pos
        if pos is None:
            raise RejectedError("paper: no position to protect")
        new_sl = pos.stop_loss if stop_loss is None else (None if stop_loss == 0 else stop_loss)
        new_tp = pos.take_profit if take_profit is None else (None if take_profit == 0 else take_profit)
        if (new_sl, new_tp) == (pos.stop_loss, pos.take_profit):
            return False
        self._pos = BrokerPosition(pos.side, pos.size, pos.entry_price, new_sl, new_tp)
        self._persist()
        return True

    def close_position(self, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        """`position_idx` is accepted for the Broker interface; paper trading is one-way only."""
        pos = self._pos
        if pos is None:
            raise RejectedError("paper: no position to close")
        qty = min(qty, pos.size)
        fill = self._market_fill(pos.side != LONG, qty, link_id)
        self._settle(fill)
        self._persist()
        return fill

    def cancel_all(self) -> None:
        """Paper trading keeps no resting orders besides the position's stop and target."""

    def poll(self) -> BrokerEvents:
        ev, self._events = self._events, BrokerEvents()
        return ev

    # ---- internals -------------------------------------------------------------------------------
    def _market_fill(self, buying: bool, qty: Decimal, link_id: str) -> Fill:
        if self.last_price is None:
            raise RejectedError("paper: no market price yet")
        ref = self.last_price
        book = float("nan")  # no book: the fill model's slippage alone
        if self._book is not None:
            px, sz = (self._book[2], self._book[3]) if buying else (self._book[0], self._book[1])
            book = book_average_price(px, sz, float(qty))
        ticks = taker_fill_ticks(buying, book, ref, self.fees.slippage_rate, self.instrument.tick)
        price = self.instrument.price_decimal(ticks)
        self.orders += 1
        f = Decimal(repr(fee(float(price), float(qty), self.fees.taker_rate))).quantize(Decimal("0.00000001"))
        return Fill("Buy" if buying else "Sell", qty, price, f, int(self.last_ms or 0), f"paper-{self.orders}", link_id)

    def _settle(self, fill: Fill) -> None:
        pos = self._pos
        assert pos is not None
        self.balance += (fill.price - pos.entry_price) * fill.qty * pos.side - fill.fee
        left = pos.size - fill.qty
        self._pos = None if left <= 0 else BrokerPosition(pos.side, left, pos.entry_price, pos.stop_loss,
                                                          pos.take_profit)

    def _exit_by_exchange(self, cause: str) -> None:
        pos = self._pos
        assert pos is not None
        fill = self._market_fill(pos.side != LONG, pos.size, f"paper-{cause.lower()}-{self.orders + 1}")
        self._settle(fill)
        self._events.exits.append(ExitEvent(cause, fill))
        self.last_exits = (self.last_exits + [(cause, fill)])[-5:]

    def last_exit(self, trade) -> tuple[Fill | None, str]:
        """The stop or target fill that closed `trade` (a journal TradeRecord), if this broker made it —
        how a restart finds an exit that happened just before the bot stopped."""
        for cause, fill in reversed(self.last_exits):
            if iso_utc(fill.time_ms) >= trade.entry_time:
                return fill, cause
        return None, ""

    def state(self) -> dict:
        pos = self._pos
        return {
            "balance": str(self.balance),
            "orders": self.orders,
            "funding_from_ms": self.funding_from_ms,
            "position": None if pos is None else _jsonable(asdict(pos)),
            "last_exits": [dict(cause=c, **_jsonable(asdict(f))) for c, f in self.last_exits],
            "last_entries": [_jsonable(asdict(f)) for f in self.last_entries],
        }

    def _persist(self) -> None:
        self._save(self.state())
