"""Bybit's public messages in venue-neutral form, for whale.market (book updates, trades, the ticker).

Bybit's book rules that are not the book's own: a message of type `snapshot` replaces the book, and
`u == 1` means Bybit restarted the service, so that message is a snapshot whatever its type says
(docs/bybit.md#the-order-book). Levels are passed on as Bybit sends them (price and size strings);
the book reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from whale.market.book import BookSnapshot, BookUpdate, snapshot_of

Trade = tuple  # (time ms, side "Buy"/"Sell", size, price) as MarketState.on_trades takes them


def book_update(msg: Mapping[str, Any]) -> BookUpdate:
    """An `orderbook.{depth}.{symbol}` WebSocket message (snapshot or delta)."""
    data = msg["data"]
    u = int(data.get("u") or 0)
    seq = data.get("seq")
    ts = msg.get("ts")
    return BookUpdate(msg.get("type") == "snapshot" or u == 1, data.get("b") or (), data.get("a") or (), u,
                      None if seq is None else int(seq), None if ts is None else int(ts))


def book_data_update(data: Mapping[str, Any], snapshot: bool, ts: int | None = None) -> BookUpdate:
    """A book message's `data` object alone (tests, replays)."""
    return book_update({"type": "snapshot" if snapshot else "delta", "data": data, "ts": ts})


def snapshot_from_bybit(data: Mapping[str, Any], ts: int | None = None) -> BookSnapshot:
    """A REST orderbook `result` or a WebSocket snapshot's `data` (levels already sorted best first by
    Bybit; sorted again in case they are not)."""
    return snapshot_of(str(data.get("s", "")), data.get("b") or (), data.get("a") or (), int(data.get("ts") or ts or 0),
                       int(data.get("u") or 0), int(data.get("seq") or 0))


def trades_of(data: Any) -> list[Trade]:
    """A `publicTrade.{symbol}` message's `data` (items with T, S, v, p) as MarketState's trades."""
    return [(int(t["T"]), str(t["S"]), t["v"], t["p"]) for t in data]


def ticker_of(msg: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any], int, str | None]:
    """A `tickers.{symbol}` message as MarketState.on_ticker's arguments (snapshot, fields, ts, last price).
    The docs say `data` is an array; Bybit sends an object: both are read."""
    data = msg["data"]
    if isinstance(data, list):
        data = data[0]
    last = data.get("lastPrice")
    return (msg.get("type") or "snapshot") == "snapshot", data, int(msg.get("ts") or 0), \
        None if last in (None, "") else str(last)
