"""Exchange data that cannot be right is refused where it enters (issue 9, items 6 and 7): the shape
of private messages, market values that are not finite, prices of 0, negative volumes. Each is
skipped and reported; the valid items of the same message still go through; repeats raise one
alert. Through the real WebSocket manager against the simulator's bad-data faults, and the
parsers and the feature buffer's guard directly."""

from __future__ import annotations

import logging
import math
from decimal import Decimal

import numpy as np
import pytest
from bybit_helpers import SYM, wait_for

from whale.bybit.private_messages import check_items
from whale.bybit.public_messages import ticker_of, trades_of
from whale.bybit.rest import kline_rows, new_link_id
from whale.bybit.ws import PRIVATE
from whale.config.model import Config
from whale.errors import BadInputError
from whale.market.candles import Candles
from whale.market.data_checks import BadData, BadValue, candle, price, size
from whale.market.state import Markets, MarketState
from whale.sim.faults import BAD_MARKET_KINDS, BAD_PRIVATE_KINDS, parse_faults
from whale.strategy.analyzer import Analyzer

EXEC = {"symbol": SYM, "execType": "Trade", "execTime": "1700000000000", "execId": "e1", "orderId": "o1",
        "orderLinkId": "", "side": "Sell", "execQty": "0.010", "execPrice": "95900.1", "execFee": "0.52",
        "closedSize": "0.010", "leavesQty": "0", "stopOrderType": "StopLoss", "createType": "CreateByStopLoss"}


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


# ---------------------------------------------------------------------------------- private shapes


@pytest.mark.parametrize(("data", "problem"), [
    ([None], "data[0] is null, not an object"),
    ({"symbol": SYM}, "data is an object, not a list of objects"),
    ("oops", "data is the string 'oops', not a list of objects"),
    (None, "data is null, not a list of objects"),
    ([{"symbol": SYM}], "data[0] execType is missing"),
    ([dict(EXEC, execQty="abc")], "data[0] execQty is 'abc', not a number"),
    ([dict(EXEC, execPrice="NaN")], "data[0] execPrice is 'NaN', not a number"),
    ([dict(EXEC, execFee=True)], "data[0] execFee is true, not a number"),
    ([dict(EXEC, closedSize="-1")], "data[0] closedSize is '-1', negative"),
    ([dict(EXEC, execPrice="0")], "data[0] execPrice is '0', not above 0"),
    ([dict(EXEC, symbol=5)], "data[0] symbol is the number 5, not a string"),
    ([dict(EXEC, execTime="1.5")], "data[0] execTime is '1.5', not a whole number"),
    ([{k: v for k, v in EXEC.items() if k != "orderId"}], "data[0] orderId is missing"),
])
def test_a_wrong_shape_execution_is_described(data, problem):
    assert check_items("execution", data) == ([], [problem])


def test_the_valid_items_of_a_message_are_kept():
    funding = {"symbol": SYM, "execType": "Funding", "execTime": "1", "execFee": "-0.01", "execQty": "",
               "execPrice": ""}
    good, problems = check_items("execution", [None, EXEC, {"symbol": SYM}, funding])
    assert good == [EXEC, funding]
    assert problems == ["data[0] is null, not an object", "data[2] execType is missing"]


@pytest.mark.parametrize(("topic", "item", "problem"), [
    ("order", {"symbol": SYM, "orderStatus": "New"}, "orderId is missing"),
    ("order", {"symbol": SYM, "orderId": "1", "orderStatus": "New", "qty": [1]}, "qty is a list, not a number"),
    ("position", {"symbol": SYM, "side": "Buy"}, "size is missing"),
    ("position", {"symbol": SYM, "size": "1", "stopLoss": "x"}, "stopLoss is 'x', not a number"),
    ("position", {"symbol": SYM, "size": "1", "positionIdx": "one"}, "positionIdx is 'one', not a number"),
    ("wallet", {"totalEquity": "1"}, "accountType is missing"),
    ("wallet", {"accountType": "UNIFIED", "coin": [None]}, "coin [0] is null, not an object"),
    ("wallet", {"accountType": "UNIFIED", "coin": [{"coin": "USDT", "walletBalance": "?"}]},
     "coin [0] walletBalance is '?', not a number"),
])
def test_each_private_topic_has_its_shape(topic, item, problem):
    assert check_items(topic, [item]) == ([], [f"data[0] {problem}"])


