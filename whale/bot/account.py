"""The Account: what the live bot keeps once for every symbol — the Execution, the journal, the safety
monitor on the account's equity, the count of failed venue calls, and the account-wide entry rules.

- Risk (docs/portfolio.md): an entry is sized by the shared account rules (whale.risk.account:
  max_open_positions, the leverage, the exposure of EVERY open position of the account — each
  symbol's, also positions the bot did not open, at its latest price — and the correlated group),
  then the signal validator checks it against the same exposure and the symbol's book.
- Safety: drawdown, daily loss and the emergency act on the whole account; the emergency closes
  every symbol (`emergency`).
- Failures: every venue call that failed counts towards HALTED; only one that succeeded resets it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from whale.alerts import AlertSystem
from whale.bot.cadence import Cadence
from whale.bot.emergency import close_everything, close_exchange_positions
from whale.clock import Clock
from whale.config.model import Config, Risk
from whale.journal import PerformanceTracker
from whale.market.book import BookSnapshot
from whale.market.instruments import Instrument
from whale.positions import PositionManager
from whale.risk.account import Closes, EntrySize, OpenPosition, size_entry
from whale.risk.safety import ACTIVE, EMERGENCY, EmergencyPlan, SafetyMonitor, emergency_plan
from whale.risk.validator import validate_entry
from whale.strategy.stops import R_EMERGENCY
from whale.venue.errors import AuthError, VenueError
from whale.venue.protocols import Execution
from whale.venue.types import VenuePosition


class Account:
    def __init__(self, cfg: Config, execution: Execution, tracker: PerformanceTracker, alerts: AlertSystem,
                 log: logging.Logger, *, clock: Clock, market_now: Callable[[], int],
                 mark_price: Callable[[str], float | None], closes_of: Callable[[str], Closes | None],
                 new_link_id: Callable[[str], str], safety_due: Cadence | None = None) -> None:
        """`cfg`: the top-level config (the account's keys); `mark_price(symbol)`: a symbol's latest
        price (None for one the bot does not follow: its entry price stands in); `closes_of(symbol)`:
        its closed primary candles, for the correlation (None for one the bot does not follow);
        `safety_due`: when the safety monitor checks (default: every safety.check_interval_sec of wall
        time; the lockstep demo's runs on market time, whale.bot.cadence)."""
        self.cfg = cfg
        self.execution = execution
        self.tracker = tracker
        self.alerts = alerts
        self.log = log
        self.clock = clock
        self.market_now = market_now
        self.mark_price = mark_price
        self.closes_of = closes_of
        self.new_link_id = new_link_id
        self.failures = 0
        self.state = ACTIVE
        self.emergency_reasons: list[str] | None = None
        self.safety_due = safety_due or Cadence(cfg.safety.check_interval_sec, clock.monotonic, market_now)
        self.safety: SafetyMonitor | None = None

    # ---- start-up ------------------------------------------------------------------------------------
    def start_safety(self) -> None:
        """The drawdown base (the real wallet's equity, or the paper balance configured) and the safety
        state a restart on the same UTC day keeps (a daily-loss halt survives)."""
        configured = Decimal(str(self.cfg.trade_management.account_balance))
        start = self.execution.start_equity(configured)
        self.tracker.start_balance = start
        equity = float(self.execution.equity())
        self.safety = SafetyMonitor(self.cfg.safety, start_equity=equity)
        restored = self.safety.restore(self.tracker.safety_state(), self.market_now(), equity)
        if restored:
            (self.log.warning if self.safety.state != ACTIVE else self.log.info)(restored)
        self.state = self.safety.state

    # ---- failures ------------------------------------------------------------------------------------
    def rest_failed(self, what: str, exc: Exception) -> None:
        self.failures += 1
        self.log.warning(f"{what} failed ({self.failures} in a row): {exc}")

    def rest_ok(self) -> None:
        """A venue call succeeded: the failures in a row are over."""
        self.failures = 0

    def guarded(self, what: str, action: Callable[[], object]) -> None:
        """Run one part of a pass; a venue error other than AuthError is logged and counted, and the
        part runs again on a later pass (a temporary error never stops the bot)."""
        try:
            action()
        except AuthError:
            raise
        except VenueError as exc:
            self.rest_failed(what, exc)

    def stop_result(self, ok: bool, detail: str) -> None:
        """A PositionManager tried to set a stop: the safety monitor counts the failures (and a failure
        is looked at by the next pass, so repeated ones halt entries at once)."""
        assert self.safety is not None
        was = self.safety.stop_failures
        self.safety.note_stop_result(ok, detail, self.market_now())
        if not ok or was:
            self.safety_due.force()
            self.tracker.set_safety_state(self.safety.to_state())

    # ---- the account-wide entry rules ----------------------------------------------------------------
    def open_positions(self) -> list[VenuePosition]:
        return self.execution.positions()

    def exposure(self, positions: Iterable[VenuePosition]) -> Decimal:
        """The notional of every open position at its symbol's latest price (its entry price when the
        bot follows no price of that symbol)."""
        total = Decimal(0)
        for p in positions:
            mark = self.mark_price(p.symbol)
            total += p.size * (Decimal(repr(mark)) if mark else p.entry_price)
        return total

    def marked_positions(self) -> list[OpenPosition]:
        """Every open position of the account at its latest price, and every entry still pending (its
        outcome unknown: it may be a position), at the price it was sized at."""
        out = []
        for p in self.open_positions():
            mark = self.mark_price(p.symbol)
            out.append(OpenPosition(p.symbol, int(p.side), float(p.size), mark or float(p.entry_price)))
        held = {p.symbol for p in out}
        for t in self.tracker.pending_trades():
            if t.symbol not in held:
                out.append(OpenPosition(t.symbol, t.direction, float(t.qty), float(t.entry_price)))
        return out

    def size_entry(self, cfg: Config, instrument: Instrument, side: int, entry: float, stop: float,
                   decision_ts: int) -> EntrySize:
        """Size an entry of `cfg`'s symbol (its effective config) under the account's rules, the one
        implementation the backtest runs (whale.risk.account): max_open_positions, the leverage, the
        exposure of every open position and the correlated group."""
        symbol = cfg.symbols[0]
        positions = self.marked_positions()
        closes = {}
        for s in {symbol} | {p.symbol for p in positions}:
            c = self.closes_of(s)
            if c is not None:
                closes[s] = c
        return size_entry(cfg, instrument, symbol=symbol, side=side, entry=entry, stop=stop,
                          equity=float(self.execution.equity()), positions=positions, closes=closes,
                          decision_ts=decision_ts)

    def entry_check(self, symbol: str, side: int, qty: Decimal, price: Decimal, *, instrument: Instrument,
                    risk: Risk, book: BookSnapshot | None) -> str | None:
        """The last check before an entry order: the signal validator with the account's whole exposure
        and the symbol's book. A veto names the rule and the numbers; None lets it go."""
        positions = self.open_positions()
        levels = None
        if book is not None and book.bid_px.size:
            levels = (book.bid_px, book.bid_sz, book.ask_px, book.ask_sz)
        v = validate_entry(side, qty, price, self.execution.equity(), self.exposure(positions), levels, instrument,
                           risk)
        return None if v.ok else f"validator ({v.rule}): {v.message}"

    # ---- the safety monitor --------------------------------------------------------------------------
    def safety_pass(self, stream_ages: Callable[[], dict[str, float | None]]) -> EmergencyPlan | None:
        """Every safety.check_interval_sec of wall time (the equity check costs a venue call), or of
        market time in the lockstep demo (whale/bot/cadence.py); the rules themselves (daily loss, the
        UTC day) run on market time. Returns the emergency's plan when the account must be closed.
        `stream_ages()` gives each stream's message age; it is asked only when a check is due."""
        if not self.safety_due.due():
            return None
        return self.safety_check(stream_ages)

    def safety_check(self, stream_ages: Callable[[], dict[str, float | None]]) -> EmergencyPlan | None:
        """The safety monitor's check, now (safety_pass when `safety_due` says it is due: the loop asks the
        cadence itself, one call less on the passes without a check)."""
        assert self.safety is not None
        now = self.market_now()
        try:
            equity = float(self.execution.equity())
            if self.execution.remote:
                self.rest_ok()
        except VenueError as exc:
            self.rest_failed("Equity check", exc)
            equity = math.nan
        status = self.safety.check(now, equity, stream_ages=stream_ages(), failures=self.failures)
        self.state = status.state
        self.tracker.set_safety_state(self.safety.to_state())  # written only when it changed
        if status.changed:
            level = "ERROR" if status.state == EMERGENCY else ("INFO" if status.state == ACTIVE else "WARNING")
            event = "emergency" if status.state == EMERGENCY else "halt"
            self.alerts.send_alert(f"Trading state {status.previous} -> {status.message}", level, event)
        return emergency_plan(status)

    def emergency(self, plan: EmergencyPlan, managers: Sequence[PositionManager]) -> None:
        """Cancel every order, close every position of the account (each symbol's: the bot's own
        journaled, then whatever is left, adopted or not) reduce-only with bounded retries, alert, and
        mark the bot to stop."""
        why = "; ".join(plan.reasons)

        def close_once() -> None:
            for pm in managers:
                if pm.trade is not None:
                    pm.exit(R_EMERGENCY, why)
            close_exchange_positions(self.execution, self.new_link_id, self.log)
            for pm in managers:
                if pm.trade is not None:
                    pm.check_exchange()  # closed by the round above: journal the exit from the executions

        flat = close_everything(self.execution, close_once, plan, self.log, self.clock.sleep)
        self.alerts.send_alert(plan.alert + ("" if flat else " — A POSITION IS STILL OPEN: close it by hand"), "ERROR",
                               "emergency")
        self.emergency_reasons = list(plan.reasons)
