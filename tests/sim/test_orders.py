"""Order entry, amend, cancel, positions, leverage, modes, wallet, executions and closed PnL
through the unmodified pybit HTTP client; every response compared with Bybit's example shapes."""

from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError
from sim_helpers import WsClient, assert_shape, example

pytestmark = pytest.mark.net

SYM = "BTCUSDT"
L = {"category": "linear", "symbol": SYM}


def code_of(fn, **kw) -> int:
    with pytest.raises(InvalidRequestError) as e:
        fn(**kw)
    return e.value.status_code


def last_price(http) -> Decimal:
    return Decimal(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])


def test_market_order_opens_a_position(sim, http):
    r = http.place_order(**L, side="Buy", orderType="Market", qty="0.010", orderLinkId="entry-1")
    assert_shape(r, example("rest_order_create.json"))
    assert r["result"]["orderLinkId"] == "entry-1"
    pos = http.get_positions(**L)
    assert_shape(pos, example("rest_position_list.json"))
    p = pos["result"]["list"][0]
    assert p["side"] == "Buy" and p["size"] == "0.010" and p["positionIdx"] == 0
    ex = http.get_executions(**L)
    assert_shape(ex, example("rest_execution_list.json"), extra_ok=("createType",))
    e = ex["result"]["list"][0]
    assert e["orderLinkId"] == "entry-1" and e["execType"] == "Trade" and e["isMaker"] is False
    px = Decimal(e["execPrice"])
    last = last_price(http)
    assert px >= last * Decimal("1.0001") - Decimal("0.1")  # never better than the fill model's slippage
    assert Decimal(e["execFee"]) == (px * Decimal("0.010") * Decimal("0.00055")).quantize(Decimal("1e-8"))
    assert p["avgPrice"] == e["execPrice"]
    assert int(e["execTime"]) == sim.replay_time_ms  # replay time, not the wall clock
    w = http.get_wallet_balance(accountType="UNIFIED")
    assert_shape(w, example("rest_account_wallet_balance.json"))
    acct = w["result"]["list"][0]
    assert Decimal(acct["totalWalletBalance"]) == Decimal(10000) - Decimal(e["execFee"])
    found = http.get_open_orders(**L, orderLinkId="entry-1")["result"]["list"]
    assert found[0]["orderStatus"] == "Filled" and found[0]["avgPrice"] == e["execPrice"]


def test_close_records_closed_pnl(sim, http):
    http.place_order(**L, side="Sell", orderType="Market", qty="0.02")
    sim.step(3)
    http.place_order(**L, side="Buy", orderType="Market", qty="0", reduceOnly=True, closeOnTrigger=True)
    assert http.get_positions(**L)["result"]["list"][0]["size"] == "0.000"
    r = http.get_closed_pnl(**L)
    assert_shape(r, example("rest_position_closed_pnl.json"), extra_ok=("openFee", "closeFee"))
    c = r["result"]["list"][0]
    fills = http.get_executions(**L)["result"]["list"]
    entry, exit_ = fills[1], fills[0]
    gross = (Decimal(entry["execPrice"]) - Decimal(exit_["execPrice"])) * Decimal("0.02")
    assert Decimal(c["closedPnl"]) == gross - Decimal(entry["execFee"]) - Decimal(exit_["execFee"])
    assert c["side"] == "Buy" and c["closedSize"] == "0.020"


