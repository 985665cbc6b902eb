"""MarketFeed: the original's `fetch_current_price`, `fetch_klines`, `fetch_orderbook`, served from
the WebSocket streams (MarketState) when they are fresh, from REST when a stream is stale or has not
filled yet; plus the REST gap fill after a reconnect or a hole in the closed candles.

Runs on the main loop's thread. `on_reconnect` is the callback to give BybitWebSocketManager: it
only sets a flag (it runs on a WebSocket thread); `maintain()`, called by the loop, does the work.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from whale.bybit.market_state import MarketState, next_start
from whale.bybit.models import dec
from whale.bybit.rest import BybitRest
from whale.bybit.ws import PUBLIC, BybitWebSocketManager
from whale.logs import get_logger
from whale.market.book import BookSnapshot
from whale.market.candles import Candles
from whale.market.intervals import interval_ms

log = get_logger("bybit.feed")

MAX_GAP_CANDLES = 5000


class MarketFeed:
    def __init__(self, rest: BybitRest, ws: BybitWebSocketManager | None, market: MarketState, *, symbol: str,
                 stale_after_s: float = 30.0, book_depth: int | None = None) -> None:
        self.rest = rest
        self.ws = ws
        self.market = market
        self.symbol = symbol
        self.stale_after_s = stale_after_s
        self.book_depth = book_depth if book_depth is not None else (ws.book_depth if ws is not None else 0)
        self._lock = threading.Lock()
        self._reconnects = 0  # public reconnects reported (WebSocket thread)
        self._filled = 0  # reconnects whose gap fill is done
        self._private_reconnects = 0
        self._private_seen = 0
        self.rest_fallbacks = 0  # how often a fetch went to REST (display, tests)
        self.gap_fills = 0

    # ------------------------------------------------------------------ freshness

    def stream_fresh(self) -> bool:
        """The public stream is connected and has sent data within stale_after_s."""
        if self.ws is None or self.ws.stale(PUBLIC):
            return False
        age = self.ws.message_age(PUBLIC)
        return age is not None and age <= self.stale_after_s

    def _candles_current(self, interval: str, limit: int) -> bool:
        m = self.market
        if m.closed_count(interval) < limit or m.gap_pending(interval):
            return False
        last = m.last_closed_ts(interval)
        now = m.market_time_ms()
        if last is None or not now:
            return False
        # Current when the candle after the newest closed one has not closed yet.
        return now < next_start(next_start(last, interval), interval)

    # ------------------------------------------------------------------ the original's names

    def fetch_current_price(self) -> Decimal:
        """The last traded price (ticker or public trades, whichever is newer), exact."""
        if self.stream_fresh():
            text = self.market.last_price_text()
            if text:
                return dec(text)
        self.rest_fallbacks += 1
        return self.rest.last_price(self.symbol)

    def fetch_klines(self, interval: str, limit: int) -> Candles:
        """The newest `limit` CLOSED candles, ascending (the forming one is `market.forming(interval)`).
        REST fills the store when it is short, and its new candles become events like any other."""
        interval_ms(interval)
        if self.stream_fresh() and self._candles_current(interval, limit):
            return self.market.closed_candles(interval, limit)
        self.rest_fallbacks += 1
        candles = self.rest.history(self.symbol, interval, limit)
        self.market.merge_closed(interval, candles)
        return candles

    def fetch_orderbook(self, limit: int) -> BookSnapshot:
        """The best `limit` levels per side, best first."""
        if self.stream_fresh() and self.market.book_ready() and limit <= max(self.book_depth, 1):
            snap = self.market.snapshot_book(limit)
            if not snap.empty:
                return snap
        self.rest_fallbacks += 1
        return self.rest.orderbook(self.symbol, limit)

    # ------------------------------------------------------------------ gaps

    def on_reconnect(self, stream: str) -> None:
        """Give this to BybitWebSocketManager(on_reconnect=...): a public reconnect flags a gap fill
        for maintain(), a private one sets private_reconnected(). Runs on a WebSocket thread."""
        with self._lock:
            if stream == PUBLIC:
                self._reconnects += 1
            else:
                self._private_reconnects += 1

    def private_reconnected(self) -> bool:
        """True once after each reconnect of the private stream: updates may have been missed, so
        the loop reconciles positions, orders and executions over REST."""
        with self._lock:
            fresh = self._private_reconnects != self._private_seen
            self._private_seen = self._private_reconnects
        return fresh

    def gap_fill(self, interval: str, since_ms: int | None = None) -> int:
        """Fetch the closed candles after `since_ms` (default: the newest known) over REST and push
        the missing ones into MarketState's closed-candle events, in order, without duplicates.
        Returns the number of events added."""
        step = interval_ms(interval)
        since = since_ms if since_ms is not None else self.market.last_closed_ts(interval)
        if since is None:
            return 0
        now = self.rest.market_time_ms(self.symbol)
        count = int(min(MAX_GAP_CANDLES, max(1, (now - since) // step + 2)))
        candles = self.rest.history(self.symbol, interval, count, market_now_ms=now)
        added = self.market.merge_closed(interval, candles)
        self.gap_fills += 1
        if added:
            log.info("gap fill %s %s: %d closed candle(s) recovered over REST", self.symbol, interval, added)
        return added

    def maintain(self) -> int:
        """Work the WebSocket threads asked for: after a public reconnect, a gap fill of every
        interval; and a fill of any interval holding candles behind a hole. Returns events added.
        A failing REST call propagates (RetryableError...) and the work stays pending."""
        with self._lock:
            reconnects = self._reconnects
        intervals = set(self.market.intervals_with_gaps())
        if reconnects != self._filled:
            intervals.update(self.ws.intervals if self.ws is not None else ())
        added = 0
        for interval in sorted(intervals):
            added += self.gap_fill(interval)
        self._filled = reconnects
        return added

    @property
    def gap_fill_pending(self) -> bool:
        with self._lock:
            pending = self._reconnects != self._filled
        return pending or bool(self.market.intervals_with_gaps())
