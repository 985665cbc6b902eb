"""What the simulator's bad-data faults send: private messages that are valid JSON but the wrong
shape, and market values that cannot be true. A live client must skip each and keep going."""

from __future__ import annotations

from typing import Any

# An item of each private topic with the fields a client reads, one amount not being a number.
_NON_NUMERIC: dict[str, dict[str, Any]] = {
    "execution": {"execType": "Trade", "execTime": "0", "orderId": "bad-data", "side": "Buy", "execQty": "abc",
                  "execPrice": "1", "execFee": "0", "closedSize": "abc", "leavesQty": "0"},
    "order": {"orderId": "bad-data", "orderStatus": "Filled", "side": "Buy", "qty": "abc"},
    "position": {"side": "Buy", "size": "abc", "positionIdx": 0},
    "wallet": {"accountType": "UNIFIED", "totalEquity": "abc", "coin": []},
}


def bad_private_item(topic: str, symbol: str) -> dict:
    """An item of `topic` whose amount is not a number."""
    item = dict(_NON_NUMERIC[topic])
    if topic != "wallet":
        item["symbol"] = symbol
    return item


def bad_private_data(topic: str, kind: str, symbol: str) -> Any:
    """The `data` of a wrong-shape `topic` message: null_item, not_a_list, missing_fields, bad_number."""
    if kind == "null_item":
        return [None]
    if kind == "not_a_list":
        return {"symbol": symbol}
    if kind == "missing_fields":
        return [{"symbol": symbol}] if topic != "wallet" else [{"coin": []}]
    if kind == "bad_number":
        return [bad_private_item(topic, symbol)]
    raise ValueError(f"unknown bad private kind {kind!r}")


def bad_kline(data: dict, kind: str) -> dict:
    """A copy of a kline item with one value that cannot be true."""
    out = dict(data)
    if kind == "kline_nan_close":
        out["close"] = "NaN"
    elif kind == "kline_inf_close":
        out["close"] = "inf"
    elif kind == "kline_negative_volume":
        out["volume"] = "-" + str(data["volume"]).lstrip("-")
    else:
        raise ValueError(f"unknown bad kline kind {kind!r}")
    return out


def bad_ticker(symbol: str) -> dict:
    """A ticker delta whose lastPrice is 0."""
    return {"symbol": symbol, "lastPrice": "0"}
