"""Public WebSocket streams with a plain websocket-client connection: acks, pongs, klines,
tickers, the order book rebuilt from snapshot + deltas, public trades, walls."""

import time

import pytest
from sim_helpers import WsClient, assert_shape, example

pytestmark = pytest.mark.net

SYM = "BTCUSDT"


def test_subscribe_ack_is_delayed_and_shaped(sim):
    with WsClient(sim.public_ws_url) as ws:
        t0 = time.monotonic()
        ack = ws.subscribe("kline.1.BTCUSDT", req_id="abc")
        assert time.monotonic() - t0 >= 0.02
        assert_shape(ack, example("ws_subscribe_response_public_linear.json"))
        assert ack["success"] is True and ack["req_id"] == "abc" and ack["ret_msg"] == ""
        ack = ws.subscribe("kline.1.BTCUSDT")
        assert ack["success"] is False and "already" in ack["ret_msg"]
        ws.send({"op": "unsubscribe", "req_id": "u", "args": ["kline.1.BTCUSDT"]})
        un, _ = ws.until(lambda m: m.get("op") == "unsubscribe")
        assert un["success"] is True and un["req_id"] == "u"


@pytest.mark.parametrize("topic", ["orderbook.40.BTCUSDT", "kline.2.BTCUSDT", "tickers.ETHUSDT", "trades.BTCUSDT",
                                   "order"])
def test_bad_topics_are_rejected(sim, topic):
    with WsClient(sim.public_ws_url) as ws:
        ack = ws.subscribe(topic)
        assert ack["success"] is False and topic in ack["ret_msg"]


def test_ping_pong_shapes(sim):
    with WsClient(sim.public_ws_url) as ws:
        ws.send({"op": "ping"})
        pong = ws.recv()
        assert_shape(pong, example("ws_pong_public_linear.json"))
        assert pong["ret_msg"] == "pong" and pong["op"] == "ping"
        ws.ws.ping("x")  # a protocol ping is answered by a protocol pong
        assert ws.ws.recv_data_frame(True)[1].data == b"x"
    with WsClient(sim.private_ws_url) as ws:
        ws.send(example("ws_ping_request.json"))
        pong = ws.recv()
        assert_shape(pong, example("ws_pong_private.json"))
        assert pong["op"] == "pong" and pong["req_id"] == "100001"
        assert abs(int(pong["args"][0]) - time.time() * 1000) < 5000  # the wall clock


def test_kline_confirm_false_while_forming_then_true(make_sim, candles):
    sim = make_sim(speed=120)  # a 1m candle in half a second
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("kline.1.BTCUSDT", "kline.5.BTCUSDT")
        sim.advance(1)
        closed, before = ws.until(lambda m: m.get("topic") == "kline.1.BTCUSDT" and m["data"][0]["confirm"])
        forming = [m for m in before if m["topic"] == "kline.1.BTCUSDT"]
        assert forming and all(m["data"][0]["confirm"] is False for m in forming)
        assert_shape(closed, example("ws_kline.json"))
        k = closed["data"][0]
        assert k["start"] == candles.ts[1000] and k["end"] == candles.ts[1000] + 59_999
        assert (k["open"], k["high"], k["low"], k["close"]) == tuple(
            f"{v:.2f}" for v in (candles.open[1000], candles.high[1000], candles.low[1000], candles.close[1000]))
        assert closed["ts"] == candles.ts[1000] + 59_999  # replay time
        five = [m for m in before if m["topic"] == "kline.5.BTCUSDT"]
        assert five and not any(m["data"][0]["confirm"] for m in five)


def test_higher_interval_confirms_on_its_last_base_candle(sim, candles):
    n = next(k for k in range(1000, 1010) if (candles.ts[k] + 60_000) % 300_000 == 0) - 999
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("kline.5.BTCUSDT")
        sim.step(n)
        msgs = [m for m in ws.drain() if m.get("topic") == "kline.5.BTCUSDT"]
        assert msgs[-1]["data"][0]["confirm"] is True
        assert not any(m["data"][0]["confirm"] for m in msgs[:-1])
        assert msgs[-1]["data"][0]["end"] == candles.ts[999 + n] + 59_999


def test_tickers_snapshot_then_partial_deltas(sim):
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("tickers.BTCUSDT")
        snap = ws.recv()
        assert snap["type"] == "snapshot" and isinstance(snap["data"], dict)
        assert_shape(snap, example("ws_ticker_snapshot_linear.json"))
        sim.step(3)
        deltas = [m for m in ws.drain() if m.get("topic") == "tickers.BTCUSDT"]
        assert deltas and all(d["type"] == "delta" and isinstance(d["data"], dict) for d in deltas)
        assert_shape({k: v for k, v in deltas[0].items() if k != "data"},
                     {k: v for k, v in example("ws_ticker_delta_linear_captured.json").items() if k != "data"})
        for d in deltas:
            assert d["data"]["symbol"] == SYM
            assert set(d["data"]) < set(snap["data"])  # only what changed
        merged = dict(snap["data"])
        for d in deltas:
            merged.update(d["data"])
        assert merged["lastPrice"] == f"{sim.last_price:.2f}"


