"""`backtest --book`: a book recording replayed through the LIVE bot, not a copy of it.

The live loop (whale.bot.loop.Bot: its Traders, Account, MarketState, density tracker and strategy,
advanced exits, validator, safety monitor, PositionManagers on the paper Execution) runs unchanged.
What changes is the venue under it (`BotOptions.venue`) and its clock:

- `ReplayMarketData` implements the MarketData protocol from a recording. It feeds the account's
  Markets as a stream manager would, one recorded event at a time (`ReplayDriver.run`): books,
  publicTrade prints, tickers; and the closed candles of every interval the bot follows, built from
  the recorded trades (whale.market.trade_candles, the candles of `sim --book`), each pushed once the
  recording's clock reaches its close. Its REST reads (history, last price, book) answer from the
  same data as of the replay's time. No socket, no thread, no sleep.
- `ReplayClock` is the recording's clock (the reader's running maximum of each symbol's stamps):
  the bot's `now_ms` and `monotonic` follow it, so a run is deterministic.
- The paper Execution fills market orders by the fill rule on recorded books (whale.book_fills):
  the side as it stands at the order's time plus `backtest.latency_ms`, read ahead with the
  recording's Lookahead (the code `sim --book` reads ahead with). Stops and targets trigger on each
  recorded print (`Execution.on_tick` per print, before the bot's pass: the exchange triggers them)
  and fill by the same walk on the book as it stands at that print.

After every recorded event the bot runs one pass of its loop (`Bot.step`), as the lockstep demo
does after each step of `sim --book`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from whale.book_fills import side_at
from whale.config.model import Config
from whale.errors import BadInputError
from whale.market.book import BookSnapshot
from whale.market.candles import Candles
from whale.market.instruments import Instrument
from whale.market.intervals import MINUTE_MS, bucket_end
from whale.market.state import Markets, MarketState
from whale.market.trade_candles import trade_candles
from whale.recording.format import utc_text
from whale.recording.lookahead import Lookahead
from whale.recording.reader import BookEvent, GapEvent, TickerEvent, TradeEvent
from whale.sim.recorded_book import recorded_instrument
from whale.sim.recorded_replay import RecordedSetup
from whale.venue.protocols import PUBLIC, Execution, MarketData, SymbolStreams
from whale.venue.registry import VenueOptions

log = logging.getLogger("whalebot.replay")


class ReplayClock:
    """The recording's clock (ms): `now_ms` and `monotonic` follow the replay, `sleep` moves it on
    (nothing waits). The bot's cadences (the safety checks, the heartbeat) then run on market time."""

    def __init__(self, start_ms: int = 0) -> None:
        self.ms = int(start_ms)

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000.0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.ms += int(seconds * 1000)


@dataclass
class _Series:
    """One symbol's candles of one interval, built from its recorded trades, and how many are pushed."""

    candles: Candles
    closes: np.ndarray  # each candle's close time (ms)
    pushed: int = 0


