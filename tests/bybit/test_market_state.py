"""MarketState without sockets: closed-candle events (once each, in order, held behind a hole until
the gap fill), ticker merging, last price, private queue, wake."""

import threading

from whale.bybit.public_messages import ticker_of, trades_of
from whale.market.state import Markets, MarketState

M = 60_000
T0 = 1_700_000_040_000 - 1_700_000_040_000 % M


def k(state, i, confirm=True, interval="1", close=100.0):
    return state.on_kline(interval, T0 + i * M, 100.0, 101.0, 99.0, close + i, 5.0, confirm, T0 + i * M + M - 1)


def ts_of(events):
    return [e[1] for e in events]


def test_closed_candles_become_events_once_each_in_order():
    s = MarketState("BTCUSDT")
    assert not k(s, 0, confirm=False)
    assert s.forming("1")[0] == T0
    assert k(s, 0) and not k(s, 0)  # a repeated confirm is not a second event
    assert s.forming("1") is None
    assert k(s, 1)
    ev = s.pop_closed()
    assert ts_of(ev) == [T0, T0 + M] and ev[0][0] == "1" and ev[1][5] == 101.0
    assert s.pop_closed() == []
    assert s.closed_candles("1").ts.tolist() == [T0, T0 + M]


def test_a_candle_after_a_hole_is_held_until_the_gap_fill():
    s = MarketState("BTCUSDT")
    s.merge_closed("1", [(T0 + i * M, 1, 2, 0.5, 1.5, 3) for i in range(5)])  # history: silent seed
    assert s.pop_closed() == [] and s.last_closed_ts("1") == T0 + 4 * M
    assert k(s, 5)
    assert not k(s, 8)  # 6 and 7 never came (reconnect)
    assert s.gap_pending("1") and s.intervals_with_gaps() == ["1"]
    assert ts_of(s.pop_closed()) == [T0 + 5 * M]
    assert not k(s, 9)  # still behind the hole
    # REST gap fill returns 5..8 (it does not have 9 yet): 6, 7, 8 (REST wins over the held 8), then 9
    added = s.merge_closed("1", [(T0 + i * M, 1, 2, 0.5, 1.5, 3) for i in range(5, 9)])
    ev = s.pop_closed()
    assert added == 4 and ts_of(ev) == [T0 + i * M for i in (6, 7, 8, 9)]
    assert ev[2][5] == 1.5  # candle 8 from REST
    assert not s.gap_pending("1")
    assert k(s, 10) and ts_of(s.pop_closed()) == [T0 + 10 * M]


def test_a_hole_rest_does_not_fill_is_released_once_rest_covers_past_it():
    s = MarketState("BTCUSDT")
    k(s, 0)
    k(s, 3)  # 1 and 2 missing
    s.pop_closed()
    s.merge_closed("1", [(T0 + 3 * M, 1, 2, 0.5, 1.5, 3)])  # the exchange has no 1 and 2
    assert ts_of(s.pop_closed()) == [T0 + 3 * M] and not s.gap_pending("1")


def test_release_held_gives_up_waiting():
    s = MarketState("BTCUSDT")
    k(s, 0)
    k(s, 2)
    k(s, 3)
    s.pop_closed()
    assert s.release_held("1") == 2 and ts_of(s.pop_closed()) == [T0 + 2 * M, T0 + 3 * M]


def test_gap_fill_never_duplicates_stream_candles():
    s = MarketState("BTCUSDT")
    for i in range(3):
        k(s, i)
    s.pop_closed()
    assert s.merge_closed("1", [(T0 + i * M, 1, 2, 0.5, 1.5, 3) for i in range(4)]) == 1
    assert ts_of(s.pop_closed()) == [T0 + 3 * M]
    assert not k(s, 3)  # the stream's copy of a candle REST delivered first


def test_intervals_are_independent_and_bounded():
    s = MarketState("BTCUSDT", max_candles=3)
    for i in range(6):
        k(s, i)
    k(s, 0, interval="5")
    assert s.closed_count("1") == 3 and s.closed_candles("1", 2).ts.tolist() == [T0 + 4 * M, T0 + 5 * M]
    assert [e[0] for e in s.pop_closed()].count("5") == 1