def test_ticker_deltas_match_rest_right_after_a_candle_closes(sim, http):
    """Closing a candle moves prevPrice1h and open interest; the closing flush must carry that."""
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("tickers.BTCUSDT")
        merged = dict(ws.recv()["data"])
        for _ in range(3):
            sim.step(1)
            for m in ws.drain():
                if m.get("topic") == "tickers.BTCUSDT":
                    merged.update(m["data"])
            rest = http.get_tickers(category="linear", symbol=SYM)["result"]["list"][0]
            assert {k: v for k, v in merged.items() if k in rest} == {k: rest[k] for k in merged if k in rest}


def apply_book(book: dict, msg: dict) -> None:
    if msg["type"] == "snapshot":
        book["b"], book["a"] = {}, {}
    for side in ("b", "a"):
        for price, size in msg["data"][side]:
            if size == "0":
                book[side].pop(price, None)
            else:
                book[side][price] = size
    book["u"] = msg["data"]["u"]


@pytest.mark.parametrize("depth", [50, 200])
def test_orderbook_snapshot_and_deltas_rebuild_the_simulators_book(sim, depth):
    topic = f"orderbook.{depth}.{SYM}"
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe(topic)
        snap = ws.recv()
        assert snap["type"] == "snapshot" and len(snap["data"]["b"]) == depth
        assert_shape(snap, example("ws_orderbook_snapshot.json"))
        book = {}
        apply_book(book, snap)
        sim.step(20)
        msgs = [m for m in ws.drain() if m.get("topic") == topic]
        assert msgs and all(m["type"] == "delta" for m in msgs)
        assert_shape(msgs[0], example("ws_orderbook_delta.json"))
        us = [snap["data"]["u"]] + [m["data"]["u"] for m in msgs]
        assert us == list(range(us[0], us[0] + len(us)))  # consecutive u
        seqs = [m["data"]["seq"] for m in msgs]
        assert seqs == sorted(seqs)
        for m in msgs:
            apply_book(book, m)
        own = sim.orderbook(depth)
        bids = sorted(book["b"].items(), key=lambda x: -float(x[0]))
        asks = sorted(book["a"].items(), key=lambda x: float(x[0]))
        assert [list(x) for x in bids] == own["b"] and [list(x) for x in asks] == own["a"]


def test_orderbook_depth_1_is_snapshots_only(sim):
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe(f"orderbook.1.{SYM}")
        sim.step(5)
        msgs = [m for m in ws.drain() if m.get("topic") == f"orderbook.1.{SYM}"]
        assert len(msgs) > 1 and all(m["type"] == "snapshot" and len(m["data"]["b"]) == 1 for m in msgs)


def test_public_trades(sim, candles):
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe(f"publicTrade.{SYM}")
        sim.step(1)
        msgs = [m for m in ws.drain() if m.get("topic") == f"publicTrade.{SYM}"]
        trades = [t for m in msgs for t in m["data"]]
        assert_shape(msgs[0], example("ws_public_trade.json"), extra_ok=("RPI",))
        assert set(trades[0]) == {"T", "s", "S", "v", "p", "L", "i", "BT", "RPI", "seq"}
        assert trades[0]["T"] == candles.ts[1000] and float(trades[-1]["p"]) == pytest.approx(candles.close[1000])
        assert [t["T"] for t in trades] == sorted(t["T"] for t in trades)


def test_walls_appear_erode_and_vanish(sim, candles):
    price = round(min(sim.last_price, candles.low[1000]) - 5, 1)  # below the next candle: it survives
    wid = sim.walls.add(price, 40)
    key = f"{price:.2f}"
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe(f"orderbook.200.{SYM}")
        book = {}
        apply_book(book, ws.recv())
        assert float(book["b"][key]) >= 40
        assert sim.walls.list()[0]["side"] == "Buy"
        sim.walls.erode(wid, 50, 60)  # half of it over one candle of replay time
        sim.step(1)
        for m in ws.drain():
            apply_book(book, m)
        assert 20 <= float(book["b"][key]) < 25
        sim.walls.remove(wid)
        for m in ws.drain():
            apply_book(book, m)
        assert key not in book["b"] or float(book["b"][key]) < 5
        assert sim.walls.list() == []


def test_a_wall_the_price_trades_through_is_consumed(make_sim, candles):
    k = next(k for k in range(1000, 2000) if candles.low[k] < candles.close[k - 1] - 1)
    sim = make_sim(history_candles=k)
    price = round(candles.low[k] + 0.1, 1)
    sim.walls.add(price, 40, side="Buy")
    assert len(sim.walls.list()) == 1
    sim.step(1)
    assert sim.walls.list() == []
