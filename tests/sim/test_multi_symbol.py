"""Several symbols on one account, through pybit (REST) and websocket-client (public and private
streams): per-symbol prices, instrument rules and streams; one wallet, margin and equity; orders,
executions and closed PnL across symbols; the union timeline (a symbol joins when its data starts
and stops when it ends); the two-symbol lockstep replay is deterministic; many topics in one
subscription and Bybit's 21,000-character limit per connection."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_helpers import WsClient

from tests.paths import DATA_DIR
from whale.candle_file import load_candle_file, write_candle_csv
from whale.errors import BadInputError
from whale.sim import SimConfig, Simulator

pytestmark = pytest.mark.net

BTC, ETH = "BTCUSDT", "ETHUSDT"
ETH_FILE = DATA_DIR / "ETHUSDT-PERP_1m.csv.gz"


@pytest.fixture(scope="module")
def eth():
    """The first 3000 candles of the bundled ETH file: the same minutes as the `candles` BTC fixture."""
    return load_candle_file(ETH_FILE).candles.slice(0, 3000)


@pytest.fixture
def two(make_sim, candles, eth) -> Simulator:
    return make_sim(data={BTC: candles, ETH: eth})


def d(text: str) -> Decimal:
    return Decimal(text)


def result(resp: dict) -> dict:
    assert resp["retCode"] == 0, resp
    return resp["result"]


def test_each_symbol_has_its_prices_rules_and_klines(two, make_http, candles, eth):
    http = make_http(two)
    assert two.symbols == [BTC, ETH] and two.symbol == BTC
    infos = {i["symbol"]: i for i in result(http.get_instruments_info(category="linear"))["list"]}
    assert list(infos) == [BTC, ETH]
    assert infos[BTC]["priceFilter"]["tickSize"] == "0.10" and infos[BTC]["lotSizeFilter"]["qtyStep"] == "0.001"
    assert infos[ETH]["priceFilter"]["tickSize"] == "0.01" and infos[ETH]["lotSizeFilter"]["qtyStep"] == "0.01"
    assert infos[ETH]["baseCoin"] == "ETH" and two.for_symbol(ETH).instrument.rules.tick_size == Decimal("0.01")
    assert [i["symbol"] for i in result(http.get_instruments_info(category="linear", baseCoin="ETH"))["list"]] == [ETH]
    two.step(2)
    tickers = {t["symbol"]: t for t in result(http.get_tickers(category="linear"))["list"]}
    assert tickers[BTC]["lastPrice"] == f"{candles.close[1001]:.2f}" == f"{two.last_price:.2f}"
    assert tickers[ETH]["lastPrice"] == f"{eth.close[1001]:.2f}" == f"{two.for_symbol(ETH).last_price:.2f}"
    assert [t["symbol"] for t in result(http.get_tickers(category="linear", symbol=ETH))["list"]] == [ETH]
    for sym, data in ((BTC, candles), (ETH, eth)):
        rows = result(http.get_kline(category="linear", symbol=sym, interval="1", limit=3))["list"]
        assert [int(r[0]) for r in rows] == list(data.ts[999:1002][::-1])
        assert rows[0][4] == f"{data.close[1001]:.2f}"
        book = result(http.get_orderbook(category="linear", symbol=sym, limit=3))
        assert book["s"] == sym
        assert book["b"] == two.orderbook(3, symbol=sym)["b"]
        last = two.for_symbol(sym).last_price
        assert abs(float(book["b"][0][0]) - last) < 0.5 and float(book["a"][0][0]) > float(book["b"][0][0])
    eth_trades = result(http.get_public_trade_history(category="linear", symbol=ETH, limit=2))["list"]
    assert eth_trades[0]["symbol"] == ETH and eth_trades[0]["price"] == f"{eth.close[1001]:.2f}"
    with pytest.raises(Exception, match="BTCUSDT, ETHUSDT"):
        http.get_tickers(category="linear", symbol="SOLUSDT")


def test_public_streams_of_both_symbols_on_one_connection(two, candles, eth):
    topics = [f"{kind}.{sym}" for sym in (BTC, ETH) for kind in ("kline.1", "kline.5", "orderbook.50", "tickers",
                                                                 "publicTrade")]
    with WsClient(two.public_ws_url) as ws:
        ack = ws.subscribe(*topics)
        assert ack["success"] is True, ack
        snaps = ws.drain(0.3)
        assert sorted(m["topic"] for m in snaps) == sorted(t for t in topics if t.split(".")[0] in
                                                           ("orderbook", "tickers"))
        two.step(1)
        msgs = ws.drain(0.3)
    by_topic: dict[str, list[dict]] = {}
    for m in msgs:
        by_topic.setdefault(m["topic"], []).append(m)
    for sym, data in ((BTC, candles), (ETH, eth)):
        closed = [m["data"][0] for m in by_topic[f"kline.1.{sym}"] if m["data"][0]["confirm"]]
        assert len(closed) == 1 and closed[0]["close"] == f"{data.close[1000]:.2f}"
        trades = [t for m in by_topic[f"publicTrade.{sym}"] for t in m["data"]]
        assert len(trades) == 16 and {t["s"] for t in trades} == {sym}
        assert trades[-1]["p"] == f"{data.close[1000]:.2f}"
        assert all(m["data"]["s"] == sym for m in by_topic[f"orderbook.50.{sym}"])
        assert by_topic[f"tickers.{sym}"][-1]["data"]["symbol"] == sym


def _losing_side(data, start: int, steps: int) -> str:
    return "Buy" if data.close[start + steps - 1] < data.close[start - 1] else "Sell"


def test_one_account_an_eth_loss_reduces_what_btc_can_open(two, make_http, candles, eth):
    """One wallet and one available balance: ETH's margin and its unrealised loss both come off what BTC can
    open (110007 beyond it), and the wallet's equity is the balance plus both symbols' uPnL."""
    http = make_http(two)
    two.set_balance(2000)
    steps = next(n for n in range(5, 400) if abs(eth.close[999 + n] / eth.close[999] - 1) > 0.006)
    side = _losing_side(eth, 1000, steps)
    eth_qty = "5.00"  # about 9,000 USDT at 10x: about 900 USDT of margin
    result(http.place_order(category="linear", symbol=ETH, side=side, orderType="Market", qty=eth_qty,
                            orderLinkId="eth-1"))
    wallet0 = result(http.get_wallet_balance(accountType="UNIFIED"))["list"][0]
    upl0 = d(result(http.get_positions(category="linear", symbol=ETH))["list"][0]["unrealisedPnl"])
    assert two.step(steps, timeout=30)
    wallet = result(http.get_wallet_balance(accountType="UNIFIED"))["list"][0]
    eth_pos = result(http.get_positions(category="linear", symbol=ETH))["list"][0]
    loss = -d(eth_pos["unrealisedPnl"])
    assert loss > 40, eth_pos
    assert d(wallet["totalAvailableBalance"]) == (d(wallet["totalWalletBalance"]) + d(eth_pos["unrealisedPnl"])
                                                  - d(eth_pos["positionIM"]))
    assert d(wallet0["totalAvailableBalance"]) - d(wallet["totalAvailableBalance"]) == upl0 + loss
    # A BTC order that the available balance before the loss covered is refused now ...
    available = d(wallet["totalAvailableBalance"])
    price = d(f"{two.last_price:.1f}")
    too_big = ((available + loss / 2) * 10 / price).quantize(Decimal("0.001"))
    with pytest.raises(Exception, match="110007"):  # pybit raises on a non-zero retCode
        http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty=str(too_big),
                         orderLinkId="btc-x")
    # ... one inside it opens BTC's own position beside ETH's.
    fits = (available * Decimal("0.8") * 10 / price).quantize(Decimal("0.001"))
    result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty=str(fits),
                            orderLinkId="btc-1"))
    two.step(1)
    positions = {p["symbol"]: p for p in result(http.get_positions(category="linear", settleCoin="USDT"))["list"]}
    assert positions[BTC]["size"] == str(fits) and positions[ETH]["size"] == eth_qty
    assert positions[BTC]["side"] == "Buy" and positions[ETH]["side"] == side
    wallet = result(http.get_wallet_balance(accountType="UNIFIED"))["list"][0]
    upl = d(positions[BTC]["unrealisedPnl"]) + d(positions[ETH]["unrealisedPnl"])
    assert d(wallet["totalPerpUPL"]) == upl
    assert d(wallet["totalEquity"]) == d(wallet["totalWalletBalance"]) + upl
    assert d(wallet["totalInitialMargin"]) == d(positions[BTC]["positionIM"]) + d(positions[ETH]["positionIM"])
    assert two.wallet()["totalEquity"] == wallet["totalEquity"]
    assert two.position(symbol=ETH)["size"] == eth_qty and two.position()["size"] == str(fits)


def test_walls_are_per_symbol(two, make_http):
    http = make_http(two)
    two.step(1)
    eth_view = two.for_symbol(ETH)
    price = round(eth_view.last_price * 0.997, 2)
    wid = two.walls(ETH).add(price, 500)
    assert two.walls(ETH).list()[0]["id"] == wid and two.walls.list() == []  # sim.walls: the first symbol's
    book = result(http.get_orderbook(category="linear", symbol=ETH, limit=200))
    assert any(p == f"{price:.2f}" and d(q) >= 500 for p, q in book["b"])
    assert max(d(q) for _, q in result(http.get_orderbook(category="linear", symbol=BTC, limit=200))["b"]) < 500
    two.walls(ETH).remove(wid)
    assert eth_view.walls.list() == []
    with pytest.raises(ValueError, match="not 'SOLUSDT'"):
        two.walls("SOLUSDT")


def test_positions_per_symbol_one_way_and_hedge(two, make_http):
    http = make_http(two)
    two.step(1)
    result(http.switch_position_mode(category="linear", symbol=ETH, mode=3))
    assert len(result(http.get_positions(category="linear", symbol=ETH))["list"]) == 2
    assert len(result(http.get_positions(category="linear", symbol=BTC))["list"]) == 1
    result(http.place_order(category="linear", symbol=ETH, side="Buy", orderType="Market", qty="1", positionIdx=1,
                            orderLinkId="e-long"))
    result(http.place_order(category="linear", symbol=ETH, side="Sell", orderType="Market", qty="2", positionIdx=2,
                            orderLinkId="e-short"))
    result(http.place_order(category="linear", symbol=BTC, side="Sell", orderType="Market", qty="0.01",
                            orderLinkId="b-short"))
    rows = result(http.get_positions(category="linear", settleCoin="USDT"))["list"]
    assert sorted((r["symbol"], r["positionIdx"], r["side"], r["size"]) for r in rows) == [
        (BTC, 0, "Sell", "0.010"), (ETH, 1, "Buy", "1.00"), (ETH, 2, "Sell", "2.00")]
    with pytest.raises(Exception, match="110024"):  # every USDT symbol switches together; ETH holds positions
        http.switch_position_mode(category="linear", coin="USDT", mode=0)
    assert two.position(1, symbol=ETH)["size"] == "1.00"


def test_orders_executions_and_closed_pnl_list_every_symbol(two, make_http):
    http = make_http(two)
    two.step(1)
    for sym, qty in ((BTC, "0.01"), (ETH, "1")):
        result(http.place_order(category="linear", symbol=sym, side="Buy", orderType="Market", qty=qty,
                                orderLinkId=f"open-{sym}"))
    two.step(2)
    result(http.place_order(category="linear", symbol=ETH, side="Buy", orderType="Limit", qty="1", price="1000",
                            orderLinkId="rest-ETH"))
    open_all = result(http.get_open_orders(category="linear", settleCoin="USDT"))["list"]
    assert [o["orderLinkId"] for o in open_all] == ["rest-ETH"]
    assert result(http.get_open_orders(category="linear", symbol=BTC))["list"] == []
    with pytest.raises(Exception, match="110072"):  # orderLinkIds are the account's, not a symbol's
        http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="0.01",
                         orderLinkId="open-ETHUSDT")
    for sym, qty in ((BTC, "0.01"), (ETH, "1")):
        result(http.place_order(category="linear", symbol=sym, side="Sell", orderType="Market", qty=qty,
                                reduceOnly=True, orderLinkId=f"close-{sym}"))
    cancelled = result(http.cancel_all_orders(category="linear", settleCoin="USDT"))["list"]
    assert [o["orderLinkId"] for o in cancelled] == ["rest-ETH"]
    history = result(http.get_order_history(category="linear"))["list"]
    assert {(o["symbol"], o["orderLinkId"]) for o in history} >= {
        (BTC, "open-BTCUSDT"), (ETH, "open-ETHUSDT"), (BTC, "close-BTCUSDT"), (ETH, "close-ETHUSDT"),
        (ETH, "rest-ETH")}
    assert [int(o["createdTime"]) for o in history] == sorted((int(o["createdTime"]) for o in history), reverse=True)
    assert {o["symbol"] for o in result(http.get_order_history(category="linear", symbol=ETH))["list"]} == {ETH}
    assert {o["symbol"] for o in result(http.get_order_history(category="linear", baseCoin="BTC"))["list"]} == {BTC}
    execs = result(http.get_executions(category="linear"))["list"]
    assert [(e["symbol"], e["orderLinkId"]) for e in execs] == [
        (ETH, "close-ETHUSDT"), (BTC, "close-BTCUSDT"), (ETH, "open-ETHUSDT"), (BTC, "open-BTCUSDT")]
    assert [e["symbol"] for e in result(http.get_executions(category="linear", symbol=BTC))["list"]] == [BTC, BTC]
    closed = result(http.get_closed_pnl(category="linear"))["list"]
    assert [c["symbol"] for c in closed] == [ETH, BTC]
    wallet = result(http.get_wallet_balance(accountType="UNIFIED"))["list"][0]
    assert d(wallet["totalWalletBalance"]) == 10_000 + sum(d(c["closedPnl"]) for c in closed)
    assert d(wallet["totalPerpUPL"]) == 0
    fees = result(http.get_fee_rates(category="linear"))["list"]
    assert [f["symbol"] for f in fees] == [BTC, ETH]


def test_funding_per_symbol_on_the_one_wallet(make_sim, make_http, candles, eth):
    """At an 8 h boundary each symbol's position pays (or gets) its own funding, from the one wallet."""
    period = 8 * 3_600_000
    b = next(k for k in range(1, len(candles)) if candles.ts[k] % period == 0)
    sim = make_sim(data={BTC: candles, ETH: eth}, history_candles=b - 2)
    http = make_http(sim)
    result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="0.1",
                            orderLinkId="f-btc"))
    result(http.place_order(category="linear", symbol=ETH, side="Sell", orderType="Market", qty="2",
                            orderLinkId="f-eth"))
    wallet0 = d(result(http.get_wallet_balance(accountType="UNIFIED"))["list"][0]["totalWalletBalance"])
    sim.step(3)
    funding = result(http.get_executions(category="linear", execType="Funding"))["list"]
    assert sorted((f["symbol"], f["side"], int(f["execTime"])) for f in funding) == [
        (BTC, "Buy", int(candles.ts[b])), (ETH, "Sell", int(eth.ts[b]))]
    fee = {f["symbol"]: d(f["execFee"]) for f in funding}
    assert fee[BTC] == (d("0.1") * d(f"{candles.open[b]:.1f}") * d("0.0001")).quantize(d("1e-8"))  # longs pay
    assert fee[ETH] == -(d("2") * d(f"{eth.open[b]:.2f}") * d("0.0001")).quantize(d("1e-8"))  # shorts get
    wallet1 = d(result(http.get_wallet_balance(accountType="UNIFIED"))["list"][0]["totalWalletBalance"])
    assert wallet0 - wallet1 == fee[BTC] + fee[ETH]


