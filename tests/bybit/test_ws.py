"""BybitWebSocketManager against the simulator: the book, tickers, candles, private auth, reconnects
with gap fill, staleness, malformed messages, failed subscriptions, secrets."""

import time
from decimal import Decimal

import pytest
from bybit_helpers import KEY, SECRET, SYM, wait_for

from tests.bybit.venue_data import market_data
from whale.bybit.rest import new_link_id
from whale.bybit.ws import PRIVATE, PUBLIC
from whale.market.feed import MarketFeed
from whale.market.state import Markets

pytestmark = pytest.mark.net


def own_book(sim, depth):
    own = sim.orderbook(depth)
    return {"b": [[float(p), float(s)] for p, s in own["b"]], "a": [[float(p), float(s)] for p, s in own["a"]]}


def book_equals_sim(market, sim, depth, timeout=5.0):
    def same():
        return market.book.ready and market.snapshot_book(depth).bid_px.size == depth and \
            _lists(market, depth) == own_book(sim, depth)
    wait_for(same, timeout)


def _lists(market, depth):
    s = market.snapshot_book(depth)
    return {"b": [[p, q] for p, q in zip(s.bid_px.tolist(), s.bid_sz.tolist(), strict=True)],
            "a": [[p, q] for p, q in zip(s.ask_px.tolist(), s.ask_sz.tolist(), strict=True)]}


@pytest.mark.parametrize("depth", [50, 200])
def test_book_equals_the_simulators_through_snapshots_restarts_and_absent_deletes(sim, make_ws, depth):
    markets = Markets([SYM])
    market = markets[SYM]
    ws = make_ws(sim, markets, keys=False, book_depth=depth).start()
    assert ws.wait_ready(5)
    wait_for(lambda: market.book.ready)
    sim.step(8)
    book_equals_sim(market, sim, depth)
    sim.faults.book_snapshot()  # a mid-stream snapshot replaces the book
    sim.step(3)
    book_equals_sim(market, sim, depth)
    assert market.book.snapshots >= 2
    sim.faults.book_restart()  # u = 1: Bybit restarted the service
    wait_for(lambda: market.book.restarts == 1)
    sim.step(3)
    book_equals_sim(market, sim, depth)
    sim.faults.book_delete_absent()  # a delete of a level we do not hold is ignored
    sim.step(3)
    book_equals_sim(market, sim, depth)
    assert ws.resyncs == 0 and market.book.gaps == 0 and ws.stats()["malformed"] == {}
    # a gap in u (simulated by corrupting our stored u): resubscribe, fresh snapshot, equal again
    with market._lock:
        market.book.u -= 3
    sim.step(2)
    wait_for(lambda: ws.resyncs == 1)
    sim.step(2)
    book_equals_sim(market, sim, depth)
    assert market.book.gaps == 1 and ws.streams[PUBLIC].connected


def test_ticker_deltas_are_merged_and_candles_close_once(sim, make_ws, candles):
    markets = Markets([SYM])
    market = markets[SYM]
    ws = make_ws(sim, markets, keys=False, higher_intervals=("5", "15")).start()
    assert ws.wait_ready(5)
    snap = wait_for(lambda: market.ticker())
    assert "fundingRate" in snap and "openInterest" in snap
    sim.step(12)
    wait_for(lambda: market.last_closed_ts("1") == candles.ts[1011])
    t = market.ticker()
    assert set(snap) <= set(t)  # no field lost to a delta
    assert t["fundingRate"] == snap["fundingRate"] and t["lastPrice"] == f"{sim.last_price:.2f}"
    assert market.last_price_text() == f"{sim.last_price:.2f}"
    events = market.pop_closed()
    ones = [e for e in events if e[0] == "1"]
    assert [e[1] for e in ones] == candles.ts[1000:1012].tolist()  # each closed 1m candle once, in order
    assert [e[2:6] for e in ones] == [(candles.open[i], candles.high[i], candles.low[i], candles.close[i])
                                      for i in range(1000, 1012)]
    fives = [e[1] for e in events if e[0] == "5"]
    assert fives == sorted(set(fives)) and len(fives) >= 2
    assert all((ts + 300_000) <= candles.ts[1011] + 60_000 for ts in fives)
    forming = market.forming("15")
    assert forming is None or forming[0] > market.last_closed_ts("15") if market.last_closed_ts("15") else True
    assert len(market.trades()) >= 12 * 16 and market.price_history()


def test_private_auth_acknowledged_before_subscribing(sim, make_ws, make_rest):
    markets = Markets([SYM])
    ws = make_ws(sim, markets).start()
    assert ws.wait_ready(5, (PRIVATE,))
    events = [e for _, e in ws.streams[PRIVATE].trace]
    assert events[:5] == ["open", "auth_sent", "auth_ok", "subscribe_sent", "subscribed"]
    rest = make_rest(sim)
    rest.place_order(SYM, "Buy", Decimal("0.010"), link_id=new_link_id("entry"))
    wait_for(lambda: {"order", "execution", "position", "wallet"} <= {t for t, _ in markets.private})
    updates = markets.pop_private()
    order = next(d for t, d in updates if t == "order")
    assert order[0]["orderStatus"] in ("New", "Filled")
    assert [t for t, _ in updates].index("order") < len(updates)


