"""The market state: thread-safe stores the stream threads write and the main loop reads. Venue-neutral:
a venue package parses its messages and calls these methods with plain values.

- `MarketState` is one symbol's: closed and forming candles per interval, the merged ticker, public
  trades, the L2 book. Reader (the main loop): `pop_closed()`, getters that return copies.
- `Markets` is the account's: a MarketState per symbol, the private updates (one queue for the
  account), when each stream last spoke, and `wake`, ONE threading.Event set on every tick, book
  update, closed candle and private update of any symbol, so the loop can `wake.wait(timeout)`
  instead of polling.

Closed candles (`confirm: true`) become events `(interval, ts, o, h, l, c, v)` exactly once each,
in ascending time per interval. A candle that arrives after a hole (the previous candle never came,
e.g. it closed while the stream was reconnecting) is HELD until a REST gap fill (`merge_closed`)
has filled the hole, so the loop never sees candles out of order; `gap_pending(interval)` tells the
feed to fill it. Candles already known (by start time) are never emitted twice.

Everything here is market data: floats, except the last price, which is also kept as Bybit's
string so `MarketFeed.fetch_current_price()` can return an exact Decimal.

Values that cannot be true never get in (whale.market.data_checks): a candle with a price that is not
finite or not above 0, or a negative volume, a ticker whose lastPrice is such a price, a trade with
such a price or size. Each is skipped and reported to `bad_data`, which logs it and alerts when they
repeat. So one kline with close "NaN" costs one message, not the strategy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from whale.logs import get_logger
from whale.market import data_checks
from whale.market.book import BookSnapshot, BookUpdate, OrderBook
from whale.market.candles import Candles, candles_from_rows
from whale.market.data_checks import BadData, BadValue
from whale.market.intervals import MONTH, bucket_end, interval_ms

CandleRow = tuple  # (ts, o, h, l, c, v)
_INF = float("inf")
MAX_ARRIVALS = 64  # closed candles whose arrival time is kept (the loop reads it within a pass or two)


def next_start(ts: int, interval: str) -> int:
    """Open time of the candle after the one opening at `ts`."""
    if interval == MONTH:
        return int(bucket_end(np.array([ts], dtype=np.int64), interval)[0])
    return ts + interval_ms(interval)


class _Series:
    __slots__ = ("interval", "closed", "last_ts", "held", "forming", "max_len")

    def __init__(self, interval: str, max_len: int) -> None:
        self.interval = interval
        self.closed: dict[int, tuple] = {}  # ts -> (o, h, l, c, v)
        self.last_ts: int | None = None  # newest closed candle accepted (emitted or merged)
        self.held: dict[int, tuple] = {}  # closed candles waiting for a hole before them to be filled
        self.forming: CandleRow | None = None
        self.max_len = max_len

    def store(self, ts: int, ohlcv: tuple) -> None:
        self.closed[ts] = ohlcv
        if len(self.closed) > self.max_len:
            for old in sorted(self.closed)[: len(self.closed) - self.max_len]:
                del self.closed[old]


class CandleCounts:
    """Closed candles ever emitted (`closes`) and ever held behind a hole (`holds`) by the symbols that
    share it (an account's Markets). The loop's test on every pass: a count unchanged since a look that
    found nothing new means there is nothing new (each is raised after the change it counts)."""

    __slots__ = ("closes", "holds")

    def __init__(self) -> None:
        self.closes = 0
        self.holds = 0


class MarketState:
    def __init__(self, symbol: str = "", *, max_candles: int = 5000, max_trades: int = 20_000,
                 max_price_history: int = 20_000, check_book_gaps: bool = True,
                 monotonic: Callable[[], float] = time.monotonic, bad_data: BadData | None = None,
                 wake: threading.Event | None = None, counts: CandleCounts | None = None,
                 book_type: type[OrderBook] = OrderBook) -> None:
        """`wake` and `counts` are shared by every symbol of an account (Markets); a lone MarketState has
        its own. `book_type`: a recorder's LevelCheckBook (the checks without numba), else OrderBook."""
        self.symbol = symbol
        self.counts = counts if counts is not None else CandleCounts()
        self.bad_data = bad_data or BadData(get_logger("bybit.data"), monotonic=monotonic)
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self.wake = wake if wake is not None else threading.Event()
        self.received_at: float | None = None  # monotonic time of this symbol's newest tick, trade or book update
        self._max_candles = max_candles
        self._series: dict[str, _Series] = {}
        self._events: list[tuple] = []
        self._ticker: dict[str, Any] = {}
        self._ticker_ts = 0
        # The last price and its exchange time (ms; 0 before any): plain attributes, read on every pass of the loop
        # (no property call); read-only outside, written with the text under the lock by on_ticker and on_trades.
        self.last_price: float | None = None
        self._last_price_text: str | float | None = None  # the venue's text (a replay's float)
        self.last_price_ms = 0
        # The newest exchange timestamp seen on the public streams (0 before any): read-only outside, read directly
        # where a call costs (the loop's market clock of one symbol, every pass).
        self.market_ms = 0
        self.book = book_type(symbol, check_gaps=check_book_gaps)
        self._trades: deque[tuple] = deque(maxlen=max_trades)
        # Trades ever stored: the cursor of trades_after (timestamps repeat within a ms). Read-only outside: a reader
        # compares its cursor with it to know there is nothing new without a call (Trader.book_pass, every pass).
        self.trade_seq = 0
        self._prices: deque[tuple] = deque(maxlen=max_price_history)
        self._arrivals: dict[tuple[str, int], float] = {}  # (interval, ts) -> when it became an event

    # ------------------------------------------------------------------ bookkeeping

    def _wake(self) -> None:
        """Wake the loop (an Event already set has woken it: setting it again would only cost a lock)."""
        if not self.wake.is_set():
            self.wake.set()

    def market_time_ms(self) -> int:
        """The newest exchange timestamp seen on the public streams (0 before any)."""
        return self.market_ms

    def _saw(self, ms: int) -> None:
        if ms > self.market_ms:
            self.market_ms = ms

    # ------------------------------------------------------------------ candles

    def _s(self, interval: str) -> _Series:
        s = self._series.get(interval)
        if s is None:
            s = self._series[interval] = _Series(interval, self._max_candles)
        return s

    def on_kline(self, interval: str, ts: int, o: float | str, h: float | str, lo: float | str, c: float | str,
                 v: float | str, confirm: bool, stamp_ms: int = 0) -> bool:
        """A kline push (prices as Bybit's strings or floats). Returns True when it produced a
        closed-candle event. A kline with a value that cannot be true is skipped (bad_data)."""
        try:
            o, h, lo, c, v = data_checks.candle(o, h, lo, c, v, f"candle {ts}")
        except BadValue as exc:
            self.bad_data.refuse(f"kline.{interval}.{self.symbol}", str(exc))
            return False
        with self._lock:
            if stamp_ms:
                self._saw(stamp_ms)
            s = self._s(interval)
            if not confirm:
                if s.last_ts is None or ts > s.last_ts:
                    s.forming = (ts, o, h, lo, c, v)
                return False
            if s.forming is not None and s.forming[0] <= ts:
                s.forming = None
            emitted = self._accept_closed(s, ts, (o, h, lo, c, v))
        if emitted:
            self._wake()
        return emitted

    def _accept_closed(self, s: _Series, ts: int, ohlcv: tuple) -> bool:
        if ts in s.closed or ts in s.held:
            return False
        if s.last_ts is not None and ts <= s.last_ts:
            return False  # older than what we have: a late duplicate
        if s.last_ts is None or (not s.held and ts == next_start(s.last_ts, s.interval)):
            self._emit(s, ts, ohlcv)
            return True
        s.held[ts] = ohlcv  # a hole before it: wait for the gap fill
        self.counts.holds += 1  # after the insert: whoever reads the new count finds the candle
        return False

    def _emit(self, s: _Series, ts: int, ohlcv: tuple) -> None:
        s.store(ts, ohlcv)
        s.last_ts = ts
        self._events.append((s.interval, ts) + tuple(ohlcv))
        self.counts.closes += 1  # after the append, as holds
        self._arrivals[(s.interval, ts)] = self._monotonic()
        if len(self._arrivals) > MAX_ARRIVALS:
            del self._arrivals[next(iter(self._arrivals))]

    def arrival(self, interval: str, ts: int) -> float | None:
        """When the closed candle opening at `ts` became an event (monotonic; recent ones only)."""
        return self._arrivals.get((interval, ts))

    def merge_closed(self, interval: str, candles: Candles | Iterable[CandleRow]) -> int:
        """Closed candles from REST (history or a gap fill), any order. The first merge of an
        interval seeds it silently (history); later ones emit events for candles newer than the
        newest known one, in order (held WebSocket candles the REST answer covers join them; REST
        wins on duplicates), then release held candles that are now contiguous. Returns the number
        of events emitted."""
        rest = {}
        for r in _rows(candles):
            try:
                o, h, lo, c, v = r[1:6]
                rest[int(r[0])] = data_checks.candle(o, h, lo, c, v, f"candle {int(r[0])}")
            except BadValue as exc:
                self.bad_data.refuse(f"REST kline {interval} {self.symbol}", str(exc))
        emitted = 0
        with self._lock:
            s = self._s(interval)
            if s.last_ts is None and not s.held:
                for ts, ohlcv in rest.items():
                    s.store(ts, ohlcv)
                if rest:
                    s.last_ts = max(rest)
                return 0
            newest_rest = max(rest, default=None)
            if newest_rest is not None:
                for ts in [t for t in s.held if t <= newest_rest]:
                    rest.setdefault(ts, s.held.pop(ts))
            for ts in sorted(rest):
                if ts in s.closed:
                    continue
                if s.last_ts is not None and ts < s.last_ts:
                    s.store(ts, rest[ts])
                    continue
                self._emit(s, ts, rest[ts])
                emitted += 1
            emitted += self._release(s, None)
        if emitted:
            self._wake()
        return emitted

    def _release(self, s: _Series, covered_until: int | None) -> int:
        """Emit held candles that are now in order: up to `covered_until` whatever the holes, then
        those contiguous with the newest emitted one."""
        n = 0
        for ts in sorted(s.held):
            ohlcv = s.held[ts]
            if s.last_ts is not None and ts <= s.last_ts:
                del s.held[ts]
                continue
            if (covered_until is not None and ts <= covered_until) or s.last_ts is None \
                    or ts == next_start(s.last_ts, s.interval):
                del s.held[ts]
                self._emit(s, ts, ohlcv)
                n += 1
            else:
                break
        return n

    def release_held(self, interval: str) -> int:
        """Give up waiting for a hole to be filled: emit the held candles in order."""
        with self._lock:
            s = self._s(interval)
            n = self._release(s, max(s.held, default=None))
        if n:
            self._wake()
        return n

    def pop_closed(self) -> list[tuple]:
        """Closed-candle events since the last call: (interval, ts, o, h, l, c, v), each candle once."""
        if not self._events:
            return []  # most passes; an event appended meanwhile is taken by the next one
        with self._lock:
            out, self._events = self._events, []
        return out

    def gap_pending(self, interval: str) -> bool:
        with self._lock:
            s = self._series.get(interval)
            return bool(s and s.held)

    @property
    def held_candles(self) -> bool:
        """Closed candles wait behind a hole (the feed's gap fill is due). Read without the lock, on every
        pass: a candle held meanwhile is seen by the next one."""
        return any(s.held for s in list(self._series.values()))

    def intervals_with_gaps(self) -> list[str]:
        with self._lock:
            return [i for i, s in self._series.items() if s.held]

    def last_closed_ts(self, interval: str) -> int | None:
        with self._lock:
            s = self._series.get(interval)
            return None if s is None else s.last_ts

    def forming(self, interval: str) -> CandleRow | None:
        with self._lock:
            s = self._series.get(interval)
            return None if s is None else s.forming

    def closed_candles(self, interval: str, limit: int | None = None) -> Candles:
        """The newest `limit` closed candles known for `interval` (ascending copy)."""
        with self._lock:
            s = self._series.get(interval)
            keys = sorted(s.closed) if s else []
            if limit is not None:
                keys = keys[-limit:]
            rows = [(k,) + s.closed[k] for k in keys] if s else []
        return candles_from_rows(rows, interval)

    def closed_count(self, interval: str) -> int:
        with self._lock:
            s = self._series.get(interval)
            return len(s.closed) if s else 0

    # ------------------------------------------------------------------ ticker and trades

    def on_ticker(self, snapshot: bool, data: Mapping[str, Any], ts: int, last_price: str | None = None) -> None:
        """The venue's ticker fields (kept as sent, for the display): a snapshot replaces, a delta merges
        (a field missing from a delta is unchanged, never zero). `last_price` is the venue's last price
        text in it, if any: a message whose last price is not a price above 0 is skipped whole (bad_data)."""
        price = None
        if last_price not in (None, ""):
            try:
                price = data_checks.price(last_price, "lastPrice")
            except BadValue as exc:
                self.bad_data.refuse(f"tickers.{self.symbol}", str(exc))
                return
        ms = int(ts or 0)
        with self._lock:
            if snapshot:
                self._ticker = dict(data)
            else:
                self._ticker.update(data)
            if ms > self._ticker_ts:
                self._ticker_ts = ms
            if ms > self.market_ms:  # _saw, inline (as below: a few messages a second a symbol)
                self.market_ms = ms
            if price is not None and ms >= self.last_price_ms:
                self.last_price, self._last_price_text, self.last_price_ms = price, str(last_price), ms
                self._prices.append((ms, price))
            self.received_at = self._monotonic()
        wake = self.wake
        if not wake.is_set():
            wake.set()

    def on_trades(self, trades: Iterable[tuple[int, str, Any, Any]]) -> None:
        """Public trades (time ms, side "Buy"/"Sell", size, price; sizes and prices as the venue's text
        or numbers), ascending by time: kept as (ms, side, size, price) floats."""
        refused = []
        kept, prices = self._trades, self._prices
        with self._lock:
            n = 0
            last_ms, market_ms = self.last_price_ms, self.market_ms
            last = last_text = None
            try:
                for row in trades:
                    ms, side, size_value, price_value = row
                    if type(price_value) is float and type(size_value) is float and 0.0 < price_value < _INF \
                            and 0.0 <= size_value < _INF:  # a replay's floats (data_checks' fast path, inline)
                        price = price_value
                        kept.append(row if type(row) is tuple else (ms, side, size_value, price))
                    else:
                        try:
                            price = data_checks.price(price_value, "trade price")
                            qty = data_checks.size(size_value, "trade size")
                        except BadValue as exc:
                            refused.append(str(exc))
                            continue
                        kept.append((ms, side, qty, price))
                    n += 1
                    prices.append((ms, price))
                    if ms >= last_ms:  # its text is made when asked for (last_price_text)
                        last_ms, last, last_text = ms, price, price_value
                    if ms > market_ms:
                        market_ms = ms
            finally:  # what was stored is counted, whatever stops the loop
                self.trade_seq += n
                if last is not None:
                    self.last_price, self._last_price_text, self.last_price_ms = last, last_text, last_ms
                self.market_ms = market_ms
            self.received_at = self._monotonic()
        for problem in refused:
            self.bad_data.refuse(f"publicTrade.{self.symbol}", problem)
        wake = self.wake
        if not wake.is_set():
            wake.set()

    def ticker(self) -> dict:
        with self._lock:
            return dict(self._ticker)

    def ticker_ts(self) -> int:
        return self._ticker_ts

    def last_price_text(self) -> str | None:
        """The last price as the venue sent it (a replay's float: its shortest repr)."""
        with self._lock:
            text = self._last_price_text
        return None if text is None else str(text)

    def trades(self, since_ms: int | None = None) -> list[tuple]:
        with self._lock:
            if since_ms is None:
                return list(self._trades)
            return [t for t in self._trades if t[0] >= since_ms]

    def trade_cursor(self) -> int:
        """The cursor after the newest stored trade (start reading new trades from here)."""
        with self._lock:
            return self.trade_seq

    def trades_after(self, cursor: int) -> tuple[list[tuple], int]:
        """Trades stored after `cursor` (from trade_cursor() or a previous call) and the new cursor.
        A sequence, not a timestamp: several publicTrade batches can share one millisecond, and a
        `since_ms` read would drop the later ones exactly in the bursts the flow exits watch.
        Trades that fell out of the bounded store before they were read are gone."""
        if cursor == self.trade_seq:
            return [], cursor  # nothing new (most passes); a trade stored meanwhile is read next time
        with self._lock:
            new = max(0, self.trade_seq - cursor)
            kept = min(new, len(self._trades))
            out = [self._trades[-i] for i in range(kept, 0, -1)]  # deque indexing is cheap near the ends
            return out, self.trade_seq

    def price_history(self, since_ms: int | None = None) -> list[tuple]:
        with self._lock:
            if since_ms is None:
                return list(self._prices)
            return [p for p in self._prices if p[0] >= since_ms]

    # ------------------------------------------------------------------ the book

    def on_book(self, update: BookUpdate) -> bool:
        """A book update. False = the book needs a fresh snapshot (resubscribe)."""
        return self.on_book_levels(update.snapshot, update.bids, update.asks, update.update_id, update.seq, update.ts)

    def on_book_levels(self, snapshot: bool, bids: Iterable, asks: Iterable, update_id: int = 0,
                       seq: int | None = None, ts: int | None = None,
                       columns: tuple[np.ndarray, np.ndarray, int, int, int] | None = None) -> bool:
        """on_book with the update's fields (a replay has them already: no BookUpdate to build). A delta's
        `columns` (prices, sizes, start, nb, na: float64 arrays holding the same nb bid levels from start,
        then the na asks) are applied as they are (OrderBook.apply_levels): a recording's decoded levels."""
        with self._lock:
            book = self.book
            if snapshot:
                ok = book.apply_snapshot(bids, asks, update_id, seq, ts)
            elif columns is not None:
                px, sz, start, nb, na = columns
                ok = book.apply_levels(px, sz, start, nb, na, update_id, seq, ts)
            else:
                ok = book.apply_delta(bids, asks, update_id, seq, ts)
            ms = int(ts or 0)
            if ms > self.market_ms:  # _saw, inline: ~10 updates a second a symbol
                self.market_ms = ms
            self.received_at = self._monotonic()
        wake = self.wake
        if not wake.is_set():  # _wake, inline
            wake.set()
        return ok

    def reset_book(self) -> None:
        with self._lock:
            self.book.reset()

    def seed_book(self, snap: BookSnapshot) -> None:
        """Replace the book with a REST snapshot (when the stream is not there yet)."""
        bids = list(zip(snap.bid_px.tolist(), snap.bid_sz.tolist(), strict=True))
        asks = list(zip(snap.ask_px.tolist(), snap.ask_sz.tolist(), strict=True))
        with self._lock:
            self.book.apply_snapshot(bids, asks, snap.u, snap.seq, snap.ts)

    def book_ready(self) -> bool:
        return self.book.ready

    def density_levels(self) -> tuple[bool, np.ndarray, np.ndarray, int, int] | None:
        """What the density tracker takes since the last call (DensityTracker.apply_book_changes): `(whole,
        px, sz, nb, na)`, the `nb` bid levels and the `na` ask levels that changed (2-D px/sz, bids in row 0
        and asks in row 1, as the book logs them; size 0.0 removed one), or when `whole` the whole book
        (1-D, the bids then the asks). None while a side of the book is empty: the changes wait."""
        with self._lock:
            return self.book.take_density_rows()

    def snapshot_book(self, n: int | None = None) -> BookSnapshot:
        """A copy of the best `n` levels (all when None)."""
        with self._lock:
            return self.book.snapshot(n)

    def book_stats(self) -> dict:
        with self._lock:
            b = self.book
            return {"ready": b.ready, "u": b.u, "seq": b.seq, "version": b.version, "snapshots": b.snapshots,
                    "restarts": b.restarts, "gaps": b.gaps, "crossings": b.crossings, "ignored": b.ignored,
                    "bids": b.bid_count, "asks": b.ask_count}


def _rows(candles: Candles | Iterable[CandleRow]) -> list[tuple]:
    if isinstance(candles, Candles):
        return list(zip(candles.ts.tolist(), candles.open.tolist(), candles.high.tolist(), candles.low.tolist(),
                        candles.close.tolist(), candles.volume.tolist(), strict=True))
    return [tuple(r) for r in candles]


class Markets:
    """The account's market state: one MarketState per symbol, all waking the loop through one
    `wake` event; the private updates of the account in one queue; when each stream last spoke."""

    def __init__(self, symbols: Iterable[str], *, bad_data: BadData | None = None,
                 monotonic: Callable[[], float] = time.monotonic, **state_options: Any) -> None:
        self.wake = threading.Event()
        self.bad_data = bad_data or BadData(get_logger("market.data"), monotonic=monotonic)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.counts = CandleCounts()
        self._states = {s: MarketState(s, bad_data=self.bad_data, monotonic=monotonic, wake=self.wake,
                                       counts=self.counts, **state_options) for s in symbols}
        self._only = next(iter(self._states.values())) if len(self._states) == 1 else None
        self.private: list[tuple[str, Any]] = []  # private updates not taken yet (pop_private takes them)
        self._last_message: dict[str, float] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._states)

    def __getitem__(self, symbol: str) -> MarketState:
        return self._states[symbol]

    def get(self, symbol: str) -> MarketState | None:
        return self._states.get(symbol)

    def __iter__(self):
        return iter(self._states.values())

    def market_time_ms(self) -> int:
        """The newest venue timestamp seen on any symbol's public streams (0 before any)."""
        if self._only is not None:
            return self._only.market_ms  # one symbol (most accounts): no loop
        newest = 0
        for m in self._states.values():
            if m.market_ms > newest:  # read on every pass: no call per symbol
                newest = m.market_ms
        return newest

    # ---- streams ----------------------------------------------------------------------------------
    def touch(self, stream: str) -> None:
        """A message arrived on `stream` (called by the stream manager)."""
        self._last_message[stream] = self._monotonic()

    def last_message_monotonic(self, stream: str) -> float | None:
        return self._last_message.get(stream)

    # ---- private updates --------------------------------------------------------------------------
    def on_private(self, topic: str, data: Any) -> None:
        with self._lock:
            self.private.append((topic, data))
        self.wake.set()

    def pop_private(self) -> list[tuple[str, Any]]:
        """Private updates (topic, data) since the last call, in arrival order."""
        if not self.private:
            return []  # most passes; an update appended meanwhile is taken by the next one
        with self._lock:
            out, self.private = self.private, []
        return out