def test_bybits_own_shapes_pass():
    """Items as Bybit documents them (docs/bybit.md): "" for unset numbers, ints where Bybit sends ints."""
    order = {"symbol": SYM, "orderId": "5cf9", "side": "Sell", "orderType": "Market", "price": "72.5", "qty": "1",
             "orderStatus": "Filled", "orderLinkId": "", "leavesQty": "", "cumExecQty": "1", "avgPrice": "75",
             "positionIdx": 0, "takeProfit": "", "stopLoss": "", "triggerPrice": "", "reduceOnly": False}
    position = {"positionIdx": 2, "symbol": SYM, "side": "", "size": "0", "entryPrice": "0", "leverage": "10",
                "markPrice": "28184.5", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
                "unrealisedPnl": "0", "createdTime": "1694402496913", "updatedTime": "1697682317038", "liqPrice": ""}
    wallet = {"accountType": "UNIFIED", "totalEquity": "10262.91335023", "totalPerpUPL": "0",
              "coin": [{"coin": "BTC", "walletBalance": "0.00102964", "availableToBorrow": ""}]}
    for topic, item in (("execution", EXEC), ("order", order), ("position", position), ("wallet", wallet)):
        assert check_items(topic, [item]) == ([item], []), topic


# ---------------------------------------------------------------------------------- market values


def test_market_values_that_cannot_be_true():
    assert price("95000.5", "lastPrice") == 95000.5 and size("0", "volume") == 0.0
    for bad, what in (("NaN", "not a finite number"), ("inf", "not a finite number"), ("-Infinity", "not a finite"),
                      ("0", "not a price above 0"), ("-1", "not a price above 0"), ("abc", "not a number"),
                      (None, "not a number"), (True, "not a number")):
        with pytest.raises(BadValue, match=what):
            price(bad, "lastPrice")
    with pytest.raises(BadValue, match="volume '-0.5' is negative"):
        size("-0.5", "volume")
    with pytest.raises(BadValue, match="kline close 'nan' is not a finite number"):
        candle("1", "2", "0.5", "nan", "1")


def test_market_state_keeps_out_what_cannot_be_true():
    clock = Clock()
    alerts: list[str] = []
    market = MarketState(SYM, monotonic=clock, bad_data=BadData(logging.getLogger("t"), alert=alerts.append,
                                                                 monotonic=clock))
    assert market.on_kline("1", 0, "100", "101", "99", "100.5", "3", True)
    assert not market.on_kline("1", 60_000, "100", "101", "99", "NaN", "3", True)
    assert not market.on_kline("1", 60_000, "100", "101", "99", float("inf"), "3", True)
    assert not market.on_kline("1", 60_000, "100", "101", "99", "100", "-3", True)
    assert market.on_kline("1", 60_000, "100", "101", "99", "100.7", "3", True)  # the real one still counts
    assert [e[1] for e in market.pop_closed()] == [0, 60_000]
    bybit_ticker(market, "snapshot", {"symbol": SYM, "lastPrice": "100.5"}, 1)
    bybit_ticker(market, "delta", {"symbol": SYM, "lastPrice": "0", "bid1Price": "1"}, 2)
    assert market.last_price == 100.5 and market.ticker().get("bid1Price") is None
    market.on_trades(trades_of([{"T": 3, "S": "Buy", "v": "1", "p": "0"}, {"T": 3, "S": "Buy", "v": "-1", "p": "100"},
                      {"T": 3, "S": "Sell", "v": "2", "p": "100.6"}]))
    assert market.last_price == 100.6 and [t[2:] for t in market.trades()] == [(2.0, 100.6)]
    assert [p for _, p in market.price_history()] == [100.5, 100.6]
    assert market.merge_closed("1", [(120_000, 100.0, 101.0, 99.0, math.nan, 1.0), (120_000 + 60_000, 1, 1, 1, 1, 1)])
    assert market.bad_data.total == 7 and len(alerts) == 1
    assert alerts[0].startswith("3 bad messages from the exchange within 60 s, all skipped (latest: ")


def test_repeats_raise_one_alert_per_window():
    clock = Clock()
    alerts: list[str] = []
    bad = BadData(logging.getLogger("t"), alert=alerts.append, monotonic=clock)
    for _ in range(10):
        bad.refuse("kline.1.BTCUSDT", "close 'NaN'")
        clock.t += 1.0
    assert len(alerts) == 1
    clock.t += 61.0
    bad.refuse("tickers.BTCUSDT", "lastPrice '0'")
    assert len(alerts) == 1  # one alone after a quiet minute is logged, not alerted
    bad.refuse("tickers.BTCUSDT", "lastPrice '0'")
    bad.refuse("tickers.BTCUSDT", "lastPrice '0'")
    assert len(alerts) == 2 and bad.total == 13 and bad.by_source == {"kline.1.BTCUSDT": 10, "tickers.BTCUSDT": 3}


def test_rest_kline_rows_that_cannot_be_true_are_skipped():
    bad = BadData(logging.getLogger("t"))
    items = [["180000", "1", "2", "0.5", "1.5", "10", "15"], ["120000", "1", "2", "0.5", "NaN", "10", "0"],
             ["60000", "1", "2", "0.5", "1", "-1", "0"], ["0", "0", "2", "0.5", "1", "1", "0"], ["x"], None]
    assert kline_rows(items, "REST kline.1.BTCUSDT", bad) == [(180000, 1.0, 2.0, 0.5, 1.5, 10.0)]
    assert bad.total == 5


