"""A second, unrelated Bybit client drives the simulator: ccxt's stock `bybit` class (REST) and
`ccxt.pro.bybit` (WebSocket), default options, only their URLs pointed at the simulator. Every call
is checked against what the simulator itself did (its wallet, position, executions and tape).

ccxt is a test-only dependency (requirements-dev.txt). Everything is bounded: each scenario runs
under one asyncio timeout, every wait loop has a count, and each exchange is closed at the end.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.pro
import pytest
from sim_helpers import KEY, SECRET

pytestmark = pytest.mark.net

SYMBOL = "BTC/USDT:USDT"
SCENARIO_SECONDS = 90


def exchange(sim) -> ccxt.pro.bybit:
    """ccxt.pro's bybit with default options; only the REST and linear/private WebSocket URLs moved."""
    ex = ccxt.pro.bybit({"apiKey": KEY, "secret": SECRET})
    for name, url in list(ex.urls["api"].items()):
        if isinstance(url, str):  # spot, futures, v2, public, private: all the same host on Bybit
            ex.urls["api"][name] = sim.rest_url
    ex.urls["api"]["ws"]["public"]["linear"] = sim.public_ws_url
    ex.urls["api"]["ws"]["private"]["contract"] = sim.private_ws_url
    return ex


def run(sim, scenario) -> None:
    async def main() -> None:
        ex = exchange(sim)
        try:
            await asyncio.wait_for(scenario(ex), SCENARIO_SECONDS)
        finally:
            await ex.close()
    asyncio.run(main())


def d(x) -> Decimal:
    return Decimal(str(x))


def last(sim) -> float:
    """The simulator's last price as it sends it (on the tick grid)."""
    return float(sim.instrument.fmt_price(sim.last_price))


async def executions(sim, ex, order_id: str) -> list[dict]:
    """The simulator's own executions of an order (its REST answer, read through ccxt's raw call)."""
    r = await ex.privateGetV5ExecutionList({"category": "linear", "symbol": "BTCUSDT", "orderId": order_id})
    return r["result"]["list"]