def test_limit_order_rests_amends_cancels(sim, http):
    px = last_price(http) - 500
    r = http.place_order(**L, side="Buy", orderType="Limit", qty="0.01", price=str(px), orderLinkId="lim-1",
                         takeProfit=str(px + 1000), stopLoss=str(px - 500))
    oid = r["result"]["orderId"]
    rt = http.get_open_orders(**L)
    assert_shape(rt, example("rest_order_realtime.json"), extra_ok=("createType",))
    o = rt["result"]["list"][0]
    assert (o["orderStatus"], o["price"], o["leavesQty"]) == ("New", f"{px:.2f}", "0.010")
    assert o["takeProfit"] == f"{px + 1000:.2f}" and o["tpslMode"] == "Full"
    am = http.amend_order(**L, orderId=oid, price=str(px - 100))
    assert_shape(am, example("rest_order_amend.json"))
    assert http.get_open_orders(**L, orderId=oid)["result"]["list"][0]["price"] == f"{px - 100:.2f}"
    assert code_of(http.amend_order, **L, orderId=oid, price=str(px - 100)) == 10001  # nothing changed
    cx = http.cancel_order(**L, orderLinkId="lim-1")
    assert_shape(cx, example("rest_order_cancel.json"))
    assert cx["result"]["orderId"] == oid
    assert http.get_open_orders(**L)["result"]["list"] == []
    assert http.get_open_orders(**L, orderLinkId="lim-1")["result"]["list"][0]["orderStatus"] == "Cancelled"
    assert code_of(http.cancel_order, **L, orderId=oid) == 110001
    assert code_of(http.amend_order, **L, orderId="no-such-order", qty="0.02") == 110001


def test_cancel_all_and_paging(sim, http):
    px = last_price(http) - 1000
    ids = [http.place_order(**L, side="Buy", orderType="Limit", qty="0.001", price=str(px - i))["result"]["orderId"]
           for i in range(5)]
    page1 = http.get_open_orders(**L, limit=3)["result"]
    page2 = http.get_open_orders(**L, limit=3, cursor=page1["nextPageCursor"])["result"]
    assert len(page1["list"]) == 3 and len(page2["list"]) == 2 and page2["nextPageCursor"] == ""
    assert {o["orderId"] for o in page1["list"] + page2["list"]} == set(ids)
    r = http.cancel_all_orders(**L)
    assert_shape(r, example("rest_order_cancel_all.json"))
    assert {x["orderId"] for x in r["result"]["list"]} == set(ids) and r["result"]["success"] == "1"
    assert http.cancel_all_orders(category="linear", settleCoin="USDT")["result"]["list"] == []
    assert code_of(http.cancel_all_orders, category="linear") == 10001


def test_limit_order_fills_as_maker_when_the_price_reaches_it(sim, http, candles):
    i = sim.replay_index
    last = last_price(http)
    j = next(k for k in range(60) if candles.low[i + k] < float(last) - 2)  # the first candle to dip below
    target = Decimal(f"{candles.low[i + j]:.1f}") + Decimal("0.1")
    http.place_order(**L, side="Buy", orderType="Limit", qty="0.01", price=str(target), orderLinkId="maker")
    sim.step(j)
    assert http.get_open_orders(**L, orderLinkId="maker")["result"]["list"][0]["orderStatus"] == "New"
    sim.step(1)
    o = http.get_open_orders(**L, orderLinkId="maker")["result"]["list"][0]
    assert o["orderStatus"] == "Filled" and o["avgPrice"] == f"{target:.2f}"
    e = http.get_executions(**L, orderLinkId="maker")["result"]["list"][0]
    assert e["isMaker"] is True and e["feeRate"] == "0.0002"