def test_private_messages_carry_their_symbol(two, make_http):
    http = make_http(two)
    two.step(1)
    with WsClient(two.private_ws_url) as ws:
        assert ws.auth()["success"] is True
        ws.subscribe("order", "execution", "position", "wallet")
        for sym, qty in ((ETH, "1"), (BTC, "0.01")):
            result(http.place_order(category="linear", symbol=sym, side="Buy", orderType="Market", qty=qty,
                                    orderLinkId=f"p-{sym}"))
        msgs = ws.drain(0.3)
    seen = [(m["topic"], item["symbol"]) for m in msgs if m["topic"] != "wallet" for item in m["data"]]
    for topic in ("order", "execution", "position"):
        assert [s for t, s in seen if t == topic] == [ETH, BTC], msgs
    wallets = [m["data"][0] for m in msgs if m["topic"] == "wallet"]
    assert len(wallets) == 2 and d(wallets[-1]["totalPerpUPL"]) == d(two.wallet()["totalPerpUPL"])


def _cut(tmp_path, name: str, data, start: int, stop: int):
    path = tmp_path / name
    write_candle_csv(path, data.slice(start, stop))
    return path


def test_the_union_timeline_a_symbol_joins_late_and_one_ends_early(tmp_path, make_sim, make_http, candles, eth):
    """BTC has candles 0..2009, ETH 1005..2999: the replay starts at 1000 with BTC alone, ETH joins
    at its first candle (snapshots then), BTC stops publishing after its last, ETH goes on."""
    btc_path = _cut(tmp_path, "BTCUSDT-PERP_1m.csv.gz", candles, 0, 2010)
    eth_path = _cut(tmp_path, "ETHUSDT-PERP_1m.csv.gz", eth, 1005, 3000)
    sim = make_sim(data=[str(btc_path), str(eth_path)])
    http = make_http(sim)
    assert sim.symbols == [BTC, ETH] and len(sim.timeline) == 3000 and sim.replay_start_index == 1000
    assert sim.for_symbol(ETH).replay_start_index == 0
    assert [i["symbol"] for i in result(http.get_instruments_info(category="linear"))["list"]] == [BTC]
    pre = result(http.get_instruments_info(category="linear", symbol=ETH))["list"]
    assert pre[0]["status"] == "PreLaunch"
    assert result(http.get_tickers(category="linear", symbol=ETH))["list"] == []
    assert result(http.get_kline(category="linear", symbol=ETH, interval="1"))["list"] == []
    with pytest.raises(Exception, match="not trading yet"):
        http.place_order(category="linear", symbol=ETH, side="Buy", orderType="Market", qty="1", orderLinkId="early")
    with WsClient(sim.public_ws_url) as ws:
        assert ws.subscribe("kline.1.ETHUSDT", "orderbook.50.ETHUSDT", "tickers.ETHUSDT", "publicTrade.ETHUSDT",
                            "kline.1.BTCUSDT")["success"] is True
        sim.step(5)  # 1000..1004: BTC only
        before = ws.drain(0.3)
        assert before and all(m["topic"] == "kline.1.BTCUSDT" for m in before)
        sim.step(1)  # 1005: ETH's first candle
        joined = ws.drain(0.3)
        eth_msgs = [m for m in joined if m["topic"].endswith(ETH)]
        first = {}
        for m in eth_msgs:
            first.setdefault(m["topic"], m)
        assert first["orderbook.50.ETHUSDT"]["type"] == "snapshot" and first["tickers.ETHUSDT"]["type"] == "snapshot"
        kline = [m["data"][0] for m in eth_msgs if m["topic"] == "kline.1.ETHUSDT" and m["data"][0]["confirm"]]
        assert [k["start"] for k in kline] == [int(eth.ts[1005])]
        assert first["tickers.ETHUSDT"]["data"]["lastPrice"] == f"{eth.close[1005]:.2f}"  # flushed at the close
        sim.advance(1005)  # 1006..2010: BTC's last candle is 2009 (read meanwhile: a slow reader is cut)
        ws.until(lambda m: m.get("topic") == "kline.1.ETHUSDT" and m["data"][0]["confirm"]
                 and m["data"][0]["start"] == int(eth.ts[2010]), timeout=60)
        assert sim.wait_idle(30)
        ws.drain(0.3)
        btc_last = result(http.get_tickers(category="linear", symbol=BTC))["list"][0]["lastPrice"]
        assert btc_last == f"{candles.close[2009]:.2f}"
        sim.step(3)
        after = ws.drain(0.3)
        assert after and {m["topic"] for m in after} <= {"kline.1.ETHUSDT", "orderbook.50.ETHUSDT",
                                                         "tickers.ETHUSDT", "publicTrade.ETHUSDT"}
    assert result(http.get_tickers(category="linear", symbol=BTC))["list"][0]["lastPrice"] == btc_last
    oldest = result(http.get_kline(category="linear", symbol=ETH, interval="1", start=int(eth.ts[990]), limit=2))
    newest = result(http.get_kline(category="linear", symbol=ETH, interval="1", limit=1))
    assert [int(r[0]) for r in oldest["list"]] == [int(eth.ts[1006]), int(eth.ts[1005])]
    assert int(newest["list"][0][0]) == int(eth.ts[2013])
    assert sim.replay_index == 2014


