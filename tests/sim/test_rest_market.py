"""Public REST endpoints through the unmodified pybit HTTP client, checked against the data and
against the shapes of Bybit's own examples."""

import time

import numpy as np
import pytest
from pybit.exceptions import InvalidRequestError
from sim_helpers import WsClient, assert_shape, example

from whale.market.resample import resample

pytestmark = pytest.mark.net

SYM = "BTCUSDT"


def test_server_time_is_the_wall_clock(http):
    before = time.time()
    r = http.get_server_time()
    after = time.time()
    assert_shape(r, example("rest_market_time.json"))
    assert before - 1 <= int(r["result"]["timeSecond"]) <= after + 1
    assert int(r["result"]["timeNano"]) // 1_000_000 == pytest.approx(r["time"], abs=5)


def test_kline_history_newest_first_with_paging(sim, http, candles):
    r = http.get_kline(category="linear", symbol=SYM, interval="1", limit=200)
    assert_shape(r, example("rest_market_kline.json"))
    rows = r["result"]["list"]
    assert len(rows) == 200
    starts = [int(x[0]) for x in rows]
    assert starts[0] == candles.ts[999] and starts == sorted(starts, reverse=True)  # history only, newest first
    assert rows[0][1:5] == [f"{v:.2f}" for v in (candles.open[999], candles.high[999], candles.low[999],
                                                 candles.close[999])]
    older = http.get_kline(category="linear", symbol=SYM, interval="1", end=starts[-1] - 1,
                           limit=1000)["result"]["list"]
    assert int(older[0][0]) == starts[-1] - 60_000 and len(older) == 800  # paged back to the file's first candle
    assert int(older[-1][0]) == candles.ts[0]
    fwd = http.get_kline(category="linear", symbol=SYM, interval="1", start=int(candles.ts[10]),
                         limit=5)["result"]["list"]
    assert [int(x[0]) for x in fwd] == list(candles.ts[10:15][::-1])  # start only: the oldest from there
    both = http.get_kline(category="linear", symbol=SYM, interval="1", start=int(candles.ts[10]),
                          end=int(candles.ts[19]), limit=1000)["result"]["list"]
    assert [int(x[0]) for x in both] == list(candles.ts[10:20][::-1])
    beyond = http.get_kline(category="linear", symbol=SYM, interval="1", start=int(candles.ts[1500]))
    assert beyond["result"]["list"] == []


@pytest.mark.parametrize("interval", ["3", "5", "15", "30", "60", "120", "240", "360", "720", "D"])
def test_kline_intervals_are_resampled_from_the_replayed_candles(sim, http, candles, interval):
    sim.step(7, timeout=10)
    closed = sim.replay_index
    rows = http.get_kline(category="linear", symbol=SYM, interval=interval, limit=1000)["result"]["list"]
    agg = resample(candles.slice(0, closed), interval)
    full = [r for r in rows if int(r[0]) in set(agg.ts.tolist())]
    assert len(full) == min(len(agg), 1000 - (len(rows) - len(full)))
    assert len(rows) - len(full) <= 1  # at most one candle still forming
    if not full:
        return
    j = np.searchsorted(agg.ts, int(full[0][0]))
    assert full[0][1:6] == [f"{agg.open[j]:.2f}", f"{agg.high[j]:.2f}", f"{agg.low[j]:.2f}", f"{agg.close[j]:.2f}",
                            f"{agg.volume[j]:.3f}"]
    if int(rows[0][0]) not in set(agg.ts.tolist()):  # the bucket still forming comes first
        assert int(rows[0][0]) > int(agg.ts[-1]) if len(agg) else True
        assert float(rows[0][4]) == pytest.approx(candles.close[closed - 1])


def test_forming_candle_is_the_first_element_while_replay_runs(make_sim, make_http, candles):
    sim = make_sim(speed=20)  # one 1m candle in 3 s
    http = make_http(sim)
    sim.advance(1)
    time.sleep(0.5)
    rows = http.get_kline(category="linear", symbol=SYM, interval="1", limit=3)["result"]["list"]
    assert int(rows[0][0]) == candles.ts[1000]  # the candle in progress
    assert float(rows[0][5]) < candles.volume[1000]  # only part of its volume so far
    assert int(rows[1][0]) == candles.ts[999]
    assert sim.wait_idle(10)
    rows = http.get_kline(category="linear", symbol=SYM, interval="1", limit=1)["result"]["list"]
    assert int(rows[0][0]) == candles.ts[1000] and float(rows[0][5]) == pytest.approx(candles.volume[1000], abs=1e-3)