def test_marketable_limit_takes_and_post_only_is_rejected(sim, http):
    last = last_price(http)
    r = http.place_order(**L, side="Buy", orderType="Limit", qty="0.01", price=str(last + 200), orderLinkId="tk")
    o = http.get_open_orders(**L, orderLinkId="tk")["result"]["list"][0]
    assert o["orderStatus"] == "Filled" and Decimal(o["avgPrice"]) <= last + 200
    assert r["retCode"] == 0
    http.place_order(**L, side="Sell", orderType="Limit", qty="0.01", price=str(last - 200), timeInForce="PostOnly",
                     orderLinkId="po")
    o = http.get_open_orders(**L, orderLinkId="po")["result"]["list"][0]
    assert o["orderStatus"] == "Cancelled" and o["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"


def test_order_link_id_rules(http):
    http.place_order(**L, side="Buy", orderType="Market", qty="0.001", orderLinkId="dup-1")
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.001", orderLinkId="dup-1") == 110072
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.001", orderLinkId="x" * 37) == 10001
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.001", orderLinkId="a b") == 10001


def test_quantity_price_and_notional_validation(sim, http):
    last = last_price(http)
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.0015") == 10001
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="501") == 10001  # > maxMktOrderQty
    off_tick = str(last - Decimal("0.05"))
    assert code_of(http.place_order, **L, side="Buy", orderType="Limit", qty="0.01", price=off_tick) == 10001
    assert code_of(http.place_order, **L, side="Buy", orderType="Limit", qty="0.001", price="1000") == 110094
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.01",
                   takeProfit=str(last - 100)) == 10001
    assert code_of(http.place_order, category="linear", symbol="ETHUSDT", side="Buy", orderType="Market",
                   qty="0.01") == 10001


def test_insufficient_balance_is_110007(sim, http):
    sim.set_balance(100)
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.5") == 110007
    http.set_leverage(**L, buyLeverage="100", sellLeverage="100")
    assert http.place_order(**L, side="Buy", orderType="Market", qty="0.005")["retCode"] == 0


def test_reduce_only(sim, http):
    assert code_of(http.place_order, **L, side="Sell", orderType="Market", qty="0.01", reduceOnly=True) == 110017
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.01", reduceOnly=True) == 110017
    http.place_order(**L, side="Sell", orderType="Market", qty="0.05", reduceOnly=True)
    p = http.get_positions(**L)["result"]["list"][0]
    assert p["size"] == "0.000" and p["side"] == ""  # closed, never flipped


def test_reduce_only_orders_are_cancelled_when_the_position_closes(sim, http):
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        ws.subscribe("order")
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
        target = (last_price(http) * Decimal("1.2")).quantize(Decimal("0.1"))
        http.place_order(**L, side="Sell", orderType="Limit", qty="0.01", price=str(target), reduceOnly=True,
                         orderLinkId="ro-tp")
        http.place_order(**L, side="Sell", orderType="Market", qty="0.01", reduceOnly=True)
        pushes = [d for m in ws.drain() for d in m["data"] if d["orderLinkId"] == "ro-tp"]
    assert (pushes[-1]["orderStatus"], pushes[-1]["cancelType"]) == ("Cancelled", "CancelByReduceOnly")
    o = http.get_open_orders(**L, orderLinkId="ro-tp")["result"]["list"][0]
    assert (o["orderStatus"], o["cancelType"]) == ("Cancelled", "CancelByReduceOnly")
    assert http.get_open_orders(**L)["result"]["list"] == []
    assert http.switch_position_mode(**L, mode=3)["retCode"] == 0  # no longer blocked by 110028


def test_a_flip_cancels_the_reduce_only_orders_of_the_old_side(http):
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
    target = (last_price(http) * Decimal("1.2")).quantize(Decimal("0.1"))
    http.place_order(**L, side="Sell", orderType="Limit", qty="0.01", price=str(target), reduceOnly=True,
                     orderLinkId="ro-old")
    http.place_order(**L, side="Sell", orderType="Market", qty="0.03")
    assert http.get_open_orders(**L, orderLinkId="ro-old")["result"]["list"][0]["orderStatus"] == "Cancelled"
    assert http.get_positions(**L)["result"]["list"][0]["side"] == "Sell"


