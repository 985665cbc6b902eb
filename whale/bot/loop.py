"""The live loop (`python whalebot.py`, and the demo against the simulator): it schedules, and holds no
per-symbol state. One Trader per symbol (whale.bot.trader) and one Account (whale.bot.account) do the
work; the venue is reached only through whale.venue.registry (docs/architecture.md#the-venue-boundary).

Threads (docs/architecture.md#threads-live-and-demo): the venue's stream threads fill the account's
Markets; this class runs on the main thread and is the only one that places or changes orders. Each
pass: private updates -> every symbol's exits on its latest tick -> order-book passes -> gap fills and
REST checks -> retries (a pending entry's look-up, a refused stop) -> the safety monitor -> closed
candles: every symbol's primary closes are collected, the higher-timeframe candles they wait for are
awaited together (one deadline for all), then every symbol decides, then every symbol acts (stops,
exits, entries) -> display. It wakes on every market update of any symbol and at least once a second.

Errors (whale.venue.errors): a temporary one (rate limit, IP ban, timeout) never stops the bot: it is
logged, counted for the safety monitor and retried on a later pass; an order whose outcome is
unknown stays pending in the journal and is looked up; only AuthError (keys, permissions) ends it.
Stopping is bounded: the stop event also aborts the venue's waits and requests in flight, the
stream threads get SHUTDOWN_WS_S to end, the alert worker SHUTDOWN_ALERTS_S: Ctrl-C or SIGTERM ends
the bot within 5 s whatever the exchange does.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from whale.alerts import AlertSystem
from whale.bot.account import Account
from whale.bot.cadence import Cadence
from whale.bot.signals_file import SignalsFile
from whale.bot.trader import Trader
from whale.clock import Clock, WallClock
from whale.config.model import Config
from whale.display import AccountLine, render_compact, render_heartbeat
from whale.errors import StartupCancelled, WhaleError
from whale.journal import PerformanceTracker, journal_filename
from whale.logs import get_logger
from whale.market.book import BookSnapshot
from whale.market.data_checks import BadData
from whale.market.feed import MarketFeed
from whale.market.intervals import interval_ms, label
from whale.market.state import Markets
from whale.risk.account import Closes
from whale.strategy.analyzer import Decision
from whale.strategy.density import DensityEvent
from whale.venue.errors import AuthError, TemporaryError, VenueError
from whale.venue.ids import new_link_id
from whale.venue.paper import PaperExecution
from whale.venue.protocols import PUBLIC, Execution, MarketData, SymbolStreams
from whale.venue.registry import Venue, VenueOptions, open_venue
from whale.venue.types import VenueEvents
from whale.warmup import prepare_kernels

DEFAULT_DEADLINE_S = 25.0
"""The default start-up deadline: the promise is "exits 1 within 30 s", and interpreter start-up,
imports and the shutdown come on top of the deadline, so it leaves that much margin."""
PRIMARY_HTF_WAIT_S = 3.0  # how long primary closes wait for the higher-timeframe candles closing with them
REST_CHECK_S = 30.0  # REST reconciliation of the positions, besides the private stream
RATE_LIMIT_WAIT_S = 2.0  # the longest the main thread waits for a rate limit; beyond, the call is rescheduled
SHUTDOWN_WS_S = 2.0  # the stream threads' time to end at shutdown
SHUTDOWN_ALERTS_S = 1.0  # the alert worker's time to post what is queued at shutdown
LATENCY_SAMPLES = 100_000
HEARTBEAT_S = 60.0  # the longest the console stays silent: a heartbeat line when no candle line came


class EmergencyStop(WhaleError):
    """The safety monitor's EMERGENCY: positions were closed and the bot stopped (exit code 1)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("emergency stop: " + "; ".join(reasons))
        self.reasons = reasons


