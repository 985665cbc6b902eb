"""Order and execution ids are unique across simulator runs, as Bybit's are, while everything else
about a replay (prices, times, fills) stays deterministic: ids never feed a decision or an order."""

import re

import pytest

SYM = "BTCUSDT"
L = {"category": "linear", "symbol": SYM}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
pytestmark = pytest.mark.net


def _session(sim, make_http) -> dict:
    """The same script on a fresh simulator: a market entry with a stop, a resting limit that fills,
    two candles, a reduce-only close. Returns every order and execution the exchange recorded."""
    http = make_http(sim)
    last = float(http.get_tickers(**L)["result"]["list"][0]["lastPrice"])
    http.place_order(**L, side="Buy", orderType="Market", qty="0.010", orderLinkId="entry",
                     stopLoss=f"{last * 0.97:.1f}")
    http.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=f"{last * 0.9:.1f}",
                     orderLinkId="rest")
    assert sim.step(2, timeout=10)
    http.place_order(**L, side="Sell", orderType="Market", qty="0", reduceOnly=True, orderLinkId="close")
    http.cancel_all_orders(**L)
    orders = http.get_open_orders(**L, openOnly=1, limit=50)["result"]["list"]
    fills = http.get_executions(**L)["result"]["list"]
    trades = http.get_public_trade_history(**L, limit=50)["result"]["list"]
    return {"orders": orders, "fills": fills, "trades": trades}


def _without_ids(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("orderId", "execId")} for r in rows]


def test_ids_are_unique_across_runs_and_the_rest_is_repeatable(make_sim, make_http):
    first = _session(make_sim(), make_http)
    second = _session(make_sim(), make_http)
    ids = []
    for run in (first, second):
        assert run["fills"] and run["orders"]
        ids += [o["orderId"] for o in run["orders"]] + [f["execId"] for f in run["fills"]]
    assert all(UUID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids), "an order or execution id repeated (within or across runs)"
    # Same replay, same requests: the same orders and fills to the field, ids aside.
    assert _without_ids(first["orders"]) == _without_ids(second["orders"])
    assert _without_ids(first["fills"]) == _without_ids(second["fills"])
    # Public trade ids too: unique across runs, the trades themselves identical.
    assert not {t["execId"] for t in first["trades"]} & {t["execId"] for t in second["trades"]}
    assert _without_ids(first["trades"]) == _without_ids(second["trades"])
