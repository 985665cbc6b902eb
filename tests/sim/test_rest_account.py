"""Endpoints a general Bybit client (ccxt) calls besides Whalebot's, through the unmodified pybit
HTTP client: queries in the categories the simulator lists nothing in, the API key and account
info, coin info, fee rates and the order history."""

import time
from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError
from sim_helpers import KEY, assert_shape, example, signed

from whale.config.model import Fees

SYM = "BTCUSDT"
L = {"category": "linear", "symbol": SYM}
DAY = 86_400_000
pytestmark = pytest.mark.net


def error_of(fn, **kw) -> tuple[int, str]:
    with pytest.raises(InvalidRequestError) as e:
        fn(**kw)
    return e.value.status_code, e.value.message


def last_price(http) -> Decimal:
    return Decimal(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])


def px(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.1")))


# ---------------------------------------------------------------- other categories (issue 11, item 14)

@pytest.mark.parametrize("method,kw", [
    ("get_instruments_info", {"category": "spot"}),
    ("get_instruments_info", {"category": "inverse"}),
    ("get_instruments_info", {"category": "option", "baseCoin": "BTC"}),
    ("get_tickers", {"category": "spot"}),
    ("get_tickers", {"category": "option", "baseCoin": "BTC"}),
    ("get_public_trade_history", {"category": "option", "baseCoin": "BTC"}),
    ("get_positions", {"category": "inverse"}),
    ("get_positions", {"category": "option"}),
    ("get_open_orders", {"category": "spot"}),
    ("get_order_history", {"category": "inverse"}),
    ("get_executions", {"category": "spot"}),
    ("get_closed_pnl", {"category": "inverse"}),
    ("cancel_all_orders", {"category": "inverse", "settleCoin": "BTC"}),
])
def test_other_categories_answer_an_empty_list(http, method, kw):
    r = getattr(http, method)(**kw)
    assert r["retCode"] == 0 and r["result"]["list"] == []
    if "category" in r["result"]:
        assert r["result"]["category"] == kw["category"]


@pytest.mark.parametrize("method,kw", [
    ("get_tickers", {"category": "spot", "symbol": SYM}),
    ("get_kline", {"category": "inverse", "symbol": "BTCUSD", "interval": "1"}),
    ("get_orderbook", {"category": "spot", "symbol": SYM}),
    ("place_order", {"category": "spot", "symbol": SYM, "side": "Buy", "orderType": "Market", "qty": "0.01"}),
    ("set_leverage", {"category": "inverse", "symbol": "BTCUSD", "buyLeverage": "5", "sellLeverage": "5"}),
])
def test_a_symbol_in_another_category_is_invalid(http, method, kw):
    code, msg = error_of(getattr(http, method), **kw)
    assert code == 10001 and "symbol invalid" in msg


@pytest.mark.parametrize("method,kw", [
    ("get_tickers", {"category": "futures"}),
    ("get_kline", {"category": "option", "symbol": SYM, "interval": "1"}),  # kline has no options
    ("get_positions", {"category": "spot"}),  # positions: linear, inverse, option
    ("switch_position_mode", {"category": "inverse", "symbol": "BTCUSD", "mode": 3}),  # linear only
    ("get_instruments_info", {}),  # required
])
def test_a_category_the_endpoint_does_not_take_is_10001(http, method, kw):
    code, msg = error_of(getattr(http, method), **kw)
    assert code == 10001 and "category" in msg


def test_linear_still_defaults_for_kline(http):
    assert http.get_kline(symbol=SYM, interval="1", limit=1)["result"]["category"] == "linear"


# ---------------------------------------------------------------- key, account, coins, fees (item 15)

def test_api_key_info_is_a_unified_account_key(http):
    r = http.get_api_key_information()["result"]
    shape = {"id": "", "note": "", "apiKey": "", "readOnly": 0, "secret": "", "permissions": {"ContractTrade": []},
             "ips": [""], "type": 1, "deadlineDay": 0, "expiredAt": "", "createdAt": "", "uta": 0, "userID": 0,
             "inviterID": 0, "vipLevel": "", "mktMakerLevel": "", "affiliateID": 0, "rsaPublicKey": "",
             "isMaster": True, "parentUid": "", "kycLevel": "", "kycRegion": "", "unified": 0}
    assert_shape(r, shape, maps=("permissions",))
    assert r["apiKey"] == KEY and r["secret"] == "" and r["readOnly"] == 0
    assert r["uta"] == 1 and r["unified"] == 0 and r["isMaster"] is True
    assert r["permissions"]["ContractTrade"] == ["Order", "Position"]
    assert r["permissions"]["Derivatives"] == ["DerivativesTrade"]
    assert r["ips"] == ["127.0.0.1"]
    assert time.strptime(r["createdAt"], "%Y-%m-%dT%H:%M:%SZ")


def test_account_info_is_uta_cross_margin(http):
    r = http.get_account_info()["result"]
    shape = {"unifiedMarginStatus": 0, "marginMode": "", "isMasterTrader": False, "spotHedgingStatus": "",
             "updatedTime": "", "dcpStatus": "", "timeWindow": 0, "smpGroup": 0}
    assert_shape(r, shape)
    assert r["unifiedMarginStatus"] == 6 and r["marginMode"] == "REGULAR_MARGIN"
    assert int(r["updatedTime"]) <= int(time.time() * 1000)


def test_new_private_endpoints_need_auth(sim):
    for path in ("/v5/user/query-api", "/v5/account/info", "/v5/asset/coin/query-info"):
        r = signed(sim.rest_url, "GET", path, {}, key="SOMEONE-ELSE")
        assert r.status_code == 200 and r.json()["retCode"] == 10003


@pytest.mark.parametrize("path,params,limit", [
    ("/v5/order/history", {"category": "linear"}, "50"), ("/v5/account/info", {}, "50"),
    ("/v5/account/fee-rate", {"category": "linear"}, "5"), ("/v5/asset/coin/query-info", {}, "5"),
    ("/v5/user/query-api", {}, "10")])
def test_new_private_endpoints_have_bybits_rate_limits(sim, path, params, limit):
    r = signed(sim.rest_url, "GET", path, params)
    assert r.json()["retCode"] == 0
    assert (r.headers["X-Bapi-Limit"], r.headers["X-Bapi-Limit-Status"]) == (limit, str(int(limit) - 1))


def test_coin_info_lists_usdt_and_the_base_coin(http):
    rows = http.get_coin_info()["result"]["rows"]
    assert_shape(rows[0], {"name": "", "coin": "", "remainAmount": "", "chains": []})
    assert sorted(r["coin"] for r in rows) == ["BTC", "USDT"]
    assert [r["coin"] for r in http.get_coin_info(coin="BTC")["result"]["rows"]] == ["BTC"]
    assert http.get_coin_info(coin="ETH")["result"]["rows"] == []


def test_fee_rate_is_the_configured_fees(make_sim, make_http):
    http = make_http(make_sim(fees=Fees(taker_rate=0.0004, maker_rate=-0.00005)))
    r = http.get_fee_rates(**L)["result"]
    assert r["list"] == [{"symbol": SYM, "takerFeeRate": "0.0004", "makerFeeRate": "-0.00005"}]
    assert http.get_fee_rates(category="linear")["result"]["list"][0]["symbol"] == SYM
    assert http.get_fee_rates(category="spot")["result"] == {"category": "spot", "list": []}
    assert error_of(http.get_fee_rates, category="linear", symbol="ETHUSDT")[0] == 10001


# ---------------------------------------------------------------- order history (item 15)

def _orders(sim, http):
    """A filled market order, a cancelled limit, a rejected PostOnly, and one limit left open."""
    last = last_price(http)
    http.place_order(**L, side="Buy", orderType="Market", qty="0.010", orderLinkId="h-filled")
    sim.step(1)
    http.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=px(last * Decimal("0.9")),
                     orderLinkId="h-cancelled")
    http.cancel_order(**L, orderLinkId="h-cancelled")
    sim.step(1)
    http.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=px(last * Decimal("1.02")),
                     timeInForce="PostOnly", orderLinkId="h-postonly")
    http.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=px(last * Decimal("0.8")),
                     orderLinkId="h-open")


