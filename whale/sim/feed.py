"""Public streams: what to send to `kline.*`, `orderbook.*`, `tickers.*` and `publicTrade.*`
subscribers, and when. One `Feed` per symbol; `Feeds` routes every symbol's topics for the hub.

Each stream remembers what it last published (shared by all its subscribers), so a flush sends
only what changed: orderbook deltas with consecutive `u` per depth and a global `seq`, ticker
deltas with only the changed fields, kline updates only when the candle moved. A new subscriber
gets a snapshot of the last published state (orderbook, tickers) and then the shared deltas; a
symbol that is not trading yet sends its snapshots when its first candle plays.

Streams paced in stream-rate mode (`paced`: book depths, tickers, trades) are left out of the
replay's flushes: the pacer (`whale.sim.streams`) publishes them on their wall-clock periods.
"""

from __future__ import annotations

from whale.sim.bad_data import bad_kline, bad_ticker
from whale.sim.market import Market
from whale.sim.tape import KLINE_INTERVALS, Tape
from whale.sim.ws import Conn, Hub, dumps
from whale.sim.wsproto import text_frame

BOOK_DEPTHS = (1, 50, 200, 1000)
BOOK_STREAMS = {f"book{d}": d for d in BOOK_DEPTHS}  # stream-rate keys of the depths


class BookStream:
    def __init__(self, depth: int, topic: str) -> None:
        self.depth = depth
        self.topic = topic
        self.u = 0
        self.bids: dict[int, int] | None = None
        self.asks: dict[int, int] | None = None

    def current(self, market: Market) -> tuple[dict[int, int], dict[int, int]]:
        bids, bsz, asks, asz = market.book.levels()
        d = self.depth
        return (dict(zip(bids[:d].tolist(), bsz[:d].tolist(), strict=True)),
                dict(zip(asks[:d].tolist(), asz[:d].tolist(), strict=True)))


