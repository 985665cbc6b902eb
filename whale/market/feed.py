"""MarketFeed: the original's `fetch_current_price`, `fetch_klines`, `fetch_orderbook` for any symbol of
the account, served from the streams (Markets) when they are fresh, from the venue's REST reads when a
stream is stale or has not filled yet; plus the REST gap fill after a reconnect or a hole in the closed
candles. Venue-neutral: it talks to the MarketData protocol (whale.venue.protocols).

Runs on the main loop's thread. `on_reconnect` is the callback to give MarketData.start_streams: it
only counts (it runs on a stream thread); `maintain()`, called by the loop, does the work.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from whale.logs import get_logger
from whale.market.book import BookSnapshot
from whale.market.candles import Candles
from whale.market.intervals import interval_ms
from whale.market.state import Markets, next_start
from whale.venue.protocols import PUBLIC, MarketData, SymbolStreams

log = get_logger("market.feed")

MAX_GAP_CANDLES = 5000


class MarketFeed:
    def __init__(self, data: MarketData, markets: Markets, wanted: list[SymbolStreams], *,
                 stale_after_s: float = 30.0) -> None:
        self.data = data
        self.markets = markets
        self.wanted = {w.symbol: w for w in wanted}
        self.stale_after_s = stale_after_s
        self._lock = threading.Lock()
        self._reconnects = 0  # public reconnects reported (stream thread)
        self._filled = 0  # reconnects whose gap fill is done
        self._private_reconnects = 0
        self._private_seen = 0
        self.rest_fallbacks = 0  # how often a fetch went to REST (display, tests)
        self.gap_fills = 0
        self._holds_clear = 0  # Markets.counts.holds when a look last found none held (none can be held since)

    # ------------------------------------------------------------------ freshness

    def stream_fresh(self) -> bool:
        """The public streams are connected and have sent data within stale_after_s."""
        if self.data.stale(PUBLIC):
            return False
        age = self.data.message_age(PUBLIC)
        return age is not None and age <= self.stale_after_s

    def _candles_current(self, symbol: str, interval: str, limit: int) -> bool:
        m = self.markets[symbol]
        if m.closed_count(interval) < limit or m.gap_pending(interval):
            return False
        last = m.last_closed_ts(interval)
        now = m.market_time_ms()
        if last is None or not now:
            return False
        # Current when the candle after the newest closed one has not closed yet.
        return now < next_start(next_start(last, interval), interval)

    # ------------------------------------------------------------------ the original's names

    def fetch_current_price(self, symbol: str) -> Decimal:
        """The last traded price (ticker or public trades, whichever is newer), exact."""
        if self.stream_fresh():
            text = self.markets[symbol].last_price_text()
            if text:
                return Decimal(text)
        self.rest_fallbacks += 1
        return self.data.last_price(symbol)

    def fetch_klines(self, symbol: str, interval: str, limit: int) -> Candles:
        """The newest `limit` CLOSED candles, ascending (the forming one is `markets[symbol].forming(interval)`).
        REST fills the store when it is short, and its new candles become events like any other."""
        interval_ms(interval)
        if self.stream_fresh() and self._candles_current(symbol, interval, limit):
            return self.markets[symbol].closed_candles(interval, limit)
        self.rest_fallbacks += 1
        candles = self.data.history(symbol, interval, limit)
        self.markets[symbol].merge_closed(interval, candles)
        return candles

    def fetch_orderbook(self, symbol: str, limit: int) -> BookSnapshot:
        """The best `limit` levels per side, best first."""
        m = self.markets[symbol]
        depth = self.wanted[symbol].book_depth if symbol in self.wanted else 0
        if self.stream_fresh() and m.book_ready() and limit <= max(depth, 1):
            snap = m.snapshot_book(limit)
            if not snap.empty:
                return snap
        self.rest_fallbacks += 1
        return self.data.orderbook(symbol, limit)

    # ------------------------------------------------------------------ gaps

    def on_reconnect(self, stream: str) -> None:
        """Give this to MarketData.start_streams: a public reconnect flags a gap fill for maintain(), a
        private one sets private_reconnected(). Runs on a stream thread."""
        with self._lock:
            if stream == PUBLIC:
                self._reconnects += 1
            else:
                self._private_reconnects += 1

    def idle(self) -> bool:
        """Nothing for maintain() nor private_reconnected() to do (most passes): attribute reads, no lock,
        so the loop asks on every pass; what a stream thread asks meanwhile is seen by the next one."""
        return (self._reconnects == self._filled and self.markets.counts.holds == self._holds_clear
                and self._private_reconnects == self._private_seen)

    def private_reconnected(self) -> bool:
        """True once after each reconnect of the private stream: updates may have been missed, so
        the loop reconciles positions, orders and executions over REST."""
        if self._private_reconnects == self._private_seen:
            return False  # most passes (an int read needs no lock; a reconnect meanwhile is seen next time)
        with self._lock:
            fresh = self._private_reconnects != self._private_seen
            self._private_seen = self._private_reconnects
        return fresh

    def gap_fill(self, symbol: str, interval: str, since_ms: int | None = None) -> int:
        """Fetch the symbol's closed candles after `since_ms` (default: the newest known) over REST and
        push the missing ones into its closed-candle events, in order, without duplicates. Returns the
        number of events added."""
        step = interval_ms(interval)
        market = self.markets[symbol]
        since = since_ms if since_ms is not None else market.last_closed_ts(interval)
        if since is None:
            return 0
        now = self.data.market_time_ms(symbol)
        count = int(min(MAX_GAP_CANDLES, max(1, (now - since) // step + 2)))
        candles = self.data.history(symbol, interval, count, market_now_ms=now)
        added = market.merge_closed(interval, candles)
        self.gap_fills += 1
        if added:
            log.info("gap fill %s %s: %d closed candle(s) recovered over REST", symbol, interval, added)
        return added

    def maintain(self) -> int:
        """Work the stream threads asked for: after a public reconnect, a gap fill of every symbol's
        intervals; and a fill of any interval holding candles behind a hole. Returns events added.
        A failing REST call propagates (a venue error) and the work stays pending."""
        holds = self.markets.counts.holds  # read before the look: a candle held during it moves the count again
        if self._reconnects == self._filled and (holds == self._holds_clear or
                                                 not any(m.held_candles for m in self.markets)):
            self._holds_clear = holds
            return 0  # nothing asked for (most passes; a reconnect or a hole meanwhile is seen next time)
        with self._lock:
            reconnects = self._reconnects
        refill = reconnects != self._filled
        added = 0
        for market in self.markets:
            intervals = set(market.intervals_with_gaps())
            if refill and market.symbol in self.wanted:
                intervals.update(self.wanted[market.symbol].intervals)
            for interval in sorted(intervals):
                added += self.gap_fill(market.symbol, interval)
        self._filled = reconnects
        return added

    @property
    def gap_fill_pending(self) -> bool:
        with self._lock:
            pending = self._reconnects != self._filled
        return pending or any(m.intervals_with_gaps() for m in self.markets)