def test_ticker_deltas_merge_and_last_price_is_the_newest():
    s = MarketState("BTCUSDT")
    bybit_ticker(s, "snapshot", {"symbol": "BTCUSDT", "lastPrice": "100.5", "fundingRate": "0.0001",
                             "bid1Price": "100.4"}, 1000)
    bybit_ticker(s, "delta", {"symbol": "BTCUSDT", "bid1Price": "100.3"}, 1100)
    t = s.ticker()
    assert t["fundingRate"] == "0.0001" and t["lastPrice"] == "100.5" and t["bid1Price"] == "100.3"
    assert s.last_price_text() == "100.5" and s.last_price_ms == 1000
    s.on_trades(trades_of([{"T": 1200, "S": "Buy", "v": "0.5", "p": "100.7"},
                           {"T": 1250, "S": "Sell", "v": "1", "p": "100.6"}]))
    assert s.last_price == 100.6 and s.last_price_ms == 1250
    bybit_ticker(s, "delta", {"symbol": "BTCUSDT", "lastPrice": "99.0"}, 1240)  # older than the trade
    assert s.last_price_text() == "100.6"
    assert s.trades(1250) == [(1250, "Sell", 1.0, 100.6)]
    assert [p for _, p in s.price_history()] == [100.5, 100.7, 100.6]
    assert s.market_time_ms() == 1250


def test_private_queue_and_wake():
    s = Markets(["BTCUSDT"])
    s.wake.clear()
    done = []

    def waiter():
        done.append(s.wake.wait(5))

    t = threading.Thread(target=waiter)
    t.start()
    s.on_private("order", [{"orderId": "1"}])
    s.on_private("execution", [{"execId": "e"}])
    t.join(5)
    assert done == [True]
    assert s.pop_private() == [("order", [{"orderId": "1"}]), ("execution", [{"execId": "e"}])]
    assert s.pop_private() == []


def test_every_symbol_of_the_account_wakes_the_one_loop_event():
    markets = Markets(["BTCUSDT", "ETHUSDT"])
    assert markets["BTCUSDT"].wake is markets["ETHUSDT"].wake is markets.wake
    markets.wake.clear()
    bybit_ticker(markets["ETHUSDT"], "snapshot", {"symbol": "ETHUSDT", "lastPrice": "2500.5"}, 1000)
    assert markets.wake.is_set() and markets["ETHUSDT"].last_price == 2500.5 and markets["BTCUSDT"].last_price is None
    assert markets["ETHUSDT"].received_at is not None and markets.market_time_ms() == 1000
    bybit_ticker(markets["BTCUSDT"], "snapshot", {"symbol": "BTCUSDT", "lastPrice": "60000"}, 900)
    assert markets.market_time_ms() == 1000  # the newest of every symbol's


def test_one_symbol_markets_time_is_its_symbols():
    markets = Markets(["BTCUSDT"])  # read without the loop over symbols
    assert markets.market_time_ms() == 0
    bybit_ticker(markets["BTCUSDT"], "snapshot", {"symbol": "BTCUSDT", "lastPrice": "60000"}, 1500)
    assert markets.market_time_ms() == markets["BTCUSDT"].market_time_ms() == 1500


def test_trades_after_a_cursor_keeps_batches_sharing_a_millisecond():
    """Two publicTrade batches in the same millisecond: a timestamp cursor (since last ms + 1) drops
    the second; the sequence cursor returns both, each once."""
    s = MarketState("BTCUSDT", max_trades=5)
    cursor = s.trade_cursor()
    s.on_trades(trades_of([{"T": T0, "S": "Sell", "v": "1", "p": "100"}]))
    first, cursor = s.trades_after(cursor)
    assert [t[2] for t in first] == [1.0]
    s.on_trades(trades_of([{"T": T0, "S": "Sell", "v": "2", "p": "99"}, {"T": T0, "S": "Sell", "v": "3", "p": "98"}]))
    second, cursor = s.trades_after(cursor)
    assert [t[2] for t in second] == [2.0, 3.0]
    assert s.trades_after(cursor) == ([], cursor)
    # More trades than the store keeps between two reads: the newest ones, none twice.
    s.on_trades(trades_of([{"T": T0 + 1, "S": "Buy", "v": str(i), "p": "100"} for i in range(10, 18)]))
    burst, cursor = s.trades_after(cursor)
    assert [t[2] for t in burst] == [13.0, 14.0, 15.0, 16.0, 17.0]


def bybit_ticker(state, kind: str, data: dict, ts: int) -> None:
    """A Bybit tickers message into the venue-neutral MarketState."""
    state.on_ticker(*ticker_of({"type": kind, "data": data, "ts": ts}))


