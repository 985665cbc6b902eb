"""Authentication exactly as Bybit: HMAC over the raw query/body, recv_window against the wall
clock, 10002/10003/10004 in HTTP 200 envelopes; WebSocket auth with expires."""

import json
import time

import pytest
from pybit.exceptions import InvalidRequestError
from sim_helpers import KEY, WsClient, assert_shape, example, sign, signed

from whale.sim import SimConfig, Simulator
from whale.sim.clock import SkewedWallClock

pytestmark = pytest.mark.net

WALLET = "/v5/account/wallet-balance"


def test_signed_get_and_rate_limit_headers(sim):
    r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"})
    assert r.status_code == 200 and r.json()["retCode"] == 0
    for name in example("rest_rate_limit_headers.json"):
        assert name in r.headers
    assert r.headers["X-Bapi-Limit"] == "50"
    assert int(r.headers["X-Bapi-Limit-Status"]) == 49


def test_auth_failures_carry_rate_limit_headers_and_spend_nothing(make_sim):
    """Every private answer has the headers; a request that fails auth has no verified UID, so it does
    not count against the account's budget (a 60 s window keeps the test independent of timing)."""
    sim = make_sim(faults="rate_limit=account/wallet-balance:5/60")
    q = {"accountType": "UNIFIED"}
    assert signed(sim.rest_url, "GET", WALLET, q).headers["X-Bapi-Limit-Status"] == "4"
    failures = [{"key": "SOMEONE-ELSE"}, {"bad_sign": True}, {"ts": int(time.time() * 1000) - 60_000}]
    for kw in failures:
        r = signed(sim.rest_url, "GET", WALLET, q, **kw)
        assert r.json()["retCode"] in (10002, 10003, 10004)
        assert (r.headers["X-Bapi-Limit"], r.headers["X-Bapi-Limit-Status"]) == ("5", "4")
        assert int(r.headers["X-Bapi-Limit-Reset-Timestamp"]) > 0
    assert signed(sim.rest_url, "GET", WALLET, q).headers["X-Bapi-Limit-Status"] == "3"


def test_signature_is_over_the_raw_body(sim):
    body = '{"category":  "linear", "symbol":"BTCUSDT",  "buyLeverage": "5", "sellLeverage": "5"}'
    r = signed(sim.rest_url, "POST", "/v5/position/set-leverage", body_text=body)
    assert r.json()["retCode"] == 0


def test_unknown_key_is_10003(sim):
    r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"}, key="SOMEONE-ELSE")
    assert r.status_code == 200 and r.json()["retCode"] == 10003


def test_bad_signature_is_10004(sim):
    r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"}, bad_sign=True)
    assert r.status_code == 200 and r.json()["retCode"] == 10004
    r = signed(sim.rest_url, "POST", "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"},
               secret="wrong-secret")
    assert r.json()["retCode"] == 10004


@pytest.mark.parametrize("offset_ms", [-6000, 1500])
def test_timestamp_outside_the_window_is_10002(sim, offset_ms):
    ts = int(time.time() * 1000) + offset_ms
    r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"}, ts=ts)
    body = r.json()
    assert r.status_code == 200 and body["retCode"] == 10002
    assert "recv_window" in body["retMsg"]


def test_wider_recv_window_accepts_an_old_timestamp(sim):
    ts = int(time.time() * 1000) - 6000
    r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"}, ts=ts, recv_window=10000)
    assert r.json()["retCode"] == 0


def test_the_window_is_checked_against_the_wall_clock(candles, make_http):
    """A server whose clock runs 10 s ahead rejects pybit's fresh timestamps; /v5/market/time shows why."""
    with Simulator(SimConfig(data=candles, lockstep=True, speed=0), wall_clock=SkewedWallClock(10_000)) as sim:
        http = make_http(sim, max_retries=1, retry_delay=0)
        server = int(http.get_server_time()["result"]["timeSecond"])
        assert server - time.time() == pytest.approx(10, abs=1.5)
        r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"})
        assert r.json()["retCode"] == 10002


def test_pybit_signs_get_and_post(http):
    assert http.get_wallet_balance(accountType="UNIFIED")["retCode"] == 0
    assert http.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="3", sellLeverage="3")["retCode"] == 0
    with pytest.raises(InvalidRequestError) as e:
        http.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="3", sellLeverage="3")
    assert e.value.status_code == 110043


