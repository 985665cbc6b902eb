"""Stop-loss, take-profit and trailing stops triggered by last price along the bar path, the close
and its closed PnL; funding every 8 h of replay time."""

from decimal import Decimal

import pytest
from sim_helpers import WsClient

from whale.fills import bar_path, slipped

pytestmark = pytest.mark.net

SYM = "BTCUSDT"
L = {"category": "linear", "symbol": SYM}
TICK = Decimal("0.1")


def dec(x: float) -> Decimal:
    return Decimal(f"{x:.1f}")


def open_long(http, qty="0.01") -> Decimal:
    http.place_order(**L, side="Buy", orderType="Market", qty=qty)
    return Decimal(http.get_positions(**L)["result"]["list"][0]["avgPrice"])


def first_candle(candles, start, pred, limit=300) -> int:
    return next(k for k in range(start, start + limit) if pred(k))


def step_until_flat(sim, http, limit=300) -> int:
    for n in range(limit):
        if http.get_positions(**L)["result"]["list"][0]["size"] == "0.000":
            return n
        sim.step(1)
    raise AssertionError("the position never closed")


def test_stop_loss_triggers_and_closes(sim, http, candles):
    entry = open_long(http)
    i = sim.replay_index
    last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    j = first_candle(candles, i, lambda k: candles.low[k] < last - 30)
    sl = dec(last - 30)
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, stopLoss=str(sl))
    with WsClient(sim.private_ws_url) as ws:
        ws.auth()
        ws.subscribe("order", "execution", "position")
        sim.step(j - i + 1)
        fill, _ = ws.until(lambda m: m.get("topic") == "execution")
        e = fill["data"][0]
        assert e["stopOrderType"] == "StopLoss" and e["createType"] == "CreateByStopLoss"
        expected = Decimal(f"{slipped(float(sl), False, 0.0001):.10f}").quantize(TICK, rounding="ROUND_FLOOR")
        assert Decimal(e["execPrice"]) == expected  # the stop level, slipped, rounded against the taker
    assert sim.replay_index == j + 1  # it fired inside candle j, not earlier
    assert http.get_positions(**L)["result"]["list"][0]["size"] == "0.000"
    c = http.get_closed_pnl(**L)["result"]["list"][0]
    gross = (expected - entry) * Decimal("0.01")
    assert Decimal(c["closedPnl"]) == gross - Decimal(c["openFee"]) - Decimal(c["closeFee"])
    assert Decimal(c["closedPnl"]) < 0 and c["side"] == "Sell"
    assert http.get_open_orders(**L)["result"]["list"] == []  # the TP/SL orders are gone


def test_take_profit_triggers(sim, http, candles):
    http.place_order(**L, side="Sell", orderType="Market", qty="0.01")
    i = sim.replay_index
    last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    j = first_candle(candles, i, lambda k: candles.low[k] < last - 200)
    tp = dec(last - 200)
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, takeProfit=str(tp))
    sim.step(j - i + 1)
    assert http.get_positions(**L)["result"]["list"][0]["size"] == "0.000"
    e = http.get_executions(**L)["result"]["list"][0]
    assert e["stopOrderType"] == "TakeProfit" and e["side"] == "Buy"
    c = http.get_closed_pnl(**L)["result"]["list"][0]
    assert Decimal(c["closedPnl"]) > 0
    o = http.get_open_orders(**L, orderId=e["orderId"])["result"]["list"][0]
    assert o["orderStatus"] == "Filled" and o["stopOrderType"] == "TakeProfit"


def test_attached_stop_loss_from_order_create(sim, http, candles):
    last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    i = sim.replay_index
    j = first_candle(candles, i, lambda k: candles.high[k] > last + 30)
    http.place_order(**L, side="Sell", orderType="Market", qty="0.01", stopLoss=str(dec(last + 30)))
    p = http.get_positions(**L)["result"]["list"][0]
    assert p["stopLoss"] == f"{dec(last + 30):.2f}"
    sim.step(j - i + 1)
    assert http.get_positions(**L)["result"]["list"][0]["size"] == "0.000"
    assert http.get_executions(**L)["result"]["list"][0]["stopOrderType"] == "StopLoss"


def test_trailing_stop_follows_the_extreme(sim, http, candles):
    open_long(http)
    dist = 60.0
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, trailingStop=f"{dist:.1f}")
    extreme = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    # Walk the bar path the same way the simulator does to find where the trail is hit.
    i = sim.replay_index
    level = None
    for k in range(i, i + 300):
        for p in bar_path(candles.open[k], candles.high[k], candles.low[k], candles.close[k]):
            if p <= extreme - dist:
                level = extreme - dist
                break
            extreme = max(extreme, p)
        if level is not None:
            break
    assert level is not None
    n = step_until_flat(sim, http)
    assert sim.replay_index == k + 1 and n == k - i + 1
    e = http.get_executions(**L)["result"]["list"][0]
    assert e["stopOrderType"] == "TrailingStop"
    stop_ticks = Decimal(f"{level:.6f}").quantize(TICK, rounding="ROUND_FLOOR")
    assert Decimal(e["execPrice"]) == Decimal(f"{slipped(float(stop_ticks), False, 0.0001):.10f}").quantize(
        TICK, rounding="ROUND_FLOOR")


def test_trailing_stop_waits_for_its_activation_price(sim, http, candles):
    open_long(http)
    last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    active = dec(last + 5000)  # never reached in these candles
    http.set_trading_stop(**L, tpslMode="Full", positionIdx=0, trailingStop="10", activePrice=str(active))
    o = [x for x in http.get_open_orders(**L)["result"]["list"] if x["stopOrderType"] == "TrailingStop"][0]
    assert o["triggerPrice"] == f"{active:.2f}"
    sim.step(30)
    assert http.get_positions(**L)["result"]["list"][0]["size"] == "0.010"


def test_funding_every_8_hours_of_replay_time(make_sim, make_http, candles):
    # Start 3 candles before an 8 h boundary (00:00 / 08:00 / 16:00 UTC).
    period = 8 * 3_600_000
    b = next(k for k in range(1, len(candles)) if candles.ts[k] % period == 0)
    sim = make_sim(history_candles=b - 3)
    http = make_http(sim)
    http.place_order(**L, side="Buy", orderType="Market", qty="0.1")
    wallet0 = Decimal(http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["totalWalletBalance"])
    sim.step(2)
    assert http.get_executions(**L, execType="Funding")["result"]["list"] == []
    sim.step(2)
    f = http.get_executions(**L, execType="Funding")["result"]["list"]
    assert len(f) == 1 and int(f[0]["execTime"]) == candles.ts[b]
    expected = (Decimal("0.1") * Decimal(f"{candles.open[b]:.1f}") * Decimal("0.0001")).quantize(Decimal("1e-8"))
    assert Decimal(f[0]["execFee"]) == expected
    wallet1 = Decimal(http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["totalWalletBalance"])
    assert wallet0 - wallet1 == pytest.approx(expected)