def test_the_feature_buffer_refuses_a_candle_that_cannot_be_true():
    a = Analyzer(Config(), "15", capacity=64)
    a.on_closed_candle(0, 100.0, 101.0, 99.0, 100.5, 3.0)
    assert a.buffer.n == 1
    for o, h, lo, c, v, what in ((100, 101, 99, math.nan, 3, "close nan"), (100, math.inf, 99, 100, 3, "high inf"),
                                 (0, 101, 99, 100, 3, "open 0.0"), (100, 101, 99, 100, -1, "volume -1.0")):
        with pytest.raises(ValueError, match=f"candle 900000: {what} cannot enter the feature buffer"):
            a.on_closed_candle(900_000, o, h, lo, c, v)
        assert a.buffer.n == 1  # nothing was appended
    assert a.mtf is not None and a.mtf.trends  # the higher-timeframe buffers have the same guard
    for interval, trend in a.mtf.trends.items():
        with pytest.raises(ValueError, match="close nan cannot enter the feature buffer"):
            trend.add(Candles.from_arrays([0], [100.0], [101.0], [99.0], [math.nan], [1.0], interval))
        assert trend.count == 0
    a.on_closed_candle(900_000, 100.0, 101.0, 99.0, 100.2, 3.0)
    assert a.buffer.n == 2 and np.isfinite(a.buffer.X[a.buffer.rows["close"], :2]).all()


# ---------------------------------------------------------------------------------- the simulator's faults


def test_the_fault_spec():
    spec = parse_faults("bad_private_every=3,bad_market_every=5")
    assert (spec.bad_private_every, spec.bad_market_every) == (3, 5)
    with pytest.raises(BadInputError):
        parse_faults("bad_market_every=0")
    assert len(BAD_PRIVATE_KINDS) == 4 and len(BAD_MARKET_KINDS) == 4


@pytest.mark.net
def test_wrong_shape_private_messages_through_the_websocket_manager(sim, make_ws, make_rest):
    """Every kind of wrong-shape message on every private topic, then real messages carrying bad
    items before their real ones: only the real items reach the queue, each bad one is reported."""
    markets = Markets([SYM])
    market = markets[SYM]
    ws = make_ws(sim, markets).start()
    assert ws.wait_ready(5, (PRIVATE,))
    assert sim.faults.send_bad_private() == 16
    wait_for(lambda: market.bad_data.total >= 16)
    assert markets.pop_private() == [] and ws.stats()["malformed"] == {}
    sim.faults.corrupt_private(4)
    rest = make_rest(sim)
    link = new_link_id("entry")
    rest.place_order(SYM, "Buy", Decimal("0.010"), link_id=link)
    wait_for(lambda: {"order", "execution", "position", "wallet"} <= {t for t, _ in markets.private})
    updates = markets.pop_private()
    assert all(item is not None and isinstance(item, dict) for _, items in updates for item in items)
    execution = [i for t, items in updates if t == "execution" for i in items]
    assert [(e["orderLinkId"], e["execQty"]) for e in execution] == [(link, "0.010")]
    assert market.bad_data.total >= 16 + 4 * 2 + 4  # each corrupted message: a null and a non-numeric item


@pytest.mark.net
def test_impossible_market_values_through_the_websocket_manager(sim, make_ws, candles):
    alerts: list[str] = []
    markets = Markets([SYM])
    market = markets[SYM]
    market.bad_data.alert = alerts.append
    ws = make_ws(sim, markets, keys=False).start()
    assert ws.wait_ready(5)
    wait_for(lambda: market.last_price is not None)
    for n, kind in enumerate(BAD_MARKET_KINDS, start=1):
        sim.faults.send_bad_market(kind)
        sim.step(1)
        wait_for(lambda want=n: market.bad_data.total >= want)
    sim.step(1)
    wait_for(lambda: market.last_closed_ts("1") == candles.ts[1004])
    closed = [e for e in market.pop_closed() if e[0] == "1"]
    assert [e[1] for e in closed] == candles.ts[1000:1005].tolist()  # each real candle once, none lost
    assert [e[5] for e in closed] == candles.close[1000:1005].tolist()
    assert all(p > 0 for _, p in market.price_history()) and market.last_price > 0
    assert market.bad_data.total == 4 and len(alerts) == 1 and ws.stats()["malformed"] == {}


def bybit_ticker(state, kind: str, data: dict, ts: int) -> None:
    """A Bybit tickers message into the venue-neutral MarketState."""
    state.on_ticker(*ticker_of({"type": kind, "data": data, "ts": ts}))