class ReplayMarketData:
    """The MarketData protocol over a recording (module doc). `feed(key, event)` plays one event into
    the Markets; `close_candles(until_ms)` pushes the candles closed by then."""

    network = "replay"
    streams: tuple[str, ...] = (PUBLIC,)

    def __init__(self, setup: RecordedSetup, clock: ReplayClock, latency_ms: int) -> None:
        self.setup = setup
        self.clock = clock
        self.latency_ms = int(latency_ms)
        self.host = f"the recording {setup.root}"
        self.instruments = {s: recorded_instrument(s, setup.headers[s]).rules for s in setup.symbols}
        self.source = Lookahead(setup.reader().timed_events())
        self.markets: Markets | None = None
        self._states: dict[str, MarketState] = {}
        self._series: dict[tuple[str, str], _Series] = {}
        self.events = 0  # recorded events played
        self.book_events = 0
        self.trade_events = 0
        self.gaps = 0
        self.book_resyncs = 0  # book messages the live book refused (a gap in update ids): it waits for a snapshot

    # ---- MarketData: start-up and REST reads --------------------------------------------------------
    def connect(self, deadline_s: float, stop: threading.Event | None, config_path: str,
                symbol: str | None = None) -> str:
        first = int(self.setup.times[self.setup.start_index])
        return (f"Replaying {self.setup.root} ({', '.join(self.setup.symbols)}) from {utc_text(first)} on the "
                f"recording's clock; market orders fill on the recorded book {self.latency_ms} ms after they are sent")

    def instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise BadInputError(f"{symbol} is not in the recording {self.setup.root} "
                                f"(it has {', '.join(self.setup.symbols)})")
        return inst

    def _series_of(self, symbol: str, interval: str) -> _Series:
        s = self._series.get((symbol, interval))
        if s is None:
            p = self.setup.prints[symbol]
            c = trade_candles(p.ts, p.price, p.size, interval, end_ms=self.setup.end_ms).candles
            closes = bucket_end(c.ts, interval) if len(c) else np.zeros(0, dtype=np.int64)
            s = self._series[(symbol, interval)] = _Series(c, np.asarray(closes, dtype=np.int64))
        return s

    def history(self, symbol: str, interval: str, count: int, *, market_now_ms: int | None = None) -> Candles:
        """The newest `count` candles closed by the replay's time (or `market_now_ms`)."""
        now = self.clock.ms if market_now_ms is None else market_now_ms
        s = self._series_of(symbol, interval)
        n = int(np.searchsorted(s.closes, now, side="right"))
        return s.candles.slice(max(0, n - count), n)

    def last_price(self, symbol: str) -> Decimal:
        price = self._market(symbol).last_price
        if price is None:
            p = self.setup.prints[symbol]
            i = max(0, int(np.searchsorted(p.ts, self.clock.ms, side="right")) - 1)
            price = float(p.price[i])
        return Decimal(repr(price))

    def orderbook(self, symbol: str, limit: int) -> BookSnapshot:
        return self._market(symbol).snapshot_book(limit)

    def market_time_ms(self, symbol: str) -> int:
        return self.clock.ms

    def _market(self, symbol: str):
        assert self.markets is not None, "start_streams first"
        return self.markets[symbol]

    # ---- MarketData: streams ------------------------------------------------------------------------
    def start_streams(self, markets: Markets, wanted: list[SymbolStreams],
                      on_reconnect: Callable[[str], None]) -> None:
        """The replay's 'streams': the intervals each symbol follows, pushed from where the history ends."""
        self.markets = markets
        self._states = {s: markets[s] for s in markets.symbols}  # feed's look-up: a dict's, not a method call
        for w in wanted:
            for interval in w.intervals:
                s = self._series_of(w.symbol, interval)
                s.pushed = int(np.searchsorted(s.closes, self.clock.ms, side="right"))

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        return True

    def stale(self, stream: str = PUBLIC) -> bool:
        return False

    def message_age(self, stream: str = PUBLIC) -> float | None:
        return 0.0

    def data_received(self) -> dict[str, int]:
        return {PUBLIC: self.events}

    def stream_problem(self) -> str | None:
        return None

    def close(self, timeout: float) -> bool:
        return True

    # ---- the replay -----------------------------------------------------------------------------------
    def close_candles(self, until_ms: int) -> int:
        """Push every followed candle that closed by `until_ms` (higher intervals with the primary one
        closing with them, as the klines of one moment); the number pushed."""
        assert self.markets is not None
        n = 0
        for (symbol, interval), s in self._series.items():
            m = self.markets[symbol]
            c = s.candles
            while s.pushed < len(c) and s.closes[s.pushed] <= until_ms:
                i = s.pushed
                m.on_kline(interval, int(c.ts[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]),
                           float(c.close[i]), float(c.volume[i]), True)
                s.pushed += 1
                n += 1
        return n

    def next_close(self) -> int | None:
        """The earliest close time of a candle not pushed yet."""
        closes = [int(s.closes[s.pushed]) for s in self._series.values() if s.pushed < len(s.closes)]
        return min(closes) if closes else None

    def feed(self, key: int, ev, execution: Execution) -> None:
        """One recorded event into the Markets, at `key` on the recording's clock. Each print is first a
        tick of the paper Execution (its stops and targets trigger there, as an exchange's would)."""
        self.events += 1
        m = self._states[ev.symbol]
        kind = type(ev)
        if kind is BookEvent:
            self.book_events += 1
            columns = ev.columns
            if ev.snapshot or columns is None:
                ok = m.on_book_levels(ev.snapshot, ev.bids, ev.asks, ev.u or 0, ev.seq, ev.ts, columns)
            else:  # a delta goes in as its columns: its lists are not built
                ok = m.on_book_levels(False, (), (), ev.u or 0, ev.seq, ev.ts, columns)
            if not ok:
                self.book_resyncs += 1
        elif kind is TradeEvent:
            self.trade_events += 1
            prints = ev.prints
            symbol = ev.symbol
            if execution.position(symbol) is not None:
                last = None
                for p in prints:
                    if p[3] != last:  # the price of the print before at the same time: the same tick again, skipped
                        last = p[3]
                        execution.on_tick(symbol, last, key)
            elif prints:  # flat: a print triggers nothing, each only moves the last price: the last one is enough
                execution.on_tick(symbol, prints[-1][3], key)
            m.on_trades(prints)
        elif kind is TickerEvent:
            last = ev.data.get("lastPrice")
            m.on_ticker(ev.snapshot, ev.data, ev.ts, None if last is None else str(last))
        elif kind is GapEvent:
            self.gaps += 1
            log.info(f"[{ev.symbol}] The recording has a gap at {utc_text(ev.ts)} ({ev.reason}); the book stands "
                     f"until the next snapshot")

    def taker_side(self, symbol: str, buying: bool, triggered: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """The side a taker order of `symbol` takes (whale.book_fills): as it stands `latency_ms` after now,
        or now for a stop or target the exchange triggers itself. None before the book is known."""
        m = self._market(symbol)
        if not m.book_ready():
            return None
        until = self.clock.ms + (0 if triggered else self.latency_ms)
        self.source.read_through(until)
        return side_at(m.book.side(asks=buying), buying, self.source.book_updates(symbol), until)


class ReplayVenue:
    """The venue `backtest --book` gives the live bot (BotOptions.venue): market data only; orders go
    to the paper Execution, whose market fills use `taker_side`."""

    name = "replay"
    network = "replay"

    def __init__(self, market_data: ReplayMarketData) -> None:
        self.market_data: MarketData = market_data
        self.taker_side = market_data.taker_side

    def execution(self) -> Execution:
        raise BadInputError("backtest --book trades on the paper account only")

    def close(self, timeout: float) -> bool:
        return True


@dataclass
class ReplayStats:
    events: int = 0
    book_events: int = 0
    trade_events: int = 0
    passes: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    equity: list[tuple[int, float]] = field(default_factory=list)  # (candle close ms, account equity)


def replay_venue(setup: RecordedSetup, latency_ms: int) -> tuple[ReplayClock, ReplayMarketData,
                                                                 Callable[[Config, VenueOptions], ReplayVenue]]:
    """The clock, the market data and the venue factory of a replay of `setup`."""
    clock = ReplayClock(int(setup.times[setup.start_index]))
    data = ReplayMarketData(setup, clock, latency_ms)
    return clock, data, lambda cfg, options: ReplayVenue(data)


def drive(bot, data: ReplayMarketData, clock: ReplayClock, stop: threading.Event | None = None) -> ReplayStats:
    """Play every recorded event into the started `bot`, one pass of its loop after each event and
    after each candle close; candles close in time order with the events."""
    stats = ReplayStats()
    src = data.source
    execution = bot.execution
    wall0, cpu0 = time.perf_counter(), time.process_time()
    next_close = data.next_close()

    def closes_until(t: int) -> None:
        nonlocal next_close
        while next_close is not None and next_close <= t:
            clock.ms = max(clock.ms, next_close - 1)
            data.close_candles(next_close)
            bot.step()
            stats.passes += 1
            stats.equity.append((next_close, float(execution.equity())))
            next_close = data.next_close()

    account = bot.account
    step = bot.step
    feed = data.feed
    passes = 0
    for key, ev in src:  # peek and pop in one step
        if (stop is not None and stop.is_set()) or account.emergency_reasons is not None:
            src.put_back(key, ev)
            break
        if next_close is not None and next_close <= key:
            src.put_back(key, ev)  # still to come while the candles close (the book read ahead holds it)
            closes_until(key)
            key, ev = src.pop()
        if key > clock.ms:
            clock.ms = key
        feed(key, ev, execution)
        step()
        passes += 1
    stats.passes += passes
    if bot.emergency_reasons is None:
        last = int(data.setup.times[-1]) + MINUTE_MS
        closes_until(last)
    stats.events = data.events
    stats.book_events = data.book_events
    stats.trade_events = data.trade_events
    stats.wall_s = time.perf_counter() - wall0
    stats.cpu_s = time.process_time() - cpu0
    return stats
