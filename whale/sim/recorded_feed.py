"""Public streams of `sim --book`: the recording's messages as recorded, one symbol per Feed.

- **The recorded depth** (`orderbook.200` of a depth-200 recording): every recorded snapshot and
  delta goes out as it was recorded, levels in the instrument's format. `u` is renumbered per
  served stream so that it always counts on by one: a recording whose `u` already does keeps its
  numbers; one without `u` (a Tardis import) or with a hole in it (a reconnect) is numbered on.
  `seq` is the recorded one (or `u` where none was kept).
- **Shallower depths** (1 and 50 of a depth-200 recording) are the top of the recorded book after
  each recorded message, sent as deltas of what changed (depth 1: snapshots, as Bybit's). A depth
  deeper than the recording's is not served (the subscription fails, and the log says why).
- **Tickers** go out as recorded; when the recording left out the best bid and ask, a delta of them
  follows each book message that moved them. **Trades** go out as recorded, one message per
  recorded message. **Klines** are built from the trades (whale.sim.recorded_market) and go out
  as the candle feed sends them: the candle in progress at most once a second of replay time, and
  each closed one with `confirm: true`.
"""

from __future__ import annotations

import logging
from typing import Any

from whale.recording.reader import BookEvent, TickerEvent
from whale.sim.feed import BOOK_DEPTHS, BookStream, Feed
from whale.sim.recorded_book import Levels
from whale.sim.recorded_market import BookMarket, BookTape, Print
from whale.sim.streams import STREAMS
from whale.sim.ws import Conn, Hub, dumps
from whale.sim.wsproto import text_frame

log = logging.getLogger("whalebot.sim")


class BookFeed(Feed):
    def __init__(self, hub: Hub, market: BookMarket, tape: BookTape, depth: int) -> None:
        # Books, tickers and trades go out per recorded message (below); the flushes send klines only.
        super().__init__(hub, market, tape, frozenset(STREAMS))  # type: ignore[arg-type]  # the Market interface
        self.bmarket = market
        self.depth = depth
        self.too_deep = {t: bs.depth for t, bs in self.books.items() if bs.depth > depth}
        for topic in self.too_deep:
            del self.books[topic]
        self.book_by_depth = {bs.depth: bs for bs in self.books.values()}
        self.recorded: BookStream | None = self.book_by_depth.get(depth) if depth in BOOK_DEPTHS else None
        self._top_sent: dict[str, str] = {}
        self._told: set[str] = set()

    def topics(self) -> list[str]:
        return [*super().topics(), *self.too_deep]

    def valid_topic(self, topic: str) -> bool:
        if topic in self.too_deep:
            if topic not in self._told:
                self._told.add(topic)
                log.info(f"sim: {topic} refused: the recording holds the book to depth {self.depth}")
            return False
        return super().valid_topic(topic)

    def rest_u(self) -> int:
        return max(1, self.recorded.u if self.recorded is not None else 1)

    # ------------------------------------------------------------------ subscriptions

    def on_subscribe(self, conn: Conn, topic: str) -> None:
        rec = self.recorded
        if rec is not None and topic == rec.topic:
            if not self.market.trading:
                return
            bids, asks = rec.current(self.market)
            rec.bids, rec.asks = {}, {}  # marks the stream as published (its state is the book's)
            conn.send_data(text_frame(self._book_message(rec, "snapshot", bids, asks,
                                                         self.market.clock.now_ms())))
            return
        if topic == self.ticker_topic:
            if not self.market.trading:
                return
            self.ticker_last = self.bmarket.ticker()
            conn.send_data(text_frame(self._ticker_message("snapshot", self.ticker_last,
                                                           self.market.clock.now_ms())))
            return
        super().on_subscribe(conn, topic)

    # ------------------------------------------------------------------ recorded messages

    def on_book(self, ev: BookEvent, bids: Levels, asks: Levels, now: int) -> None:
        """A recorded book message, already applied to the market's book."""
        hub = self.hub
        rec = self.recorded
        if rec is not None:
            if ev.snapshot and ev.u is not None and ev.u > rec.u:
                rec.u = ev.u
            else:
                rec.u += 1
            if hub.subscribed(rec.topic):
                if rec.bids is None or ev.snapshot:
                    kind = "snapshot"
                    b, a = rec.current(self.market)
                    rec.bids, rec.asks = {}, {}
                else:
                    kind = "delta"
                    b, a = dict(bids), dict(asks)
                data = {"s": self.symbol, "b": self._fmt(b, True), "a": self._fmt(a, False), "u": rec.u,
                        "seq": ev.seq if ev.seq is not None else rec.u}
                hub.publish(rec.topic, dumps({"topic": rec.topic, "type": kind, "ts": ev.ts, "data": data,
                                              "cts": ev.cts if ev.cts is not None else ev.ts}))
        for bs in self.books.values():
            if bs is rec:
                continue
            if hub.subscribed(bs.topic):
                self._publish_book(bs, now)
            else:
                bs.u += 1
        if not self.bmarket.ticker_top or not self.bmarket.has_ticker:
            self._send_top(now)

    def _fmt(self, levels: dict[int, int], bids: bool) -> list[list[str]]:
        keys = sorted(levels, reverse=bids)
        return self.market.format_levels(keys, [levels[k] for k in keys])

    def _send_top(self, now: int) -> None:
        if not self.hub.subscribed(self.ticker_topic) or not self.market.trading:
            return
        if self.ticker_last is None:
            self.ticker_last = self.bmarket.ticker()
            self.hub.publish(self.ticker_topic, self._ticker_message("snapshot", self.ticker_last, now))
            return
        top = self.bmarket.top()
        changed = {k: v for k, v in top.items() if self._top_sent.get(k) != v}
        self._top_sent = top
        if changed:
            self.hub.publish(self.ticker_topic, self._ticker_message("delta", {"symbol": self.symbol, **changed}, now))

    def on_ticker(self, ev: TickerEvent, fields: dict[str, Any]) -> None:
        """A recorded ticker message, already merged into the market's ticker."""
        if not self.hub.subscribed(self.ticker_topic) or not self.market.trading:
            return
        if ev.snapshot or self.ticker_last is None:
            self.ticker_last = self.bmarket.ticker()
            self.hub.publish(self.ticker_topic, self._ticker_message("snapshot", self.ticker_last, ev.ts, ev.cs))
        elif fields:
            self.hub.publish(self.ticker_topic, self._ticker_message("delta", {"symbol": self.symbol, **fields},
                                                                     ev.ts, ev.cs))

    def _ticker_message(self, kind: str, data: dict[str, Any], ts: int, cs: int | None = None) -> str:
        return dumps({"topic": self.ticker_topic, "type": kind, "data": data,
                      "cs": cs if cs is not None else self.market.seq, "ts": ts})

    def on_trades(self, ts: int, prints: list[Print]) -> None:
        """A recorded publicTrade message."""
        if not prints or not self.hub.subscribed(self.trade_topic):
            return
        for j in range(0, len(prints), 1024):
            data = [self.bmarket.trade_ws(p) for p in prints[j:j + 1024]]
            self.hub.publish(self.trade_topic, dumps({"topic": self.trade_topic, "type": "snapshot", "ts": ts,
                                                      "data": data}))