def test_rest_markets_balance_orders_positions_and_history(sim):
    async def scenario(ex) -> None:
        markets = await ex.load_markets()
        assert list(markets) == [SYMBOL]  # the one linear perpetual; spot, inverse and option are empty
        m = markets[SYMBOL]
        assert (m["linear"], m["swap"], m["settle"]) == (True, True, "USDT")
        assert (m["precision"]["price"], m["precision"]["amount"], m["limits"]["amount"]["min"]) == (0.1, 0.001, 0.001)
        assert m["limits"]["leverage"]["max"] == 100 and m["limits"]["cost"]["min"] == 5
        assert {"USDT", "BTC"} <= set(ex.currencies)

        fee = await ex.fetch_trading_fee(SYMBOL)  # /v5/account/fee-rate: the simulator's configured fees
        assert (fee["taker"], fee["maker"]) == (0.00055, 0.0002)

        balance = await ex.fetch_balance()
        assert balance["USDT"]["total"] == 10_000 == float(sim.wallet()["totalWalletBalance"])
        assert balance["USDT"]["free"] == 10_000

        await ex.set_leverage(5, SYMBOL)
        assert sim.position()["leverage"] == "5"

        price = d(last(sim))
        sl, tp = (price * d("0.97")).quantize(d("0.1")), (price * d("1.03")).quantize(d("0.1"))
        entry = await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {
            "stopLoss": {"triggerPrice": float(sl)}, "takeProfit": {"triggerPrice": float(tp)},
            "clientOrderId": "ccxt-entry"})
        fills = await executions(sim, ex, entry["id"])
        assert len(fills) == 1 and fills[0]["orderLinkId"] == "ccxt-entry"
        fill_price, fee = d(fills[0]["execPrice"]), d(fills[0]["execFee"])

        positions = await ex.fetch_positions([SYMBOL])
        assert len(positions) == 1
        p, sim_p = positions[0], sim.position()
        assert (p["symbol"], p["side"], p["contracts"], p["leverage"]) == (SYMBOL, "long", 0.01, 5)
        assert d(p["entryPrice"]) == fill_price == d(sim_p["avgPrice"])
        assert (d(p["stopLossPrice"]), d(p["takeProfitPrice"])) == (sl, tp)
        assert (d(sim_p["stopLoss"]), d(sim_p["takeProfit"])) == (sl, tp)

        below = (price * d("0.9")).quantize(d("0.1"))
        limit = await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(below))
        open_orders = await ex.fetch_open_orders(SYMBOL)  # the limit, and the position's TP and SL orders
        assert [(o["id"], o["price"], o["status"]) for o in open_orders if not o["triggerPrice"]] == [
            (limit["id"], float(below), "open")]
        stops = sorted((o["triggerPrice"], o["side"], o["reduceOnly"]) for o in open_orders if o["triggerPrice"])
        assert stops == [(float(sl), "sell", True), (float(tp), "sell", True)]
        await ex.cancel_order(limit["id"], SYMBOL)
        assert len(await ex.fetch_open_orders(SYMBOL)) == 2

        closed = await ex.fetch_closed_orders(SYMBOL)
        assert [(o["id"], o["clientOrderId"], o["status"], o["filled"]) for o in closed] == [
            (entry["id"], "ccxt-entry", "closed", 0.01)]
        assert d(closed[0]["average"]) == fill_price
        canceled = await ex.fetch_canceled_orders(SYMBOL)
        assert [(o["id"], o["status"], o["filled"]) for o in canceled] == [(limit["id"], "canceled", 0)]

        trades = await ex.fetch_my_trades(SYMBOL)
        assert [(t["id"], t["order"], t["side"], t["amount"]) for t in trades] == [
            (fills[0]["execId"], entry["id"], "buy", 0.01)]
        assert d(trades[0]["price"]) == fill_price and d(trades[0]["fee"]["cost"]) == fee
        assert trades[0]["timestamp"] == int(fills[0]["execTime"]) == sim.replay_time_ms

        await asyncio.to_thread(sim.step, 2)
        close = await ex.create_order(SYMBOL, "market", "sell", 0.01, None, {"reduceOnly": True})
        assert sim.position()["size"] == "0.000"
        flat = await ex.fetch_positions([SYMBOL])  # by symbol Bybit lists the flat row too
        assert [(p["symbol"], p["contracts"], p["stopLossPrice"]) for p in flat] == [(SYMBOL, 0, 0)]  # stop gone
        exit_fill = (await executions(sim, ex, close["id"]))[0]
        closed = await ex.fetch_closed_orders(SYMBOL)
        assert [o["id"] for o in closed] == [entry["id"], close["id"]]  # ccxt sorts them oldest first
        assert closed[1]["reduceOnly"] is True and d(closed[1]["average"]) == d(exit_fill["execPrice"])
        balance = await ex.fetch_balance()
        gross = (d(exit_fill["execPrice"]) - fill_price) * d("0.01")
        wallet = d(10_000) + gross - fee - d(exit_fill["execFee"])
        assert d(balance["USDT"]["total"]) == wallet == d(sim.wallet()["totalWalletBalance"])

    run(sim, scenario)


async def _until(task: asyncio.Task, step, tries: int = 20, wait: float = 1.0):
    """Call `step()` (a candle, an order) until `task` has a result, at most `tries` times."""
    for _ in range(tries):
        done, _ = await asyncio.wait({task}, timeout=wait)
        if done:
            return task.result()
        await step()
    task.cancel()
    raise AssertionError("the watch call never resolved")


