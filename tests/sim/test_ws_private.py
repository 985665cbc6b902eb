"""Private streams after `op: auth`: order, execution, position and wallet pushes, shaped as
Bybit's examples; a position push after every create/amend/cancel, a wallet push only when the
balance changes."""

import pytest
from sim_helpers import WsClient, assert_shape, example

pytestmark = pytest.mark.net

L = {"category": "linear", "symbol": "BTCUSDT"}


def topics(msgs):
    return [m["topic"] for m in msgs if "topic" in m]


def test_pushes_after_a_market_order(sim, http):
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        ack = ws.subscribe("order", "execution", "position", "wallet")
        assert_shape(ack, example("ws_subscribe_response_private.json"), extra_ok=("req_id",))
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="ws-1")
        msgs = ws.drain()
        got = {m["topic"]: m for m in msgs}
        assert set(got) == {"order", "execution", "position", "wallet"}
        assert_shape(got["order"], example("ws_private_order.json"), extra_ok=("isLeverage", "createType"))
        assert_shape(got["execution"], example("ws_private_execution.json"))
        assert_shape(got["position"], example("ws_private_position.json"))
        assert_shape(got["wallet"], example("ws_private_wallet.json"))
        o = got["order"]["data"][0]
        assert (o["orderLinkId"], o["orderStatus"], o["category"]) == ("ws-1", "Filled", "linear")
        assert got["execution"]["data"][0]["execQty"] == "0.010"
        p = got["position"]["data"][0]
        assert p["size"] == "0.010" and p["entryPrice"] == got["execution"]["data"][0]["execPrice"]
        assert got["order"]["creationTime"] == sim.replay_time_ms


def test_a_market_order_pushes_its_position_once(sim, http):
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        ws.subscribe("position")
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
        msgs = [m for m in ws.drain() if m.get("topic") == "position"]
    assert len(msgs) == 1 and [d["size"] for d in msgs[0]["data"]] == ["0.010"]


def test_position_after_every_action_wallet_only_on_balance_change(sim, http):
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        ws.subscribe("order", "position", "wallet")
        last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
        oid = http.place_order(**L, side="Buy", orderType="Limit", qty="0.01",
                               price=f"{last - 500:.1f}")["result"]["orderId"]
        assert topics(ws.drain()) == ["order", "position"]
        http.amend_order(**L, orderId=oid, qty="0.02")
        assert topics(ws.drain()) == ["order", "position"]
        http.cancel_order(**L, orderId=oid)
        msgs = ws.drain()
        assert topics(msgs) == ["order", "position"] and msgs[0]["data"][0]["orderStatus"] == "Cancelled"
        sim.set_balance(1234.5)
        msgs = ws.drain()
        assert topics(msgs) == ["wallet"] and msgs[0]["data"][0]["totalWalletBalance"] == "1234.5"


def test_categorised_topics(sim, http):
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        assert ws.subscribe("order.linear", "execution.linear")["success"] is True
        http.place_order(**L, side="Sell", orderType="Market", qty="0.01")
        assert set(topics(ws.drain())) == {"order.linear", "execution.linear"}
        assert ws.subscribe("position", "position.linear")["success"] is False  # not mixed


def test_stop_triggered_during_replay_is_pushed(sim, http, candles):
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
    last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    j = next(k for k in range(1000, 1300) if candles.low[k] < last - 20)
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, stopLoss=f"{last - 20:.1f}")
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        ws.subscribe("order", "position")
        sim.step(j - 999)
        msgs = ws.drain()
        orders = [d for m in msgs if m["topic"] == "order" for d in m["data"]]
        assert [o["orderStatus"] for o in orders if o["stopOrderType"] == "StopLoss"][-2:] == ["Triggered", "Filled"]
        assert [m for m in msgs if m["topic"] == "position"][-1]["data"][0]["size"] == "0.000"