def test_order_history_lists_closed_orders_newest_first(sim, http):
    _orders(sim, http)
    r = http.get_order_history(**L)
    assert_shape(r, example("rest_order_realtime.json"), extra_ok=("createType",))
    rows = r["result"]["list"]
    assert [(o["orderLinkId"], o["orderStatus"]) for o in rows] == [
        ("h-postonly", "Cancelled"), ("h-cancelled", "Cancelled"), ("h-filled", "Filled")]  # h-open is open
    times = [int(o["createdTime"]) for o in rows]
    assert times == sorted(times, reverse=True) and times[0] == sim.replay_time_ms
    filled = rows[-1]
    fill = http.get_executions(**L, orderLinkId="h-filled")["result"]["list"][0]
    assert (filled["avgPrice"], filled["cumExecQty"], filled["orderId"]) == (fill["execPrice"], "0.010",
                                                                                fill["orderId"])
    assert http.get_order_history(category="linear")["result"]["list"] == rows  # symbol is optional
    assert http.get_order_history(category="linear", settleCoin="USDT")["result"]["list"] == rows


def test_order_history_filters_and_pages(sim, http):
    _orders(sim, http)
    only = http.get_order_history(**L, orderStatus="Filled")["result"]["list"]
    assert [o["orderLinkId"] for o in only] == ["h-filled"]
    assert [o["orderLinkId"] for o in http.get_order_history(**L, orderLinkId="h-cancelled")["result"]["list"]] == [
        "h-cancelled"]
    oid = only[0]["orderId"]
    assert [o["orderId"] for o in http.get_order_history(**L, orderId=oid)["result"]["list"]] == [oid]
    assert http.get_order_history(**L, orderLinkId="h-open")["result"]["list"] == []
    assert error_of(http.get_order_history, **L, orderStatus="New") == (181017, "OrderStatus must be final status")
    seen, cursor = [], ""
    for _ in range(5):
        page = http.get_order_history(**L, limit=1, cursor=cursor)["result"]
        seen += [o["orderLinkId"] for o in page["list"]]
        cursor = page["nextPageCursor"]
        if not cursor:
            break
    assert seen == ["h-postonly", "h-cancelled", "h-filled"]
    now = sim.replay_time_ms
    assert http.get_order_history(**L, startTime=now + 1)["result"]["list"] == []
    assert len(http.get_order_history(**L, endTime=now)["result"]["list"]) == 3
    assert error_of(http.get_order_history, **L, startTime=now - 8 * DAY, endTime=now)[0] == 10001
    assert error_of(http.get_order_history, **L, limit=51)[0] == 10001


def test_order_history_keeps_unfilled_cancelled_orders_for_24_hours(sim, http):
    _orders(sim, http)
    assert sim.step(24 * 60 - 10, timeout=60)
    assert len(http.get_order_history(**L)["result"]["list"]) == 3  # nearly 24 h after: still there
    assert sim.step(15, timeout=10)
    rows = http.get_order_history(**L)["result"]["list"]
    assert [o["orderLinkId"] for o in rows] == ["h-filled"]