def test_cur_realised_pnl_covers_only_the_current_position(sim, http):
    def position() -> dict:
        return http.get_positions(**L)["result"]["list"][0]

    def last_fee() -> Decimal:
        return Decimal(http.get_executions(**L)["result"]["list"][0]["execFee"])

    http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
    p = position()
    created = p["createdTime"]
    assert Decimal(p["curRealisedPnl"]) == -last_fee()
    sim.step(2)
    http.place_order(**L, side="Sell", orderType="Market", qty="0.01", reduceOnly=True)
    p = position()
    assert p["curRealisedPnl"] == "0" and p["cumRealisedPnl"] != "0"  # flat: nothing current
    cum = Decimal(p["cumRealisedPnl"])
    sim.step(1)
    http.place_order(**L, side="Sell", orderType="Market", qty="0.02")
    p = position()
    fee = last_fee()
    assert Decimal(p["curRealisedPnl"]) == -fee and Decimal(p["cumRealisedPnl"]) == cum - fee
    assert p["createdTime"] == created  # Bybit: the first time a position was created on the symbol
    http.place_order(**L, side="Buy", orderType="Market", qty="0.03")  # flips to a 0.01 long
    p = position()
    share = (last_fee() / 3).quantize(Decimal("1e-8"))  # the new long's share of the fee
    assert (p["side"], p["size"]) == ("Buy", "0.010") and Decimal(p["curRealisedPnl"]) == -share


def test_one_way_flip(http):
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
    http.place_order(**L, side="Sell", orderType="Market", qty="0.03")
    p = http.get_positions(**L)["result"]["list"][0]
    assert (p["side"], p["size"]) == ("Sell", "0.020")


def test_leverage(http):
    r = http.set_leverage(**L, buyLeverage="20", sellLeverage="20")
    assert_shape(r, example("rest_position_set_leverage.json"))
    assert http.get_positions(**L)["result"]["list"][0]["leverage"] == "20"
    assert code_of(http.set_leverage, **L, buyLeverage="20", sellLeverage="20") == 110043
    assert code_of(http.set_leverage, **L, buyLeverage="20", sellLeverage="10") == 10001  # one-way needs equal
    assert code_of(http.set_leverage, **L, buyLeverage="101", sellLeverage="101") == 10001


def test_switch_mode_and_hedge_positions(http):
    assert code_of(http.switch_position_mode, **L, mode=0) == 110025
    r = http.switch_position_mode(**L, mode=3)
    assert_shape(r, example("rest_position_switch_mode.json"))
    rows = http.get_positions(**L)["result"]["list"]
    assert [x["positionIdx"] for x in rows] == [1, 2]
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.01") == 10001  # idx 0 in hedge
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01", positionIdx=1)
    http.place_order(**L, side="Sell", orderType="Market", qty="0.02", positionIdx=2)
    rows = {x["positionIdx"]: x for x in http.get_positions(category="linear", settleCoin="USDT")["result"]["list"]}
    assert (rows[1]["side"], rows[1]["size"], rows[2]["side"], rows[2]["size"]) == ("Buy", "0.010", "Sell", "0.020")
    http.place_order(**L, side="Sell", orderType="Market", qty="0.01", positionIdx=1)  # closes the long side
    rows = http.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
    assert [x["positionIdx"] for x in rows] == [2]
    assert code_of(http.switch_position_mode, **L, mode=0) == 110024


def test_hedge_mode_leverage_must_be_equal_under_cross_margin(http):
    """Bybit allows buy != sell leverage in hedge mode only for isolated margin; the account is cross."""
    http.switch_position_mode(**L, mode=3)
    assert code_of(http.set_leverage, **L, buyLeverage="5", sellLeverage="7") == 10001
    http.set_leverage(**L, buyLeverage="5", sellLeverage="5")
    assert [x["leverage"] for x in http.get_positions(**L)["result"]["list"]] == ["5", "5"]


def test_switch_mode_refused_with_open_orders(http):
    px = last_price(http) - 1000
    http.place_order(**L, side="Buy", orderType="Limit", qty="0.01", price=str(px))
    assert code_of(http.switch_position_mode, **L, mode=3) == 110028


