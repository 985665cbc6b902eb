"""The matching engine of one symbol: its orders, positions, TP/SL/trailing stops, executions,
closed PnL and funding, on the shared UNIFIED account (`whale.sim.account.Account`: one wallet,
margin and equity for every symbol).

It is pure: no sockets, no clocks of its own (replay time comes from the account's ReplayClock),
no sleeping. Every state change appends private events (`order`, `execution`, `position`,
`wallet`, already in their WebSocket shape) to the account's `events`, which the server drains
and pushes.

Fill model (shared with the backtest through whale.fills):
- Market orders, and limit orders that cross the book when placed, are taker fills at the worse of
  the book's average price for the quantity and `slipped(last price)`, rounded to the tick against
  the taker, capped at the limit price for limit orders.
- Resting limit orders fill whole, as maker, at their price when a tick reaches it.
- TP, SL and trailing stops, and conditional orders, trigger on last price along the bar-path ticks
  (`stop_crossed` / `target_crossed`) and fill by the same taker walk, around a reference price that
  `trigger_fill` chooses: `level` (the default, the candle fill model: the stop or trigger price itself,
  which the path passed between two ticks) or `book` (as Bybit does: the trigger sends a market order,
  which takes the book as it stands at the crossing tick, around the tick price). A candle that opens
  beyond the level (a gap) fills around the tick price in both.
- Funding is charged at every 8 h boundary of replay time at the tick price (`funding_payment`).
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Literal, overload

from whale.fills import (
    FUNDING_PERIOD_MS,
    LONG,
    SHORT,
    ceil_ticks,
    fee,
    floor_ticks,
    funding_payment,
    funding_times_in,
    limit_reached,
    pnl,
    stop_crossed,
    taker_fill_ticks,
    target_crossed,
    trailing_stop_level,
)
from whale.sim import codes, payloads
from whale.sim.account import Account
from whale.sim.book import Book
from whale.sim.codes import ExchangeError, params_error
from whale.sim.instrument import SimInstrument, parse_decimal
from whale.sim.records import D0, ClosedPnl, Fill, Order, Position, q8

log = logging.getLogger("whalebot.sim")

LINK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
MMR = Decimal("0.005")
MARKET_PROTECTION = 0.03  # the internal IOC price a Market order is echoed with: last +/- 3 %
ONE_DAY = 86_400_000
SEVEN_DAYS = 7 * ONE_DAY
FINAL_STATUSES = ("Filled", "Cancelled", "Rejected", "Triggered", "Deactivated", "PartiallyFilledCanceled")
SHORT_LIVED_STATUSES = ("Cancelled", "Rejected", "Deactivated")  # order/history keeps these (unfilled) 24 h
ORDER_FILTERS = ("Order", "StopOrder", "tpslOrder")
TRIGGER_FILLS = ("level", "book")  # what a triggered TP/SL/trailing stop/conditional order fills around
_TRUE = (True, "true", "True", "1", 1)


def flag(value) -> bool:
    return value in _TRUE


class Exchange:
    """One symbol's engine on the shared `account` (registered there on creation)."""

    def __init__(self, instrument: SimInstrument, account: Account, book: Book, last_tick: int,
                 trigger_fill: str = "level") -> None:
        if trigger_fill not in TRIGGER_FILLS:
            raise ValueError(f"trigger_fill {trigger_fill!r}: expected one of {', '.join(TRIGGER_FILLS)}")
        self.instrument = instrument
        self.trigger_fill = trigger_fill
        self.symbol = instrument.symbol
        self.account = account
        self.fees = account.fees
        self.clock = account.clock
        self.book = book
        self.ids = account.ids
        self.hedge = False
        self.positions: dict[int, Position] = {0: Position(0, account.default_leverage)}
        self.orders: dict[str, Order] = {}
        self.by_link: dict[str, str] = {}
        self.active: dict[str, Order] = {}  # open orders, TP/SL and conditional ones included
        self.fills: list[Fill] = []
        self.closed: list[ClosedPnl] = []
        self.last_tick = int(last_tick)
        self.last_price = last_tick * instrument.tick
        self.next_funding = self._next_funding_after(self.clock.now_ms())
        self._funding_from = self.clock.now_ms()
        self._pos_seq = 8_000_000_000
        account.register(self)

    # ------------------------------------------------------------------ helpers

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def _next_funding_after(self, ms: int) -> int:
        return (ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS

    def _price(self, ticks: int) -> Decimal:
        return self.instrument.price_of(ticks)

    def _taker_price(self, buying: bool, qty: Decimal, ref: float, limit: Decimal | None) -> Decimal:
        """A taker fill for `qty` when the market is at `ref`: the worse of walking the book (shifted to
        `ref`, e.g. a stop level the path crossed between two ticks: `_trigger_ref`) and the fill model's
        slippage."""
        tick = self.instrument.tick
        steps = int(qty / self.instrument.rules.qty_step)
        shift = ref / tick - self.last_tick  # the book's shape, re-centred on the reference price
        book_px = (self.book.walk(buying, max(1, steps)) + shift) * tick
        ticks = taker_fill_ticks(buying, book_px, ref, self.fees.slippage_rate, tick)
        price = self._price(ticks)
        if limit is not None:
            price = min(price, limit) if buying else max(price, limit)
        return price

    def _emit(self, topic: str, data: dict) -> None:
        self.account.emit(topic, data)

    def _emit_order(self, o: Order) -> None:
        self._emit("order", payloads.order_ws(o, self))

    def _emit_position(self, pos: Position) -> None:
        self.account.emit_position(payloads.position_ws(pos, self))

    def _emit_wallet(self) -> None:
        self.account.emit_wallet()

    def _check_idx(self, idx: int) -> None:
        if self.hedge and idx not in (1, 2) or not self.hedge and idx != 0:
            raise params_error("position idx not match position mode")

    # ------------------------------------------------------------------ this symbol's share of the account's margin

    def unrealised(self, pos: Position) -> Decimal:
        if not pos.size:
            return D0
        return q8(pnl(pos.side, float(pos.avg), self.last_price, float(pos.size)))

    def position_im(self, pos: Position) -> Decimal:
        return q8(pos.entry_value / pos.leverage) if pos.size else D0

    def position_mm(self, pos: Position) -> Decimal:
        return q8(pos.entry_value * MMR) if pos.size else D0

    def order_im(self) -> Decimal:
        total = D0
        for o in self.active.values():
            if o.reduce_only or o.is_conditional or o.order_type != "Limit":
                continue
            total += o.leaves * o.price / self.positions[self._idx_of(o)].leverage
        return q8(total)

    def _idx_of(self, o: Order) -> int:
        return o.position_idx if self.hedge else 0

    # ------------------------------------------------------------------ order entry

    def create_order(self, p: dict) -> Order:
        side = p.get("side")
        if side not in ("Buy", "Sell"):
            raise params_error(f"side invalid: {side!r}")
        otype = p.get("orderType")
        if otype not in ("Market", "Limit"):
            raise params_error(f"orderType invalid: {otype!r}")
        market = otype == "Market"
        link = p.get("orderLinkId") or ""
        if link:
            if not isinstance(link, str) or not LINK_ID_RE.match(link):
                raise params_error("orderLinkId invalid: at most 36 characters from [A-Za-z0-9_-]")
            if link in self.account.link_ids:
                raise ExchangeError(codes.DUPLICATE_LINK_ID, "OrderLinkedID is duplicate")
        tif = "IOC" if market else (p.get("timeInForce") or "GTC")
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise params_error(f"timeInForce invalid: {tif!r}")
        idx = _int(p.get("positionIdx", 0), "positionIdx")
        self._check_idx(idx)
        reduce_only = flag(p.get("reduceOnly", False))
        close_on_trigger = flag(p.get("closeOnTrigger", False))
        pos = self.positions[idx]
        sign = 1 if side == "Buy" else -1
        if self.hedge:
            opening_side = LONG if idx == 1 else SHORT
            if sign != opening_side:
                reduce_only = True  # in hedge mode the opposite side of a positionIdx only closes it
        qty = parse_decimal(p.get("qty"), "qty", allow_zero=True)
        if qty == 0:
            if not reduce_only:
                raise params_error("qty invalid: 0 (only with reduceOnly to close the position)")
            qty = min(pos.size, self.instrument.rules.max_mkt_order_qty if market else
                      self.instrument.rules.max_order_qty)
        if reduce_only and (pos.side == 0 or pos.side == sign):
            raise ExchangeError(codes.REDUCE_ONLY, "current position is zero or on the same side, "
                                                   "cannot fix reduce-only order qty")
        if qty == 0:
            raise ExchangeError(codes.REDUCE_ONLY, "current position is zero, cannot fix reduce-only order qty")
        self.instrument.check_qty(qty, market)
        price = D0
        if not market:
            price = parse_decimal(p.get("price"), "price")
            self.instrument.check_price(price)
        ref = price if not market else Decimal(self.instrument.fmt_price(self.last_price))
        if not reduce_only:
            self.instrument.check_notional(qty, ref)
        trigger = _opt_decimal(p.get("triggerPrice"), "triggerPrice")
        direction = 0
        if trigger:
            self.instrument.check_price(trigger, "triggerPrice")
            direction = _int(p.get("triggerDirection", 0), "triggerDirection")
            if direction == 1 and trigger <= Decimal(repr(self.last_price)):
                raise ExchangeError(codes.TRIGGER_RISING, f"expect Rising, but trigger_price[{trigger}] <= "
                                                          f"current[{self.instrument.fmt_price(self.last_price)}]")
            if direction == 2 and trigger >= Decimal(repr(self.last_price)):
                raise ExchangeError(codes.TRIGGER_FALLING, f"expect Falling, but trigger_price[{trigger}] >= "
                                                           f"current[{self.instrument.fmt_price(self.last_price)}]")
            if direction not in (1, 2):
                raise params_error("triggerDirection invalid: 1 (rise) or 2 (fall) with triggerPrice")
        tp = _opt_decimal(p.get("takeProfit"), "takeProfit")
        sl = _opt_decimal(p.get("stopLoss"), "stopLoss")
        _market_tpsl_only(p)
        if (tp or sl) and reduce_only:
            raise params_error("TP/SL cannot be attached to a reduce-only order")
        base = trigger or ref
        self._check_tpsl(sign, tp, sl, base, "base_price")
        if not reduce_only:
            self._check_margin(pos, sign, qty, ref)
        now = self.now
        o = Order(self.ids.uuid(), link, side, otype, qty, price, tif, idx, reduce_only, close_on_trigger, now, now,
                  take_profit=tp, stop_loss=sl, last_price_on_created=self.instrument.fmt_price(self.last_price))
        if market:
            prot = self.last_price * (1 + MARKET_PROTECTION * sign)
            o.price = self._price(ceil_ticks(prot, self.instrument.tick) if sign > 0 else
                                  floor_ticks(prot, self.instrument.tick))
        o.limit_f = float(o.price)
        self.orders[o.order_id] = o
        if link:
            self.by_link[link] = o.order_id
            self.account.link_ids.add(link)
        if trigger:
            o.status = "Untriggered"
            o.stop_order_type = "Stop"
            o.trigger_price = trigger
            o.trigger_f = float(trigger)
            o.trigger_direction = direction
            self.active[o.order_id] = o
            self._emit_order(o)
        else:
            self._activate(o, self.last_price)
        self._emit_position(self.positions[idx])
        return o

    def _check_margin(self, pos: Position, sign: int, qty: Decimal, ref: Decimal) -> None:
        opening = qty
        if not self.hedge and pos.side == -sign:
            opening = max(D0, qty - pos.size)
        if not opening:
            return
        need = opening * ref / pos.leverage + qty * ref * Decimal(repr(self.fees.taker_rate))
        avail = self.account.metrics()["available"]
        if need > avail:
            raise ExchangeError(codes.INSUFFICIENT_BALANCE,
                                f"ab not enough for new order (needs {q8(need)} USDT, available {avail} USDT)")

    def _check_tpsl(self, sign: int, tp: Decimal, sl: Decimal, base: Decimal, base_name: str) -> None:
        for value, name in ((tp, "takeProfit"), (sl, "stopLoss")):
            if value:
                self.instrument.check_price(value, name)
        side = "Buy" if sign > 0 else "Sell"
        if tp and (tp <= base if sign > 0 else tp >= base):
            rel = "higher" if sign > 0 else "lower"
            raise params_error(f"TakeProfit:{tp} set for {side} position should be {rel} than {base_name}:{base}")
        if sl and (sl >= base if sign > 0 else sl <= base):
            rel = "lower" if sign > 0 else "higher"
            raise params_error(f"StopLoss:{sl} set for {side} position should be {rel} than {base_name}:{base}")

    def _activate(self, o: Order, ref: float) -> None:
        """A new (or just triggered) order meets the book: market orders and crossing limits take,
        PostOnly crossing is rejected, IOC/FOK leftovers cancel, the rest rests."""
        buying = o.side == "Buy"
        if o.order_type == "Market":
            self._take(o, ref)
            return
        bid, _, ask, _ = self.book.best()
        crosses = o.price >= self._price(ask) if buying else o.price <= self._price(bid)
        if crosses and o.tif == "PostOnly":
            o.status = "Cancelled"
            o.reject_reason = "EC_PostOnlyWillTakeLiquidity"
            o.updated = self.now
            self._emit_order(o)
            return
        if crosses:
            self._take(o, ref, limit=o.price)
            return
        if o.tif in ("IOC", "FOK"):
            o.status = "Cancelled"
            o.reject_reason = "EC_NoImmediateQtyToFill" if o.tif == "IOC" else "EC_FOKNotFilled"
            o.updated = self.now
            self._emit_order(o)
            return
        o.status = "New"
        o.updated = self.now
        self.active[o.order_id] = o
        self._emit_order(o)

    def _fillable(self, o: Order) -> Decimal:
        """What is left to fill; a reduce-only order is capped at the position it reduces (and
        cancelled when there is none)."""
        qty = o.qty - o.cum_qty
        if o.reduce_only:
            pos = self.positions[self._idx_of(o)]
            qty = min(qty, pos.size) if pos.side == -o.sign else D0
            if not qty:
                self._finish(o, "Cancelled", cancel_type="CancelByReduceOnly")
        return qty

    def _take(self, o: Order, ref: float, limit: Decimal | None = None) -> None:
        qty = self._fillable(o)
        if qty:
            self._fill(o, qty, self._taker_price(o.side == "Buy", qty, ref, limit), maker=False)

    def _finish(self, o: Order, status: str, cancel_type: str = "UNKNOWN") -> None:
        o.status = status
        o.cancel_type = cancel_type
        o.updated = self.now
        self.active.pop(o.order_id, None)
        self._emit_order(o)

    # ------------------------------------------------------------------ fills

    def _fill(self, o: Order, qty: Decimal, price: Decimal, maker: bool) -> None:
        now = self.now
        idx = self._idx_of(o)
        pos = self.positions[idx]
        sign = o.sign
        rate = self.fees.maker_rate if maker else self.fees.taker_rate
        fee_total = q8(fee(float(price), float(qty), rate))
        closed = D0
        gross = D0
        flattened = False
        if pos.side == -sign and pos.size:
            closed = min(qty, pos.size)
            avg = pos.avg
            gross = q8(pnl(pos.side, float(avg), float(price), float(closed)))
            open_part = q8(pos.open_fee * closed / pos.size)
            close_part = q8(fee_total * closed / qty)
            record = ClosedPnl(o.order_id, o.side, o.qty, o.price, o.order_type, closed, q8(avg * closed),
                               q8(price * closed), gross - open_part - close_part, open_part, close_part,
                               pos.leverage, now, self.account.next_closed_seq())
            self.closed.append(record)
            o.closed_pnl += record.pnl
            pos.entry_value -= pos.entry_value * closed / pos.size
            pos.open_fee -= open_part
            pos.size -= closed
            if not pos.size:
                self._flatten(pos, o)
                flattened = True
        opened = qty - closed
        if opened:
            if not pos.size:
                pos.side = sign
                pos.created = pos.created or now
                pos.trail_active = False
            pos.size += opened
            pos.entry_value += opened * price
            pos.open_fee += fee_total * opened / qty
        realised = gross - fee_total
        pos.cum_realised += realised
        pos.cur_realised = self._current_realised(pos, realised, fee_total, qty, flattened, opened)
        pos.updated = now
        self._pos_seq += 1
        pos.seq = self._pos_seq
        self.account.realise(realised)
        o.cum_qty += qty
        o.cum_value += qty * price
        o.cum_fee += fee_total
        o.updated = now
        o.status = "Filled" if o.cum_qty >= o.qty else "PartiallyFilled"
        if o.status == "Filled":
            self.active.pop(o.order_id, None)
        f = Fill(self.ids.uuid(), o.order_id, o.link_id, o.side, o.order_type, o.stop_order_type, o.create_type,
                 o.price, o.qty, o.qty - o.cum_qty, price, qty, q8(price * qty), fee_total, rate, "Trade", now,
                 maker, closed, realised, self._price(self.last_tick), self.ids.next_seq())
        self.fills.append(f)
        self._emit_order(o)
        self._emit("execution", payloads.execution_ws(f, self))
        if opened and (o.take_profit or o.stop_loss) and pos.side == sign:
            self._set_stops(pos, o.take_profit or None, o.stop_loss or None, None, None)
        self._resize_stops(pos)
        self._emit_position(pos)
        self._emit_wallet()

    @staticmethod
    def _current_realised(pos: Position, realised: Decimal, fee_total: Decimal, qty: Decimal, flattened: bool,
                          opened: Decimal) -> Decimal:
        """curRealisedPnl after a fill: it covers only the position now held (cumRealisedPnl keeps the
        history), so a fill that closes the position resets it, and a flip starts it at the new side's
        share of the fee."""
        if not flattened:
            return pos.cur_realised + realised
        return -q8(fee_total * opened / qty) if opened else D0

    def _flatten(self, pos: Position, filling: Order) -> None:
        """The position is closed: its TP/SL/trailing orders are deactivated and its reduce-only orders
        cancelled (nothing is left for them to reduce; they would also block switch-mode)."""
        pos.side = 0
        pos.size = D0
        pos.entry_value = D0
        pos.open_fee = D0
        pos.take_profit = pos.stop_loss = pos.trailing = pos.active_price = D0
        pos.trail_active = False
        for kind in list(pos.stops):
            o = pos.stops.pop(kind)
            if o.is_open:
                self._finish(o, "Deactivated", cancel_type="CancelByTpSlTsClear")
        self._cancel_reduce_only(pos.idx, filling)

    def _cancel_reduce_only(self, idx: int, keep: Order) -> None:
        """Cancel (CancelByReduceOnly) the resting reduce-only orders of position `idx` except `keep`, the
        order being filled. Untriggered conditional ones stay: they are checked when they trigger."""
        doomed = [o for o in self.active.values() if o is not keep and o.reduce_only and not o.is_conditional
                  and self._idx_of(o) == idx]
        for o in sorted(doomed, key=lambda o: o.created):
            self._finish(o, "Cancelled", cancel_type="CancelByReduceOnly")

    # ------------------------------------------------------------------ position TP / SL / trailing

    def _stop_order(self, pos: Position, kind: str, trigger: Decimal) -> Order:
        now = self.now
        close_side = "Sell" if pos.side > 0 else "Buy"
        rising = (kind == "TakeProfit") == (pos.side > 0)
        o = Order(self.ids.uuid(), "", close_side, "Market", pos.size, D0, "IOC", pos.idx, True, True, now, now,
                  status="Untriggered", stop_order_type=kind, create_type=f"CreateBy{kind}",
                  trigger_price=trigger, trigger_direction=1 if rising else 2,
                  last_price_on_created=self.instrument.fmt_price(self.last_price))
        o.trigger_f = float(trigger)
        self.orders[o.order_id] = o
        self.active[o.order_id] = o
        return o

    def _set_stops(self, pos: Position, tp: Decimal | None, sl: Decimal | None, trailing: Decimal | None,
                   active: Decimal | None) -> None:
        """Apply new levels (None = leave, 0 = clear) and keep the TP/SL/TS conditional orders in step."""
        if tp is not None:
            pos.take_profit = tp
        if sl is not None:
            pos.stop_loss = sl
        if active is not None:
            pos.active_price = active
        if trailing is not None:
            pos.trailing = trailing
        if trailing is not None or active is not None:
            pos.trail_active = False
            self._arm_trailing(pos)
        wanted = {"TakeProfit": pos.take_profit, "StopLoss": pos.stop_loss,
                  "TrailingStop": self._trail_level(pos) if pos.trailing else D0}
        if pos.trailing and not pos.trail_active:
            wanted["TrailingStop"] = pos.active_price
        for kind, level in wanted.items():
            o = pos.stops.get(kind)
            if level and o is None:
                o = pos.stops[kind] = self._stop_order(pos, kind, level)
                self._emit_order(o)
            elif level and o is not None and o.trigger_price != level:
                o.trigger_price = level
                o.trigger_f = float(level)
                o.updated = self.now
                self._emit_order(o)
            elif not level and o is not None:
                del pos.stops[kind]
                self._finish(o, "Deactivated", cancel_type="CancelByUser")
        pos.updated = self.now

    def _resize_stops(self, pos: Position) -> None:
        for o in pos.stops.values():
            o.qty = pos.size

    def _arm_trailing(self, pos: Position) -> None:
        if not pos.trailing or pos.trail_active:
            return
        ap = float(pos.active_price)
        if not ap or (self.last_price >= ap if pos.side > 0 else self.last_price <= ap):
            pos.trail_active = True
            pos.trail_extreme = self.last_price

    def _trail_level(self, pos: Position) -> Decimal:
        if not pos.trail_active:
            return D0
        tick = self.instrument.tick
        return self._price(round(trailing_stop_level(pos.side, pos.trail_extreme, float(pos.trailing), tick) / tick))

    def trading_stop(self, p: dict) -> Position:
        mode = p.get("tpslMode") or "Full"
        if mode == "Partial":
            raise params_error("simulator: tpslMode Partial is not implemented; use Full")
        if mode != "Full":
            raise params_error(f"tpslMode invalid: {mode!r}")
        _market_tpsl_only(p)
        idx = _int(p.get("positionIdx", 0), "positionIdx")
        self._check_idx(idx)
        pos = self.positions[idx]
        if not pos.size:
            raise params_error("can not set tp/sl/ts for zero position")
        tp, sl, ts, ap = _optional(p, "takeProfit", "stopLoss", "trailingStop", "activePrice")
        last = Decimal(self.instrument.fmt_price(self.last_price))
        self._check_tpsl(pos.side, tp or D0, sl or D0, last, "base_price")
        for value, name in ((ts, "trailingStop"), (ap, "activePrice")):
            if value:
                self.instrument.check_price(value, name)
        changed = any(new is not None and new != cur for new, cur in
                      ((tp, pos.take_profit), (sl, pos.stop_loss), (ts, pos.trailing), (ap, pos.active_price)))
        if not changed:
            raise ExchangeError(codes.NOT_MODIFIED, "not modified")
        self._set_stops(pos, tp, sl, ts, ap)
        self._emit_position(pos)
        return pos

    def _trigger_stop(self, pos: Position, kind: str, level: float, price: float, gap: bool) -> None:
        """Close `pos`: its `kind` stop at `level` was crossed by the tick at `price`."""
        ref = self._trigger_ref(price, level, gap)
        o = pos.stops.pop(kind, None)
        if o is None:
            o = self._stop_order(pos, kind, Decimal(repr(level)))
        self.active.pop(o.order_id, None)
        o.status = "Triggered"
        o.qty = pos.size
        o.updated = self.now
        self._emit_order(o)
        fill = self._taker_price(pos.side < 0, pos.size, ref, None)
        o.price = fill
        log.info("sim: %s triggered at %s (level %s), closing %s %s", kind, self.instrument.fmt_price(self.last_price),
                 self.instrument.fmt_price(level), pos.side_name, pos.size)
        self._fill(o, pos.size, fill, maker=False)

    # ------------------------------------------------------------------ amend / cancel

    def _find(self, p: dict) -> Order:
        oid = p.get("orderId") or ""
        link = p.get("orderLinkId") or ""
        if not oid and not link:
            raise params_error("orderId or orderLinkId is required")
        o = self.orders.get(oid) if oid else self.orders.get(self.by_link.get(link, ""))
        if o is None or not o.is_open:
            raise ExchangeError(codes.ORDER_NOT_FOUND, "order not exists or too late to cancel/replace")
        return o

    def amend_order(self, p: dict) -> Order:
        o = self._find(p)
        if o.is_tpsl:
            raise params_error("simulator: amend position TP/SL through position/trading-stop")
        qty, price, trigger, tp, sl = _optional(p, "qty", "price", "triggerPrice", "takeProfit", "stopLoss")
        if qty is not None:
            self.instrument.check_qty(qty, o.order_type == "Market")
            if qty <= o.cum_qty:
                raise params_error("qty invalid: not above the filled quantity")
        if price is not None:
            if o.order_type != "Limit":
                raise params_error("price cannot be amended on a Market order")
            self.instrument.check_price(price)
        if trigger is not None and not o.is_conditional:
            raise params_error("triggerPrice can only be amended on a conditional order")
        changes = ((qty, o.qty), (price, o.price), (trigger, o.trigger_price), (tp, o.take_profit),
                   (sl, o.stop_loss))
        if not any(new is not None and new != cur for new, cur in changes):
            raise params_error("The order remains unchanged as the parameters entered match the existing ones")
        self._check_tpsl(o.sign, tp or D0, sl or D0, price or o.price or Decimal(repr(self.last_price)), "base_price")
        if qty is not None:
            o.qty = qty
        if price is not None:
            o.price = price
            o.limit_f = float(price)
        if trigger is not None:
            o.trigger_price = trigger
            o.trigger_f = float(trigger)
        if tp is not None:
            o.take_profit = tp
        if sl is not None:
            o.stop_loss = sl
        o.updated = self.now
        if o.status != "Untriggered" and price is not None:
            self.active.pop(o.order_id, None)
            self._activate(o, self.last_price)
        else:
            self._emit_order(o)
        self._emit_position(self.positions[self._idx_of(o)])
        return o

    def cancel_order(self, p: dict) -> Order:
        o = self._find(p)
        self._cancel(o)
        self._emit_position(self.positions[self._idx_of(o)])
        return o

    def _cancel(self, o: Order) -> None:
        if o.is_tpsl:
            pos = self.positions[self._idx_of(o)]
            pos.stops.pop(o.stop_order_type, None)
            if o.stop_order_type == "TakeProfit":
                pos.take_profit = D0
            elif o.stop_order_type == "StopLoss":
                pos.stop_loss = D0
            else:
                pos.trailing = pos.active_price = D0
                pos.trail_active = False
            self._finish(o, "Deactivated", cancel_type="CancelByUser")
        else:
            self._finish(o, "Cancelled", cancel_type="CancelByUser")

    def cancel_all(self, p: dict) -> list[Order]:
        flt = p.get("orderFilter") or ""
        if flt and flt not in ORDER_FILTERS:
            raise params_error(f"orderFilter invalid: {flt!r}")
        chosen = [o for o in sorted(self.active.values(), key=lambda o: o.created)
                  if not flt or (flt == "Order" and not o.is_conditional) or
                  (flt == "StopOrder" and o.stop_order_type == "Stop") or (flt == "tpslOrder" and o.is_tpsl)]
        for o in chosen:
            self._cancel(o)
        for idx in sorted({self._idx_of(o) for o in chosen}):
            self._emit_position(self.positions[idx])
        return chosen

    # ------------------------------------------------------------------ leverage and mode

    def set_leverage(self, p: dict) -> None:
        buy = parse_decimal(p.get("buyLeverage"), "buyLeverage")
        sell = parse_decimal(p.get("sellLeverage"), "sellLeverage")
        rules = self.instrument.rules
        for v, name in ((buy, "buyLeverage"), (sell, "sellLeverage")):
            if v < rules.min_leverage or v > rules.max_leverage or v % rules.leverage_step:
                raise params_error(f"{name} invalid: {v} (from {rules.min_leverage} to {rules.max_leverage} "
                                   f"in steps of {rules.leverage_step})")
        if buy != sell:  # the account is cross margin, where hedge mode needs them equal too (ref. 1.14)
            mode = "hedge mode under cross margin" if self.hedge else "one-way mode"
            raise params_error(f"buyLeverage must equal sellLeverage in {mode}")
        targets = {0: buy} if not self.hedge else {1: buy, 2: sell}
        if all(self.positions[i].leverage == v for i, v in targets.items()):
            raise ExchangeError(codes.LEVERAGE_NOT_MODIFIED, "leverage not modified")
        for i, v in targets.items():
            self.positions[i].leverage = v
            self.positions[i].updated = self.now
            self._emit_position(self.positions[i])

    def switch_mode(self, p: dict) -> None:
        hedge = requested_mode(p)
        if hedge == self.hedge:
            raise ExchangeError(codes.MODE_NOT_MODIFIED, "position mode is not modified")
        self.check_switchable()
        self.set_mode(hedge)

    def check_switchable(self) -> None:
        """110024 / 110028 when a position or an open order of this symbol blocks a mode switch."""
        if any(pos.size for pos in self.positions.values()):
            raise ExchangeError(codes.POSITION_EXISTS, f"position is not empty, cannot switch position mode "
                                                       f"({self.symbol})")
        if any(not o.is_tpsl for o in self.active.values()):
            raise ExchangeError(codes.OPEN_ORDERS_EXIST, f"open orders exist, cannot switch position mode "
                                                         f"({self.symbol})")

    def set_mode(self, hedge: bool) -> None:
        lev = next(iter(self.positions.values())).leverage
        self.hedge = hedge
        self.positions = {1: Position(1, lev), 2: Position(2, lev)} if hedge else {0: Position(0, lev)}

    # ------------------------------------------------------------------ the market moves

    def on_tick(self, tick: int, now: int, gap: bool) -> None:
        """The last price moved to `tick` (tick index) at replay time `now`; `gap` when the move from the
        previous tick was a jump (a candle's open), not a continuous path."""
        self.last_tick = tick
        price = tick * self.instrument.tick
        self.last_price = price
        if now >= self.next_funding:
            self._funding(now)
        if not self.active:
            return
        for pos in self.positions.values():
            if pos.size:
                self._check_stops(pos, price, gap)
        for o in list(self.active.values()):
            if not o.is_open or o.is_tpsl:
                continue
            if o.status == "Untriggered":
                if target_crossed(LONG if o.trigger_direction == 1 else SHORT, o.trigger_f, price):
                    self._trigger_order(o, self._trigger_ref(price, o.trigger_f, gap))
            elif o.order_type == "Limit":
                if limit_reached(o.side == "Buy", o.limit_f, price):
                    self._rest_fill(o)

    def _trigger_ref(self, price: float, level: float, gap: bool) -> float:
        """The price a triggered order's taker walk is centred on: the level the path crossed between two
        ticks (`level`), or the crossing tick's price (`book`, and any gap: nothing traded at the level)."""
        return price if gap or self.trigger_fill == "book" else level

    def _check_stops(self, pos: Position, price: float, gap: bool) -> None:
        side = pos.side
        sl = float(pos.stop_loss)
        if sl and stop_crossed(side, sl, price):
            self._trigger_stop(pos, "StopLoss", sl, price, gap)
            return
        tp = float(pos.take_profit)
        if tp and target_crossed(side, tp, price):
            self._trigger_stop(pos, "TakeProfit", tp, price, gap)
            return
        if not pos.trailing:
            return
        if not pos.trail_active:
            self._arm_trailing(pos)
            if pos.trail_active:
                self._set_stops(pos, None, None, None, None)
                self._emit_position(pos)
            return
        level = float(self._trail_level(pos))
        if stop_crossed(side, level, price):
            self._trigger_stop(pos, "TrailingStop", level, price, gap)
            return
        if (price > pos.trail_extreme) if side > 0 else (price < pos.trail_extreme):
            pos.trail_extreme = price
            o = pos.stops.get("TrailingStop")
            if o is not None:
                o.trigger_price = self._trail_level(pos)
                o.trigger_f = float(o.trigger_price)

    def _trigger_order(self, o: Order, ref: float) -> None:
        self.active.pop(o.order_id, None)
        o.status = "Triggered"
        o.updated = self.now
        self._emit_order(o)
        if o.order_type == "Market":
            if o.reduce_only or self._has_margin_for(o):
                self._take(o, ref)
            else:
                o.reject_reason = "EC_InsufficientMargin"
                self._finish(o, "Cancelled", cancel_type="CancelByUser")
        else:
            self._activate(o, ref)
        self._emit_position(self.positions[self._idx_of(o)])

    def _has_margin_for(self, o: Order) -> bool:
        try:
            self._check_margin(self.positions[self._idx_of(o)], o.sign, o.qty, Decimal(repr(self.last_price)))
        except ExchangeError:
            return False
        return True

    def _rest_fill(self, o: Order) -> None:
        qty = self._fillable(o)
        if not qty:
            return
        self._fill(o, qty, o.price, maker=True)
        if o.is_open:  # a reduce-only order larger than the position: the rest is cancelled
            self._finish(o, "Cancelled", cancel_type="CancelByReduceOnly")

    def _funding(self, now: int) -> None:
        n = funding_times_in(self._funding_from + 1, now + 1)
        self._funding_from = now
        self.next_funding = self._next_funding_after(now)
        rate = self.fees.funding_rate_8h
        for pos in self.positions.values():
            if not pos.size:
                continue
            for _ in range(n):
                pay = q8(funding_payment(pos.side, float(pos.size), self.last_price, rate))
                self.account.realise(-pay)
                pos.cum_realised -= pay
                pos.cur_realised -= pay
                mark = self._price(self.last_tick)
                f = Fill(self.ids.uuid(), "", "", pos.side_name, "UNKNOWN", "UNKNOWN", "", D0, D0, D0, mark,
                         pos.size, q8(mark * pos.size), pay, rate, "Funding", now, False, D0, -pay, mark,
                         self.ids.next_seq())
                self.fills.append(f)
                self._emit("execution", payloads.execution_ws(f, self))
            pos.updated = now
            self._emit_position(pos)
            self._emit_wallet()

    # ------------------------------------------------------------------ queries

    def open_orders(self, p: dict) -> list[Order]:
        oid = p.get("orderId") or ""
        link = p.get("orderLinkId") or ""
        if oid or link:
            o = self.orders.get(oid) if oid else self.orders.get(self.by_link.get(link, ""))
            return [o] if o is not None else []
        if str(p.get("openOnly", "0")) == "1":
            items = [o for o in self.orders.values() if not o.is_open][-500:]
        else:
            items = list(self.active.values())
        return _newest_first(_by_filter(items, p.get("orderFilter") or ""))

    def order_history(self, p: dict) -> list[Order]:
        """/v5/order/history for a unified account: closed orders only (open ones are refused with
        181017 when asked for by status), created inside the 7-day window; fully cancelled,
        rejected and deactivated orders only for 24 h after they ended."""
        status = p.get("orderStatus") or ""
        if status and status not in FINAL_STATUSES:
            raise ExchangeError(codes.NOT_FINAL_STATUS, "OrderStatus must be final status")
        start, end = self.window(p)
        oid = p.get("orderId") or ""
        link = p.get("orderLinkId") or ""
        short_since = self.now - ONE_DAY
        items = [o for o in self.orders.values()
                 if not o.is_open and start <= o.created <= end and (not status or o.status == status)
                 and (not oid or o.order_id == oid) and (not link or o.link_id == link)
                 and not (o.status in SHORT_LIVED_STATUSES and not o.cum_qty and o.updated < short_since)]
        return _newest_first(_by_filter(items, p.get("orderFilter") or ""))

    def window(self, p: dict) -> tuple[int, int]:
        start = _opt_int(p.get("startTime"), "startTime")
        end = _opt_int(p.get("endTime"), "endTime")
        if end is None:
            end = self.now if start is None else start + SEVEN_DAYS
        if start is None:
            start = end - SEVEN_DAYS
        if end - start > SEVEN_DAYS:
            raise params_error("The time range between startTime and endTime cannot exceed 7 days")
        return start, end

    def executions(self, p: dict) -> list[Fill]:
        start, end = self.window(p)
        oid = p.get("orderId") or ""
        link = p.get("orderLinkId") or ""
        etype = p.get("execType") or ""
        items = [f for f in self.fills if start <= f.time <= end and (not oid or f.order_id == oid)
                 and (not link or f.link_id == link) and (not etype or f.exec_type == etype)]
        return items[::-1]

    def closed_pnl(self, p: dict) -> list[ClosedPnl]:
        start, end = self.window(p)
        return [c for c in self.closed if start <= c.time <= end][::-1]


def requested_mode(p: dict) -> bool:
    """switch-mode's `mode`: True for hedge (3), False for one-way (0), else 10001."""
    mode = _int(p.get("mode"), "mode")
    if mode not in (0, 3):
        raise params_error("mode invalid: 0 (one-way) or 3 (hedge)")
    return mode == 3


def _by_filter(items: list[Order], flt: str) -> list[Order]:
    if flt and flt not in ORDER_FILTERS:
        raise params_error(f"orderFilter invalid: {flt!r}")
    if flt == "Order":
        return [o for o in items if not o.is_conditional]
    if flt == "StopOrder":
        return [o for o in items if o.stop_order_type == "Stop"]
    if flt == "tpslOrder":
        return [o for o in items if o.is_tpsl]
    return items


def _newest_first(items: list[Order]) -> list[Order]:
    return sorted(items, key=lambda o: o.created, reverse=True)


def _int(value, name: str) -> int:
    if isinstance(value, bool):
        raise params_error(f"{name} invalid: {value!r}")
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise params_error(f"{name} invalid: {value!r}") from None


def _opt_int(value, name: str) -> int | None:
    return None if value in (None, "") else _int(value, name)


@overload
def _opt_decimal(value, name: str, none_if_absent: Literal[False] = False) -> Decimal: ...
@overload
def _opt_decimal(value, name: str, none_if_absent: bool) -> Decimal | None: ...
def _opt_decimal(value, name: str, none_if_absent: bool = False) -> Decimal | None:
    """An optional price field: absent -> D0 (or None with none_if_absent), "0" -> D0 (clear)."""
    if value is None or value == "":
        return None if none_if_absent else D0
    return parse_decimal(value, name, allow_zero=True)


def _optional(p: dict, *names: str) -> list[Decimal | None]:
    """Fields a request may leave out (None) or set, "0" meaning clear."""
    return [_opt_decimal(p.get(n), n, none_if_absent=True) for n in names]


def _market_tpsl_only(p: dict) -> None:
    if "Limit" in (p.get("tpOrderType"), p.get("slOrderType")):
        raise params_error("simulator: Limit TP/SL orders are not implemented (Full mode is Market only)")
