"""`sim --book`: the simulator serving a book recording (docs/recording.md) instead of candle files.

One recording directory, one or several of its symbols, one account. At start the recording is
read once for its trades (`whale.recording.reader.recorded_prints`) to build every symbol's
1-minute candles (`whale.market.trade_candles`): REST serves those before the replay's start as
history. The replay then plays the recording's events in its order, on its clock (a symbol's
clock is the running maximum of its exchange stamps, as the reader merges them):

- the replay's steps are the minutes of the recording (`timeline`), so `advance(n)` / `step(n)`
  and the candle listeners work as with candles: a step plays every event of its minute, then
  closes the minute's candle of every symbol (klines with `confirm: true`) and calls the
  listeners; lockstep, real time and `speed` are those of the candle replay;
- each event updates the symbol's book, trades, ticker and the candle in progress, and goes out
  to subscribers as recorded (whale.sim.recorded_feed); every print is a tick of the matching
  engine, so stops, targets and resting orders trigger on the recorded prints;
- a market order fills by the fill rule on recorded books (whale.book_fills) on the book as it
  stands `latency_ms` after the order: the events still to play are read ahead that far
  (`Lookahead`), so the fill is known when the order is answered, whatever the replay's pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whale.book_fills import side_at
from whale.errors import BadInputError
from whale.market.intervals import MINUTE_MS
from whale.market.trade_candles import TradeCandles, trade_candles
from whale.recording.format import Header, utc_text
from whale.recording.lookahead import Lookahead
from whale.recording.reader import (
    BookEvent,
    Event,
    GapEvent,
    RecordingReader,
    SymbolPrints,
    TickerEvent,
    TradeEvent,
    file_header,
    find_files,
    recorded_prints,
)
from whale.sim.account import Account
from whale.sim.clock import ReplayClock, WallClock
from whale.sim.recorded_book import BookExchange, RecordedBook, recorded_instrument
from whale.sim.recorded_feed import BookFeed
from whale.sim.recorded_market import BookMarket, BookTape
from whale.sim.replay import FLUSH_MIN_SECONDS, Replay
from whale.sim.ws import Hub

log = logging.getLogger("whalebot.sim")

CHUNK = 256  # events played between two looks at the connections' back-pressure
KLINE_EVERY_MS = 1000  # the candle in progress goes out at most this often (replay time)


@dataclass
class RecordedSetup:
    """What the simulator needs to serve a recording, read once at start (`load_recording`)."""

    root: Path
    symbols: list[str]
    headers: dict[str, Header]
    prints: dict[str, SymbolPrints]
    candles: dict[str, TradeCandles]
    times: np.ndarray  # the replay's steps: minute open times over the recording, history included
    start_index: int  # the first step replayed
    start_ms: int | None  # where the replay starts reading (None: the recording's start)
    end_ms: int | None

    def reader(self) -> RecordingReader:
        return RecordingReader(self.root, self.symbols, self.start_ms, self.end_ms)


def load_recording(root: Path | str, symbols: Sequence[str] | None = None, from_ms: int | None = None,
                   to_ms: int | None = None) -> RecordedSetup:
    """Read a recording's headers and trades and build its candles; bad input is a BadInputError
    naming the directory, symbol or window."""
    root = Path(root)
    reader = RecordingReader(root, symbols, None, to_ms)
    files = find_files(root)
    headers = {s: file_header(files[s][0]) for s in reader.symbols}
    prints = recorded_prints(reader)
    candles = {}
    for sym, p in prints.items():
        if not len(p.ts):
            raise BadInputError(f"{root}: {sym} has no trades in the recording"
                                f"{f' before {utc_text(to_ms)}' if to_ms is not None else ''}; the simulator builds "
                                f"the candles from the trades")
        candles[sym] = trade_candles(p.ts, p.price, p.size, "1", end_ms=to_ms)
    first = min(int(p.first_ms) for p in prints.values())
    last = max(int(p.last_ms) for p in prints.values())
    if to_ms is not None:
        last = min(last, to_ms - 1)
    times = np.arange(first - first % MINUTE_MS, last - last % MINUTE_MS + 1, MINUTE_MS, dtype=np.int64)
    start = 0
    start_ms = None
    if from_ms is not None:
        start = int(np.searchsorted(times, from_ms - from_ms % MINUTE_MS, side="left"))
        if start >= len(times):
            raise BadInputError(f"--from {utc_text(from_ms)}: the recording under {root} ends at {utc_text(last)}")
        start_ms = int(times[start])
    return RecordedSetup(root, list(reader.symbols), headers, prints, candles, times, start, start_ms, to_ms)


class BookListing:
    """One symbol of a recording on the simulated exchange: its instrument, candles, recorded book,
    public market, matching engine (on the shared account) and public streams."""

    def __init__(self, setup: RecordedSetup, symbol: str, clock: ReplayClock, account: Account, hub: Hub,
                 source: Lookahead, latency_ms: int) -> None:
        header = setup.headers[symbol]
        self.symbol = symbol
        self.recorded = True
        self.instrument = recorded_instrument(symbol, header)
        inst = self.instrument
        built = setup.candles[symbol]
        self.tape = BookTape(built, inst)
        replay_ms = int(setup.times[setup.start_index])
        self.start = int(np.searchsorted(built.candles.ts, replay_ms, side="left"))
        self.book = RecordedBook(symbol, inst.tick, inst.step)
        prints = setup.prints[symbol]
        before = int(np.searchsorted(prints.ts, replay_ms, side="left")) if setup.start_ms is not None else 0
        last_price = float(prints.price[before - 1] if before else prints.price[0])
        last_tick = round(last_price / inst.tick)
        self.market = BookMarket(self.tape, self.book, clock, self.start, last_tick, header.ticker_top)
        self.exchange = BookExchange(inst, account, self.book, last_tick, latency_ms, self._side_at)
        self.feed = BookFeed(hub, self.market, self.tape, header.depth)
        self.source = source

    @property
    def candles(self):
        return self.tape.candles

    def _side_at(self, buying: bool, until_ms: int) -> tuple[np.ndarray, np.ndarray]:
        self.source.read_through(until_ms)
        pending = self.source.book_updates(self.symbol, lambda levels: self.book.units(levels, count=False))
        return side_at(self.book.asks if buying else self.book.bids, buying, pending, until_ms)

    def play(self, key: int, ev: Event) -> None:
        """One recorded event, at `key` on the recording's clock."""
        if isinstance(ev, BookEvent):
            book = self.book
            bids, asks = book.units(ev.bids), book.units(ev.asks)
            book.apply(ev.snapshot, bids, asks)
            self.market.on_book(ev.seq)
            if self.market.trading:
                self.feed.on_book(ev, bids, asks, key)
        elif isinstance(ev, TradeEvent):
            prints = self.market.on_trades(ev)
            on_tick = self.exchange.on_tick
            for p in prints:
                on_tick(p[3], key, False)
            self.feed.on_trades(ev.ts, prints)
        elif isinstance(ev, TickerEvent):
            self.feed.on_ticker(ev, self.market.on_ticker(ev))
        elif isinstance(ev, GapEvent) and self.market.trading:
            log.info(f"sim: {self.symbol}: the recording has a gap at {utc_text(ev.ts)} ({ev.reason}); its book stands "
                     f"until the next snapshot")