def test_public_watch_calls(sim, candles):
    async def scenario(ex) -> None:
        await ex.load_markets()
        ticker = await ex.watch_ticker(SYMBOL)  # the snapshot
        assert ticker["last"] == last(sim) and ticker["symbol"] == SYMBOL
        book = await ex.watch_order_book(SYMBOL)  # the snapshot
        own = sim.orderbook(1)
        assert [book["bids"][0][0], book["asks"][0][0]] == [float(own["b"][0][0]), float(own["a"][0][0])]

        async def candle() -> None:
            await asyncio.to_thread(sim.step, 1)

        first = sim.replay_index
        trades = await _until(asyncio.ensure_future(ex.watch_trades(SYMBOL)), candle)
        lo, hi = candles.low[first:sim.replay_index].min(), candles.high[first:sim.replay_index].max()
        assert trades and all(t["symbol"] == SYMBOL and lo - 0.1 <= t["price"] <= hi + 0.1 for t in trades)
        assert all(t["timestamp"] <= sim.replay_time_ms for t in trades)
        rest = {t["id"]: t["price"] for t in await ex.fetch_trades(SYMBOL, limit=1000)}
        assert all(rest[t["id"]] == t["price"] for t in trades)  # the same trades REST lists

        ohlcv = await _until(asyncio.ensure_future(ex.watch_ohlcv(SYMBOL, "1m")), candle)
        ts, o, h, lw, c, v = ohlcv[-1]
        i = list(candles.ts).index(ts)
        assert sim.replay_start_index <= i < sim.replay_index
        assert (o, h, lw, c, v) == pytest.approx(
            (candles.open[i], candles.high[i], candles.low[i], candles.close[i], candles.volume[i]))

        ticker = await _until(asyncio.ensure_future(ex.watch_ticker(SYMBOL)), candle)  # deltas merged by ccxt
        assert ticker["last"] == last(sim) == pytest.approx(candles.close[sim.replay_index - 1])

        # After several candles of deltas, ccxt's merged book is the simulator's own, level for level.
        await _until(asyncio.ensure_future(ex.watch_order_book(SYMBOL)), candle)
        await asyncio.sleep(0.2)  # the simulator is idle between lockstep candles: nothing more is coming
        merged = ex.orderbooks[SYMBOL]
        own = sim.orderbook(50)
        assert [[p, q] for p, q in merged["bids"][:50]] == [[float(p), float(q)] for p, q in own["b"]]
        assert [[p, q] for p, q in merged["asks"][:50]] == [[float(p), float(q)] for p, q in own["a"]]

    run(sim, scenario)


def test_private_watch_calls(sim):
    async def scenario(ex) -> None:
        await ex.load_markets()
        snapshot = await ex.watch_positions([SYMBOL])  # ccxt loads a REST snapshot first
        assert all(p["contracts"] in (0, None) for p in snapshot)
        watchers = {
            "orders": asyncio.ensure_future(ex.watch_orders(SYMBOL)),
            "trades": asyncio.ensure_future(ex.watch_my_trades(SYMBOL)),
            "positions": asyncio.ensure_future(ex.watch_positions([SYMBOL])),
            "balance": asyncio.ensure_future(ex.watch_balance()),
        }
        created: list[str] = []
        for _ in range(10):  # an order until every stream has delivered one (subscribing takes a moment)
            await asyncio.wait(list(watchers.values()), timeout=0.5)
            if all(t.done() for t in watchers.values()):
                break
            created.append((await ex.create_order(SYMBOL, "market", "buy", 0.01))["id"])
        else:
            for t in watchers.values():
                t.cancel()
            raise AssertionError(f"not every watch call resolved: {[k for k, t in watchers.items() if not t.done()]}")
        orders = watchers["orders"].result()
        assert orders and all(o["id"] in created and o["symbol"] == SYMBOL for o in orders)
        assert {o["status"] for o in orders} <= {"open", "closed"} and orders[-1]["side"] == "buy"
        mine = watchers["trades"].result()
        assert mine and all(t["order"] in created and t["amount"] == 0.01 for t in mine)
        fills = await executions(sim, ex, mine[0]["order"])
        assert (mine[0]["id"], d(mine[0]["price"])) == (fills[0]["execId"], d(fills[0]["execPrice"]))
        positions = watchers["positions"].result()
        assert positions[-1]["symbol"] == SYMBOL and positions[-1]["side"] == "long"
        assert 0.01 <= positions[-1]["contracts"] <= 0.01 * len(created)
        balance = watchers["balance"].result()
        assert balance["USDT"]["total"] < 10_000  # the entry fee was paid

        # Once every stream is live, one more order shows up on each with the simulator's values.
        watchers = {k: asyncio.ensure_future(fn) for k, fn in (
            ("orders", ex.watch_orders(SYMBOL)), ("trades", ex.watch_my_trades(SYMBOL)),
            ("positions", ex.watch_positions([SYMBOL])), ("balance", ex.watch_balance()))}
        await asyncio.sleep(0.1)
        final = await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "ccxt-last"})
        done, _ = await asyncio.wait(list(watchers.values()), timeout=10)
        assert len(done) == 4
        assert any(o["id"] == final["id"] and o["clientOrderId"] == "ccxt-last" for o in watchers["orders"].result())
        assert any(t["order"] == final["id"] for t in watchers["trades"].result())
        size = d(sim.position()["size"])
        assert d(watchers["positions"].result()[-1]["contracts"]) == size == d("0.01") * (len(created) + 1)
        usdt = next(c for c in sim.wallet()["coin"] if c["coin"] == "USDT")
        ws_usdt = watchers["balance"].result()["USDT"]  # ccxt: total = equity, free = available to withdraw
        assert (d(ws_usdt["total"]), d(ws_usdt["free"])) == (d(usdt["equity"]), d(usdt["availableToWithdraw"]))

    run(sim, scenario)