def test_trading_stop(sim, http):
    assert code_of(http.set_trading_stop, **L, stopLoss="1000", positionIdx=0) == 10001  # no position
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01")
    last = last_price(http)
    sl, tp = last - 300, last + 300
    r = http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, stopLoss=str(sl), takeProfit=str(tp))
    assert_shape(r, example("rest_position_trading_stop.json"))
    p = http.get_positions(**L)["result"]["list"][0]
    assert (p["stopLoss"], p["takeProfit"]) == (f"{sl:.2f}", f"{tp:.2f}")
    kinds = {o["stopOrderType"]: o for o in http.get_open_orders(**L)["result"]["list"]}
    assert kinds["StopLoss"]["orderStatus"] == "Untriggered" and kinds["StopLoss"]["triggerPrice"] == f"{sl:.2f}"
    assert kinds["TakeProfit"]["triggerDirection"] == 1 and kinds["StopLoss"]["triggerDirection"] == 2
    assert code_of(http.set_trading_stop, **L, tpslMode="Full", positionIdx=0, stopLoss=str(sl)) == 34040
    assert code_of(http.set_trading_stop, **L, tpslMode="Full", positionIdx=0, stopLoss=str(last + 10)) == 10001
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, takeProfit="0")
    p = http.get_positions(**L)["result"]["list"][0]
    assert p["takeProfit"] == "0.00" and p["stopLoss"] == f"{sl:.2f}"
    assert code_of(http.set_trading_stop, **L, tpslMode="Full", positionIdx=0, takeProfit="0") == 34040
    assert [o["stopOrderType"] for o in http.get_open_orders(**L)["result"]["list"]] == ["StopLoss"]
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, trailingStop="150")
    assert http.get_positions(**L)["result"]["list"][0]["trailingStop"] == "150.00"
    assert code_of(http.set_trading_stop, **L, tpslMode="Partial", positionIdx=0, stopLoss=str(sl - 1)) == 10001
    assert code_of(http.set_trading_stop, **L, tpslMode="Full", positionIdx=0, stopLoss=str(sl - 1),
                   slOrderType="Limit", slLimitPrice=str(sl - 2)) == 10001  # not implemented, said clearly


def test_conditional_order_triggers(sim, http, candles):
    i = sim.replay_index
    hi = max(candles.high[i:i + 3])
    trigger = Decimal(f"{hi:.1f}") - Decimal("0.1")
    assert trigger > last_price(http)
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01", triggerPrice=str(trigger), triggerDirection=1,
                     orderLinkId="cond")
    o = http.get_open_orders(**L, orderLinkId="cond")["result"]["list"][0]
    assert (o["orderStatus"], o["stopOrderType"]) == ("Untriggered", "Stop")
    assert code_of(http.place_order, **L, side="Buy", orderType="Market", qty="0.01", triggerPrice="1000",
                   triggerDirection=1) == 110092
    sim.step(3)
    o = http.get_open_orders(**L, orderLinkId="cond")["result"]["list"][0]
    assert o["orderStatus"] == "Filled"
    assert http.get_positions(**L)["result"]["list"][0]["size"] == "0.010"


def test_execution_and_closed_pnl_filters(sim, http):
    http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="f-1")
    http.place_order(**L, side="Sell", orderType="Market", qty="0.01", orderLinkId="f-2")
    assert len(http.get_executions(**L, orderLinkId="f-2")["result"]["list"]) == 1
    assert len(http.get_executions(**L, execType="Funding")["result"]["list"]) == 0
    now = sim.replay_time_ms
    assert len(http.get_executions(**L, startTime=now - 1000, endTime=now)["result"]["list"]) == 2
    assert http.get_executions(**L, startTime=now + 1)["result"]["list"] == []
    assert code_of(http.get_executions, **L, startTime=now - 8 * 86_400_000, endTime=now) == 10001
    assert len(http.get_closed_pnl(**L, limit=1)["result"]["list"]) == 1
    assert code_of(http.get_wallet_balance, accountType="CONTRACT") == 10001
    assert http.get_wallet_balance(accountType="UNIFIED", coin="BTC")["result"]["list"][0]["coin"] == []