def _strip_ids(msg):
    """A message without what differs between runs by design (ids, connection ids, wall times)."""
    if isinstance(msg, dict):
        return {k: _strip_ids(v) for k, v in msg.items()
                if k not in ("i", "id", "orderId", "execId")}
    if isinstance(msg, list):
        return [_strip_ids(v) for v in msg]
    return msg


def _lockstep_run(make_sim, make_http, btc_path, eth_path) -> list:
    sim = make_sim(data=[str(btc_path), str(eth_path)])
    http = make_http(sim)
    topics = [f"{kind}.{sym}" for sym in (BTC, ETH) for kind in ("kline.1", "kline.15", "orderbook.50",
                                                                 "orderbook.1", "tickers", "publicTrade")]
    seen = []
    with WsClient(sim.public_ws_url) as pub, WsClient(sim.private_ws_url) as priv:
        pub.subscribe(*topics)
        priv.auth()
        priv.subscribe("order", "execution", "position", "wallet")
        for n, action in enumerate((None, "open", None, "stops", None, "close", None)):
            if action == "open":
                result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="0.05",
                                        orderLinkId="d-btc"))
                result(http.place_order(category="linear", symbol=ETH, side="Sell", orderType="Market", qty="2",
                                        orderLinkId="d-eth"))
            elif action == "stops":
                btc, eth = sim.last_price, sim.for_symbol(ETH).last_price
                result(http.set_trading_stop(category="linear", symbol=BTC, positionIdx=0,
                                             stopLoss=f"{btc * 0.999:.1f}", takeProfit=f"{btc * 1.01:.1f}"))
                result(http.set_trading_stop(category="linear", symbol=ETH, positionIdx=0,
                                             stopLoss=f"{eth * 1.001:.2f}", trailingStop="3"))
            elif action == "close":
                result(http.cancel_all_orders(category="linear", settleCoin="USDT"))
            assert sim.step(4 + n, timeout=30)
            seen += [("pub", m) for m in pub.drain(0.2)] + [("priv", m) for m in priv.drain(0.2)]
    return [(kind, _strip_ids(m)) for kind, m in seen if m.get("op") is None]


