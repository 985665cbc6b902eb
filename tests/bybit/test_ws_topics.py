"""The stream manager's topics for many symbols, without a connection: one public connection while
the topics fit Bybit's 21,000 characters, more past that (a symbol's topics never split), and
subscriptions sent at most 10 topics per request."""

from __future__ import annotations

from whale.bybit.endpoints import custom_endpoints
from whale.bybit.ws import (
    MAX_ARGS_CHARS,
    PUBLIC,
    SUBSCRIBE_CHUNK,
    BybitWebSocketManager,
    public_topics,
    split_connections,
)
from whale.market.state import Markets
from whale.venue.protocols import SymbolStreams


def wanted(n: int, intervals=("15", "60", "240")) -> list[SymbolStreams]:
    return [SymbolStreams(f"SYM{i:04d}USDT", intervals, 50) for i in range(n)]


def manager(streams: list[SymbolStreams], **kw) -> BybitWebSocketManager:
    markets = Markets([w.symbol for w in streams])
    return BybitWebSocketManager(custom_endpoints("http://127.0.0.1:9"), markets, streams, **kw)


def test_a_symbols_topics():
    assert public_topics(SymbolStreams("ETHUSDT", ("15", "60"), 200)) == [
        "kline.15.ETHUSDT", "kline.60.ETHUSDT", "orderbook.200.ETHUSDT", "tickers.ETHUSDT", "publicTrade.ETHUSDT"]


def test_twenty_symbols_share_one_public_connection():
    mgr = manager(wanted(20))
    public = [s for s in mgr.streams.values() if s.kind == PUBLIC]
    assert [s.name for s in public] == [PUBLIC] and len(public[0].topics) == 20 * 6
    assert set(mgr.book_topics) == {f"SYM{i:04d}USDT" for i in range(20)}


def test_past_the_args_limit_another_public_connection_opens():
    groups = [public_topics(w) for w in wanted(300)]
    conns = split_connections(groups)
    assert len(conns) >= 2
    assert all(sum(len(t) for t in c) <= MAX_ARGS_CHARS for c in conns)
    assert [t for c in conns for t in c] == [t for g in groups for t in g]  # in order, nothing lost
    for g in groups:  # a symbol's topics share one connection
        assert sum(1 for c in conns if set(g) <= set(c)) == 1
    mgr = manager(wanted(30), max_args_chars=1000)
    names = [s.name for s in mgr.streams.values() if s.kind == PUBLIC]
    assert names[:2] == [PUBLIC, f"{PUBLIC}-2"] and len(names) == len(split_connections(
        [public_topics(w) for w in wanted(30)], 1000))


def test_subscriptions_go_out_ten_topics_at_a_time():
    mgr = manager(wanted(7))
    stream = mgr.streams[PUBLIC]
    sent: list[dict] = []
    stream.send = lambda obj: sent.append(obj) or True  # type: ignore[method-assign]
    stream.subscribe(list(stream.topics))
    assert len(stream.topics) == 42 and len(sent) == 5
    assert all(m["op"] == "subscribe" and 1 <= len(m["args"]) <= SUBSCRIBE_CHUNK for m in sent)
    assert [t for m in sent for t in m["args"]] == stream.topics
    assert len(stream.pending_acks) == 5  # ready once every request is acknowledged