def test_refused_auth_never_subscribes_and_never_logs_secrets(sim, make_ws, capture_logs):
    markets = Markets([SYM])
    ws = make_ws(sim, markets)
    ws.api_secret = "NOT-THE-SECRET-0123456789"
    ws.start()
    wait_for(lambda: ws.auth_error() is not None)
    events = [e for _, e in ws.streams[PRIVATE].trace]
    assert "auth_refused" in events and "subscribe_sent" not in events
    assert not ws.ready(PRIVATE) and ws.wait_ready(5, (PUBLIC,))
    logs = capture_logs.text()
    assert "authentication refused" in logs
    assert KEY not in logs and SECRET not in logs and "NOT-THE-SECRET-0123456789" not in logs


def test_dropped_connections_reconnect_resubscribe_and_gap_fill(sim, make_ws, make_rest, candles):
    markets = Markets([SYM])
    market = markets[SYM]
    rest = make_rest(sim)
    calls = []
    feeds = []

    def on_reconnect(stream):
        calls.append(stream)
        feeds[0].on_reconnect(stream)

    ws = make_ws(sim, markets, on_reconnect=on_reconnect, higher_intervals=("5",))
    feed = MarketFeed(market_data(rest, ws), markets, ws.wanted)
    feeds.append(feed)
    ws.start()
    assert ws.wait_ready(5)
    assert len(feed.fetch_klines(SYM, "1", 200)) == 200  # history: seeds the store silently
    sim.step(2)
    wait_for(lambda: market.last_closed_ts("1") == candles.ts[1001])
    assert sim.faults.drop_connections("all") == 2
    sim.step(3)  # these close while we are disconnected
    wait_for(lambda: sorted(calls) == [PRIVATE, PUBLIC], timeout=8)
    assert ws.wait_ready(5) and ws.streams[PUBLIC].reconnects == 1 and ws.streams[PRIVATE].reconnects == 1
    private_events = [e for _, e in ws.streams[PRIVATE].trace]
    assert private_events.count("auth_ok") == 2 and private_events.count("subscribed") == 2
    sim.step(1)  # arrives over the stream, after a hole: held until the gap fill
    wait_for(lambda: market.gap_pending("1"))
    assert feed.maintain() >= 3
    sim.step(1)
    wait_for(lambda: market.last_closed_ts("1") == candles.ts[1006])
    ones = [e[1] for e in market.pop_closed() if e[0] == "1"]
    assert ones == candles.ts[1000:1007].tolist()  # nothing missed, nothing twice, in order
    assert not market.gap_pending("1")
    assert feed.private_reconnected() and not feed.private_reconnected()  # once per reconnect
    assert not feed.gap_fill_pending
    book_equals_sim(market, sim, 50)  # the book came back with the resubscription
    rest.place_order(SYM, "Buy", Decimal("0.010"), link_id=new_link_id("entry"))
    wait_for(lambda: any(t == "execution" for t, _ in markets.private))  # private stream subscribed again


def test_a_stalled_stream_is_detected_and_reconnected(make_sim, make_ws):
    sim = make_sim(lockstep=False, speed=60)  # a candle per second: data every ~60 ms
    markets = Markets([SYM])
    ws = make_ws(sim, markets, stale_after_s=1.0).start()
    assert ws.wait_ready(5)
    wait_for(lambda: ws.message_age(PUBLIC) is not None and not ws.stale(PUBLIC))
    sim.faults.stall("public")  # the socket stays open, pongs flow, no data
    t0 = time.monotonic()
    wait_for(lambda: ws.stale(PUBLIC), timeout=3)
    assert time.monotonic() - t0 < 1.8
    wait_for(lambda: ws.streams[PUBLIC].stale_cuts >= 1, timeout=3)
    sim.faults.resume()
    wait_for(lambda: ws.streams[PUBLIC].reconnects >= 1 and not ws.stale(PUBLIC), timeout=6)
    # the private stream goes silent, pongs included: detected too
    sim.faults.stall("private", silent=True)
    wait_for(lambda: ws.streams[PRIVATE].stale_cuts >= 1, timeout=4)
    sim.faults.resume()
    wait_for(lambda: ws.ready(PRIVATE), timeout=6)


def test_malformed_messages_are_logged_once_and_skipped(sim, make_ws, candles, capture_logs):
    markets = Markets([SYM])
    market = markets[SYM]
    ws = make_ws(sim, markets).start()
    assert ws.wait_ready(5)
    for _ in range(3):
        assert sim.faults.send_malformed("public") == 1
        assert sim.faults.send_malformed("private") == 1
    wait_for(lambda: sum(ws.malformed.values()) == 6)
    assert ws.connected(PUBLIC) and ws.connected(PRIVATE)
    warnings = [line for line in capture_logs.lines if "malformed" in line and "WARNING" in line]
    assert len(warnings) == 2  # once per stream and kind
    sim.step(1)
    wait_for(lambda: market.last_closed_ts("1") == candles.ts[1000])  # still alive
    assert ws.streams[PUBLIC].reconnects == 0


def test_a_refused_subscription_is_logged_not_fatal(sim, make_ws, capture_logs):
    markets = Markets([SYM])
    market = markets[SYM]
    ws = make_ws(sim, markets, keys=False, higher_intervals=("2",)).start()  # kline.2 is no topic
    assert ws.wait_ready(5)
    wait_for(lambda: market.book.ready)
    assert "subscribe refused" in capture_logs.text() and ws.connected(PUBLIC)