class Feed:
    def __init__(self, hub: Hub, market: Market, tape: Tape, paced: frozenset[str] = frozenset()) -> None:
        self.hub = hub
        self.market = market
        self.tape = tape
        sym = market.inst.symbol
        self.symbol = sym
        self.books = {f"orderbook.{d}.{sym}": BookStream(d, f"orderbook.{d}.{sym}") for d in BOOK_DEPTHS}
        self.book_by_depth = {bs.depth: bs for bs in self.books.values()}
        self.ticker_topic = f"tickers.{sym}"
        self.trade_topic = f"publicTrade.{sym}"
        self.kline_topics = {f"kline.{iv}.{sym}": iv for iv in KLINE_INTERVALS}
        self.ticker_last: dict[str, str] | None = None
        self.kline_last: dict[str, tuple] = {}
        self._book_version = market.book.version  # the book as of the last flush
        self.paced = paced
        self._paced_books = {BOOK_STREAMS[k] for k in paced if k in BOOK_STREAMS}

    def rest_u(self) -> int:
        """The `u` REST's orderbook answers with: depth 1000's, as Bybit's."""
        return max(1, self.book_by_depth[1000].u)

    def topics(self) -> list[str]:
        """Every public topic of this symbol (kline topics of intervals the data cannot build included)."""
        return [*self.books, self.ticker_topic, self.trade_topic, *self.kline_topics]

    # ------------------------------------------------------------------ subscriptions

    def valid_topic(self, topic: str) -> bool:
        if topic in self.books or topic == self.ticker_topic or topic == self.trade_topic:
            return True
        iv = self.kline_topics.get(topic)
        if iv is None:
            return False
        try:
            self.tape.check_interval(iv)
        except Exception:  # noqa: BLE001 - an interval the data cannot build is just not a topic
            return False
        return True

    def on_subscribe(self, conn: Conn, topic: str) -> None:
        if not self.market.trading:
            return  # its snapshots go out with its first candle
        now = self.market.clock.now_ms()
        # A stream without a published state yet sends its snapshot to every subscriber: the new one, and
        # any that subscribed before the symbol traded and still wait for theirs.
        if topic in self.books:
            bs = self.books[topic]
            if bs.bids is None:
                bs.bids, bs.asks = bs.current(self.market)
                bs.u += 1
                self.hub.publish(topic, self._book_message(bs, "snapshot", bs.bids, bs.asks, now))
            else:
                conn.send_data(text_frame(self._book_message(bs, "snapshot", bs.bids, bs.asks, now)))
        elif topic == self.ticker_topic:
            fresh = self.ticker_last is None
            if fresh:
                self.ticker_last = self.market.ticker()
            text = dumps({"topic": topic, "type": "snapshot", "data": self.ticker_last, "cs": self.market.seq,
                          "ts": now})
            if fresh:
                self.hub.publish(topic, text)
            else:
                conn.send_data(text_frame(text))

    def on_idle(self, topic: str) -> None:
        if topic in self.books:
            self.books[topic].bids = self.books[topic].asks = None
        elif topic == self.ticker_topic:
            self.ticker_last = None
        elif topic in self.kline_topics:
            self.kline_last.pop(topic, None)

    # ------------------------------------------------------------------ flushing

    def flush(self, closing: int | None = None) -> None:
        """Publish what changed since the last flush; `closing` = the base candle that just ended
        (its klines go out with confirm true where it closes the interval's candle)."""
        with self.hub.batched():
            self.flush_unbatched(closing)

    def flush_unbatched(self, closing: int | None = None) -> None:
        """flush() inside a batch the caller holds (the replay flushes every symbol in one batch)."""
        hub = self.hub
        now = self.market.clock.now_ms()
        if self.market.pending and "trades" not in self.paced:
            if hub.subscribed(self.trade_topic):
                self._publish_trades(now, self.market.pending)
            self.market.pending = []
        self._flush_books(now)
        if "tickers" not in self.paced and hub.subscribed(self.ticker_topic):
            self._publish_ticker(now)
        if closing is not None:
            due = hub.faults.market_fault_on_close()
            if due == "ticker_zero_price":
                self.send_bad_ticker(due)
            elif due is not None:
                hub.faults.bad_market_armed.append(due)
        corrupted = False
        for topic in [t for t in hub.topics if t in self.kline_topics]:
            corrupted |= self._publish_kline(topic, self.kline_topics[topic], closing, now)
        if corrupted:
            hub.faults.bad_market_armed.clear()

    def _flush_books(self, now: int) -> None:
        """Deltas to subscribed depths; an unwatched depth still advances `u` when the book moved, so
        `u` counts the book's updates whoever listens (REST shows depth 1000's, as Bybit does)."""
        moved = self._book_version != self.market.book.version
        self._book_version = self.market.book.version
        for topic, bs in self.books.items():
            if bs.depth in self._paced_books:
                continue
            if self.hub.subscribed(topic):
                self._publish_book(bs, now)
            elif moved:
                bs.u += 1

    # ------------------------------------------------------------------ stream-rate mode

    def publish_paced(self, stream: str, now: int) -> None:
        """The pacer's turn for `stream` (a key of whale.sim.streams.STREAMS), if anyone listens."""
        if not self.market.trading:
            return
        if stream == "tickers":
            if self.hub.subscribed(self.ticker_topic):
                self._publish_ticker(now)
        elif stream == "trades":
            trades = self.market.pending + self.market.burst(now)
            self.market.pending = []
            if trades and self.hub.subscribed(self.trade_topic):
                self._publish_trades(now, trades)
        else:
            bs = self.book_by_depth[BOOK_STREAMS[stream]]
            if self.hub.subscribed(bs.topic):
                self._publish_book(bs, now)

    def _publish_trades(self, now: int, trades: list) -> None:
        for j in range(0, len(trades), 1024):
            data = [self.market.trade_ws(t) for t in trades[j:j + 1024]]
            self.hub.publish(self.trade_topic, dumps({"topic": self.trade_topic, "type": "snapshot", "ts": now,
                                                      "data": data}))

    def _book_message(self, bs: BookStream, kind: str, bids, asks, now: int) -> str:
        fl = self.market.format_levels
        b = sorted(bids.items(), reverse=True)
        a = sorted(asks.items())
        data = {"s": self.symbol, "b": fl([t for t, _ in b], [s for _, s in b]),
                "a": fl([t for t, _ in a], [s for _, s in a]), "u": bs.u, "seq": self.market.seq}
        return dumps({"topic": bs.topic, "type": kind, "ts": now, "data": data, "cts": now})

    def _publish_book(self, bs: BookStream, now: int) -> None:
        """A delta (snapshot for depth 1) of what changed since the stream's last message; the first
        snapshot when the symbol has just started trading."""
        if not self.market.trading:
            return
        if bs.bids is None:  # subscribed before the symbol traded: the snapshot goes out now
            bs.bids, bs.asks = bs.current(self.market)
            bs.u += 1
            self.hub.publish(bs.topic, self._book_message(bs, "snapshot", bs.bids, bs.asks, now))
            return
        bids, asks = bs.current(self.market)
        if bs.depth == 1:
            if bids == bs.bids and asks == bs.asks:
                return
            bs.bids, bs.asks = bids, asks
            bs.u += 1
            self.hub.publish(bs.topic, self._book_message(bs, "snapshot", bids, asks, now))
            return
        if bs.asks is None:
            return
        db = _changes(bs.bids, bids)
        da = _changes(bs.asks, asks)
        if not db and not da:
            return
        bs.bids, bs.asks = bids, asks
        bs.u += 1
        self.hub.publish(bs.topic, self._book_message(bs, "delta", db, da, now))

    def _publish_ticker(self, now: int) -> None:
        if not self.market.trading:
            return
        cur = self.market.ticker()
        last = self.ticker_last
        if last is None:  # subscribed before the symbol traded: the snapshot goes out now
            self.ticker_last = cur
            self.hub.publish(self.ticker_topic, dumps({"topic": self.ticker_topic, "type": "snapshot", "data": cur,
                                                       "cs": self.market.seq, "ts": now}))
            return
        delta = {k: v for k, v in cur.items() if last.get(k) != v}
        if not delta:
            return
        self.ticker_last = cur
        delta["symbol"] = self.symbol
        self.hub.publish(self.ticker_topic, dumps({"topic": self.ticker_topic, "type": "delta", "data": delta,
                                                   "cs": self.market.seq, "ts": now}))

    def _publish_kline(self, topic: str, interval: str, closing: int | None, now: int) -> bool:
        """Publish the kline if it changed; True when armed bad-market faults went out before it."""
        tape, m = self.tape, self.market
        if closing is not None:
            row = tape.forming_row(interval, closing, (closing, tape.k - 1))
            confirm = tape.closes_bucket(interval, closing)
        else:
            row = tape.forming_row(interval, m.closed, m.forming)
            confirm = False
        if row is None:
            return False
        start, o, h, lo, c, v, turn = row
        inst = m.inst
        data = {"start": start, "end": tape.end_of(interval, start), "interval": interval,
                "open": inst.fmt_price(o), "close": inst.fmt_price(c), "high": inst.fmt_price(h),
                "low": inst.fmt_price(lo), "volume": inst.fmt_qty(v), "turnover": f"{turn:.4f}",
                "confirm": confirm}
        key = tuple(data.values())
        if self.kline_last.get(topic) == key:
            return False  # nothing a client could see has changed
        self.kline_last[topic] = key
        data["timestamp"] = now
        armed = list(self.hub.faults.bad_market_armed) if confirm else []
        for kind in armed:  # the bad copy first: a client that took it would drop the real one as a duplicate
            self.hub.publish(topic, dumps({"topic": topic, "data": [bad_kline(data, kind)], "ts": now,
                                           "type": "snapshot"}))
        self.hub.publish(topic, dumps({"topic": topic, "data": [data], "ts": now, "type": "snapshot"}))
        return bool(armed)

    def send_bad_ticker(self, kind: str) -> None:
        """A ticker delta with lastPrice "0" (the only ticker kind of bad_market)."""
        if not self.hub.subscribed(self.ticker_topic):
            return
        now = self.market.clock.now_ms()
        self.hub.publish(self.ticker_topic, dumps({"topic": self.ticker_topic, "type": "delta",
                                                  "data": bad_ticker(self.symbol), "cs": self.market.seq, "ts": now}))

    # ------------------------------------------------------------------ faults

    def book_fault(self, what: str) -> None:
        now = self.market.clock.now_ms()
        for bs in self.books.values():
            if bs.bids is None or not self.hub.subscribed(bs.topic):
                continue
            if what in ("snapshot", "restart"):
                bs.bids, bs.asks = bs.current(self.market)
                bs.u = 1 if what == "restart" else bs.u + 1
                self.hub.publish(bs.topic, self._book_message(bs, "snapshot", bs.bids, bs.asks, now))
            elif what == "delete_absent":
                ghost = min(bs.bids) - 7 if bs.bids else self.market.last_tick - 10_000
                while ghost in bs.bids:
                    ghost -= 1
                bs.u += 1
                self.hub.publish(bs.topic, self._book_message(bs, "delta", {ghost: 0}, {}, now))