def test_ws_auth_success_and_failures(sim):
    with WsClient(sim.private_ws_url) as ws:
        ws.send({"op": "subscribe", "args": ["order"]})
        nack, _ = ws.until(lambda m: m.get("op") == "subscribe")
        assert nack["success"] is False  # not authenticated yet
        ok = ws.auth()
        assert_shape(ok, example("ws_auth_response.json"))
        assert ok["success"] is True
    with WsClient(sim.private_ws_url) as ws:
        assert ws.auth(secret="wrong")["success"] is False
    with WsClient(sim.private_ws_url) as ws:
        assert ws.auth(expires=int(time.time() * 1000) - 1000)["success"] is False
    with WsClient(sim.private_ws_url) as ws:
        assert ws.auth(key="OTHER")["success"] is False


def test_ws_auth_raw_request_matches_the_example(sim):
    req = example("ws_auth_request.json")
    assert req["op"] == "auth" and len(req["args"]) == 3
    with WsClient(sim.private_ws_url) as ws:
        ws.send({"req_id": "10001", "op": "auth", "args": ["api_key", 1662350400000, "signature"]})
        reply = ws.recv()
        assert reply["op"] == "auth" and reply["success"] is False and reply["req_id"] == "10001"
        assert json.dumps(reply)  # a plain JSON object


# ---------------------------------------------------------------- non-ASCII keys (issue 9)

def _raw_get(port: int, path: str, headers: dict[str, bytes]) -> tuple[int, dict]:
    """One HTTP/1.1 GET over a plain socket, so header values can be any bytes (requests and pybit
    refuse to send anything beyond latin-1)."""
    import socket

    lines = [f"GET {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode(), b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        data = b""
        for _ in range(1000):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize("key", ["WHALEBOT-SIM-KEY-\u00e9", "\u043a\u043b\u044e\u0447"])
def test_non_ascii_api_key_is_10003_not_a_server_error(sim, key):
    ts = str(int(time.time() * 1000))
    query = "accountType=UNIFIED"
    sig = sign(f"{ts}{key}5000{query}")
    status, body = _raw_get(sim.port, f"{WALLET}?{query}", {
        "X-BAPI-API-KEY": key.encode("utf-8"), "X-BAPI-TIMESTAMP": ts.encode(), "X-BAPI-RECV-WINDOW": b"5000",
        "X-BAPI-SIGN": sig.encode()})
    assert status == 200 and body["retCode"] == 10003, body
    # latin-1 is what requests sends for such a key: the same answer
    r = signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"}, key="WHALEBOT-SIM-KEY-\u00e9")
    assert r.status_code == 200 and r.json()["retCode"] == 10003
    # and the server is still serving
    assert signed(sim.rest_url, "GET", WALLET, {"accountType": "UNIFIED"}).json()["retCode"] == 0


def test_non_ascii_signature_is_10004(sim):
    ts = str(int(time.time() * 1000))
    status, body = _raw_get(sim.port, f"{WALLET}?accountType=UNIFIED", {
        "X-BAPI-API-KEY": KEY.encode(), "X-BAPI-TIMESTAMP": ts.encode(), "X-BAPI-RECV-WINDOW": b"5000",
        "X-BAPI-SIGN": "\u00e9".encode("utf-8") * 32})
    assert status == 200 and body["retCode"] == 10004, body


@pytest.mark.parametrize("args", [["\u043a\u043b\u044e\u0447", None, None], ["\ud800", None, None],
                                  [KEY, None, "\u00e9" * 64]])
def test_ws_auth_with_non_ascii_key_or_signature_is_refused_not_dropped(sim, args):
    expires = int(time.time() * 1000) + 5000
    key = args[0]
    signature = args[2] or sign(f"GET/realtime{expires}")
    with WsClient(sim.private_ws_url) as ws:
        ws.send({"op": "auth", "req_id": "na", "args": [key, expires, signature]})
        reply, _ = ws.until(lambda m: m.get("op") == "auth", timeout=5)
        assert reply["success"] is False and reply["req_id"] == "na"
        assert reply["ret_msg"] == ("Invalid apikey" if key != KEY else "Invalid sign")
        # the connection is still usable: a correct auth on it succeeds
        assert ws.auth()["success"] is True