def test_kline_bad_requests(http):
    with pytest.raises(InvalidRequestError) as e:
        http.get_kline(category="linear", symbol=SYM, interval="2")
    assert e.value.status_code == 10001
    with pytest.raises(InvalidRequestError):
        http.get_kline(category="linear", symbol="ETHUSDT", interval="1")
    with pytest.raises(InvalidRequestError):
        http.get_kline(category="linear", symbol=SYM, interval="1", limit=1001)


def test_tickers(sim, http, candles):
    r = http.get_tickers(category="linear", symbol=SYM)
    assert_shape(r, example("rest_market_tickers.json"))
    t = r["result"]["list"][0]
    assert t["lastPrice"] == f"{candles.close[999]:.2f}"
    assert float(t["bid1Price"]) < float(t["ask1Price"])
    assert t["fundingRate"] == "0.0001" and int(t["nextFundingTime"]) % (8 * 3_600_000) == 0
    assert http.get_tickers(category="linear")["result"]["list"][0]["symbol"] == SYM
    with pytest.raises(InvalidRequestError):
        http.get_tickers(category="spot", symbol=SYM)


@pytest.mark.parametrize("limit,expect", [(None, 25), (1, 1), (200, 200), (1000, 1000)])
def test_orderbook_limits(http, limit, expect):
    kw = {"limit": limit} if limit else {}
    r = http.get_orderbook(category="linear", symbol=SYM, **kw)
    assert_shape(r, example("rest_market_orderbook.json"))
    b, a = r["result"]["b"], r["result"]["a"]
    assert len(b) == len(a) == expect
    bp = [float(x[0]) for x in b]
    ap = [float(x[0]) for x in a]
    assert bp == sorted(bp, reverse=True) and ap == sorted(ap) and bp[0] < ap[0]


def test_orderbook_limit_out_of_range(http):
    for bad in (0, 1001):
        with pytest.raises(InvalidRequestError):
            http.get_orderbook(category="linear", symbol=SYM, limit=bad)


def test_orderbook_u_follows_the_book_whoever_subscribes(sim, http):
    """`u` matches the depth-1000 stream's and advances with the book with or without subscribers."""
    def rest_u() -> int:
        return http.get_orderbook(category="linear", symbol=SYM)["result"]["u"]

    u0 = rest_u()
    sim.step(2)
    u1 = rest_u()
    assert u1 > u0
    topic = f"orderbook.1000.{SYM}"
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe(topic)
        assert ws.recv()["data"]["u"] > u1
        sim.step(1)
        last = [m for m in ws.drain() if m.get("topic") == topic][-1]
        assert rest_u() == last["data"]["u"]
    sim.step(1)
    assert rest_u() > last["data"]["u"]


def test_instruments_info(http):
    r = http.get_instruments_info(category="linear", symbol=SYM)
    assert_shape(r, example("rest_market_instruments_info_linear.json"))
    item = r["result"]["list"][0]
    assert item["priceFilter"]["tickSize"] == "0.10" and item["lotSizeFilter"]["qtyStep"] == "0.001"
    assert item["lotSizeFilter"]["minOrderQty"] == "0.001" and item["lotSizeFilter"]["minNotionalValue"] == "5"
    assert item["leverageFilter"] == {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"}
    assert http.get_instruments_info(category="linear", status="PreLaunch")["result"]["list"] == []


def test_recent_trades_follow_the_bar_path(sim, http, candles):
    sim.step(1)
    r = http.get_public_trade_history(category="linear", symbol=SYM, limit=16)
    assert_shape(r, example("rest_market_recent_trade.json"))
    trades = r["result"]["list"]
    times = [int(t["time"]) for t in trades]
    assert times == sorted(times, reverse=True)  # newest first
    prices = [float(t["price"]) for t in trades][::-1]
    o, h, lo, c = candles.open[1000], candles.high[1000], candles.low[1000], candles.close[1000]
    assert prices[0] == pytest.approx(o) and prices[-1] == pytest.approx(c)
    assert max(prices) == pytest.approx(h) and min(prices) == pytest.approx(lo)
    first_extreme = prices.index(lo) < prices.index(h)
    assert first_extreme == (c > o or (c == o and o - lo <= h - o))  # low first on an up candle
    assert all(t["side"] in ("Buy", "Sell") for t in trades)
    assert times[-1] == candles.ts[1000] and times[0] == candles.ts[1000] + 59_999  # replay time
