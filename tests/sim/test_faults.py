"""Every fault, from a SPEC string and at run time."""

import json
import time

import pytest
import requests
import websocket
from pybit.exceptions import FailedRequestError, InvalidRequestError
from sim_helpers import WsClient, assert_shape, example, signed

from whale.errors import BadInputError
from whale.sim import parse_faults

pytestmark = pytest.mark.net

L = {"category": "linear", "symbol": "BTCUSDT"}
REALTIME = "/v5/order/realtime"


def test_spec_parsing():
    spec = parse_faults("drop_ws_every=500, order_timeout_after=1,rate_limit=order/create:5,"
                        "rate_limit=/v5/order/amend:2/0.5,delay=*:100,delay=market/kline:50,order_5xx_before=*3")
    assert spec.drop_ws_every == 500 and spec.rate_limits == {"order/create": (5, 1.0), "order/amend": (2, 0.5)}
    assert spec.delays_ms == {"*": 100, "market/kline": 50}
    assert [(f.kind, f.when, f.nth, f.every) for f in spec.order_faults] == [("timeout", "after", 1, False),
                                                                          ("5xx", "before", 3, True)]
    for bad in ("nope=1", "drop_ws_every=0", "drop_ws_every", "drop_ws_mode=explode", "rate_limit=order/create:x",
                "ws_stream=both", "delay=market/time:-5"):
        with pytest.raises(BadInputError):
            parse_faults(bad)


def test_drop_every_n_messages(make_sim):
    sim = make_sim(faults="drop_ws_every=5,ws_stream=public")
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("orderbook.50.BTCUSDT", "tickers.BTCUSDT", "kline.1.BTCUSDT")
        sim.step(5)
        got = 0
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            for _ in range(100):
                ws.recv(2)
                got += 1
        assert got == 5


def test_drop_on_command_with_a_close_frame(sim):
    with WsClient(sim.public_ws_url) as pub, WsClient(sim.private_ws_url) as priv:
        pub.subscribe("tickers.BTCUSDT")
        pub.recv()
        assert sim.faults.drop_connections("public", mode="close") == 1
        pub.ws.settimeout(2)
        opcode, data = pub.ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and data[:2] == b"\x03\xe8"  # 1000
        priv.send({"op": "ping"})
        assert priv.recv()["op"] == "pong"  # the private stream is untouched
        assert sim.faults.drop_connections("all") == 1


def test_stall_keeps_the_socket_but_sends_nothing(make_sim):
    sim = make_sim(faults="stall_ws_after=3")
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("tickers.BTCUSDT", "kline.1.BTCUSDT")
        sim.step(5)
        assert len(ws.drain()) == 3  # the snapshot and two updates, then silence
        ws.send({"op": "ping"})
        assert ws.recv()["ret_msg"] == "pong"  # still connected


def test_stall_on_command_and_resume(sim):
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("kline.1.BTCUSDT")
        sim.faults.stall("public", silent=True)
        sim.step(3)
        ws.send({"op": "ping"})
        assert ws.drain() == []  # no data, no pong
        sim.faults.resume()
        sim.step(1)
        assert [m["topic"] for m in ws.drain() if "topic" in m] == ["kline.1.BTCUSDT"]


def test_malformed_messages(make_sim, sim):
    s2 = make_sim(faults="malformed_every=2")
    with WsClient(s2.public_ws_url) as ws:
        ws.subscribe("tickers.BTCUSDT", "kline.1.BTCUSDT")
        first = ws.recv_raw()
        s2.step(1)
        second = ws.recv_raw()
        json.loads(first)
        with pytest.raises(ValueError):
            json.loads(second)
    with WsClient(sim.public_ws_url) as ws:
        assert sim.faults.send_malformed("public") == 1
        with pytest.raises(ValueError):
            json.loads(ws.recv_raw())


