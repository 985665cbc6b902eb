"""The live PositionManager: open, protect, trail, exit and reconcile one symbol's position.

The exchange is the truth about positions and the journal is the audit log (docs/architecture.md,
principle 3). Only the main thread calls this class, and it never sleeps: whatever must be tried
again (a stop the exchange refused, an entry whose outcome is unknown) is rescheduled and retried
from the loop (`retry_stops`, `resolve_pending`).

- **Entries** are journaled before they are sent (status `pending`, with their orderLinkId), go
  out with their stop attached, and become open trades with the real fill price and fee. An entry
  whose outcome is unknown stays pending and is looked up by its orderLinkId (never sent again);
  one that did not execute (refused, rate limited, never sent) is dropped from the journal.
- **Protection** (principle 5, no position without a stop): the stop and target are re-set from
  the real fill. A position whose exchange stop is on the protective side of the price (for a
  long below the last price, for a short above it: the position is closed if the price moves
  against it) is protected, even when that is still the stop attached to the entry (computed from
  the pre-trade price, so it differs by the slippage): the journal records the stop the exchange
  holds, and the exact one is retried later. Only a position with NO stop on the exchange is
  closed at market. Every failure to set a stop is reported (`on_stop_result`), so the safety
  monitor halts new entries when they repeat.
- Stops move on candle closes with the same rules the backtest uses (whale.strategy.stops).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from whale.alerts import AlertSystem
from whale.config.model import Config
from whale.errors import WhaleError
from whale.fills import LONG, taker_fill_ticks
from whale.journal import PerformanceTracker, TradeRecord, describe_trade
from whale.risk.account import EntrySize, size_entry
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
from whale.timefmt import epoch_ms, iso_utc
from whale.venue.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    TemporaryError,
    VenueError,
)
from whale.venue.protocols import ForSymbol
from whale.venue.types import (
    CAUSE_STOP_LOSS,
    CAUSE_TAKE_PROFIT,
    CAUSE_TRAILING_STOP,
    ORDER_FILLED,
    ORDER_MISSING,
    ORDER_REFUSED,
    Fill,
    VenueEvents,
    VenuePosition,
)

SIDE_NAME = {LONG: "Buy", -LONG: "Sell"}
PENDING_GRACE_S = 30.0  # an entry sent this long ago that the exchange does not know never arrived
RETRY_MIN_S, RETRY_MAX_S = 1.0, 300.0  # bounds of the wait before retrying a stop or a look-up


class ReconcileError(WhaleError):
    """The journal and the exchange disagree in a way the bot cannot explain: it will not trade."""


@dataclass(frozen=True)
class EntryResult:
    trade: TradeRecord | None
    skipped: str | None = None  # why no trade was opened (nothing sent, refused, or its outcome is pending)


@dataclass
class _Retry:
    """Something to try again from the loop: the exact stop / target, or a pending entry's look-up."""

    attempts: int = 0
    next_at: float = 0.0

    def later(self, now: float, retry_after_s: float | None) -> float:
        self.attempts += 1
        wait = retry_after_s if retry_after_s is not None else 2.0 ** min(self.attempts, 6)
        wait = min(max(wait, RETRY_MIN_S), RETRY_MAX_S)
        self.next_at = now + wait
        return wait


@dataclass
class _StopRetry(_Retry):
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


