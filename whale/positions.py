"""The live PositionManager: open, protect, trail, exit and reconcile one symbol's position.

The exchange is the truth about positions and the journal is the audit log (docs/architecture.md,
principle 3). Every entry goes out with its stop attached, is re-protected from the real fill
price and checked on the exchange — without a confirmed stop the position is closed at market
(principle 5). Stops move on candle closes with the same rules the backtest uses
(whale.strategy.stops). Only the main thread calls this class.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from whale.alerts import AlertSystem
from whale.broker.base import (
    CAUSE_STOP_LOSS,
    CAUSE_TAKE_PROFIT,
    CAUSE_TRAILING_STOP,
    Broker,
    BrokerError,
    BrokerEvents,
    BrokerPosition,
    Fill,
)
from whale.config.model import Config
from whale.errors import WhaleError
from whale.fills import LONG, taker_fill_ticks
from whale.journal import PerformanceTracker, TradeRecord, describe_trade, iso_utc
from whale.risk.sizing import describe_size, is_sized, size_steps
from whale.strategy.stops import (
    EXIT_REASONS,
    R_EMERGENCY,
    R_MANUAL,
    R_TAKE_PROFIT,
    R_TRAILING,
    STOP_INITIAL,
    initial_levels,
    move_stop,
    stop_exit_reason,
)

SIDE_NAME = {LONG: "Buy", -LONG: "Sell"}


class ReconcileError(WhaleError):
    """The journal and the exchange disagree in a way the bot cannot explain: it will not trade."""


@dataclass(frozen=True)
class EntryResult:
    trade: TradeRecord | None
    skipped: str | None = None  # why no order was sent


class PositionManager:
    def __init__(self, cfg: Config, broker: Broker, tracker: PerformanceTracker, alerts: AlertSystem,
                 log: logging.Logger, *, new_link_id: Callable[[str], str], now_ms: Callable[[], int],
                 market: Callable[[], tuple[float | None, float | None]] | None = None) -> None:
        """`market()` gives (ATR, price) now: a position found on the exchange while running is given
        a stop from them (no position without a stop)."""
        self.cfg = cfg
        self.broker = broker
        self.tracker = tracker
        self.alerts = alerts
        self.log = log
        self.new_link_id = new_link_id
        self.now_ms = now_ms
        self.market = market or (lambda: (None, None))
        self.tm = cfg.trade_management
        self.trade: TradeRecord | None = None

    # ---- helpers -----------------------------------------------------------------------------------
    @property
    def inst(self):
        return self.broker.instrument

    def _price(self, value: float) -> Decimal:
        """A float price that already lies on the tick grid, as an exact Decimal."""
        return self.inst.price_decimal(round(value / self.inst.tick))

    @property
    def side(self) -> int:
        return 0 if self.trade is None else (LONG if self.trade.side == "Buy" else -LONG)

    def has_position(self) -> bool:
        return self.trade is not None

    # ---- entries -------------------------------------------------------------------------------------
    def enter(self, side: int, atr: float, ref_price: float, *, strategy: str | None = None,
              stop_rule: Callable[[float], float] | None = None, density_price: float | None = None,
              validate: Callable[[Decimal, Decimal], str | None] | None = None,
              setup: str = "indicators") -> EntryResult:
        """Size, place a market entry with SL/TP attached, re-protect from the fill, confirm the stop.

        `stop_rule(price)` replaces the ATR stop (density entries): applied to the pre-trade price
        for sizing and to the real fill price for the stop that stays; `validate(qty, price)` may
        veto with a message (the signal validator). `setup` (indicators, breakout, bounce) is
        journaled so a restart restores the trade's exit rules."""
        if self.trade is not None:
            return EntryResult(None, "a position is already open")
        if not self.tm.enabled:
            return EntryResult(None, "trade_management.enabled is false")
        if not (atr > 0.0):
            return EntryResult(None, "ATR is not available yet")
        tick = self.inst.tick
        sl, tp = initial_levels(side, ref_price, atr, self.tm.stop_loss_atr_multiple, self.tm.take_profit_atr_multiple,
                                tick)
        if stop_rule is not None:
            sl = stop_rule(ref_price)
        qty, sized_at, why = self._size(side, atr, ref_price, stop_rule)
        if qty is None:
            return EntryResult(None, why)
        if validate is not None:
            veto = validate(qty, sized_at)
            if veto:
                return EntryResult(None, veto)
        if why:
            self.log.info(f"[{self.cfg.symbol}] {why}")
        link = self.new_link_id("open")
        try:
            fill = self.broker.open_position(side, qty, self._price(sl), self._price(tp), link)
        except BrokerError as exc:
            self.alerts.send_alert(f"Entry refused by the exchange: {exc}", "WARNING", "error")
            return EntryResult(None, f"refused: {exc}")
        trade = TradeRecord(
            id=link, symbol=self.cfg.symbol, side=SIDE_NAME[side], qty=fill.qty, network=self.tracker.network,
            mode=self.tracker.mode, strategy=strategy or self.cfg.strategy.mode, entry_time=iso_utc(fill.time_ms),
            entry_price=fill.price, entry_order_link_id=link, fees=fill.fee, initial_stop=self._price(sl),
            stop_loss=self._price(sl), take_profit=self._price(tp), entry_atr=float(atr),
            density_price=None if density_price is None else Decimal(repr(density_price)), setup=setup)
        self.trade = self.tracker.open_trade(trade)
        self.alerts.send_alert(f"Opened {describe_trade(self.trade)}", "INFO", "entry")
        self._protect_from_fill(self.trade, fill, atr, stop_rule)
        return EntryResult(self.trade)

    def _size(self, side: int, atr: float, ref_price: float, stop_rule: Callable[[float], float] | None,
              ) -> tuple[Decimal | None, Decimal, str]:
        """(qty, or None when skipped; the price it was sized at; what sizing did, in words, empty at full
        risk). Sized as the backtest sizes (whale.risk.sizing): at the fill the shared taker rule expects
        from `ref_price`, with the stop taken from that fill."""
        tm, inst = self.tm, self.inst
        ticks = taker_fill_ticks(side == LONG, math.nan, ref_price, self.cfg.fees.slippage_rate, inst.tick)
        sized_at = inst.price_decimal(ticks)
        entry = float(sized_at)
        stop = stop_rule(entry) if stop_rule is not None else initial_levels(
            side, entry, atr, tm.stop_loss_atr_multiple, tm.take_profit_atr_multiple, inst.tick)[0]
        equity = float(self.broker.equity())
        caps = dict(qty_step=inst.step, min_qty=float(inst.min_order_qty), min_notional=float(inst.min_notional),
                    max_qty=float(inst.max_mkt_order_qty), leverage=min(tm.leverage, float(inst.max_leverage)),
                    fee_rate=self.cfg.fees.taker_rate, max_exposure_percent=self.cfg.risk.max_total_exposure_percent)
        steps, code = size_steps(equity, tm.risk_per_trade_percent, entry, stop, **caps,
                                 shrink=self.cfg.risk.when_capped == "shrink")
        why = describe_size(code, steps, equity=equity, risk_percent=tm.risk_per_trade_percent, entry=entry,
                            stop=stop, coin=inst.symbol.removesuffix("USDT"), **caps)
        return (inst.qty_decimal(steps) if is_sized(code) else None), sized_at, why

    def _protect_from_fill(self, t: TradeRecord, fill: Fill, atr: float,
                           stop_rule: Callable[[float], float] | None) -> None:
        """Re-set SL/TP of the just-opened trade `t` from the real fill price and make sure the exchange
        holds the stop."""
        side = self.side
        sl, tp = initial_levels(side, float(fill.price), atr, self.tm.stop_loss_atr_multiple,
                                self.tm.take_profit_atr_multiple, self.inst.tick)
        if stop_rule is not None:
            sl = stop_rule(float(fill.price))
        want_sl, want_tp = self._price(sl), self._price(tp)
        for attempt in range(2):
            try:
                self.broker.set_stops(stop_loss=want_sl, take_profit=want_tp)
            except BrokerError as exc:
                self.log.warning(f"Setting the stop failed (attempt {attempt + 1}): {exc}")
            pos = self.broker.position()
            if pos is None:
                return  # already closed (a stop or target hit at once): poll() will report it
            if pos.stop_loss is not None and pos.stop_loss == want_sl:
                self.trade = self.tracker.update_trade(t.id, initial_stop=want_sl, stop_loss=want_sl,
                                                       take_profit=want_tp)
                return
        self.alerts.send_alert(f"No stop on the exchange for {describe_trade(t)}: closing at market",
                               "ERROR", "error")
        self.exit(R_EMERGENCY, "the exchange does not hold the stop-loss")

    # ---- management --------------------------------------------------------------------------------
    def on_candle_close(self, close: float, atr: float) -> None:
        """Trailing stop, break-even and profit lock-in, decided on the candle's close."""
        t = self.trade
        if t is None or t.stop_loss is None:
            return
        stop, kind, be = move_stop(self.side, float(t.entry_price), float(t.stop_loss), t.stop_kind, t.breakeven_done,
                                   close, atr, self.inst.tick, self.tm.enable_trailing_stop,
                                   self.tm.break_even_atr_trigger, self.tm.trailing_stop_atr_multiple,
                                   self.tm.move_to_breakeven_atr_trigger, self.tm.profit_lock_in_atr_multiple)
        new_stop = self._price(stop)
        if new_stop == t.stop_loss and kind == t.stop_kind and be == t.breakeven_done:
            return
        if new_stop != t.stop_loss:
            try:
                self.broker.set_stops(stop_loss=new_stop)
            except BrokerError as exc:
                self.log.warning(f"Moving the stop to {new_stop} failed: {exc}; it stays at {t.stop_loss}")
                return
            what = {STOP_INITIAL: "stop", 1: "break-even stop", 2: "trailing stop"}[kind]
            self.log.info(f"[{t.symbol}] {what} moved {t.stop_loss} -> {new_stop} (close {close}, ATR {atr:.6g})")
        self.trade = self.tracker.update_trade(t.id, stop_loss=new_stop, stop_kind=kind, breakeven_done=be)

    def move_stop_to(self, stop: float, kind: int, breakeven_done: bool, why: str) -> bool:
        """A stop move decided elsewhere (the density break-even rule); never loosens."""
        t = self.trade
        if t is None:
            return False
        new_stop = self._price(stop)
        if t.stop_loss is not None and (float(new_stop) - float(t.stop_loss)) * self.side <= 0:
            return False
        try:
            self.broker.set_stops(stop_loss=new_stop)
        except BrokerError as exc:
            self.log.warning(f"Moving the stop to {new_stop} failed: {exc}")
            return False
        self.log.info(f"[{t.symbol}] stop {t.stop_loss} -> {new_stop}: {why}")
        self.trade = self.tracker.update_trade(t.id, stop_loss=new_stop, stop_kind=kind, breakeven_done=breakeven_done)
        return True

    def exit(self, reason_code: int, detail: str = "") -> Fill | None:
        """Close the whole position at market (reduce-only) for `reason_code` (whale.strategy.stops)."""
        t = self.trade
        if t is None:
            return None
        link = self.new_link_id("close")
        try:
            fill = self.broker.close_position(t.qty, link)
        except BrokerError as exc:
            self.alerts.send_alert(f"Closing {describe_trade(t)} failed: {exc}", "ERROR", "error")
            return None
        self._record_exit(fill, EXIT_REASONS[reason_code], detail)
        return fill

    # ---- what the exchange did -----------------------------------------------------------------------
    def process(self, events: BrokerEvents) -> None:
        """Stops, targets and funding reported by the broker (the private stream's fast path)."""
        for f in events.funding:
            if self.trade is not None:
                self.trade = self.tracker.update_trade(self.trade.id, funding=self.trade.funding + f.amount)
        for ex in events.exits:
            if self.trade is None:
                continue
            reason = self._reason_for_cause(ex.cause)
            self._record_exit(ex.fill, reason, f"{ex.cause} filled on the exchange")
        if events.position_changed:
            self.check_exchange()

    def check_exchange(self) -> None:
        """REST-side check (a position update or the periodic check): a position we track that the
        exchange no longer has is closed in the journal from the broker's records; an unknown one is
        adopted and protected; one we track is checked for its stop and size (docs/architecture.md#reconciliation)."""
        pos = self.broker.position()
        t = self.trade
        if t is not None and pos is None:
            fill, cause = self._last_exit_fill()
            if fill is not None:
                self._record_exit(fill, self._reason_for_cause(cause), "found closed on the exchange")
        elif t is None and pos is not None:
            atr, price = self.market()
            self.log.warning(f"Reconciliation: {self._adopt(pos, atr, price)}")
        elif t is not None and pos is not None:
            self._check_held(t, pos)

    def _check_held(self, t: TradeRecord, pos: BrokerPosition) -> None:
        """The exchange's position against the journal's: a flipped side is a new position, a
        different size is recorded, a missing stop is put back."""
        if pos.side != self.side:
            fill, cause = self._last_exit_fill()
            if fill is None:  # the execution list can lag: the next check tries again
                self.alerts.send_alert(f"{describe_trade(t)} was reversed on the exchange to {SIDE_NAME[pos.side]} "
                                       f"{pos.size}; its closing execution is not listed yet", "WARNING", "error")
                return
            self._record_exit(fill, self._reason_for_cause(cause), "reversed on the exchange")
            atr, price = self.market()
            self.log.warning(f"Reconciliation: {self._adopt(pos, atr, price)}")
            return
        if pos.size != t.qty:
            self._record_size_change(t, pos.size)
        if pos.stop_loss is None:
            self._restore_stop()

    def _record_size_change(self, t: TradeRecord, size: Decimal) -> None:
        """Someone changed the position's size on the exchange: the journal follows (the exchange is
        the truth), with a note, and the user is told."""
        note = f"size changed on the exchange from {t.qty} to {size}"
        self.tracker.update_trade(t.id, qty=size)
        self.trade = self.tracker.add_note(t.id, note)
        self.alerts.send_alert(f"{describe_trade(self.trade)}: {note}", "WARNING", "error")

    def _restore_stop(self) -> None:
        """The exchange lost the stop (removed by hand, or never held): put the bot's stop back; when
        the price has already passed it, leave at market. Without a journal stop, place one from ATR."""
        t = self.trade
        if t is None:  # nothing tracked: no stop of ours to put back
            return
        atr, price = self.market()
        stop = t.stop_loss or t.initial_stop
        if stop is None:
            what = self.protect_adopted(atr, price)
        elif price is not None and (price - float(stop)) * self.side <= 0:
            what = f"the price {price} is past the stop {stop}: closed at market"
            self.exit(R_EMERGENCY, f"stop removed on the exchange and the price is past it ({stop})")
        else:
            try:
                self.broker.set_stops(stop_loss=stop)
                what = f"set it again at {stop}"
            except BrokerError as exc:
                what = f"setting it again at {stop} failed ({exc}): closed at market"
                self.exit(R_EMERGENCY, "the exchange does not hold the stop-loss")
        self.alerts.send_alert(f"The exchange held no stop for {describe_trade(t)}: {what}", "WARNING", "error")

    def _reason_for_cause(self, cause: str) -> str:
        if cause == CAUSE_STOP_LOSS:
            return EXIT_REASONS[stop_exit_reason(self.trade.stop_kind if self.trade else STOP_INITIAL)]
        if cause == CAUSE_TAKE_PROFIT:
            return EXIT_REASONS[R_TAKE_PROFIT]
        if cause == CAUSE_TRAILING_STOP:
            return EXIT_REASONS[R_TRAILING]
        return EXIT_REASONS[R_MANUAL]

    def _last_exit_fill(self) -> tuple[Fill | None, str]:
        finder = getattr(self.broker, "last_exit", None)
        if finder is None or self.trade is None:
            return None, ""
        return finder(self.trade)

    def _record_exit(self, fill: Fill, reason: str, detail: str) -> None:
        t = self.trade
        if t is None:
            return
        fees = t.fees + fill.fee
        closed = self.tracker.close_trade(t.id, fill.price, fill.time_ms, fees, t.funding, None, reason,
                                          [fill.link_id], note=f"exit {reason}: {detail}" if detail else "")
        self.trade = None
        level = "INFO" if closed.pnl is not None and closed.pnl >= 0 else "WARNING"
        self.alerts.send_alert(f"Closed {describe_trade(closed)} ({reason}{': ' + detail if detail else ''})",
                               level, "exit")

    # ---- start-up reconciliation (docs/architecture.md#reconciliation) ---------------------------------
    def reconcile(self, atr: float | None, price: float | None) -> list[str]:
        """Align the journal with the exchange before trading; returns what was done. Raises
        ReconcileError when they disagree in a way the bot cannot explain."""
        done: list[str] = []
        journal = [t for t in self.tracker.open_trades() if t.symbol == self.cfg.symbol]
        pos = self.broker.position()
        if len(journal) > 1:
            raise ReconcileError(f"the journal has {len(journal)} open {self.cfg.symbol} trades "
                                 f"({', '.join(t.id for t in journal)}) but one-way mode allows one position; "
                                 f"fix {self.tracker.path.name} or close the position and move the journal aside")
        t = journal[0] if journal else None
        if t is None:
            if pos is not None:
                done.append(self._adopt(pos, atr, price))
            return done
        if pos is None:
            self.trade = t
            fill, cause = self._last_exit_fill()
            if fill is None:
                raise ReconcileError(f"the journal's open trade {describe_trade(t)} is not on the exchange and no "
                                     f"closing execution was found; check the exchange's trade history, then close "
                                     f"the trade in {self.tracker.path.name} (or move the journal aside)")
            self._record_exit(fill, self._reason_for_cause(cause), "closed while the bot was down")
            done.append(f"closed {t.id} in the journal: it was closed on the exchange while the bot was down")
            return done
        side = LONG if t.side == "Buy" else -LONG
        if pos.side != side or abs(pos.size - t.qty) >= self.inst.qty_step:
            raise ReconcileError(
                f"the journal says {t.side} {t.qty} {t.symbol} (trade {t.id}) but the exchange holds "
                f"{SIDE_NAME[pos.side]} {pos.size}; close the position on the exchange (python whalebot.py close-all) "
                f"or fix the journal, then start again")
        self.trade = t
        done.append(f"restored {describe_trade(t)}")
        if pos.stop_loss is None:
            stop = t.stop_loss or t.initial_stop
            if stop is None or (price is not None and (float(stop) - price) * side >= 0):
                done.append(self.protect_adopted(atr, price))
            else:
                self.broker.set_stops(stop_loss=stop)
                done.append(f"the exchange had no stop: set it again at {stop}")
        elif pos.stop_loss != t.stop_loss:
            self.trade = self.tracker.update_trade(t.id, stop_loss=pos.stop_loss)
            done.append(f"stop taken from the exchange: {pos.stop_loss}")
        return done

    def _adopt(self, pos: BrokerPosition, atr: float | None, price: float | None = None) -> str:
        link = self.new_link_id("adopt")
        self.trade = self.tracker.open_trade(TradeRecord(
            id=link, symbol=self.cfg.symbol, side=SIDE_NAME[pos.side], qty=pos.size, network=self.tracker.network,
            mode=self.tracker.mode, strategy=self.cfg.strategy.mode, entry_time=iso_utc(self.now_ms()),
            entry_price=pos.entry_price, stop_loss=pos.stop_loss, initial_stop=pos.stop_loss,
            take_profit=pos.take_profit, adopted=True,
            notes=("found on the exchange, not opened by this bot",)))
        msg = f"adopted {SIDE_NAME[pos.side]} {pos.size} {self.cfg.symbol} @ {pos.entry_price} found on the exchange"
        self.alerts.send_alert(f"Adopted an unknown position: {describe_trade(self.trade)}", "WARNING", "error")
        if pos.stop_loss is None:
            msg += "; " + self.protect_adopted(atr, price)
        return msg

    def protect_adopted(self, atr: float | None, price: float | None) -> str:
        """Give a position without a stop one: ATR x stop_loss_atr_multiple from the price now (or from
        the entry when that is safer); without ATR or a price, close it (no position without a stop)."""
        t = self.trade
        if t is None:
            return ""
        if not atr or atr <= 0 or price is None:
            self.exit(R_EMERGENCY, "no stop and no ATR to place one")
            return "no ATR or price to place a stop: closed at market"
        side = self.side
        sl_now, _ = initial_levels(side, price, atr, self.tm.stop_loss_atr_multiple, self.tm.take_profit_atr_multiple,
                                   self.inst.tick)
        stop = self._price(sl_now)
        try:
            self.broker.set_stops(stop_loss=stop)
        except BrokerError as exc:  # no position without a stop: leave it rather than hold it bare
            self.exit(R_EMERGENCY, f"setting a stop at {stop} failed ({exc})")
            return f"setting a stop at {stop} failed ({exc}): closed at market"
        self.trade = self.tracker.update_trade(t.id, stop_loss=stop, initial_stop=t.initial_stop or stop)
        return f"set a stop at {stop}"
