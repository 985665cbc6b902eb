"""A Trader: everything the live bot keeps for ONE symbol — its effective config, Analyzer,
PositionManager, density tracker and strategy, advanced exits, its market view and its rows of
signals.csv. The loop (whale.bot.loop) schedules the Traders and the Account; a Trader only acts
when called, on the main thread.

Each pass the loop asks a Trader, in order: the exits on its latest tick, its order-book pass
(densities, the advanced exits, the density strategy), its retries, then — when its primary candle
closed — `decide` (analysis and the signals row) and, once every symbol has decided, `act` (stops
move, exits, entries). Entries go through the Account's risk check (`Account.entry_check`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from whale.alerts import AlertSystem
from whale.bot.signals_file import SignalsFile
from whale.config.model import Config
from whale.display import DisplaySnapshot, SymbolRow, log_display, signal_text, symbol_row
from whale.journal import PerformanceTracker, TradeRecord
from whale.logs import FILE_ONLY
from whale.market.candles import Candles
from whale.market.instruments import Instrument
from whale.market.intervals import bucket_end, bucket_start, interval_ms, label
from whale.market.state import MarketState
from whale.positions import PositionManager
from whale.risk.account import EntrySize
from whale.risk.safety import allows_entry
from whale.strategy.advanced_exits import AdvancedExits, ManagedPosition
from whale.strategy.analyzer import Analyzer, Decision
from whale.strategy.decide import candle_action
from whale.strategy.density import DensityEvent, DensityTracker
from whale.strategy.density_strategy import DensityEntry, DensityStrategy
from whale.strategy.finaliser import SIGNAL_NAMES
from whale.strategy.scorers import S_BOOK, S_DENSITY
from whale.strategy.stops import R_OPPOSITE, STOP_BREAKEVEN
from whale.venue.errors import AuthError, VenueError
from whale.venue.protocols import ForSymbol, MarketData


class Trader:
    def __init__(self, cfg: Config, market: MarketState, execution: ForSymbol, tracker: PerformanceTracker,
                 alerts: AlertSystem, log: logging.Logger, *, new_link_id: Callable[[str], str],
                 now_ms: Callable[[], int], price: Callable[[], float | None], signals: SignalsFile,
                 on_stop_result: Callable[[bool, str], None], monotonic: Callable[[], float],
                 entry_check: Callable[[str, int, Decimal, Decimal], str | None],
                 state: Callable[[], str], rest_failed: Callable[[str, Exception], None],
                 sizer: Callable[[Config, Instrument, int, float, float, int], EntrySize] | None = None,
                 full_display: Callable[[], bool] = lambda: False,
                 on_density: Callable[[str, DensityEvent], None] | None = None) -> None:
        """`cfg` is the symbol's effective config (Config.for_symbol); `price()` its last price (the
        stream's, or REST's while the stream is stale); `entry_check(symbol, side, qty, price)` the
        Account's veto; `state()` the account's trading state; `rest_failed(what, error)` counts a
        venue call that failed; `sizer(cfg, instrument, side, entry, stop, decision_ts)` the Account's
        sizing (by default the position alone); `full_display()` whether this candle's full display goes
        to the console too (it always goes to the log file); `on_density(symbol, event)` hears every density
        event (backtest --book writes them to densities.csv)."""
        self.cfg = cfg
        self.symbol = cfg.symbols[0]
        self.labels = (f"[{self.symbol}] The order-book pass", f"[{self.symbol}] A retry")  # the loop's, for errors
        self.market = market
        self.execution = execution
        self.log = log
        self.now_ms = now_ms
        self.price = price
        self.signals = signals
        self.monotonic = monotonic
        self.entry_check = entry_check
        self.state = state
        self.rest_failed = rest_failed
        self.tracker = tracker
        self.full_display = full_display
        self.on_density = on_density
        self.primary = cfg.interval
        self.density_mode = cfg.strategy.mode == "density"  # the config is frozen: every pass's test, once
        self.primary_ms = interval_ms(cfg.interval)
        self.analyzer = Analyzer(cfg, self.primary, live=True)
        self.decision_ts = 0  # the open time of the candle whose close is deciding (the correlation's time)
        account_sizer = None
        if sizer is not None:
            def account_sizer(side: int, entry: float, stop: float) -> EntrySize:
                return sizer(cfg, execution.instrument, side, entry, stop, self._decision_ts())
        self.pm = PositionManager(cfg, execution, tracker, alerts, log, new_link_id=new_link_id, now_ms=now_ms,
                                  market=lambda: (self.last_atr(), self.price()), on_stop_result=on_stop_result,
                                  monotonic=monotonic, sizer=account_sizer)
        self.density = DensityTracker(cfg.density)
        self.density_strategy = DensityStrategy(cfg.density, tick=execution.instrument.tick)
        self.exits = AdvancedExits(cfg.take_profit, cfg.density, cfg.fees, qty_step=execution.instrument.qty_step)
        self.managed: ManagedPosition | None = None
        self.managed_id: str | None = None
        self.pending_density: DensityEntry | None = None
        self._book_version = -1
        self._trade_cursor = market.trade_cursor()
        self.last_ts: dict[str, int] = {}
        self.pending: list[tuple] = []  # closed primary candles waiting for their higher-timeframe candles
        self.decisions = 0
        self.last_decision: Decision | None = None
        self.seen_at: float | None = None  # the arrival of the newest tick the loop has passed on

    def _decision_ts(self) -> int:
        """A candle entry's decision time is its candle; a book entry's, the newest closed candle."""
        return self.decision_ts or int(self.market.last_closed_ts(self.primary) or 0)

    # ---- start-up ------------------------------------------------------------------------------------
    def load_history(self, data: MarketData, history_candles: int | None) -> None:
        """Closed candles for the analyzer: enough to match a full-history run (docs), or all the
        exchange has when that is less; higher timeframes too."""
        # Enough for the indicators, and for the correlation of the account's rules (one request per symbol).
        count = history_candles or max(self.analyzer.history_needed(), self.cfg.risk.correlation_lookback + 1)
        for htf, n in self.analyzer.htf_history_needed().items():
            h = data.history(self.symbol, htf, history_candles or n)
            self.market.merge_closed(htf, h)
            self.analyzer.add_htf_candles(htf, h)
            if len(h):
                self.last_ts[htf] = int(h.ts[-1])
        hist = data.history(self.symbol, self.primary, count)
        self.market.merge_closed(self.primary, hist)
        n = len(hist)
        if n:
            out = np.full(n, np.nan)
            self.analyzer.process(hist, scores=out, ready=np.zeros(n, np.bool_), signals=np.zeros(n, np.int8),
                                  cooled=np.zeros(n, np.bool_))
            self.last_ts[self.primary] = int(hist.ts[-1])
        trends = self.analyzer.mtf.trends if self.analyzer.mtf else {}
        self.log.info(f"[{self.symbol}] History loaded: {n} {label(self.primary)} candles" +
                      "".join(f", {t.count} {label(k)}" for k, t in trends.items()))
        if n < self.analyzer.warmup_candles:
            self.log.warning(f"[{self.symbol}] Only {n} {label(self.primary)} candles of history: the strategy warms "
                             f"up for {self.analyzer.warmup_candles - n} more before it trades")

    def reconcile(self, rest_price: Callable[[str], Decimal]) -> None:
        """Align the journal with the venue before trading (docs/architecture.md#reconciliation)."""
        price = self.market.last_price or float(rest_price(self.symbol))
        for line in self.pm.reconcile(self.last_atr(), price):
            self.log.warning(f"Reconciliation: {line}")

    # ---- every pass ----------------------------------------------------------------------------------
    def book_pass(self) -> None:
        """Densities on every book update, the advanced exits and the density strategy on every tick."""
        now = self.now_ms()
        market = self.market
        version = market.book.version
        if version != self._book_version:
            self._book_version = version
            levels = market.density_levels()  # the levels that changed, not a copy of the book
            if levels is not None:
                for ev in self.density.apply_book_changes(now, levels):
                    self.log.info(f"[{self.symbol}] {ev.text}")
                    if self.on_density is not None:
                        self.on_density(self.symbol, ev)
        price = self.price()
        if price is None:
            return
        # new_trades when the cursor is behind: on most passes (book and ticker updates) there is nothing new
        trades = self.new_trades() if self._trade_cursor != market.trade_seq else None
        self.exits.update(now, price, trades or None, None, self.density)
        t = self.pm.trade
        if t is None:
            self.managed = self.managed_id = None
            if self.density_mode and allows_entry(self.state()):
                entry = self.density_strategy.entry_signal(now, price, self.density)
                if entry is not None:
                    self._density_entry(entry, price)
            return
        m = self.managed  # managed_for's case of every pass but a trade's first, inline
        if m is None or self.managed_id != t.id:
            m = self.managed_for(t, now)
        if self.density_mode or m.kind in ("breakout", "bounce"):
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

    def new_trades(self) -> list[tuple]:
        """publicTrade prints since the last pass, by MarketState's sequence cursor (a burst can put
        several batches in one millisecond; a timestamp cursor would drop all but the first)."""
        trades, self._trade_cursor = self.market.trades_after(self._trade_cursor)
        return trades

    def managed_for(self, t: TradeRecord, now: int) -> ManagedPosition:
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

    def _density_entry(self, entry: DensityEntry, price: float) -> None:
        """Take the density strategy's entry signal (book_pass asks for it on every flat pass)."""
        self.log.info(f"[{self.symbol}] density entry: {entry.reason}")
        atr = self.last_atr() or 0.0
        self.pending_density = entry
        rule = lambda p: self.density_strategy.stop_for(entry.kind, entry.side, p, entry.density_price)  # noqa: E731
        res = self.pm.enter(entry.side, atr, price, strategy="density", stop_rule=rule,
                            density_price=entry.density_price, validate=self._validator(entry.side), setup=entry.kind)
        if res.skipped:
            self.pending_density = None
            self.log.info(f"[{self.symbol}] No density entry: {res.skipped}")

    def _validator(self, side: int) -> Callable[[Decimal, Decimal], str | None]:
        return lambda qty, price: self.entry_check(self.symbol, side, qty, price)

    def retries(self) -> None:
        """A pending entry's look-up and the exact stop the exchange refused, when their time comes."""
        self.pm.resolve_pending()
        self.pm.retry_stops()

    # ---- closed candles ------------------------------------------------------------------------------
    def take_candles(self, events: list[tuple]) -> None:
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

    def htf_missing(self, close_ms: int) -> list[str]:
        """The higher timeframes whose candle closing at `close_ms` (a primary close on their boundary)
        has not arrived yet: the decision must wait for them."""
        mtf = self.analyzer.mtf
        if mtf is None:
            return []
        out = []
        for htf in self.analyzer.mtf_intervals:
            t = mtf.trends[htf]
            if int(bucket_end(bucket_start(np.array([close_ms - 1]), htf), htf)[0]) != close_ms:
                continue  # this primary candle does not close a higher candle
            if not (len(t.close_ts) and t.close_ts[-1] >= close_ms):
                out.append(htf)
        return out

    def next_close_ms(self) -> int | None:
        """The close time of the oldest pending primary candle."""
        if not self.pending:
            return None
        return int(bucket_end(np.array([int(self.pending[0][1])]), self.primary)[0])

    def superseded(self, ts: int) -> bool:
        """The candle after the one opening at `ts` has closed too (by the streams' market time): it
        arrived late, e.g. from a gap fill, and is history, not a signal to act on now."""
        now = self.market.market_time_ms()
        return bool(now) and now >= ts + 2 * self.primary_ms

    def decide(self, ev: tuple) -> Decision:
        """Analyze a closed candle: the decision and its signals.csv row. Nothing is sent here (`act`)."""
        _, ts, o, h, lo, c, v = ev
        ts = int(ts)
        t0 = self.monotonic()
        density = (self.density_strategy.density_score(self.market.last_price or c, self.density)
                   if self.analyzer.enabled[S_DENSITY] else math.nan)
        d = self.analyzer.on_closed_candle(ts, o, h, lo, c, v, book_imbalance=self._book_imbalance(), density=density)
        spent = self.monotonic() - t0
        if spent > 0.25 * self.primary_ms / 1000.0:
            self.log.warning(f"[{self.symbol}] Analysis took {spent:.2f} s, more than 25% of a {label(self.primary)} "
                             f"candle")
        self.signals.write(self.symbol, ts, d.score, d.signal)
        self.decisions += 1
        self.last_decision = d
        return d

    def act(self, ev: tuple, d: Decision, catch_up: bool, display: bool = True) -> None:
        """Act on a decided candle. A catch-up candle (recovered after a stream gap, with a newer one
        behind it) moves stops and exits, but opens no trade: entering on it would price the trade
        from an out-of-date signal."""
        ts, c = int(ev[1]), ev[5]
        if not d.ready:
            self.log.info(f"[{self.symbol}] warming up ({label(self.primary)} candle {ts})", extra=FILE_ONLY)
        elif catch_up:
            self.log.info(f"[{self.symbol}] catch-up {label(self.primary)} candle {ts} (missed while the stream "
                          f"was away): score {d.score:.2f}, {SIGNAL_NAMES[d.signal]}; stops and exits only, no entry")
            self._act(d, c, may_enter=False)
        else:
            note = " (ignored due to cooldown)" if d.cooled else ""
            full = self.full_display()
            self.log.info(f"[{self.symbol}] Raw Signal Score: {d.score:.2f}, Final Signal: "
                          f"{signal_text(d.signal, d.score, self.cfg.signal_score_threshold)}{note}",
                          extra=None if full else FILE_ONLY)
            self._act(d, c)
            if display:
                self.display(d, full)

    def _act(self, d: Decision, close: float, may_enter: bool = True) -> None:
        """Stops move on the close; then the same candle_action rule as the backtest."""
        tm = self.cfg.trade_management
        self.pm.on_candle_close(close, d.atr)
        exit_now, enter_side = candle_action(self.pm.side, d.signal, d.score, self.cfg.signal_score_threshold,
                                             tm.close_on_opposite_signal, tm.reverse_position_on_opposite_signal)
        if exit_now:
            self.pm.exit(R_OPPOSITE, f"strong {SIGNAL_NAMES[d.signal]} (score {d.score:.2f})")
        if self.cfg.strategy.mode == "density" or not may_enter:
            return  # density mode enters on the book, not on candle signals
        if enter_side and not self.pm.has_position():
            self.enter(enter_side, d.atr, self.price() or close, d.ts)

    def enter(self, side: int, atr: float, price: float, decision_ts: int) -> None:
        """An indicator entry on `side` decided on the candle opening at `decision_ts`: the account's
        trading state, then the PositionManager (sized under the account's rules, vetoed by the
        validator). Skips are logged with why."""
        state = self.state()
        if not allows_entry(state):
            self.log.info(f"[{self.symbol}] No entry: trading state is {state}")
            return
        self.decision_ts = decision_ts
        try:
            res = self.pm.enter(side, atr, price, validate=self._validator(side))
        except AuthError:
            raise
        except VenueError as exc:  # before sending (equity, the risk check): no order went out
            self.rest_failed(f"[{self.symbol}] Entry", exc)
            return
        finally:
            self.decision_ts = 0
        if res.skipped:
            self.log.info(f"[{self.symbol}] No entry: {res.skipped}")

    # ---- helpers -------------------------------------------------------------------------------------
    def _book_imbalance(self) -> float:
        """Bid/ask volume imbalance over the book's levels (the original's Orderbook_Imbalance input)."""
        if not self.analyzer.enabled[S_BOOK]:
            return math.nan
        snap = self.market.snapshot_book(self.cfg.orderbook_limit)
        b, a = float(np.sum(snap.bid_sz)), float(np.sum(snap.ask_sz))
        return (b - a) / (b + a) if b + a > 0 else math.nan

    def last_atr(self) -> float | None:
        buf = self.analyzer.buffer
        if buf.n == 0:
            return None
        v = float(buf.X[buf.rows["atr"], buf.n - 1])
        return v if v == v else None

    def status_row(self, d: Decision | None = None) -> SymbolRow:
        """This symbol's part of the compact console line (a candle's decision; None for a heartbeat)."""
        return symbol_row(self.symbol, self.primary, self.market.last_price, decision=d, trade=self.pm.trade,
                          threshold=self.cfg.signal_score_threshold,
                          price_places=self.execution.instrument.price_decimals)

    def display(self, d: Decision, full: bool = False) -> None:
        """The original's full display: in the log file always, on the console when `full`."""
        try:
            snap = DisplaySnapshot.from_decision(
                d, price=self.market.last_price or 0.0,
                mtf_trends=self.analyzer.mtf.latest() if self.analyzer.mtf else {},
                positions=[self.pm.trade] if self.pm.trade else [], summary=self.tracker.summary(),
                trading_state=self.state(), densities=self.density.for_display(self.now_ms()),
                threshold=self.cfg.signal_score_threshold, money_places=self.execution.instrument.price_decimals)
            log_display(self.log, snap, extra=None if full else FILE_ONLY)
        except Exception as exc:  # noqa: BLE001 - the display must never stop the bot
            self.log.warning(f"Display failed: {exc}")


def _candles(interval: str, events: list[tuple]) -> Candles:
    rows = list(zip(*[(int(e[1]), e[2], e[3], e[4], e[5], e[6]) for e in events], strict=True))
    return Candles.from_arrays(rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], interval)