@dataclass
class BotHooks:
    """Callbacks for the demo and tests (run on the main thread)."""

    on_ready: Callable[[], None] | None = None
    on_candle: Callable[[int], None] | None = None  # a primary candle (its open time) was fully handled, every symbol's
    on_symbol_candle: Callable[[str, int], None] | None = None  # one symbol's primary candle was handled
    # The demo's lockstep handshake (whale/bot/demo.py): before_pass() before each pass of the loop;
    # on_pass(received) after it, with the streams' data messages received when it began.
    before_pass: Callable[[], None] | None = None
    on_pass: Callable[[dict[str, int]], None] | None = None
    on_density: Callable[[str, DensityEvent], None] | None = None  # a symbol's density event (densities.csv)


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
    market_time_checks: bool = False  # the safety checks on market time, once a candle at most (the lockstep demo)
    display_every: int = 0  # the original's full display on the console every N candles (0: in the log file only)
    verbose: bool = False  # the full display on the console on every candle
    heartbeat_s: float = HEARTBEAT_S
    # Opens the venue instead of the registry (backtest --book: a replay of a recording,
    # whale.backtest.book_replay). A venue with `taker_side` serves recorded books: paper fills then
    # follow the fill rule on recorded books (whale.book_fills).
    venue: Callable[[Config, VenueOptions], Venue] | None = None
    # Each journal save fsynced (whale.journal.file). A backtest's journal is a report a rerun rebuilds: it
    # does without, and saves ~7 times a trade.
    durable_journal: bool = True
    # Written once, when the bot stops, not after every change: a backtest's journal, which no restart reads.
    journal_at_close: bool = False