ETH_SYMBOL = "ETH/USDT:USDT"


def test_two_symbols_on_one_account(make_sim, candles):
    """ccxt sees both markets with their own rules, trades both on one balance, lists both positions
    without naming them, and watches both books and tickers on one connection."""
    from tests.paths import DATA_DIR
    from whale.candle_file import load_candle_file

    eth = load_candle_file(DATA_DIR / "ETHUSDT-PERP_1m.csv.gz").candles.slice(0, 3000)
    sim = make_sim(data={"BTCUSDT": candles, "ETHUSDT": eth})

    async def scenario(ex) -> None:
        markets = await ex.load_markets()
        assert list(markets) == [SYMBOL, ETH_SYMBOL]
        assert (markets[ETH_SYMBOL]["precision"]["price"], markets[ETH_SYMBOL]["precision"]["amount"]) == (0.01, 0.01)
        await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "ccxt-btc"})
        await ex.create_order(ETH_SYMBOL, "market", "sell", 1, None, {"clientOrderId": "ccxt-eth"})
        positions = {p["symbol"]: p for p in await ex.fetch_positions()}  # no symbols: settleCoin=USDT
        assert set(positions) == {SYMBOL, ETH_SYMBOL}
        assert (positions[SYMBOL]["side"], positions[ETH_SYMBOL]["side"]) == ("long", "short")
        assert positions[ETH_SYMBOL]["contracts"] == 1 == float(sim.position(symbol="ETHUSDT")["size"])
        balance = await ex.fetch_balance()
        wallet = sim.wallet()
        assert d(balance["USDT"]["total"]) == d(wallet["totalWalletBalance"]) < 10_000  # both entries' fees
        assert d(balance["USDT"]["free"]) == d(wallet["coin"][0]["availableToWithdraw"])  # both margins out
        mine = await ex.fetch_my_trades(ETH_SYMBOL)
        assert [(t["symbol"], t["side"], t["amount"]) for t in mine] == [(ETH_SYMBOL, "sell", 1)]
        tickers = await ex.watch_tickers([SYMBOL, ETH_SYMBOL])
        assert set(tickers) <= {SYMBOL, ETH_SYMBOL} and tickers
        book = await ex.watch_order_book(ETH_SYMBOL)
        own = sim.orderbook(1, symbol="ETHUSDT")
        assert [book["bids"][0][0], book["asks"][0][0]] == [float(own["b"][0][0]), float(own["a"][0][0])]

    run(sim, scenario)
