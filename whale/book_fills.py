"""The fill rule on recorded order books: one implementation for `sim --book` and `backtest --book`.

- **Taker orders.** A market order (or a limit order that crosses the book) takes the levels of the
  side it hits (asks for a buy, bids for a sell), best first, as they stand at the order's time
  plus the configured latency (`backtest.latency_ms`, default 100 ms: the time an order takes to
  reach the exchange). Its price is the volume-weighted average over the levels it takes, rounded
  to the tick against the taker by the project's rule (`whale.fills.taker_fill_ticks`: a buy
  rounds up, a sell down).
- **No slippage floor.** The candle fill model fills at no better than last price x (1 +/-
  `fees.slippage_rate`), because a candle has no book. On a recorded book the walk alone decides:
  the default 0.01 % of 95,000 USDT is 9.5 USDT, about 100 ticks of BTCUSDT's 0.1, where the real
  book's spread is usually one tick, so the floor would price every fill far from the book.
- **Stops and targets** trigger on the recorded trade prints (the last price, as Bybit's
  LastPrice trigger: `whale.fills.stop_crossed` / `target_crossed` on each print in order), and
  fill by the same walk on the book as it stands at the triggering print: the exchange triggers
  them itself, so no network latency applies.
- **A book too thin** for the quantity: the last level of the side absorbs the rest (as the paper
  broker does), and the walk reports how much was beyond the book, so a caller can count such
  fills and warn. An empty side gives no price (NaN); the caller decides (the simulator refuses
  the order).
- **Time.** The book "as it stands at t" is the book after every update up to the first one stamped
  after t, in the recording's order (the reader's running-maximum clock): `side_at` applies the
  updates still to come to the current side.

Pure: no I/O. `walk_levels` and `book_fill_ticks` are numba kernels (a backtest calls them per
order; the simulator per order and per triggered stop).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from whale.fills import taker_fill_ticks

DEFAULT_LATENCY_MS = 100
NO_PRICE = -1  # book_fill_ticks when the side is empty


@njit(cache=True)
def walk_levels(prices: np.ndarray, sizes: np.ndarray, qty: float) -> tuple[float, float]:
    """(average price, quantity beyond the book) of taking `qty` from one side of a book, levels
    best first. The last level absorbs what the book cannot fill. (NaN, qty) for an empty side."""
    n = prices.shape[0]
    if n == 0 or not qty > 0.0:
        return np.nan, qty if qty > 0.0 else 0.0
    left = qty
    cost = 0.0
    eps = qty * 1e-12
    for j in range(n):
        take = sizes[j] if sizes[j] < left else left
        if j == n - 1:
            take = left
        cost += prices[j] * take
        left -= take
        if left <= eps:
            break
    total = 0.0
    for j in range(n):
        total += sizes[j]
    beyond = qty - total
    return cost / qty, beyond if beyond > eps else 0.0


@njit(cache=True)
def book_fill_ticks(buying: bool, prices: np.ndarray, sizes: np.ndarray, qty: float, tick: float) -> tuple[int, float]:
    """The fill of a taker order of `qty` on one side of a recorded book, in whole ticks, and the
    quantity beyond the book: the walk's average rounded against the taker (no slippage floor).
    (NO_PRICE, qty) for an empty side."""
    avg, beyond = walk_levels(prices, sizes, qty)
    if avg != avg:
        return NO_PRICE, beyond
    return taker_fill_ticks(buying, avg, avg, 0.0, tick), beyond


class BookUpdate(NamedTuple):
    """One recorded book message: exchange time, snapshot or delta, levels as (price, size) pairs
    (size 0 removes a level in a delta). Prices and sizes in any one unit (floats, or ticks and steps)."""

    ts: int
    snapshot: bool
    bids: Sequence[tuple[float, float]]
    asks: Sequence[tuple[float, float]]


def side_at(current: Mapping[Any, float], buying: bool, pending: Iterable[BookUpdate],
            until_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """The side a taker order takes (asks for a buy, bids for a sell) as it stands at `until_ms`:
    `current` (that side after every update played so far, price -> size) changed by the `pending`
    updates, in order, up to the first one stamped after `until_ms`. Returns (prices, sizes) best
    first, as float arrays."""
    side = dict(current)
    for upd in pending:
        if upd.ts > until_ms:
            break
        levels = upd.asks if buying else upd.bids
        if upd.snapshot:
            side = {}
        for price, size in levels:
            if size > 0:
                side[price] = size
            else:
                side.pop(price, None)
    keys = sorted(side, reverse=not buying)
    return (np.array(keys, dtype=np.float64), np.array([side[k] for k in keys], dtype=np.float64))
