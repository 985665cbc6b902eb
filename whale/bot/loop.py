"""The live loop (`python whalebot.py`, and the demo against the simulator).

Threads (docs/architecture.md#threads-live-and-demo): the WebSocket threads fill MarketState;
this class runs on the main thread and is the only one that places or changes orders. Each pass:
private updates -> exits on the latest tick -> gap fills and REST checks -> retries (a pending
entry's look-up, a refused stop) -> closed candles (analyze, move stops, decide) -> display. It
wakes on every market update and at least once a second.

Errors (whale.venue.errors): a temporary one (rate limit, IP ban, timeout) never stops the bot: it
is logged, counted for the safety monitor and retried on a later pass; an order whose outcome is
unknown stays pending in the journal and is looked up; only AuthError (keys, permissions) ends it.
Stopping is bounded: the stop event also aborts the REST client's waits and requests in flight
(BybitRest(abort=...)), the WebSocket threads get SHUTDOWN_WS_S to end, the alert worker
SHUTDOWN_ALERTS_S: Ctrl-C or SIGTERM ends the bot within 5 s whatever the exchange does.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np

from whale.alerts import AlertSystem
from whale.bot.emergency import close_everything, close_exchange_positions
from whale.bot.signals_file import SignalsFile
from whale.broker.base import AuthError, TemporaryError, VenueError
from whale.broker.bybit import BybitBroker
from whale.broker.paper import PaperBroker
from whale.bybit import errors as bx
from whale.bybit.endpoints import Endpoints
from whale.bybit.errors import BybitError
from whale.bybit.feed import MarketFeed
from whale.bybit.market_state import MarketState
from whale.bybit.rest import BybitRest, new_link_id
from whale.bybit.startup import DEFAULT_DEADLINE_S, StartupCancelled, connect_with_deadline
from whale.bybit.ws import BybitWebSocketManager
from whale.clock import Clock, WallClock
from whale.config.model import Config
from whale.display import DisplaySnapshot, log_display
from whale.errors import WhaleError
from whale.journal import PerformanceTracker, journal_filename
from whale.market.candles import Candles
from whale.market.intervals import bucket_end, bucket_start, interval_ms, label
from whale.positions import PositionManager
from whale.risk.safety import ACTIVE, EMERGENCY, SafetyMonitor, allows_entry, emergency_plan
from whale.risk.validator import validate_entry
from whale.strategy.advanced_exits import AdvancedExits, ManagedPosition
from whale.strategy.analyzer import Analyzer, Decision
from whale.strategy.decide import candle_action
from whale.strategy.density import DensityTracker
from whale.strategy.density_strategy import DensityEntry, DensityStrategy
from whale.strategy.finaliser import SIGNAL_NAMES
from whale.strategy.scorers import S_BOOK, S_DENSITY
from whale.strategy.stops import R_EMERGENCY, R_OPPOSITE, STOP_BREAKEVEN
from whale.warmup import compile_live_kernels

PRIMARY_HTF_WAIT_S = 3.0  # how long a primary close waits for the higher-timeframe candle closing with it
REST_CHECK_S = 30.0  # REST reconciliation of the position, besides the private stream
RATE_LIMIT_WAIT_S = 2.0  # the longest the main thread waits for a rate limit; beyond, the call is rescheduled
SHUTDOWN_WS_S = 2.0  # the WebSocket threads' time to end at shutdown
SHUTDOWN_ALERTS_S = 1.0  # the alert worker's time to post what is queued at shutdown


class EmergencyStop(WhaleError):
    """The safety monitor's EMERGENCY: positions were closed and the bot stopped (exit code 1)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("emergency stop: " + "; ".join(reasons))
        self.reasons = reasons


@dataclass
class BotHooks:
    """Callbacks for the demo and tests (run on the main thread)."""

    on_ready: Callable[[], None] | None = None
    on_candle: Callable[[int], None] | None = None  # a primary candle (its open time) was fully handled


@dataclass
class BotOptions:
    mode: str  # "live", "paper" or "demo"
    workdir: Path
    api_key: str | None = None
    api_secret: str | None = None
    startup_deadline_s: float = DEFAULT_DEADLINE_S
    config_path: str = "config.json"  # named in the hint when the exchange cannot be reached
    history_candles: int | None = None  # override history_needed() (the demo loads all it can)
    rest_timeout_s: float = 10.0
    hooks: BotHooks = field(default_factory=BotHooks)