def _changes(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    out = {t: s for t, s in new.items() if old.get(t) != s}
    for t in old:
        if t not in new:
            out[t] = 0
    return out


class Feeds:
    """Every symbol's Feed behind one topic source for the hub: a topic goes to the feed of the symbol
    it names; the run-time book and bad-market faults hit every symbol."""

    def __init__(self, hub: Hub, feeds: list[Feed]) -> None:
        self.hub = hub
        self.feeds = feeds
        self.by_topic = {topic: feed for feed in feeds for topic in feed.topics()}
        hub.source = self
        hub.faults.actions["book"] = self.book_fault
        hub.faults.actions["bad_market"] = self.send_bad_ticker

    def valid_topic(self, topic: str) -> bool:
        feed = self.by_topic.get(topic)
        return feed is not None and feed.valid_topic(topic)

    def on_subscribe(self, conn: Conn, topic: str) -> None:
        self.by_topic[topic].on_subscribe(conn, topic)

    def on_idle(self, topic: str) -> None:
        feed = self.by_topic.get(topic)
        if feed is not None:
            feed.on_idle(topic)

    def book_fault(self, what: str) -> None:
        for feed in self.feeds:
            feed.book_fault(what)

    def send_bad_ticker(self, kind: str) -> None:
        for feed in self.feeds:
            feed.send_bad_ticker(kind)