class Bot:
    def __init__(self, cfg: Config, opts: BotOptions, log: logging.Logger, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.opts = opts
        self.log = log
        self.clock = clock or WallClock()
        self.paper = opts.mode == "paper"
        self.symbols = cfg.symbols
        self.traders: dict[str, Trader] = {}
        self._trader_list: tuple[Trader, ...] = ()  # the traders, in order: what every pass loops over (start)
        self.closed: list[_Closeable] = []  # what to close at shutdown, in reverse order
        # What the benchmarks read (bounded): seconds from a tick's arrival to the end of its symbol's exit
        # decision while in a position; (close ms, symbol, kline arrival, decision) of each primary candle.
        self.tick_latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.decision_times: deque[tuple[int, str, float, float]] = deque(maxlen=LATENCY_SAMPLES)
        self.stop_event = threading.Event()
        self._next_status = math.inf  # when the heartbeat is due (set at start, pushed back by every status line)
        self._closes_seen = -1  # Markets.counts.closes when _candles last took every closed candle

    # ---- views -------------------------------------------------------------------------------------
    def trader(self, symbol: str | None = None) -> Trader:
        """A symbol's Trader (the first symbol's by default)."""
        return self.traders[symbol or self.symbols[0]]

    @property
    def decisions(self) -> int:
        """Closed primary candles decided, over every symbol."""
        return sum(t.decisions for t in self.traders.values())

    @property
    def state(self) -> str:
        return self.account.state

    @property
    def emergency_reasons(self) -> list[str] | None:
        account = getattr(self, "account", None)
        return None if account is None else account.emergency_reasons

    # ---- start-up --------------------------------------------------------------------------------
    def start(self, stop: threading.Event | None = None) -> None:
        """Connect, load history, reconcile. A set `stop` (Ctrl-C / SIGTERM) ends the waits for the
        exchange at once with StartupCancelled."""
        cfg, opts, log = self.cfg, self.opts, self.log
        if stop is not None:
            self.stop_event = stop
        opts.workdir.mkdir(parents=True, exist_ok=True)
        self.tracker = PerformanceTracker(opts.workdir / journal_filename(self.paper), network=cfg.exchange.network,
                                          mode=opts.mode, symbols=self.symbols,
                                          start_balance=cfg.trade_management.account_balance,
                                          durable=opts.durable_journal,
                                          save_each_change=not opts.journal_at_close)
        self.closed.append(self.tracker)
        for w in self.tracker.warnings:
            log.warning(w)
        for n in self.tracker.notices:
            log.info(n)
        self.alerts = AlertSystem.from_config(cfg.alerts, log)
        self.closed.append(_Closer(self.alerts, SHUTDOWN_ALERTS_S))
        # The store keeps enough primary candles for the correlation's lookback.
        self.markets = Markets(self.symbols, bad_data=BadData(get_logger("market.data")),
                               max_candles=max(5000, cfg.risk.correlation_lookback + 10))
        self.markets.bad_data.alert = lambda text: self.alerts.send_alert(text, "WARNING", "error")
        self._market_of = {s: self.markets[s] for s in self.symbols}  # _price's look-up, a dict's (every pass)
        self._now_ms = self._market_clock()  # _market_now for the readers of every pass (trader, cadence, account)
        keys = (None, None) if self.paper else (opts.api_key, opts.api_secret)
        self.venue: Venue = (opts.venue or open_venue)(cfg, VenueOptions(
            log, api_key=keys[0], api_secret=keys[1], clock=self.clock, abort=self.stop_event,
            rest_timeout_s=opts.rest_timeout_s, rate_limit_wait_s=RATE_LIMIT_WAIT_S,
            stale_after_s=cfg.safety.stale_stream_sec, bad_data=self.markets.bad_data))
        self.closed.append(_VenueCloser(self.venue, log))
        self.data: MarketData = self.venue.market_data
        log.info(self.data.connect(opts.startup_deadline_s, stop, opts.config_path, symbol=self.symbols[0]))
        self.execution: Execution = self._open_execution()
        per_symbol = {s: cfg.for_symbol(s) for s in self.symbols}
        for s, scfg in per_symbol.items():
            line = self.execution.prepare(s, Decimal(str(scfg.trade_management.leverage)))
            if line:
                log.info(line)
        check_s = cfg.safety.check_interval_sec
        safety_due = Cadence(check_s, self.clock.monotonic, self._now_ms,
                             market_interval_s=max(check_s, interval_ms(cfg.interval) / 1000)
                             if opts.market_time_checks else None)
        self.account = Account(cfg, self.execution, self.tracker, self.alerts, log, clock=self.clock,
                               market_now=self._now_ms, mark_price=self._mark_price, closes_of=self._closes,
                               new_link_id=new_link_id, safety_due=safety_due)
        self.signals = SignalsFile(opts.workdir / "signals.csv")
        self.closed.append(self.signals)
        for s, scfg in per_symbol.items():
            self.traders[s] = self._trader(scfg)
        self._trader_list = tuple(self.traders.values())
        # Before the streams start: compiling (30-60 s on a cold cache) must not trip their stale check,
        # nor delay the first book update, entry or stop move later.
        first = self.traders[self.symbols[0]]
        prepare_kernels(first.cfg, first.execution.instrument, log)
        wanted = [SymbolStreams(s, tuple([t.primary, *t.analyzer.mtf_intervals]),
                                max(t.cfg.orderbook_limit, t.cfg.density.book_depth)) for s, t in self.traders.items()]
        self.feed = MarketFeed(self.data, self.markets, wanted, stale_after_s=cfg.safety.stale_stream_sec)
        self.data.start_streams(self.markets, wanted, self.feed.on_reconnect)
        if not self.data.wait_ready(opts.startup_deadline_s, stop=stop):
            problem = self.data.stream_problem()
            raise WhaleError(f"the streams of {self.data.host} ({self.data.network}) did not become ready within "
                             f"{opts.startup_deadline_s:.0f} s" + (f" ({problem})" if problem else ""))
        for t in self.traders.values():
            t.load_history(self.data, opts.history_candles)
        for s in self.symbols:  # paper trading: its positions' uPnL and stops from the current prices
            m = self.markets[s]
            if m.last_price is not None:
                self.execution.on_tick(s, m.last_price, m.last_price_ms or m.market_time_ms())
        self.account.start_safety()
        for t in self.traders.values():
            t.reconcile(self.data.last_price)
        self._next_rest_check = self.clock.monotonic() + REST_CHECK_S
        self._rest_price: dict[str, tuple[float, float]] = {}  # symbol -> (when asked, price) while a stream is stale
        log.info(f"--- Whalebot started: {', '.join(self.symbols)} {label(cfg.interval)}, mode {opts.mode}, "
                 f"{'real orders' if self.execution.remote else 'paper trading'} on {self.data.network} ---")
        self._next_status = self.clock.monotonic() + opts.heartbeat_s
        if opts.hooks.on_ready:
            opts.hooks.on_ready()

    def _open_execution(self) -> Execution:
        """Paper trading fills locally against the venue's market data; otherwise the venue's own."""
        if not self.paper:
            return self.venue.execution()
        cfg = self.cfg
        depth = {s: cfg.for_symbol(s).orderbook_limit for s in self.symbols}

        def book(symbol: str) -> BookSnapshot | None:
            return self.markets[symbol].snapshot_book(depth[symbol]) if symbol in depth else None

        return PaperExecution(self.data.instrument, cfg.fees,
                              start_balance=Decimal(str(cfg.trade_management.account_balance)),
                              leverage=Decimal(str(cfg.trade_management.leverage)), state=self.tracker.paper_state(),
                              save=self.tracker.set_paper_state, books=book, journal_name=self.tracker.path.name,
                              taker_side=getattr(self.venue, "taker_side", None))

    def _trader(self, scfg: Config) -> Trader:
        symbol = scfg.symbols[0]
        view = self.execution.for_symbol(symbol)
        market = self.markets[symbol]

        def entry_check(sym: str, side: int, qty: Decimal, price: Decimal) -> str | None:
            return self.account.entry_check(sym, side, qty, price, instrument=view.instrument, risk=scfg.risk,
                                            book=market.snapshot_book(scfg.density.book_depth))

        stale = self.data.stale

        def price() -> float | None:
            """_price(symbol), its fresh case inline (every pass of the trader)."""
            return market.last_price if not stale(PUBLIC) else self._price(symbol)

        return Trader(scfg, market, view, self.tracker, self.alerts, self.log, new_link_id=new_link_id,
                      now_ms=self._now_ms, price=price, signals=self.signals,
                      on_stop_result=self.account.stop_result, monotonic=self.clock.monotonic,
                      entry_check=entry_check, state=lambda: self.account.state, rest_failed=self.account.rest_failed,
                      sizer=self.account.size_entry, full_display=self._full_display,
                      on_density=self.opts.hooks.on_density)

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Start, loop until `stop` is set, shut down. Start-up failures raise WhaleError; a stop during
        start-up raises StartupCancelled (exit 0)."""
        try:
            try:
                self.start(stop)
            except TemporaryError as exc:  # a wait or request cut short by the stop
                if stop.is_set():
                    raise StartupCancelled("stopped during start-up") from exc
                raise
            while not stop.is_set() and self.emergency_reasons is None:
                self.markets.wake.wait(timeout=min(1.0, self.cfg.loop_delay))
                self.markets.wake.clear()
                try:
                    self.step()
                except TemporaryError:
                    if stop.is_set():
                        break  # the stop cut a call short: leave as asked
                    raise
            if self.emergency_reasons is not None:
                raise EmergencyStop(self.emergency_reasons)
        finally:
            self.shutdown()

    def step(self) -> None:
        """One pass of the main loop."""
        hooks = self.opts.hooks
        if hooks.before_pass:
            hooks.before_pass()
        received = self.data.data_received() if hooks.on_pass else {}
        self._pass()
        if hooks.on_pass:
            hooks.on_pass(received)

    def _pass(self) -> None:
        # It runs after every market update: a part with nothing to do on most passes (private updates,
        # venue events, gap fills, REST checks, retries, closed candles, the heartbeat) is skipped by an
        # attribute test here; the part itself, when it has work, is unchanged.
        ev = self.execution.events  # VenueEvents.__bool__, inline: its three containers' truth, no call
        if self.markets.private or ev.exits or ev.funding or ev.position_changed:
            self._drain_private()
        self._check_exits()
        account = self.account
        for t in self._trader_list:
            received = t.market.received_at
            account.guarded(t.labels[0], t.book_pass)
            pm = t.pm  # PositionManager.has_position, inline
            if received is not None and received != t.seen_at and (pm.trade is not None or pm.pending is not None):
                self.tick_latencies.append(self.clock.monotonic() - received)  # this tick's exits are decided
            t.seen_at = received
        if not self.feed.idle() or self.clock.monotonic() >= self._next_rest_check:
            self._rest_pass()
        for t in self._trader_list:
            pm = t.pm
            if pm.pending is not None or pm.stop_retry is not None:  # else Trader.retries has nothing to do
                account.guarded(t.labels[1], t.retries)
        plan = account.safety_check(self._stream_ages) if account.safety_due.due() else None
        if plan is not None:
            self.account.emergency(plan, [t.pm for t in self.traders.values()])
            return
        closes = self.markets.counts.closes  # read before _candles pops: a candle closing meanwhile moves it
        if closes != self._closes_seen:  # else no candle closed since the last _candles took them all
            self._candles()
            self._closes_seen = closes  # not when _candles raised: the next pass takes what is left
        if self.clock.monotonic() >= self._next_status:
            self._heartbeat()

    def _stream_ages(self) -> dict[str, float | None]:
        return {s: self.data.message_age(s) for s in self.data.streams}

    def _dispatch(self, events: VenueEvents) -> None:
        """What the venue did on its own (`execution.poll()`, when `execution.events` holds something), to
        each symbol's PositionManager."""
        for t in self.traders.values():
            mine = events.for_symbol(t.symbol)
            if mine:
                t.pm.process(mine)

    def _drain_private(self) -> None:
        for topic, data in self.markets.pop_private():
            try:
                self.execution.handle_private(topic, data)
            except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                self.log.warning(f"Skipped a malformed {topic} update: {exc}")
        try:
            if self.execution.events:
                self._dispatch(self.execution.poll())
        except AuthError:
            raise
        except VenueError as exc:  # the position check a position update asks for: retried every 30 s
            self._next_rest_check = min(self._next_rest_check, self.clock.monotonic() + 1.0)
            self.account.rest_failed("Position check", exc)

    def _check_exits(self) -> None:
        """Exits decided on each symbol's latest tick (paper: stops and targets fill here; with real
        orders the exchange holds them)."""
        execution, stale = self.execution, self.data.stale
        for t in self._trader_list:
            m = t.market
            price = m.last_price if not stale(PUBLIC) else self._price(t.symbol)  # _price's fresh case, inline
            if price is None:
                continue
            execution.on_tick(t.symbol, price, m.last_price_ms or m.market_time_ms())
        ev = execution.events  # VenueEvents.__bool__, inline (every pass)
        if ev.exits or ev.funding or ev.position_changed:
            self._dispatch(execution.poll())

    def _rest_pass(self) -> None:
        """Gap fills, and the position checks after a private reconnect and every 30 s (the loop calls it
        when the feed has work or the 30 s are up: nothing happens otherwise). The failure
        count is reset only by a REST call that succeeded: a pass that made none proves nothing, and
        resetting there would keep repeated failures from ever halting trading."""
        gap_fills = self.feed.gap_fills
        try:
            self.feed.maintain()
            called = self.feed.gap_fills != gap_fills
            if self.feed.private_reconnected() or self.clock.monotonic() >= self._next_rest_check:
                self._next_rest_check = self.clock.monotonic() + REST_CHECK_S
                if self.execution.remote:
                    for t in self.traders.values():
                        t.pm.check_exchange()
                    called = True
        except AuthError:
            raise
        except VenueError as exc:
            self.account.rest_failed("REST check", exc)
        else:
            if called:
                self.account.rest_ok()

    def _price(self, symbol: str) -> float | None:
        """A symbol's last price: the stream's, or REST's (at most once a second) while the stream is stale."""
        market = self._market_of[symbol]
        if not self.data.stale(PUBLIC):
            return market.last_price
        now = self.clock.monotonic()
        asked = self._rest_price.get(symbol)
        if asked is None or now - asked[0] >= 1.0:
            try:
                self._rest_price[symbol] = (now, float(self.feed.fetch_current_price(symbol)))
            except WhaleError as exc:
                self._rest_price[symbol] = (now, asked[1] if asked else float("nan"))
                self.log.warning(f"[{symbol}] The public stream is stale and the REST price failed: {exc}")
        price = self._rest_price[symbol][1]
        return price if price == price else market.last_price

    def _mark_price(self, symbol: str) -> float | None:
        market = self.markets.get(symbol)
        return None if market is None else market.last_price

    def _closes(self, symbol: str) -> Closes | None:
        """A followed symbol's closed primary candles (the correlation's input)."""
        market = self.markets.get(symbol)
        if market is None:
            return None
        c = market.closed_candles(self.cfg.interval)
        return Closes(c.ts, c.close)

    def _market_now(self) -> int:
        return self.markets.market_time_ms() or self.clock.now_ms()

    def _market_clock(self) -> Callable[[], int]:
        """_market_now as one call: with one symbol (most accounts) its market's time read directly (the trader,
        the safety cadence and the account ask it on every pass)."""
        if len(self.symbols) != 1:
            return self._market_now
        only, wall_ms = self.markets[self.symbols[0]], self.clock.now_ms

        def market_now() -> int:
            return only.market_ms or wall_ms()  # Markets.market_time_ms of one symbol, inline

        return market_now

    # ---- closed candles ------------------------------------------------------------------------------
    def _candles(self) -> None:
        """Every symbol's closed candles: collect, wait for the higher timeframes (all symbols at once),
        decide every symbol, then act for every symbol, oldest candle first."""
        waiting = False
        for t in self.traders.values():
            closed = t.market.pop_closed()
            if closed:
                t.take_candles(closed)
            waiting = waiting or bool(t.pending)
        if not waiting:
            return  # most passes
        while any(t.pending for t in self.traders.values()):
            close_ms = min(c for t in self.traders.values() if (c := t.next_close_ms()) is not None)
            due = [t for t in self.traders.values() if t.next_close_ms() == close_ms]
            self._await_htf(due, close_ms)
            decided: list[tuple[Trader, tuple, Decision, bool]] = []
            for t in due:
                ev = t.pending.pop(0)
                decided.append((t, ev, t.decide(ev), bool(t.pending) or t.superseded(int(ev[1]))))
                arrival = t.market.arrival(t.primary, int(ev[1]))
                if arrival is not None:
                    self.decision_times.append((close_ms, t.symbol, arrival, self.clock.monotonic()))
            hooks = self.opts.hooks
            for t, ev, d, catch_up in decided:
                t.act(ev, d, catch_up)
            rows = [t.status_row(d) for t, _, d, catch_up in decided if not catch_up]
            if rows:
                self._status_lines(rows)
            for t, ev, _, _ in decided:
                if hooks.on_symbol_candle:
                    hooks.on_symbol_candle(t.symbol, int(ev[1]))
            if hooks.on_candle:
                hooks.on_candle(int(decided[0][1][1]))

    def _await_htf(self, due: list[Trader], close_ms: int) -> None:
        """Primary candles closing at a higher-timeframe boundary must see those higher candles: wait a
        moment for their klines (one deadline for every symbol), then ask REST for what is still
        missing, then go on with the previous one (logged)."""
        missing = {t.symbol: t.htf_missing(close_ms) for t in due}
        if not any(missing.values()):
            return
        deadline = self.clock.monotonic() + PRIMARY_HTF_WAIT_S
        while any(missing.values()) and self.clock.monotonic() < deadline and not self.stop_event.is_set():
            self.markets.wake.wait(0.05)
            self.markets.wake.clear()
            for t in due:
                t.take_candles(t.market.pop_closed())
                missing[t.symbol] = t.htf_missing(close_ms)
        for t in due:
            for htf in missing[t.symbol]:
                try:
                    self.feed.gap_fill(t.symbol, htf)
                except VenueError as exc:
                    self.log.warning(f"[{t.symbol}] {label(htf)} gap fill failed: {exc}")
            if missing[t.symbol]:
                t.take_candles(t.market.pop_closed())
                for htf in t.htf_missing(close_ms):
                    self.log.warning(f"[{t.symbol}] The {label(htf)} candle closing at {close_ms} has not arrived; "
                                     f"MTF uses the previous one")

    # ---- the console ---------------------------------------------------------------------------------
    def _full_display(self) -> bool:
        """The original's full display on the console this candle (it always goes to the log file)."""
        every = self.opts.display_every
        return self.opts.verbose or (every > 0 and self.decisions % every == 0)

    def _account_line(self, streams: bool = False) -> AccountLine:
        names = self.data.streams
        ages = {name: self.data.message_age(name) for name in names} if streams else None
        stale = tuple(name for name in names if self.data.stale(name)) if streams else ()
        first = self.traders[self.symbols[0]]
        return AccountLine(self.state, closed_pnl=float(self.tracker.summary()["total_pnl"]),
                           open_positions=sum(t.pm.trade is not None for t in self.traders.values()), streams=ages,
                           stale=stale, money_places=first.execution.instrument.price_decimals)

    def _status_lines(self, rows: list) -> None:
        """The compact console lines of a candle: per symbol time, price, score, signal, position and
        uPnL; the account's state and closed PnL."""
        try:
            for line in render_compact(rows, self._account_line()):
                self.log.info(line)
        except Exception as exc:  # noqa: BLE001 - the display must never stop the bot
            self.log.warning(f"Status line failed: {exc}")
        self._next_status = self.clock.monotonic() + self.opts.heartbeat_s

    def _heartbeat(self) -> None:
        """Between candles the console still hears from the bot at least every heartbeat_s: prices,
        positions and uPnL, trading state, stream health (the loop calls it when it is due)."""
        self._next_status = self.clock.monotonic() + self.opts.heartbeat_s
        try:
            rows = [t.status_row() for t in self.traders.values()]
            for line in render_heartbeat(rows, self._account_line(streams=True)):
                self.log.info(line)
        except Exception as exc:  # noqa: BLE001 - the display must never stop the bot
            self.log.warning(f"Heartbeat failed: {exc}")

    def summary_lines(self, colour: bool = True) -> list[str]:
        first = self.traders.get(self.symbols[0])
        places = first.execution.instrument.price_decimals if first is not None else 2
        return self.tracker.summary_lines(colour=colour, money_places=places)

    # ---- shutdown -----------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Streams closed, journal flushed and released; open positions stay protected on the exchange
        (paper: in the paper journal with their stops)."""
        execution = getattr(self, "execution", None)
        for t in self.traders.values():
            pm = t.pm
            if pm.pending is not None:
                self.log.warning(f"Stopping with the entry {pm.pending.id} pending in {self.tracker.path.name}: its "
                                 "outcome is looked up by its orderLinkId at the next start")
            if pm.trade is not None and execution is not None:
                self.log.warning(f"Stopping with an open position, {execution.keeps_positions}: {pm.trade.symbol} "
                                 f"{pm.trade.side} {pm.trade.qty} SL {pm.trade.stop_loss} TP {pm.trade.take_profit}")
        for thing in reversed(self.closed):
            try:
                thing.close()
            except Exception as exc:  # noqa: BLE001 - close everything we can
                self.log.warning(f"Shutdown: {type(thing).__name__}: {exc}")
        self.closed.clear()


class _Closeable(Protocol):
    def close(self) -> object: ...


class _VenueCloser:
    def __init__(self, venue: Venue, log: logging.Logger) -> None:
        self.venue, self.log = venue, log

    def close(self) -> None:
        if not self.venue.close(SHUTDOWN_WS_S):  # daemon threads: they never hold up the exit
            self.log.warning(f"Shutdown: the stream threads did not end within {SHUTDOWN_WS_S:.0f} s")


class _Closer:
    """close(timeout) of a thing that takes one (the alert worker), bounded for shutdown."""

    def __init__(self, thing, timeout: float) -> None:
        self.thing, self.timeout = thing, timeout

    def close(self) -> None:
        self.thing.close(timeout=self.timeout)