class Bot:
    def __init__(self, cfg: Config, endpoints: Endpoints, opts: BotOptions, log: logging.Logger,
                 clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.endpoints = endpoints
        self.opts = opts
        self.log = log
        self.clock = clock or WallClock()
        self.paper = opts.mode == "paper"
        self.primary = cfg.interval
        self.primary_ms = interval_ms(cfg.interval)
        self.last_ts: dict[str, int] = {}
        self.pending: list[tuple] = []
        self.closed: list[_Closeable] = []  # what to close at shutdown, in reverse order
        self.decisions = 0
        self.last_decision: Decision | None = None
        self.tick_latencies: list[float] = []
        self.stop_event = threading.Event()

    # ---- start-up --------------------------------------------------------------------------------
    def start(self, stop: threading.Event | None = None) -> None:
        """Connect, load history, reconcile. A set `stop` (Ctrl-C / SIGTERM) ends the waits for the
        exchange at once with StartupCancelled."""
        cfg, opts, log = self.cfg, self.opts, self.log
        if stop is not None:
            self.stop_event = stop
        opts.workdir.mkdir(parents=True, exist_ok=True)
        self.tracker = PerformanceTracker(opts.workdir / journal_filename(self.paper), network=cfg.network,
                                          mode=opts.mode, symbol=cfg.symbol,
                                          start_balance=cfg.trade_management.account_balance)
        self.closed.append(self.tracker)
        for w in self.tracker.warnings:
            log.warning(w)
        for n in self.tracker.notices:
            log.info(n)
        self.alerts = AlertSystem.from_config(cfg.alerts, log)
        self.closed.append(_Closer(self.alerts, SHUTDOWN_ALERTS_S))
        reach = connect_with_deadline(self.endpoints, opts.startup_deadline_s, symbol=cfg.symbol, stop=stop,
                                      config_path=opts.config_path)
        log.info(f"Connected to {self.endpoints.rest_host} ({self.endpoints.network}); clock offset "
                 f"{reach.offset_ms} ms")
        keys = (None, None) if self.paper else (opts.api_key, opts.api_secret)
        self.rest = BybitRest(self.endpoints, *keys, timeout=opts.rest_timeout_s, clock=self.clock,
                              max_rate_limit_wait_s=RATE_LIMIT_WAIT_S, abort=self.stop_event)
        self.closed.append(self.rest)
        self.rest.sync_time()
        self.instrument = self.rest.instrument(cfg.symbol)
        if not self.paper:
            lev = Decimal(str(cfg.trade_management.leverage))
            changed = self.rest.set_leverage(cfg.symbol, lev)
            log.info(f"Leverage {lev}x {'set' if changed else 'already set'} for {cfg.symbol}")
        self.analyzer = Analyzer(cfg, self.primary, live=True)
        self.market = MarketState(cfg.symbol, bad_data=self.rest.bad_data)  # one count of refused exchange data
        self.market.bad_data.alert = lambda text: self.alerts.send_alert(text, "WARNING", "error")
        self.feed = MarketFeed(self.rest, None, self.market, symbol=cfg.symbol,
                               stale_after_s=cfg.safety.stale_stream_sec)
        self.ws = BybitWebSocketManager(
            self.endpoints, self.market, symbol=cfg.symbol, interval=self.primary,
            higher_intervals=self.analyzer.mtf_intervals, book_depth=max(cfg.orderbook_limit, cfg.density.book_depth),
            api_key=keys[0],
            api_secret=keys[1], stale_after_s=cfg.safety.stale_stream_sec, on_reconnect=self.feed.on_reconnect,
            clock=self.clock, server_time_ms=self.rest.server_now_ms)
        self.feed.ws = self.ws
        self.ws.start()
        self.closed.append(_Stopper(self.ws, log))
        if not self.ws.wait_ready(opts.startup_deadline_s, stop=stop):
            raise WhaleError(f"the WebSocket streams of {self.endpoints.public_ws_host} did not become ready within "
                             f"{opts.startup_deadline_s:.0f} s" + (f" ({self.ws.auth_error()})" if self.ws.auth_error()
                                                                    else ""))
        self._load_history()
        self.broker: PaperBroker | BybitBroker
        if self.paper:
            self.broker = PaperBroker(self.instrument, cfg.fees,
                                      start_balance=Decimal(str(cfg.trade_management.account_balance)),
                                      leverage=Decimal(str(cfg.trade_management.leverage)),
                                      state=self.tracker.paper_state(), save=self.tracker.set_paper_state)
            price = self.market.last_price
            if price is not None:
                self.broker.on_tick(price, self.market.last_price_ms or self.market.market_time_ms())
        else:
            self.broker = BybitBroker(self.rest, cfg.symbol, self.instrument, log=log)
            # The drawdown % is of the real wallet, not of the paper account_balance setting.
            self.tracker.start_balance = self.broker.equity()
        start_equity = float(self.broker.equity())
        self.safety = SafetyMonitor(cfg.safety, start_equity=start_equity)
        restored = self.safety.restore(self.tracker.safety_state(), self._market_now(), start_equity)
        if restored:
            (log.warning if self.safety.state != ACTIVE else log.info)(restored)
        self._next_safety = 0.0
        self.state = self.safety.state
        self.pm = PositionManager(cfg, self.broker, self.tracker, self.alerts, log, new_link_id=new_link_id,
                                  now_ms=self._market_now, market=lambda: (self._last_atr(), self._price()),
                                  on_stop_result=self._stop_result, monotonic=self.clock.monotonic)
        atr = self._last_atr()
        price = self.market.last_price or (float(self.rest.last_price(cfg.symbol)))
        for line in self.pm.reconcile(atr, price):
            log.warning(f"Reconciliation: {line}")
        self.density = DensityTracker(cfg.density)
        self.density_strategy = DensityStrategy(cfg.density, tick=self.instrument.tick)
        self.exits = AdvancedExits(cfg.take_profit, cfg.density, cfg.fees)
        self.managed: ManagedPosition | None = None
        self.managed_id: str | None = None
        self.pending_density: DensityEntry | None = None
        self._book_version = -1
        self._trade_cursor = self.market.trade_cursor()
        self.failures = 0
        self.emergency_reasons: list[str] | None = None
        self.signals = SignalsFile(opts.workdir / "signals.csv")
        self.closed.append(self.signals)
        self._next_rest_check = self.clock.monotonic() + REST_CHECK_S
        self._rest_price: float | None = None
        self._rest_price_at = 0.0
        compile_live_kernels(cfg, self.instrument)  # not on the first book update, entry or stop move
        log.info(f"--- Whalebot started: {cfg.symbol} {label(self.primary)}, mode {opts.mode}, "
                 f"{'paper trading' if self.paper else 'real orders'} on {self.endpoints.network} ---")
        if opts.hooks.on_ready:
            opts.hooks.on_ready()

    def _load_history(self) -> None:
        """Closed candles for the analyzer: enough to match a full-history run (docs), or all the
        exchange has when that is less; higher timeframes too."""
        cfg = self.cfg
        count = self.opts.history_candles or self.analyzer.history_needed()
        for htf, n in self.analyzer.htf_history_needed().items():
            n = self.opts.history_candles or n
            h = self.rest.history(cfg.symbol, htf, n)
            self.market.merge_closed(htf, h)
            self.analyzer.add_htf_candles(htf, h)
            if len(h):
                self.last_ts[htf] = int(h.ts[-1])
        hist = self.rest.history(cfg.symbol, self.primary, count)
        self.market.merge_closed(self.primary, hist)
        n = len(hist)
        if n:
            out = np.full(n, np.nan)
            self.analyzer.process(hist, scores=out, ready=np.zeros(n, np.bool_), signals=np.zeros(n, np.int8),
                                  cooled=np.zeros(n, np.bool_))
            self.last_ts[self.primary] = int(hist.ts[-1])
        trends = self.analyzer.mtf.trends if self.analyzer.mtf else {}
        self.log.info(f"History loaded: {n} {label(self.primary)} candles" +
                      "".join(f", {t.count} {label(k)}" for k, t in trends.items()))
        if n < self.analyzer.warmup_candles:
            self.log.warning(f"Only {n} {label(self.primary)} candles of history: the strategy warms up for "
                             f"{self.analyzer.warmup_candles - n} more before it trades")

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Start, loop until `stop` is set, shut down. Start-up failures raise WhaleError; a stop during
        start-up raises StartupCancelled (exit 0)."""
        try:
            try:
                self.start(stop)
            except (bx.AbortedError, TemporaryError) as exc:  # a wait or request cut short by the stop
                if stop.is_set():
                    raise StartupCancelled("stopped during start-up") from exc
                raise
            while not stop.is_set() and self.emergency_reasons is None:
                self.market.wake.wait(timeout=min(1.0, self.cfg.loop_delay))
                self.market.wake.clear()
                try:
                    self.step()
                except (bx.AbortedError, TemporaryError):
                    if stop.is_set():
                        break  # the stop cut a call short: leave as asked
                    raise
            if self.emergency_reasons is not None:
                raise EmergencyStop(self.emergency_reasons)
        finally:
            self.shutdown()

    def step(self) -> None:
        """One pass of the main loop."""
        self._drain_private()
        self._check_exits()
        self._guarded("The order-book pass", self._order_book_pass)
        self._rest_pass()
        self._guarded("A retry", self._retries)
        self._safety_pass()
        self._take_candles(self.market.pop_closed())
        while self.pending:
            ts = self.pending[0][1]
            self._await_htf(int(bucket_end(np.array([ts]), self.primary)[0]))
            ev = self.pending.pop(0)
            self._on_candle(ev, catch_up=bool(self.pending) or self._superseded(int(ev[1])))

    def _rest_pass(self) -> None:
        """Gap fills, and the position check after a private reconnect and every 30 s. The failure
        count is reset only by a REST call that succeeded: a pass that made none proves nothing, and
        resetting there would keep repeated failures from ever halting trading."""
        gap_fills = self.feed.gap_fills
        try:
            self.feed.maintain()
            called = self.feed.gap_fills != gap_fills
            if self.feed.private_reconnected() or self.clock.monotonic() >= self._next_rest_check:
                self._next_rest_check = self.clock.monotonic() + REST_CHECK_S
                if not self.paper:
                    self.pm.check_exchange()
                    called = True
        except (AuthError, bx.AuthError):
            raise
        except (BybitError, VenueError) as exc:
            self._rest_failed("REST check", exc)
        else:
            if called:
                self.failures = 0

    def _rest_failed(self, what: str, exc: Exception) -> None:
        self.failures += 1
        self.log.warning(f"{what} failed ({self.failures} in a row): {exc}")

    def _guarded(self, what: str, action: Callable[[], object]) -> None:
        """Run one part of a pass; an exchange error other than AuthError is logged and counted, and
        the part runs again on a later pass (a temporary error never stops the bot)."""
        try:
            action()
        except (AuthError, bx.AuthError):
            raise
        except (VenueError, BybitError) as exc:
            self._rest_failed(what, exc)

    def _retries(self) -> None:
        """A pending entry's look-up and the exact stop the exchange refused, when their time comes."""
        self.pm.resolve_pending()
        self.pm.retry_stops()

    def _stop_result(self, ok: bool, detail: str) -> None:
        """The PositionManager tried to set a stop: the safety monitor counts the failures (and a failure
        is looked at by the next pass, so repeated ones halt entries at once)."""
        was = self.safety.stop_failures
        self.safety.note_stop_result(ok, detail, self._market_now())
        if not ok or was:
            self._next_safety = 0.0
            self.tracker.set_safety_state(self.safety.to_state())

    def _drain_private(self) -> None:
        items = self.market.pop_private()
        if items and isinstance(self.broker, BybitBroker):  # paper trading has no private streams
            for topic, data in items:
                try:
                    self.broker.handle_private(topic, data)
                except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                    self.log.warning(f"Skipped a malformed {topic} update: {exc}")
        try:
            self.pm.process(self.broker.poll())
        except (AuthError, bx.AuthError):
            raise
        except (BybitError, VenueError) as exc:  # the position check a position update asks for: retried every 30 s
            self._next_rest_check = min(self._next_rest_check, self.clock.monotonic() + 1.0)
            self._rest_failed("Position check", exc)

    def _price(self) -> float | None:
        """The last price: the stream's, or REST's (at most once a second) while the stream is stale."""
        if not self.ws.stale("public"):
            return self.market.last_price
        now = self.clock.monotonic()
        if now - self._rest_price_at >= 1.0:
            self._rest_price_at = now
            try:
                self._rest_price = float(self.feed.fetch_current_price())
            except (BybitError, WhaleError) as exc:
                self.log.warning(f"The public stream is stale and the REST price failed: {exc}")
        return self._rest_price if self._rest_price is not None else self.market.last_price

    def _check_exits(self) -> None:
        """Exits decided on the latest tick (paper: stops and targets here; live: the exchange holds them)."""
        price = self._price()
        if price is None:
            return
        received = self.market.last_message_monotonic("public")
        if isinstance(self.broker, PaperBroker):  # paper: its stops and targets fill here
            self.broker.on_tick(price, self.market.last_price_ms or self.market.market_time_ms())
            self.pm.process(self.broker.poll())
        if received is not None and self.pm.has_position():
            self.tick_latencies.append(self.clock.monotonic() - received)

    def _order_book_pass(self) -> None:
        """Densities on every book update, the advanced exits and the density strategy on every tick."""
        now = self._market_now()
        version = self.market.book.version
        if version != self._book_version:
            self._book_version = version
            snap = self.market.snapshot_book(self.cfg.density.book_depth)
            if snap.bid_px.size and snap.ask_px.size:
                for ev in self.density.update(now, snap.bid_px, snap.bid_sz, snap.ask_px, snap.ask_sz):
                    self.log.info(f"[{self.cfg.symbol}] {ev.text}")
        price = self._price()
        if price is None:
            return
        trades = self._new_trades()
        self.exits.update(now, price, trades or None, None, self.density)
        t = self.pm.trade
        if t is None:
            self.managed = self.managed_id = None
            if self.cfg.strategy.mode == "density" and allows_entry(self.state):
                self._density_entry(now, price)
            return
        m = self._managed(t, now)
        if self.cfg.strategy.mode == "density" or m.kind in ("breakout", "bounce"):
            decision = self.density_strategy.manage(m, price, self.density, now)
            if decision is not None and hasattr(decision, "new_stop"):
                if self.pm.move_stop_to(decision.new_stop, STOP_BREAKEVEN, True, decision.detail):
                    m.stop, m.breakeven_done = decision.new_stop, True
            elif decision is not None:
                self.pm.exit(decision.reason_code, decision.detail)
                return
        decision = self.exits.check(m, now)
        if decision is not None:
            self.pm.exit(decision.reason_code, decision.detail)

    def _new_trades(self) -> list[tuple]:
        """publicTrade prints since the last pass, by MarketState's sequence cursor (a burst can put
        several batches in one millisecond; a timestamp cursor would drop all but the first)."""
        trades, self._trade_cursor = self.market.trades_after(self._trade_cursor)
        return trades

    def _managed(self, t, now: int) -> ManagedPosition:
        """One ManagedPosition per trade for its whole life (the exit rules keep state on it)."""
        if self.managed is None or self.managed_id != t.id:
            side = 1 if t.side == "Buy" else -1
            kind = t.setup_kind()  # journaled, so a restart restores a breakout as a breakout
            self.managed = ManagedPosition(side, float(t.entry_price), float(t.stop_loss or math.nan), float(t.qty),
                                           kind, float(t.density_price) if t.density_price is not None else None,
                                           t.breakeven_done, now, self.exits.extrema.extreme(side) if kind == "breakout"
                                           else None)
            self.managed_id = t.id
            self.pending_density = None
        return self.managed

    def _density_entry(self, now: int, price: float) -> None:
        entry = self.density_strategy.entry_signal(now, price, self.density)
        if entry is None:
            return
        self.log.info(f"[{self.cfg.symbol}] density entry: {entry.reason}")
        atr = self._last_atr() or 0.0
        self.pending_density = entry
        rule = lambda p: self.density_strategy.stop_for(entry.kind, entry.side, p, entry.density_price)  # noqa: E731
        res = self.pm.enter(entry.side, atr, price, strategy="density", stop_rule=rule,
                            density_price=entry.density_price, validate=self._validator(entry.side), setup=entry.kind)
        if res.skipped:
            self.pending_density = None
            self.log.info(f"[{self.cfg.symbol}] No density entry: {res.skipped}")

    def _validator(self, side: int):
        def check(qty, price) -> str | None:
            snap = self.market.snapshot_book(self.cfg.density.book_depth)
            book = (snap.bid_px, snap.bid_sz, snap.ask_px, snap.ask_sz) if snap.bid_px.size else None
            v = validate_entry(side, qty, price, self.broker.equity(), 0, book, self.instrument, self.cfg.risk)
            return None if v.ok else f"validator ({v.rule}): {v.message}"
        return check

    def _safety_pass(self) -> None:
        """Every safety.check_interval_sec of wall time (the equity check costs a REST call); the
        rules themselves (daily loss, the UTC day) run on market time."""
        if self.clock.monotonic() < self._next_safety:
            return
        self._next_safety = self.clock.monotonic() + self.cfg.safety.check_interval_sec
        now = self._market_now()
        try:
            equity = float(self.broker.equity())
            if not self.paper:
                self.failures = 0  # a REST call succeeded
        except (BybitError, WhaleError) as exc:
            self._rest_failed("Equity check", exc)
            equity = math.nan
        ages = {"public": self.ws.message_age("public")}
        if not self.paper:
            ages["private"] = self.ws.message_age("private")
        status = self.safety.check(now, equity, stream_ages=ages, failures=self.failures)
        self.state = status.state
        self.tracker.set_safety_state(self.safety.to_state())  # written only when it changed
        if status.changed:
            level = "ERROR" if status.state == EMERGENCY else ("INFO" if status.state == ACTIVE else "WARNING")
            event = "emergency" if status.state == EMERGENCY else "halt"
            self.alerts.send_alert(f"Trading state {status.previous} -> {status.message}", level, event)
        plan = emergency_plan(status)
        if plan is not None:
            self._emergency(plan)

    def _emergency(self, plan) -> None:
        """Cancel orders, close the position reduce-only with bounded retries, alert, stop."""
        why = "; ".join(plan.reasons)
        flat = close_everything(self.broker, lambda: self._emergency_close_once(why), plan, self.log, self.clock.sleep)
        self.alerts.send_alert(plan.alert + ("" if flat else " — A POSITION IS STILL OPEN: close it by hand"), "ERROR",
                               "emergency")
        self.emergency_reasons = list(plan.reasons)

    def _emergency_close_once(self, why: str) -> None:
        """One closing round: the bot's own trade through the PositionManager (journaled), then every
        position of the symbol still on the exchange, adopted or not, reduce-only through the broker."""
        if self.pm.trade is not None:
            self.pm.exit(R_EMERGENCY, why)
        close_exchange_positions(self.broker, new_link_id, self.log)
        if self.pm.trade is not None:
            self.pm.check_exchange()  # closed by the broker round: journal the exit from the executions

    def _take_candles(self, events: list[tuple]) -> None:
        """Closed-candle events: higher timeframes go to the analyzer at once, primary ones wait in
        `pending` (in order) until their higher-timeframe candles are in."""
        for ev in events:
            interval, ts = ev[0], int(ev[1])
            if ts <= self.last_ts.get(interval, -1):
                continue
            self.last_ts[interval] = ts
            if interval == self.primary:
                self.pending.append(ev)
            elif interval in self.analyzer.mtf_intervals:
                self.analyzer.add_htf_candles(interval, _candles(interval, [ev]))

    def _await_htf(self, close_ms: int) -> None:
        """A primary candle closing at a higher-timeframe boundary must see that higher candle: wait a
        moment for its kline, then ask REST, then go on with the previous one (logged)."""
        mtf = self.analyzer.mtf
        if mtf is None:
            return
        for htf in self.analyzer.mtf_intervals:
            t = mtf.trends[htf]
            if int(bucket_end(bucket_start(np.array([close_ms - 1]), htf), htf)[0]) != close_ms:
                continue  # this primary candle does not close a higher candle
            if len(t.close_ts) and t.close_ts[-1] >= close_ms:
                continue
            deadline = self.clock.monotonic() + PRIMARY_HTF_WAIT_S
            while self.clock.monotonic() < deadline and not (len(t.close_ts) and t.close_ts[-1] >= close_ms) \
                    and not self.stop_event.is_set():
                self.market.wake.wait(0.05)
                self.market.wake.clear()
                self._take_candles(self.market.pop_closed())
            if not (len(t.close_ts) and t.close_ts[-1] >= close_ms):
                try:
                    self.feed.gap_fill(htf)
                except BybitError as exc:
                    self.log.warning(f"{label(htf)} gap fill failed: {exc}")
                self._take_candles(self.market.pop_closed())
            if not (len(t.close_ts) and t.close_ts[-1] >= close_ms):
                self.log.warning(f"The {label(htf)} candle closing at {close_ms} has not arrived; "
                                 f"MTF uses the previous one")

    def _superseded(self, ts: int) -> bool:
        """The candle after the one opening at `ts` has closed too (by the streams' market time): it
        arrived late, e.g. from a gap fill, and is history, not a signal to act on now."""
        now = self.market.market_time_ms()
        return bool(now) and now >= ts + 2 * self.primary_ms

    def _on_candle(self, ev: tuple, catch_up: bool = False) -> None:
        """Analyze a closed candle and act on it. A catch-up candle (recovered after a stream gap, with
        a newer one behind it) feeds the indicators and signals.csv and moves stops and exits, but
        opens no trade: entering on it would price the trade from an out-of-date signal."""
        _, ts, o, h, lo, c, v = ev
        ts = int(ts)
        t0 = self.clock.monotonic()
        density = (self.density_strategy.density_score(self.market.last_price or c, self.density)
                   if self.analyzer.enabled[S_DENSITY] else math.nan)
        d = self.analyzer.on_closed_candle(ts, o, h, lo, c, v, book_imbalance=self._book_imbalance(), density=density)
        spent = self.clock.monotonic() - t0
        if spent > 0.25 * self.primary_ms / 1000.0:
            self.log.warning(f"Analysis took {spent:.2f} s, more than 25% of a {label(self.primary)} candle")
        self.signals.write(ts, d.score, d.signal)
        self.decisions += 1
        self.last_decision = d
        if not d.ready:
            self.log.info(f"[{self.cfg.symbol}] warming up ({label(self.primary)} candle {ts})")
        elif catch_up:
            self.log.info(f"[{self.cfg.symbol}] catch-up {label(self.primary)} candle {ts} (missed while the stream "
                          f"was away): score {d.score:.2f}, {SIGNAL_NAMES[d.signal]}; stops and exits only, no entry")
            self._act(d, c, may_enter=False)
        else:
            note = " (ignored due to cooldown)" if d.cooled else ""
            self.log.info(f"[{self.cfg.symbol}] Raw Signal Score: {d.score:.2f}, Final Signal: "
                          f"{SIGNAL_NAMES[d.signal]}{note}")
            self._act(d, c)
            self._display(d)
        if self.opts.hooks.on_candle:
            self.opts.hooks.on_candle(ts)

    def _act(self, d: Decision, close: float, may_enter: bool = True) -> None:
        """Stops move on the close; then the same candle_action rule as the backtest. A catch-up
        candle (`may_enter` False) still moves stops and exits, which only reduce risk, but opens
        nothing: its signal is out of date."""
        tm = self.cfg.trade_management
        self.pm.on_candle_close(close, d.atr)
        exit_now, enter_side = candle_action(self.pm.side, d.signal, d.score, self.cfg.signal_score_threshold,
                                             tm.close_on_opposite_signal, tm.reverse_position_on_opposite_signal)
        if exit_now:
            self.pm.exit(R_OPPOSITE, f"strong {SIGNAL_NAMES[d.signal]} (score {d.score:.2f})")
        if self.cfg.strategy.mode == "density" or not may_enter:
            return  # density mode enters on the book, not on candle signals
        if enter_side and not self.pm.has_position():
            if not allows_entry(self.state):
                self.log.info(f"[{self.cfg.symbol}] No entry: trading state is {self.state}")
                return
            if self.paper:
                self._feed_paper_book()
            price = self._price() or close
            try:
                res = self.pm.enter(enter_side, d.atr, price, validate=self._validator(enter_side))
            except (AuthError, bx.AuthError):
                raise
            except (VenueError, BybitError) as exc:  # before sending (equity, the validator): no order went out
                self._rest_failed("Entry", exc)
                return
            if res.skipped:
                self.log.info(f"[{self.cfg.symbol}] No entry: {res.skipped}")

    # ---- helpers ------------------------------------------------------------------------------------
    def _book_imbalance(self) -> float:
        """Bid/ask volume imbalance over the book's levels (the original's Orderbook_Imbalance input)."""
        if not self.analyzer.enabled[S_BOOK]:
            return math.nan
        snap = self.market.snapshot_book(self.cfg.orderbook_limit)
        b, a = float(np.sum(snap.bid_sz)), float(np.sum(snap.ask_sz))
        return (b - a) / (b + a) if b + a > 0 else math.nan

    def _feed_paper_book(self) -> None:
        if not isinstance(self.broker, PaperBroker):  # only paper trading fills against our copy of the book
            return
        snap = self.market.snapshot_book(self.cfg.orderbook_limit)
        self.broker.on_book(snap.bid_px, snap.bid_sz, snap.ask_px, snap.ask_sz)

    def _last_atr(self) -> float | None:
        buf = self.analyzer.buffer
        if buf.n == 0:
            return None
        v = float(buf.X[buf.rows["atr"], buf.n - 1])
        return v if v == v else None

    def _market_now(self) -> int:
        return self.market.market_time_ms() or self.clock.now_ms()

    def _display(self, d: Decision) -> None:
        try:
            snap = DisplaySnapshot.from_decision(
                d, price=self.market.last_price or 0.0,
                mtf_trends=self.analyzer.mtf.latest() if self.analyzer.mtf else {},
                positions=[self.pm.trade] if self.pm.trade else [], summary=self.tracker.summary(),
                trading_state=self.state, densities=self.density.for_display(self._market_now()))
            log_display(self.log, snap)
        except Exception as exc:  # noqa: BLE001 - the display must never stop the bot
            self.log.warning(f"Display failed: {exc}")

    def summary_lines(self) -> list[str]:
        return self.tracker.summary_lines()

    # ---- shutdown -----------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Streams closed, journal flushed and released; open positions stay protected on the exchange
        (paper: in the paper journal with their stops)."""
        pm = getattr(self, "pm", None)
        if pm is not None and pm.pending is not None:
            self.log.warning(f"Stopping with the entry {pm.pending.id} pending in {self.tracker.path.name}: its "
                             "outcome is looked up by its orderLinkId at the next start")
        if pm is not None and pm.trade is not None:
            where = (f"kept in {self.tracker.path.name} with its stop (paper trading: it resumes there at the next "
                     f"start)" if self.paper else "left protected on the exchange")
            self.log.warning(f"Stopping with an open position, {where}: "
                             f"{pm.trade.side} {pm.trade.qty} SL {pm.trade.stop_loss} TP {pm.trade.take_profit}")
        for thing in reversed(self.closed):
            try:
                thing.close()
            except Exception as exc:  # noqa: BLE001 - close everything we can
                self.log.warning(f"Shutdown: {type(thing).__name__}: {exc}")
        self.closed.clear()


class _Closeable(Protocol):
    def close(self) -> object: ...


class _Stopper:
    def __init__(self, ws: BybitWebSocketManager, log: logging.Logger) -> None:
        self.ws, self.log = ws, log

    def close(self) -> None:
        if not self.ws.stop(timeout=SHUTDOWN_WS_S):  # daemon threads: they never hold up the exit
            self.log.warning(f"Shutdown: the WebSocket threads did not end within {SHUTDOWN_WS_S:.0f} s")


class _Closer:
    """close(timeout) of a thing that takes one (the alert worker), bounded for shutdown."""

    def __init__(self, thing, timeout: float) -> None:
        self.thing, self.timeout = thing, timeout

    def close(self) -> None:
        self.thing.close(timeout=self.timeout)


def _candles(interval: str, events: list[tuple]) -> Candles:
    rows = list(zip(*[(int(e[1]), e[2], e[3], e[4], e[5], e[6]) for e in events], strict=True))
    return Candles.from_arrays(rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], interval)