def test_rate_limit_10006_with_a_future_reset(make_sim, make_http):
    sim = make_sim(faults="rate_limit=order/realtime:2/5")
    for _ in range(2):
        assert signed(sim.rest_url, "GET", REALTIME, L).json()["retCode"] == 0
    r = signed(sim.rest_url, "GET", REALTIME, L)
    assert_shape(r.json(), example("rest_error_10006_captured.json"))
    assert r.json()["retCode"] == 10006 and r.headers["X-Bapi-Limit-Status"] == "0"
    assert int(r.headers["X-Bapi-Limit-Reset-Timestamp"]) > time.time() * 1000 + 3000
    http = make_http(sim, max_retries=1, retry_delay=0)
    sim.faults.set_rate_limit("order/realtime", 1, 0.3)
    time.sleep(0.35)
    http.get_open_orders(**L)
    t0 = time.monotonic()
    with pytest.raises(FailedRequestError):  # pybit slept until the (future) reset, then gave up
        http.get_open_orders(**L)
    assert time.monotonic() - t0 > 0.1


def test_bybit_default_limits(make_sim):
    sim = make_sim(enforce_rate_limits=True)
    codes = [signed(sim.rest_url, "POST", "/v5/order/cancel-all", L).json()["retCode"] for _ in range(11)]
    assert codes[:10] == [0] * 10 and codes[10] == 10006


def test_order_5xx_before_does_not_execute(make_sim, make_http):
    sim = make_sim(faults="order_5xx_before=1")
    http = make_http(sim)
    with pytest.raises(FailedRequestError) as e:
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="x-1")
    assert e.value.status_code == 500
    assert http.get_open_orders(**L, orderLinkId="x-1")["result"]["list"] == []
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="x-1")  # the retry is fine


def test_order_5xx_after_executes(make_sim, make_http):
    sim = make_sim()
    http = make_http(sim)
    sim.faults.fail_next_order("5xx", "after")
    with pytest.raises(FailedRequestError):
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="x-2")
    assert http.get_open_orders(**L, orderLinkId="x-2")["result"]["list"][0]["orderStatus"] == "Filled"
    with pytest.raises(InvalidRequestError) as e:  # re-sending the same id is refused
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="x-2")
    assert e.value.status_code == 110072


@pytest.mark.parametrize("when,executed", [("before", False), ("after", True)])
def test_order_timeout(make_sim, make_http, when, executed):
    sim = make_sim(faults=f"order_timeout_{when}=2,timeout_seconds=1")
    http = make_http(sim, timeout=0.4)
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="t-1")
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="t-2")
    found = http.get_open_orders(**L, orderLinkId="t-2")["result"]["list"]
    assert bool(found) is executed


def test_delayed_responses(make_sim, make_http):
    sim = make_sim(faults="delay=market/time:300")
    http = make_http(sim)
    t0 = time.monotonic()
    http.get_server_time()
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    http.get_tickers(**L)
    assert time.monotonic() - t0 < 0.3


def test_ip_ban_403(make_sim, make_http):
    sim = make_sim(faults="ip_ban_after=1,ip_ban_seconds=0.5")
    http = make_http(sim)
    http.get_server_time()
    with pytest.raises(FailedRequestError) as e:
        http.get_server_time()
    assert e.value.status_code == 403
    time.sleep(0.6)
    http.get_server_time()


@pytest.mark.parametrize("when,executed", [("before", False), ("after", True)])
def test_an_ip_ban_in_the_middle_of_an_entry(make_sim, make_http, when, executed):
    sim = make_sim(faults=f"order_ban_{when}=1,ip_ban_seconds=0.5")
    http = make_http(sim)
    if executed:  # answered normally; the ban hits the next call (the fill look-up)
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="ban-1")
    else:
        with pytest.raises(FailedRequestError) as e:
            http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="ban-1")
        assert e.value.status_code == 403
    with pytest.raises(FailedRequestError) as e:
        http.get_executions(**L, orderLinkId="ban-1")
    assert e.value.status_code == 403
    time.sleep(0.6)
    assert bool(http.get_executions(**L, orderLinkId="ban-1")["result"]["list"]) is executed
    assert parse_faults("order_ban_after=*2").order_faults[0].kind == "ban"


def test_book_faults(sim):
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("orderbook.50.BTCUSDT")
        first = ws.recv()
        sim.faults.book_snapshot()
        again = ws.recv()
        assert again["type"] == "snapshot" and again["data"]["u"] == first["data"]["u"] + 1
        sim.faults.book_restart()
        restart = ws.recv()
        assert restart["type"] == "snapshot" and restart["data"]["u"] == 1
        sim.faults.book_delete_absent()
        ghost = ws.recv()
        price, size = ghost["data"]["b"][0]
        assert ghost["type"] == "delta" and size == "0" and price not in {p for p, _ in restart["data"]["b"]}