class BookReplay(Replay):
    """The candle replay's control (lockstep, speed, listeners) over a recording's minutes."""

    def __init__(self, times: np.ndarray, listings: dict[str, BookListing], account: Account, hub: Hub,
                 wall: WallClock, speed: float, lockstep: bool, start_index: int, source: Lookahead,
                 clock: ReplayClock) -> None:
        super().__init__(times, list(listings.values()), account, hub, wall, speed, lockstep,  # type: ignore[arg-type]
                         start_index)
        self.by_symbol = listings
        self.source = source
        self.clock = clock
        self.events_played = 0

    def _flush_playing(self) -> None:
        """Nothing before a pause: books, trades and tickers went out with their events, and the candle in
        progress goes out once a second of replay time."""

    def _due_in(self, key: int) -> float:
        if self._anchor is None:
            return 0.0
        a_wall, a_replay = self._anchor
        return a_wall + (key - a_replay) / (self.speed * 1000.0) - self.wall.monotonic()

    async def _play(self, j: int) -> None:
        hub, account, src = self.hub, self.account, self.source
        base = int(self.times[j])
        end = base + MINUTE_MS
        members = self._members(base)
        for lst, i in members:
            lst.market.begin_candle(i)  # type: ignore[attr-defined]  # a BookMarket
        self._playing = [lst for lst, _ in members]
        next_kline = base + KLINE_EVERY_MS
        chunk = 1 if self.step_gate is not None else CHUNK  # with a step gate, each event is its own step
        await self._settle()  # what came before this step (start-up, orders between minutes) is processed
        while True:
            key = src.peek()
            if key is None or key >= end:
                break
            if self.speed:
                await self._pace(key)
            played = 0
            with hub.batched():
                while played < chunk:
                    key = src.peek()
                    if key is None or key >= end or (played and self.speed and self._due_in(key) > FLUSH_MIN_SECONDS):
                        break
                    key, ev = src.pop()
                    self.clock.set(key)
                    self.by_symbol[ev.symbol].play(key, ev)
                    if account.events:
                        hub.publish_private(account.drain())
                    if key >= next_kline:
                        next_kline = key - key % KLINE_EVERY_MS + KLINE_EVERY_MS
                        for lst in self._playing:
                            lst.feed.flush_unbatched()
                    played += 1
            self.events_played += played
            await self._settle()
            await hub.backpressure()
            if not self.speed:
                await asyncio.sleep(0)  # let requests in between chunks
        if self.speed:
            await self._pace(end - 1)
        self.clock.set(end - 1)
        await self._close_step(j, base, members)
