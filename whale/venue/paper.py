"""The paper Execution (`dry_run: true`): real public market data from any venue, local fills through
the core fill model (whale.fills), and ONE paper account for every symbol: a balance, a position
per symbol, kept in the paper journal (`paper_state`) so a restart continues where it stopped.
Stops, targets and funding trigger on the ticks the live loop passes in (`on_tick`); market fills
walk the symbol's current book when a book is given (`books`), as the simulator's do.

The saved state (docs/journal.md#paper-state):

    {"balance": "1000", "orders": 3,
     "positions": {"BTCUSDT": {"side": 1, "size": "0.01", "entry_price": "60000", "stop_loss": "59000",
                               "take_profit": null, "position_idx": 0}},
     "funding_from_ms": {"BTCUSDT": 1750000000000},
     "last_exits": [{"cause": "StopLoss", "symbol": "BTCUSDT", "side": "Sell", ...}],
     "last_entries": [{"symbol": "BTCUSDT", "side": "Buy", ...}]}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from operator import attrgetter
from typing import Any

import numpy as np

from whale.book_fills import NO_PRICE, book_fill_ticks
from whale.config.model import Fees
from whale.fills import (
    FUNDING_PERIOD_MS,
    fee,
    funding_payment,
    funding_times_in,
    stop_crossed,
    taker_fill_ticks,
    target_crossed,
)
from whale.market.book import BookSnapshot
from whale.market.instruments import Instrument
from whale.timefmt import iso_utc
from whale.venue.errors import RejectedError
from whale.venue.protocols import ForSymbol, TradeLike
from whale.venue.types import (
    CAUSE_STOP_LOSS,
    CAUSE_TAKE_PROFIT,
    ORDER_FILLED,
    ORDER_MISSING,
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
TakerSide = Callable[[str, bool, bool], "tuple[np.ndarray, np.ndarray] | None"]
KEPT_FILLS = 5  # the last entries and exits kept per symbol, for a restart between a fill and its journal record


def book_average_price(prices: np.ndarray, sizes: np.ndarray, qty: float) -> float:
    """Average price of taking `qty` from one side of the book (best first); the last level
    absorbs what is left, so a thin book still gives a (pessimistic) price."""
    if prices.size == 0 or qty <= 0:
        return float("nan")
    cum = np.cumsum(sizes)
    k = min(int(np.searchsorted(cum, qty, side="left")), prices.size - 1)
    before = float(cum[k - 1]) if k > 0 else 0.0
    return float((np.dot(prices[:k], sizes[:k]) + prices[k] * (qty - before)) / qty)


def fill_to_json(fill: Fill) -> dict:
    return {"symbol": fill.symbol, "side": fill.side.name, "qty": str(fill.qty), "price": str(fill.price),
            "fee": str(fill.fee), "time_ms": fill.time_ms, "order_id": fill.order_id, "link_id": fill.link_id}


def fill_from_json(e: Mapping[str, Any]) -> Fill:
    return Fill(str(e["symbol"]), Side.of(e["side"]), Decimal(e["qty"]), Decimal(e["price"]), Decimal(e["fee"]),
                int(e["time_ms"]), str(e["order_id"]), str(e["link_id"]))


def position_to_json(p: VenuePosition) -> dict:
    return {"side": int(p.side), "size": str(p.size), "entry_price": str(p.entry_price),
            "stop_loss": None if p.stop_loss is None else str(p.stop_loss),
            "take_profit": None if p.take_profit is None else str(p.take_profit), "position_idx": p.position_idx}


def position_from_json(symbol: str, p: Mapping[str, Any]) -> VenuePosition:
    return VenuePosition(symbol, Side.of(int(p["side"])), Decimal(p["size"]), Decimal(p["entry_price"]),
                         Decimal(p["stop_loss"]) if p.get("stop_loss") else None,
                         Decimal(p["take_profit"]) if p.get("take_profit") else None, int(p.get("position_idx") or 0))


class PaperExecution:
    name = "paper"
    remote = False

    def __init__(self, instruments: Callable[[str], Instrument], fees: Fees, *, start_balance: Decimal,
                 leverage: Decimal, state: Mapping[str, Any] | None = None,
                 save: Callable[[dict], None] | None = None,
                 books: Callable[[str], BookSnapshot | None] | None = None,
                 journal_name: str = "trade_history.paper.json", taker_side: TakerSide | None = None) -> None:
        """`instruments(symbol)`: the venue's rules of a symbol; `books(symbol)`: its book now, which
        market fills walk (None: the fill model's slippage alone); `save(state)` after every change.
        `taker_side(symbol, buying, triggered)`: on a recorded book (backtest --book), the side a taker
        order takes as it stands at the order's time plus the latency (`triggered`: a stop or target,
        at the triggering print): such fills follow the fill rule on recorded books (whale.book_fills,
        no slippage floor)."""
        self._instrument_of = instruments
        self._instruments: dict[str, Instrument] = {}
        self.fees = fees
        self.leverage = Decimal(leverage)
        self._save = save or (lambda s: None)
        self._books = books
        self._taker_side = taker_side
        self.beyond_book = 0  # recorded-book fills larger than the side (the rest at its last level)
        self.keeps_positions = (f"kept in {journal_name} with its stop (paper trading: it resumes there at the next "
                                f"start)")
        self._events = VenueEvents()
        self._views: dict[str, ForSymbol] = {}
        self.last_prices: dict[str, tuple[float, int]] = {}  # symbol -> (price, ms) of its last tick
        # symbol -> (position, price) of its last tick that triggered neither its stop nor its target: a tick at
        # the same price with the same position (VenuePosition is frozen: a new one on every change) triggers
        # nothing either (most ticks: the loop's pass repeats the last one, prints repeat a price).
        self._quiet: dict[str, tuple[VenuePosition, float]] = {}
        st = state or {}
        self.balance = Decimal(str(st.get("balance", start_balance)))
        self.orders = int(st.get("orders", 0))
        self._pos: dict[str, VenuePosition] = {s: position_from_json(s, p)
                                               for s, p in (st.get("positions") or {}).items() if p}
        self.funding_from_ms: dict[str, int] = {s: int(v) for s, v in (st.get("funding_from_ms") or {}).items()
                                                if v is not None}
        self.last_exits: list[tuple[str, Fill]] = [(e["cause"], fill_from_json(e)) for e in st.get("last_exits", [])]
        # The last entries' fills by orderLinkId: a restart between the fill and the journal's record of
        # it (kill -9) finds the fill here (lookup_order).
        self.last_entries: list[Fill] = [fill_from_json(e) for e in st.get("last_entries", [])]

    # ---- market input -------------------------------------------------------------------------
    def on_tick(self, symbol: str, price: float, time_ms: int) -> None:
        """A new last price of `symbol`: funding due since its previous tick, then its stop / target."""
        self.last_prices[symbol] = (price, time_ms)
        pos = self._pos.get(symbol)
        if pos is None:
            self.funding_from_ms[symbol] = time_ms
            return
        since = self.funding_from_ms.get(symbol)
        changed = False
        # funding_times_in(since + 1, time_ms + 1) is time_ms // F - since // F when above 0: most ticks (every
        # tick between two funding times) need not ask it.
        if since is not None and time_ms // FUNDING_PERIOD_MS > int(since) // FUNDING_PERIOD_MS:
            due = funding_times_in(int(since) + 1, time_ms + 1)
            for _ in range(due):
                pay = Decimal(repr(funding_payment(int(pos.side), float(pos.size), price, self.fees.funding_rate_8h)))
                pay = pay.quantize(Decimal("0.00000001"))
                self.balance -= pay
                self._events.funding.append(FundingEvent(symbol, pay, time_ms))
                changed = True
        self.funding_from_ms[symbol] = time_ms
        quiet = self._quiet.get(symbol)
        if quiet is not None and quiet[0] is pos and quiet[1] == price:
            pass  # this position (each change makes a new one) triggered nothing at this price: nor does it now
        elif pos.stop_loss is not None and stop_crossed(int(pos.side), float(pos.stop_loss), price):
            self._exit_by_exchange(symbol, CAUSE_STOP_LOSS)
            changed = True
        elif pos.take_profit is not None and target_crossed(int(pos.side), float(pos.take_profit), price):
            self._exit_by_exchange(symbol, CAUSE_TAKE_PROFIT)
            changed = True
        else:
            self._quiet[symbol] = (pos, price)
        if changed:  # the time funding is due from is saved with each entry and charge, not on every tick
            self._persist()

    def handle_private(self, topic: str, data: Any) -> None:
        """Paper trading has no private stream."""

    # ---- Execution -------------------------------------------------------------------------------
    def instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            inst = self._instruments[symbol] = self._instrument_of(symbol)
        return inst

    def prepare(self, symbol: str, leverage: Decimal) -> str:
        """Nothing to set up: the paper account's leverage is the config's."""
        self.instrument(symbol)
        return ""

    def equity(self) -> Decimal:
        """The balance plus every position's unrealised PnL at its symbol's last price."""
        upnl = D0
        for symbol, pos in self._pos.items():
            last = self.last_prices.get(symbol)
            if last is not None:
                upnl += (Decimal(repr(last[0])) - pos.entry_price) * pos.size * int(pos.side)
        return self.balance + upnl

    def start_equity(self, configured: Decimal) -> Decimal:
        """The drawdown base of paper trading is the configured balance it started from."""
        return configured

    def positions(self, symbol: str | None = None) -> list[VenuePosition]:
        """Every open paper position (one per symbol: one-way mode)."""
        return [p for s, p in self._pos.items() if symbol is None or s == symbol]

    def position(self, symbol: str, position_idx: int | None = None) -> VenuePosition | None:
        return self._pos.get(symbol)

    def open_position(self, symbol: str, side: Side, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        side = Side.of(side)
        if symbol in self._pos:
            raise RejectedError(f"paper: a {symbol} position is already open (one-way mode)")
        fill = self._market_fill(symbol, side, qty, link_id)
        notional = fill.price * qty
        held = sum((p.entry_price * p.size for p in self._pos.values()), D0)
        if notional + held > self.equity() * self.leverage:
            raise RejectedError(f"paper: insufficient balance: {notional:.2f} USDT notional" +
                                (f" with {held:.2f} USDT open" if held else "") +
                                f" needs more than {self.equity():.2f} USDT x {self.leverage} leverage")
        self.balance -= fill.fee
        self._pos[symbol] = VenuePosition(symbol, side, qty, fill.price, stop_loss, take_profit)
        self.funding_from_ms[symbol] = fill.time_ms
        self.last_entries = _recent(self.last_entries + [fill], symbol)
        self._persist()
        return fill

    def lookup_order(self, symbol: str, link_id: str, side: Side) -> OrderLookup:
        """Paper fills are immediate: an entry is filled (and listed) or was never made."""
        for fill in self.last_entries:
            if fill.link_id == link_id:
                return OrderLookup(ORDER_FILLED, fill, f"paper fill {fill.qty} @ {fill.price}")
        return OrderLookup(ORDER_MISSING, None, "paper trading never filled it")

    def set_stops(self, symbol: str, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        pos = self._pos.get(symbol)
        if pos is None:
            raise RejectedError(f"paper: no {symbol} position to protect")
        new_sl = pos.stop_loss if stop_loss is None else (None if stop_loss == 0 else stop_loss)
        new_tp = pos.take_profit if take_profit is None else (None if take_profit == 0 else take_profit)
        if (new_sl, new_tp) == (pos.stop_loss, pos.take_profit):
            return False
        self._pos[symbol] = VenuePosition(symbol, pos.side, pos.size, pos.entry_price, new_sl, new_tp)
        self._persist()
        return True

    def close_position(self, symbol: str, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        """`position_idx` is accepted for the Execution protocol; paper trading is one-way only."""
        pos = self._pos.get(symbol)
        if pos is None:
            raise RejectedError(f"paper: no {symbol} position to close")
        qty = min(qty, pos.size)
        fill = self._market_fill(symbol, pos.side.opposite, qty, link_id)
        self._settle(symbol, fill)
        self._persist()
        return fill

    def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """Paper trading keeps no resting orders besides the positions' stops and targets."""
        return []

    def cancel_all(self, symbol: str | None = None) -> list[VenueOrder]:
        """Paper trading keeps no resting orders besides the positions' stops and targets."""
        return []

    events = property(attrgetter("_events"), doc="Execution.events (a getter without a Python call)")

    def poll(self) -> VenueEvents:
        ev = self._events
        if ev:
            self._events = VenueEvents()
        return ev  # when empty, the same empty one (most passes): nothing to allocate

    def for_symbol(self, symbol: str) -> ForSymbol:
        view = self._views.get(symbol)
        if view is None:
            view = self._views[symbol] = ForSymbol(self, symbol)
        return view

    def last_exit(self, trade: TradeLike) -> tuple[Fill | None, str]:
        """The stop or target fill that closed `trade` (a journal TradeRecord), if this account made it —
        how a restart finds an exit that happened just before the bot stopped."""
        for cause, fill in reversed(self.last_exits):
            if fill.symbol == trade.symbol and iso_utc(fill.time_ms) >= trade.entry_time:
                return fill, cause
        return None, ""

    # ---- internals -------------------------------------------------------------------------------
    def _market_fill(self, symbol: str, side: Side, qty: Decimal, link_id: str, triggered: bool = False) -> Fill:
        last = self.last_prices.get(symbol)
        if last is None:
            raise RejectedError(f"paper: no {symbol} market price yet")
        ref, ms = last
        buying = side == Side.Buy
        inst = self.instrument(symbol)
        recorded = self._taker_side(symbol, buying, triggered) if self._taker_side is not None else None
        if recorded is not None:  # the one fill rule on recorded books
            ticks, beyond = book_fill_ticks(buying, recorded[0], recorded[1], float(qty), inst.tick)
            if ticks == NO_PRICE or beyond > 0:
                self.beyond_book += 1
            if ticks == NO_PRICE:
                ticks = taker_fill_ticks(buying, float("nan"), ref, 0.0, inst.tick)
        else:
            book = float("nan")  # no book: the fill model's slippage alone
            snap = self._books(symbol) if self._books is not None else None
            if snap is not None and not snap.empty:
                px, sz = (snap.ask_px, snap.ask_sz) if buying else (snap.bid_px, snap.bid_sz)
                book = book_average_price(px, sz, float(qty))
            ticks = taker_fill_ticks(buying, book, ref, self.fees.slippage_rate, inst.tick)
        price = inst.price_decimal(ticks)
        self.orders += 1
        f = Decimal(repr(fee(float(price), float(qty), self.fees.taker_rate))).quantize(Decimal("0.00000001"))
        return Fill(symbol, side, qty, price, f, int(ms), f"paper-{self.orders}", link_id)

    def _settle(self, symbol: str, fill: Fill) -> None:
        pos = self._pos[symbol]
        self.balance += (fill.price - pos.entry_price) * fill.qty * int(pos.side) - fill.fee
        left = pos.size - fill.qty
        if left <= 0:
            del self._pos[symbol]
        else:
            self._pos[symbol] = VenuePosition(symbol, pos.side, left, pos.entry_price, pos.stop_loss, pos.take_profit)

    def _exit_by_exchange(self, symbol: str, cause: str) -> None:
        pos = self._pos[symbol]
        fill = self._market_fill(symbol, pos.side.opposite, pos.size, f"paper-{cause.lower()}-{self.orders + 1}",
                                 triggered=True)
        self._settle(symbol, fill)
        self._events.exits.append(ExitEvent(symbol, cause, fill))
        exits = self.last_exits + [(cause, fill)]
        self.last_exits = [e for e in exits if e[1].symbol != symbol] + [e for e in exits if e[1].symbol == symbol][
            -KEPT_FILLS:]

    def state(self) -> dict:
        return {
            "balance": str(self.balance),
            "orders": self.orders,
            "positions": {s: position_to_json(p) for s, p in self._pos.items()},
            "funding_from_ms": dict(self.funding_from_ms),
            "last_exits": [dict(cause=c, **fill_to_json(f)) for c, f in self.last_exits],
            "last_entries": [fill_to_json(f) for f in self.last_entries],
        }

    def _persist(self) -> None:
        self._save(self.state())


def _recent(fills: list[Fill], symbol: str) -> list[Fill]:
    """The fills with only the last KEPT_FILLS of `symbol`'s kept."""
    mine = [f for f in fills if f.symbol == symbol][-KEPT_FILLS:]
    return [f for f in fills if f.symbol != symbol] + mine