def test_a_two_symbol_lockstep_replay_is_deterministic(tmp_path, make_sim, make_http, candles, eth):
    """Same inputs, same messages in the same order (ids aside), public and private, with ETH joining late."""
    btc_path = _cut(tmp_path, "BTCUSDT-PERP_1m.csv.gz", candles, 0, 3000)
    eth_path = _cut(tmp_path, "ETHUSDT-PERP_1m.csv.gz", eth, 1003, 3000)
    first = _lockstep_run(make_sim, make_http, btc_path, eth_path)
    second = _lockstep_run(make_sim, make_http, btc_path, eth_path)
    assert len(first) > 300
    kinds = {(k, m["topic"]) for k, m in first}
    assert {("priv", "execution"), ("priv", "wallet"), ("pub", "publicTrade.ETHUSDT"),
            ("pub", "kline.15.BTCUSDT")} <= kinds
    assert first == second


def test_many_topics_in_one_request_and_the_21000_character_limit(two):
    everything = [f"{kind}.{sym}" for sym in (BTC, ETH) for kind in
                  ("orderbook.1", "orderbook.50", "orderbook.200", "orderbook.1000", "tickers", "publicTrade",
                   *(f"kline.{iv}" for iv in ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D")))]
    with WsClient(two.public_ws_url) as ws:
        ack = ws.subscribe(*everything)
        assert ack["success"] is True and ack["ret_msg"] == ""
    many = [f"tickers.X{n:05d}USDT" for n in range(1400)]  # 1,400 x 17 characters = 23,800
    with WsClient(two.public_ws_url) as ws:
        ack = ws.subscribe(*many, "tickers.BTCUSDT")
        assert ack["success"] is False and "21000" in ack["ret_msg"]
        ack = ws.subscribe("tickers.BTCUSDT")  # nothing of the refused request was subscribed
        assert ack["success"] is True


@pytest.mark.parametrize("data,symbol,needle", [
    (["a.csv", "b.csv"], "BTCUSDT", "--symbol goes with one --data file only"),
    ([str(ETH_FILE), str(ETH_FILE)], None, "ETHUSDT is given twice"),
    ([str(ETH_FILE), str(DATA_DIR / "BTCUSDT_5m.csv.gz")], None, "same interval"),
])
def test_bad_data_sets_are_bad_input(data, symbol, needle):
    with pytest.raises(BadInputError, match=needle):
        Simulator(SimConfig(data=data, symbol=symbol))


def test_a_file_name_without_a_symbol_is_bad_input(tmp_path, candles):
    path = _cut(tmp_path, "minutes.csv", candles, 0, 2000)
    with pytest.raises(BadInputError, match="cannot tell the symbol"):
        Simulator(SimConfig(data=[str(path), str(ETH_FILE)]))