def test_the_feed_is_idle_exactly_when_nothing_is_held_or_reconnected():
    """MarketFeed.idle() (the loop's test on every pass) reads Markets.counts.holds instead of looking at every
    series: it must agree with the look, and a candle held after a clean look must end it."""
    from whale.market.feed import MarketFeed
    from whale.venue.protocols import PRIVATE, PUBLIC

    markets = Markets(["BTCUSDT", "ETHUSDT"])
    feed = MarketFeed(None, markets, [])  # type: ignore[arg-type] - no REST read is made here
    btc, eth = markets["BTCUSDT"], markets["ETHUSDT"]

    def held() -> bool:  # the slow look
        return any(m.held_candles for m in markets)

    assert feed.idle() and feed.maintain() == 0 and not held()
    k(btc, 0)
    k(btc, 1)
    assert feed.idle() and not held()  # in order: nothing held
    k(eth, 0)
    k(eth, 2)  # a hole before it: held
    assert held() and not feed.idle()
    assert eth.release_held("1") == 1 and not held()
    assert not feed.idle()  # the count moved since the last look ...
    assert feed.maintain() == 0 and feed.idle()  # ... which finds nothing held: idle again
    k(btc, 3)  # held after a clean look
    assert held() and not feed.idle() and feed.gap_fill_pending
    btc.release_held("1")
    assert feed.maintain() == 0 and feed.idle()
    feed.on_reconnect(PRIVATE)
    assert not feed.idle() and feed.private_reconnected() and feed.idle()
    feed.on_reconnect(PUBLIC)
    assert not feed.idle() and feed.gap_fill_pending


def test_every_closed_candle_event_moves_the_closes_count():
    """The loop skips its closed-candle step while Markets.counts.closes stands still: every way a
    closed-candle event is made (a kline in order, a gap fill, a release) must move it."""
    markets = Markets(["BTCUSDT", "ETHUSDT"])
    btc, eth = markets["BTCUSDT"], markets["ETHUSDT"]
    seen = markets.counts.closes

    def new_events() -> int:
        nonlocal seen
        moved, seen = markets.counts.closes - seen, markets.counts.closes
        return moved

    k(btc, 0)
    k(eth, 0)
    assert new_events() == 2 == len(btc.pop_closed()) + len(eth.pop_closed())
    k(btc, 0)  # a duplicate: no event, no move
    k(btc, 1, confirm=False)  # forming: no event
    assert new_events() == 0 and btc.pop_closed() == []
    k(btc, 3)  # held behind a hole: no event yet
    assert new_events() == 0 and btc.pop_closed() == []
    assert btc.merge_closed("1", [(T0 + i * M, 1, 2, 0.5, 1.5, 3) for i in range(3)]) == 3  # 1, 2 and the held 3
    assert new_events() == 3 == len(btc.pop_closed())
    k(eth, 2)
    assert eth.release_held("1") == 1 and new_events() == 1 == len(eth.pop_closed())


def test_trades_as_floats_are_kept_as_the_same_trades_as_text():
    """on_trades' fast path (a replay's (ms, side, size, price) tuples of floats, kept as they are) keeps what
    the venue's text gives: the same trades, cursor, last price, price history and market time; a value that
    cannot be true is refused either way, whatever form it comes in."""
    rows = [(T0, "Buy", "0.5", "100.7"), (T0 + 5, "Sell", "1", "100.6"), (T0 + 5, "Sell", "2", "nan"),
            (T0 + 3, "Buy", "-1", "100.0"), (T0 + 4, "Buy", "0", "100.4"), (T0 + 9, "", "0.25", "100.9")]
    text, floats, mixed = MarketState("BTCUSDT"), MarketState("BTCUSDT"), MarketState("BTCUSDT")
    text.on_trades(rows)
    floats.on_trades([(ms, side, float(v), float(p)) for ms, side, v, p in rows])
    mixed.on_trades([[ms, side, float(v), p] for ms, side, v, p in rows])  # lists, text prices
    for s in (text, floats, mixed):
        assert s.trades() == [(T0, "Buy", 0.5, 100.7), (T0 + 5, "Sell", 1.0, 100.6), (T0 + 4, "Buy", 0.0, 100.4),
                              (T0 + 9, "", 0.25, 100.9)]
        assert all(type(t) is tuple for t in s.trades())
        assert s.trades_after(0) == (s.trades(), 4)
        assert s.price_history() == [(T0, 100.7), (T0 + 5, 100.6), (T0 + 4, 100.4), (T0 + 9, 100.9)]
        assert (s.last_price, s.last_price_ms, s.market_time_ms()) == (100.9, T0 + 9, T0 + 9)
        assert s.bad_data.total == 2
    assert text.last_price_text() == "100.9" and floats.last_price_text() == "100.9"
    floats.on_trades([(T0 + 7, "Buy", 1.0, 99.0)])  # older than the last price: kept, the last price stays
    assert (floats.last_price, floats.last_price_ms, floats.trades_after(4)) == (100.9, T0 + 9,
                                                                                ([(T0 + 7, "Buy", 1.0, 99.0)], 5))