class PositionManager:
    def __init__(self, cfg: Config, execution: ForSymbol, tracker: PerformanceTracker, alerts: AlertSystem,
                 log: logging.Logger, *, new_link_id: Callable[[str], str], now_ms: Callable[[], int],
                 market: Callable[[], tuple[float | None, float | None]] | None = None,
                 on_stop_result: Callable[[bool, str], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sizer: Callable[[int, float, float], EntrySize] | None = None) -> None:
        """`market()` gives (ATR, price) now: a position found on the exchange while running is given
        a stop from them (no position without a stop). `on_stop_result(ok, detail)` hears of every
        attempt to set a stop (the safety monitor counts the failures); `monotonic` times the retries;
        `sizer(side, entry, stop)` sizes an entry under the account's rules (whale.risk.account, with
        every open position of the account), by default as if this position were the account's only one."""
        self.cfg = cfg
        self.execution = execution
        self.symbol = execution.symbol  # the one symbol this PositionManager trades
        self.tracker = tracker
        self.alerts = alerts
        self.log = log
        self.new_link_id = new_link_id
        self.now_ms = now_ms
        self.market = market or (lambda: (None, None))
        self.on_stop_result = on_stop_result or (lambda ok, detail: None)
        self.monotonic = monotonic
        self.sizer = sizer
        self.tm = cfg.trade_management
        self.trade: TradeRecord | None = None
        self.pending: TradeRecord | None = None  # an entry sent whose outcome is not known yet
        self._pending_retry = _Retry()
        self._pending_sent_at = 0.0
        # The exact stop / target the exchange refused, set again by retry_stops (None on most passes: with
        # `pending` None too, the loop has no retry to run).
        self.stop_retry: _StopRetry | None = None
        self._exit_retry = _Retry()  # a close that failed for now is not sent again before its wait is over

    # ---- helpers -----------------------------------------------------------------------------------
    @property
    def inst(self):
        return self.execution.instrument

    def _describe(self, record: TradeRecord | None) -> str:
        """describe_trade with amounts in the instrument's decimals (fees 3.23, not 3.23041796)."""
        return describe_trade(record, self.inst.price_decimals) if record is not None else "no trade"

    def _price(self, value: float) -> Decimal:
        """A float price that already lies on the tick grid, as an exact Decimal."""
        return self.inst.price_decimal(round(value / self.inst.tick))

    @property
    def side(self) -> int:
        return 0 if self.trade is None else (LONG if self.trade.side == "Buy" else -LONG)

    def has_position(self) -> bool:
        """A position, or an entry whose outcome is not known yet (no second entry may go out then)."""
        return self.trade is not None or self.pending is not None

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
        if self.pending is not None:
            return EntryResult(None, f"the entry {self.pending.id} is still pending (its outcome is being looked up)")
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
            self.log.info(f"[{self.symbol}] {why}")
        link = self.new_link_id("open")
        # Journaled before sending: a crash from here on leaves the orderLinkId for the next start.
        intended = self.tracker.add_pending(TradeRecord(
            id=link, status="pending", symbol=self.symbol, side=SIDE_NAME[side], qty=qty,
            network=self.tracker.network, mode=self.tracker.mode, strategy=strategy or self.cfg.strategy.mode,
            entry_time=iso_utc(self.now_ms()), entry_price=self._price(ref_price), entry_order_link_id=link,
            initial_stop=self._price(sl), stop_loss=self._price(sl), take_profit=self._price(tp), entry_atr=float(atr),
            density_price=None if density_price is None else Decimal(repr(density_price)), setup=setup))
        try:
            fill = self.execution.open_position(side, qty, self._price(sl), self._price(tp), link)
        except OutcomeUnknownError as exc:
            self._hold_pending(intended, str(exc))
            return EntryResult(None, f"outcome unknown, pending: {exc}")
        except AuthError:
            self.tracker.drop_pending(link)
            raise
        except RejectedError as exc:
            self.tracker.drop_pending(link)
            self.alerts.send_alert(f"Entry refused by the exchange: {exc}", "WARNING", "error")
            return EntryResult(None, f"refused: {exc}")
        except TemporaryError as exc:  # not executed (a rate limit, an IP ban, never sent): a later signal may enter
            self.tracker.drop_pending(link)
            self.log.warning(f"[{self.symbol}] Entry not sent: {exc}")
            return EntryResult(None, f"not sent (temporary): {exc}")
        self._open_from_fill(intended, fill)
        self._protect_from_fill(fill, atr, stop_rule)
        return EntryResult(self.trade)

    def _open_from_fill(self, intended: TradeRecord, fill: Fill, note: str = "") -> None:
        """The pending entry filled: it becomes the open trade, with the real price and fee. Its
        "Opened" alert waits for _protect, which knows the stop and target the exchange holds."""
        self.trade = self.tracker.confirm_entry(intended.id, entry_price=fill.price, entry_time=fill.time_ms,
                                                qty=fill.qty, fees=fill.fee, note=note)
        self.pending = None

    def _announce_open(self, trade_id: str) -> None:
        """The "Opened" alert, with the stop and target as journaled after the stop check (what the
        exchange holds), not the ones sent with the entry from the pre-trade price."""
        record = self.tracker.get(trade_id) or self.trade
        if record is not None:
            self.alerts.send_alert(f"Opened {self._describe(record)}", "INFO", "entry")

    def _hold_pending(self, intended: TradeRecord, why: str) -> None:
        """An entry whose outcome is unknown: it stays pending and is looked up from the loop."""
        self.pending = intended
        self._pending_retry = _Retry()
        self._pending_sent_at = self.monotonic()
        self._pending_retry.later(self._pending_sent_at, 1.0)
        self.alerts.send_alert(f"Entry {intended.id} ({intended.side} {intended.qty} {intended.symbol}): outcome "
                               f"unknown ({why}); it stays pending in the journal and is looked up by its "
                               f"orderLinkId, never sent again", "WARNING", "error")

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
        if self.sizer is not None:
            sized = self.sizer(side, entry, stop)
        else:  # no account around it (close-all, tests): this position alone
            sized = size_entry(self.cfg, inst, symbol=inst.symbol, side=side, entry=entry, stop=stop,
                               equity=float(self.execution.equity()), positions=(), closes={}, decision_ts=0)
        return (inst.qty_decimal(sized.steps) if sized.sized else None), sized_at, sized.message

    def _protect_from_fill(self, fill: Fill, atr: float, stop_rule: Callable[[float], float] | None) -> None:
        """Re-set SL/TP from the real fill price and make sure the exchange holds a stop."""
        sl, tp = initial_levels(self.side, float(fill.price), atr, self.tm.stop_loss_atr_multiple,
                                self.tm.take_profit_atr_multiple, self.inst.tick)
        if stop_rule is not None:
            sl = stop_rule(float(fill.price))
        self._protect(self._price(sl), self._price(tp))

    def _protect(self, want_sl: Decimal, want_tp: Decimal | None) -> None:
        """Set the exact stop and target; then hold the position to principle 5, and send the "Opened"
        alert with what the exchange holds. Never sleeps: a refused or rate-limited attempt is retried
        from the loop (retry_stops)."""
        t = self.trade
        assert t is not None
        failure: VenueError | None = None
        for _attempt in range(2):
            try:
                self.execution.set_stops(stop_loss=want_sl, take_profit=want_tp)
                failure = None
                break
            except (TemporaryError, RejectedError) as exc:
                failure = exc
                self.log.warning(f"[{t.symbol}] Setting the stop {want_sl} / target {want_tp} failed: {exc}")
                if isinstance(exc, RateLimitedError):
                    break  # asking again now is refused again
        try:
            pos = self.execution.position()
        except TemporaryError as exc:
            # The entry went out with its stop attached: keep it and look again from the loop.
            self.log.warning(f"[{t.symbol}] The position cannot be read now ({exc}); the stop is checked again")
            self._schedule_stops(want_sl, want_tp, failure)
            self._announce_open(t.id)  # with the stop attached to the entry, which the exchange took with it
            return
        if pos is None:
            self._announce_open(t.id)
            return  # already closed (a stop or target hit at once): poll() reports it
        if failure is None and pos.stop_loss == want_sl:
            self.trade = self.tracker.update_trade(t.id, initial_stop=want_sl, stop_loss=want_sl, take_profit=want_tp)
            self._stop_result(True, f"stop {want_sl} set")
            self._announce_open(t.id)
            return
        held = pos.stop_loss
        if held is not None and self.protective(held, pos):
            self.trade = self.tracker.update_trade(t.id, initial_stop=held, stop_loss=held,
                                                   take_profit=pos.take_profit)
            wait = self._schedule_stops(want_sl, want_tp, failure)
            self.log.warning(f"[{t.symbol}] The exchange holds the stop {held} (target {pos.take_profit}), on the "
                             f"protective side of the price: the position is kept and journaled with it; the exact "
                             f"stop {want_sl} / target {want_tp} is set again in {wait:.0f} s")
            self._announce_open(t.id)
            return
        if failure is not None:
            self._stop_result(False, str(failure))
        self._announce_open(t.id)
        self.alerts.send_alert(f"No stop on the exchange for {self._describe(t)}: closing at market", "ERROR", "error")
        self.exit(R_EMERGENCY, "the exchange does not hold the stop-loss")

    def protective(self, stop: Decimal, pos: VenuePosition) -> bool:
        """True when `stop` closes the position if the price moves against it: for a long below the
        last price, for a short above it (the position's entry price when no price is known)."""
        _, price = self.market()
        ref = Decimal(repr(price)) if price else pos.entry_price
        return (ref - stop) * pos.side > 0

    def _schedule_stops(self, want_sl: Decimal | None, want_tp: Decimal | None, failure: VenueError | None) -> float:
        """Retry the exact stop / target from the loop after the wait the exchange asked for."""
        retry = self.stop_retry or _StopRetry()
        retry.stop_loss, retry.take_profit = want_sl, want_tp
        self.stop_retry = retry
        if failure is not None:
            self._stop_result(False, str(failure))
        return retry.later(self.monotonic(), getattr(failure, "retry_after_s", None))

    def _stop_result(self, ok: bool, detail: str) -> None:
        self.on_stop_result(ok, detail)

    def retry_stops(self) -> None:
        """From the loop, on every pass: set the exact stop / target the exchange refused earlier, once
        their wait is over. Never blocks (a rate-limited call fails at once and is rescheduled)."""
        retry, t = self.stop_retry, self.trade
        if retry is None:
            return
        if t is None:
            self.stop_retry = None
            return
        now = self.monotonic()
        if now < retry.next_at:
            return
        try:
            self.execution.set_stops(stop_loss=retry.stop_loss, take_profit=retry.take_profit)
        except TemporaryError as exc:
            wait = retry.later(now, getattr(exc, "retry_after_s", None))
            self._stop_result(False, str(exc))
            self.log.warning(f"[{t.symbol}] Setting the stop {retry.stop_loss} / target {retry.take_profit} failed "
                             f"again ({exc}); the exchange's stop {t.stop_loss} stays, next try in {wait:.0f} s")
            return
        except RejectedError as exc:  # e.g. the price has moved past it: the exchange's stop protects
            self.stop_retry = None
            self.log.warning(f"[{t.symbol}] The exact stop {retry.stop_loss} / target {retry.take_profit} was refused "
                             f"({exc}); the exchange's stop {t.stop_loss} and target {t.take_profit} stay")
            return
        self.stop_retry = None
        changes: dict = {}
        if retry.stop_loss is not None:
            changes.update(stop_loss=retry.stop_loss, initial_stop=retry.stop_loss)
        if retry.take_profit is not None:
            changes["take_profit"] = retry.take_profit
        self.trade = self.tracker.update_trade(t.id, **changes)
        self._stop_result(True, f"stop {retry.stop_loss} set")
        self.log.info(f"[{t.symbol}] Stop {retry.stop_loss} / target {retry.take_profit} set on the exchange after "
                      f"{retry.attempts} failed attempt(s)")

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
            if not self._move_stop(new_stop, f"Moving the stop to {new_stop}"):
                return
            what = {STOP_INITIAL: "stop", 1: "break-even stop", 2: "trailing stop"}[kind]
            self.log.info(f"[{t.symbol}] {what} moved {t.stop_loss} -> {new_stop} (close {close}, ATR {atr:.6g})")
        self.trade = self.tracker.update_trade(t.id, stop_loss=new_stop, stop_kind=kind, breakeven_done=be)

    def _move_stop(self, new_stop: Decimal, what: str) -> bool:
        """One attempt to move the exchange's stop; a failure keeps the old one (retried at the next
        candle) and is counted."""
        t = self.trade
        assert t is not None
        try:
            self.execution.set_stops(stop_loss=new_stop)
        except (TemporaryError, RejectedError) as exc:
            self._stop_result(False, str(exc))
            self.log.warning(f"{what} failed: {exc}; it stays at {t.stop_loss}")
            return False
        self._stop_result(True, f"stop {new_stop} set")
        retry = self.stop_retry
        if retry is not None:  # the exact entry stop is superseded; a target still to set stays
            retry.stop_loss = None
            if retry.take_profit is None:
                self.stop_retry = None
        return True

    def move_stop_to(self, stop: float, kind: int, breakeven_done: bool, why: str) -> bool:
        """A stop move decided elsewhere (the density break-even rule); never loosens."""
        t = self.trade
        if t is None:
            return False
        new_stop = self._price(stop)
        if t.stop_loss is not None and (float(new_stop) - float(t.stop_loss)) * self.side <= 0:
            return False
        if not self._move_stop(new_stop, f"Moving the stop to {new_stop}"):
            return False
        self.log.info(f"[{t.symbol}] stop {t.stop_loss} -> {new_stop}: {why}")
        self.trade = self.tracker.update_trade(t.id, stop_loss=new_stop, stop_kind=kind, breakeven_done=breakeven_done)
        return True

    def exit(self, reason_code: int, detail: str = "") -> Fill | None:
        """Close the whole position at market (reduce-only) for `reason_code` (whale.strategy.stops)."""
        t = self.trade
        if t is None:
            return None
        now = self.monotonic()
        if now < self._exit_retry.next_at:
            return None  # the last close failed for now (an exit is decided again on later ticks)
        link = self.new_link_id("close")
        try:
            fill = self.execution.close_position(t.qty, link)
        except OutcomeUnknownError as exc:  # the close may have executed: the position check records it
            self._exit_retry.later(now, 2.0)
            self.alerts.send_alert(f"Closing {self._describe(t)}: outcome unknown ({exc}); the position check "
                                   "records it", "WARNING", "error")
            return None
        except RejectedError as exc:
            if not self._closed_already(EXIT_REASONS[reason_code]):
                self.alerts.send_alert(f"Closing {self._describe(t)} failed: {exc}", "ERROR", "error")
            return None
        except TemporaryError as exc:
            wait = self._exit_retry.later(now, getattr(exc, "retry_after_s", None))
            self.alerts.send_alert(f"Closing {self._describe(t)} failed for now ({exc}); an exit is tried again in "
                                   f"{wait:.0f} s at the earliest, the exchange's stop stays", "WARNING", "error")
            return None
        self._exit_retry = _Retry()
        self._record_exit(fill, EXIT_REASONS[reason_code], detail)
        return fill

    def _closed_already(self, wanted: str) -> bool:
        """A close refused because the exchange is already flat: a stop or target filled first (the
        race of an exit with the exchange's own TP/SL). Records that exit from the executions and
        returns True; False when the position is still there (a real failure)."""
        t = self.trade
        assert t is not None
        try:
            pos = self.execution.position()
            if pos is not None and pos.side == self.side:
                return False
            fill, cause = self._last_exit_fill()
        except TemporaryError:
            return False
        if fill is None:
            self.log.info(f"[{t.symbol}] The {wanted} exit came too late: the exchange is already flat; its closing "
                          "execution is not listed yet, the next check records it")
            return True
        reason = self._reason_for_cause(cause)
        self.log.info(f"[{t.symbol}] The {wanted} exit came too late: {reason} filled on the exchange first")
        self._record_exit(fill, reason, f"{cause} filled on the exchange before the {wanted} exit")
        return True

    # ---- what the exchange did -----------------------------------------------------------------------
    def process(self, events: VenueEvents) -> None:
        """Stops, targets and funding reported by the venue (the private stream's fast path)."""
        for f in events.funding:
            if self.trade is not None:
                self.trade = self.tracker.update_trade(self.trade.id, funding=self.trade.funding + f.amount)
        for ex in events.exits:
            if self.trade is None or ex.fill.time_ms < epoch_ms(self.trade.entry_time):
                continue  # no trade, or an exit of an earlier trade already recorded from REST
            reason = self._reason_for_cause(ex.cause)
            self._record_exit(ex.fill, reason, f"{ex.cause} filled on the exchange")
        if events.position_changed:
            self.check_exchange()

    def check_exchange(self) -> None:
        """REST-side check (a position update or the periodic check): a position we track that the
        exchange no longer has is closed in the journal from the venue's records; an unknown one is
        adopted and protected; one we track is checked for its stop and size
        (docs/architecture.md#reconciliation). A pending entry is resolved first: a position it opened
        is its own, not adopted."""
        if self.pending is not None:
            self.resolve_pending()
        pos = self.execution.position()
        t = self.trade
        if t is not None and pos is None:
            fill, cause = self._last_exit_fill()
            if fill is not None:
                self._record_exit(fill, self._reason_for_cause(cause), "found closed on the exchange")
        elif t is None and pos is not None:
            if self.pending is not None:
                return  # the pending entry's own position, most likely: its look-up decides
            atr, price = self.market()
            self.log.warning(f"Reconciliation: {self._adopt(pos, atr, price)}")
        elif t is not None and pos is not None:
            self._check_held(t, pos)

    def _check_held(self, t: TradeRecord, pos: VenuePosition) -> None:
        """The exchange's position against the journal's: a flipped side is a new position, a
        different size is recorded, a missing stop is put back."""
        if pos.side != self.side:
            fill, cause = self._last_exit_fill()
            if fill is None:  # the execution list can lag: the next check tries again
                self.alerts.send_alert(f"{self._describe(t)} was reversed on the exchange to {SIDE_NAME[pos.side]} "
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
        self.alerts.send_alert(f"{self._describe(self.trade)}: {note}", "WARNING", "error")

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
                self.execution.set_stops(stop_loss=stop)
                what = f"set it again at {stop}"
                self._stop_result(True, what)
            except (TemporaryError, RejectedError) as exc:  # no position without a stop: leave it
                self._stop_result(False, str(exc))
                what = f"setting it again at {stop} failed ({exc}): closed at market"
                self.exit(R_EMERGENCY, "the exchange does not hold the stop-loss")
        self.alerts.send_alert(f"The exchange held no stop for {self._describe(t)}: {what}", "WARNING", "error")

    def _reason_for_cause(self, cause: str) -> str:
        if cause == CAUSE_STOP_LOSS:
            return EXIT_REASONS[stop_exit_reason(self.trade.stop_kind if self.trade else STOP_INITIAL)]
        if cause == CAUSE_TAKE_PROFIT:
            return EXIT_REASONS[R_TAKE_PROFIT]
        if cause == CAUSE_TRAILING_STOP:
            return EXIT_REASONS[R_TRAILING]
        return EXIT_REASONS[R_MANUAL]

    def _last_exit_fill(self) -> tuple[Fill | None, str]:
        if self.trade is None:
            return None, ""
        return self.execution.last_exit(self.trade)

    # ---- an entry whose outcome is unknown --------------------------------------------------------------
    def resolve_pending(self, *, force: bool = False) -> None:
        """From the loop (or a position check, `force`): look the pending entry up by its orderLinkId,
        once its wait is over. Filled: it becomes the open trade, with the real fill, and is protected.
        Refused, or unknown to the exchange well after it was sent: dropped from the journal."""
        p = self.pending
        if p is None:
            return
        now = self.monotonic()
        if not force and now < self._pending_retry.next_at:
            return
        link = p.entry_order_link_id or p.id
        try:
            found = self.execution.lookup_order(link, p.side)
        except TemporaryError as exc:
            wait = self._pending_retry.later(now, getattr(exc, "retry_after_s", None))
            self.log.warning(f"[{p.symbol}] Looking up the pending entry {link} failed ({exc}); again in {wait:.0f} s")
            return
        if found.state == ORDER_FILLED and found.fill is not None:
            self.log.warning(f"[{p.symbol}] Pending entry {link} resolved from the exchange: {found.detail}")
            self._open_from_fill(p, found.fill, note=f"entry resolved by its orderLinkId: {found.detail}")
            self._protect(p.stop_loss or p.initial_stop or self._price(float(found.fill.price)), p.take_profit)
        elif found.state == ORDER_REFUSED or (found.state == ORDER_MISSING and
                                              now - self._pending_sent_at >= PENDING_GRACE_S):
            self.tracker.drop_pending(p.id)
            self.pending = None
            self.log.warning(f"[{p.symbol}] Pending entry {link} dropped from the journal: {found.detail}")
        else:
            self._pending_retry.later(now, 2.0)

    def _resolve_at_start(self) -> list[str]:
        """Start-up: every pending entry of the journal, by its orderLinkId. The process that sent them
        is gone, so an order the exchange does not know never arrived. Filled ones become open trades
        (reconciliation then restores them, or closes them from the executions); a look-up that fails
        keeps the entry pending (no new entry, and its position is not adopted, until it is resolved)."""
        done: list[str] = []
        for p in self.tracker.pending_trades():
            if p.symbol != self.symbol:
                continue
            link = p.entry_order_link_id or p.id
            try:
                found = self.execution.lookup_order(link, p.side)
            except TemporaryError as exc:
                self.pending = p
                self._pending_sent_at = self.monotonic() - PENDING_GRACE_S
                self._pending_retry.later(self.monotonic(), getattr(exc, "retry_after_s", None))
                done.append(f"pending entry {link}: the exchange cannot be asked now ({exc}); it stays pending")
                continue
            if found.state == ORDER_FILLED and found.fill is not None:
                self.tracker.confirm_entry(p.id, entry_price=found.fill.price, entry_time=found.fill.time_ms,
                                           qty=found.fill.qty, fees=found.fill.fee,
                                           note=f"entry resolved by its orderLinkId at start-up: {found.detail}")
                done.append(f"pending entry {link} filled on the exchange ({found.detail}): journaled as opened")
            elif found.state in (ORDER_MISSING, ORDER_REFUSED):
                self.tracker.drop_pending(p.id)
                done.append(f"pending entry {link} dropped: {found.detail} (it never executed)")
            else:
                self.pending = p
                self._pending_sent_at = self.monotonic()
                self._pending_retry.later(self.monotonic(), 1.0)
                done.append(f"pending entry {link}: {found.detail}; looked up again")
        return done

    def _record_exit(self, fill: Fill, reason: str, detail: str) -> None:
        t = self.trade
        if t is None:
            return
        fees = t.fees + fill.fee
        closed = self.tracker.close_trade(t.id, fill.price, fill.time_ms, fees, t.funding, None, reason,
                                          [fill.link_id], note=f"exit {reason}: {detail}" if detail else "")
        self.trade = None
        level = "INFO" if closed.pnl is not None and closed.pnl >= 0 else "WARNING"
        self.alerts.send_alert(f"Closed {self._describe(closed)} ({reason}{': ' + detail if detail else ''})",
                               level, "exit")

    # ---- start-up reconciliation (docs/architecture.md#reconciliation) ---------------------------------
    def reconcile(self, atr: float | None, price: float | None) -> list[str]:
        """Align the journal with the exchange before trading; returns what was done. Raises
        ReconcileError when they disagree in a way the bot cannot explain."""
        done = self._resolve_at_start()
        journal = [t for t in self.tracker.open_trades() if t.symbol == self.symbol]
        pos = self.execution.position()
        if len(journal) > 1:
            raise ReconcileError(f"the journal has {len(journal)} open {self.symbol} trades "
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
                raise ReconcileError(f"the journal's open trade {self._describe(t)} is not on the exchange and no "
                                     f"closing execution was found; check the exchange's trade history, then close "
                                     f"the trade in {self.tracker.path.name} (or move the journal aside)")
            self._record_exit(fill, self._reason_for_cause(cause), "closed while the bot was down")
            done.append(f"closed {t.id} in the journal: it was closed on the exchange while the bot was down")
            return done
        if t is None and pos is not None:
            if self.pending is not None:
                done.append(f"the exchange's {SIDE_NAME[pos.side]} {pos.size} is not adopted while the pending entry "
                            f"{self.pending.id} is unresolved")
                return done
            done.append(self._adopt(pos, atr, price))
            return done
        assert t is not None and pos is not None  # the cases with one of them missing returned above
        side = LONG if t.side == "Buy" else -LONG
        if pos.side != side or abs(pos.size - t.qty) >= self.inst.qty_step:
            raise ReconcileError(
                f"the journal says {t.side} {t.qty} {t.symbol} (trade {t.id}) but the exchange holds "
                f"{SIDE_NAME[pos.side]} {pos.size}; close the position on the exchange (python whalebot.py close-all) "
                f"or fix the journal, then start again")
        self.trade = t
        done.append(f"restored {self._describe(t)}")
        if pos.stop_loss is None:
            stop = t.stop_loss or t.initial_stop
            if stop is None or (price is not None and (float(stop) - price) * side >= 0):
                done.append(self.protect_adopted(atr, price))
            else:
                try:
                    self.execution.set_stops(stop_loss=stop)
                    done.append(f"the exchange had no stop: set it again at {stop}")
                except (TemporaryError, RejectedError) as exc:  # no position without a stop
                    self._stop_result(False, str(exc))
                    self.exit(R_EMERGENCY, f"the exchange had no stop and setting it at {stop} failed ({exc})")
                    done.append(f"the exchange had no stop and setting it at {stop} failed ({exc}): closed at market")
        elif pos.stop_loss != t.stop_loss or pos.take_profit != t.take_profit:
            self.trade = self.tracker.update_trade(t.id, stop_loss=pos.stop_loss, take_profit=pos.take_profit)
            done.append(f"stop and target taken from the exchange: stop {pos.stop_loss}, target {pos.take_profit}")
        return done

    def _adopt(self, pos: VenuePosition, atr: float | None, price: float | None = None) -> str:
        link = self.new_link_id("adopt")
        self.trade = self.tracker.open_trade(TradeRecord(
            id=link, symbol=self.symbol, side=SIDE_NAME[pos.side], qty=pos.size, network=self.tracker.network,
            mode=self.tracker.mode, strategy=self.cfg.strategy.mode, entry_time=iso_utc(self.now_ms()),
            entry_price=pos.entry_price, stop_loss=pos.stop_loss, initial_stop=pos.stop_loss,
            take_profit=pos.take_profit, adopted=True,
            notes=("found on the exchange, not opened by this bot",)))
        msg = f"adopted {SIDE_NAME[pos.side]} {pos.size} {self.symbol} @ {pos.entry_price} found on the exchange"
        self.alerts.send_alert(f"Adopted an unknown position: {self._describe(self.trade)}", "WARNING", "error")
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
            self.execution.set_stops(stop_loss=stop)
        except (TemporaryError, RejectedError) as exc:  # no position without a stop: leave it rather than hold it bare
            self._stop_result(False, str(exc))
            self.exit(R_EMERGENCY, f"setting a stop at {stop} failed ({exc})")
            return f"setting a stop at {stop} failed ({exc}): closed at market"
        self.trade = self.tracker.update_trade(t.id, stop_loss=stop, initial_stop=t.initial_stop or stop)
        return f"set a stop at {stop}"
