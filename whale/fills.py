"""The fill model: the intra-candle price path, stop/target triggering, fees, slippage and funding.

One implementation for every mode (docs/architecture.md, principle 9). The functions are numba
`njit` so the backtest's per-candle kernel calls them at native speed, and they stay plain
callables for the paper broker, the simulator and the live PositionManager.

Bar path: an up candle (close > open) goes Open -> Low -> High -> Close, a down candle
Open -> High -> Low -> Close; a doji visits the nearer extreme first (the low on a tie).
"""

from __future__ import annotations

import math

from numba import njit

LONG = 1
SHORT = -1

# Exit kinds found on a bar path.
NO_EXIT = 0
HIT_STOP = 1
HIT_TARGET = 2

FUNDING_PERIOD_MS = 8 * 3_600_000  # 00:00, 08:00, 16:00 UTC


@njit(cache=True)
def bar_path(o: float, h: float, lo: float, c: float) -> tuple[float, float, float, float]:
    """The four prices a candle visits, in order."""
    if c > o:
        return o, lo, h, c
    if c < o:
        return o, h, lo, c
    if (o - lo) <= (h - o):
        return o, lo, h, c
    return o, h, lo, c


@njit(cache=True)
def stop_crossed(side: int, stop: float, price: float) -> bool:
    """A long's stop triggers at or below it, a short's at or above (last-price trigger)."""
    if stop != stop or stop <= 0.0:
        return False
    return price <= stop if side == LONG else price >= stop


@njit(cache=True)
def target_crossed(side: int, target: float, price: float) -> bool:
    if target != target or target <= 0.0:
        return False
    return price >= target if side == LONG else price <= target


@njit(cache=True)
def first_exit_on_bar(side: int, stop: float, target: float, o: float, h: float, lo: float, c: float,
                      entry_bar: bool) -> tuple[int, float]:
    """Which of stop / target the candle reaches first along the bar path, and the trigger price.

    A candle opening beyond a level fills at the open (a gap). In the entry candle a stop and a
    target both inside the range: the stop wins. Returns (NO_EXIT | HIT_STOP | HIT_TARGET, price).
    """
    if stop_crossed(side, stop, o):
        return HIT_STOP, o
    if target_crossed(side, target, o):
        return HIT_TARGET, o
    worst = lo if side == LONG else h
    best = h if side == LONG else lo
    if entry_bar and stop_crossed(side, stop, worst) and target_crossed(side, target, best):
        return HIT_STOP, stop
    p0, p1, p2, p3 = bar_path(o, h, lo, c)
    for k in range(3):
        b = p1 if k == 0 else (p2 if k == 1 else p3)
        if stop_crossed(side, stop, b):
            return HIT_STOP, stop
        if target_crossed(side, target, b):
            return HIT_TARGET, target
    return NO_EXIT, 0.0


@njit(cache=True)
def slipped(price: float, buying: bool, slippage_rate: float) -> float:
    """A market fill moves against the taker: buys fill higher, sells lower."""
    return price * (1.0 + slippage_rate) if buying else price * (1.0 - slippage_rate)


@njit(cache=True)
def fee(price: float, qty: float, rate: float) -> float:
    return abs(price * qty) * rate


@njit(cache=True)
def pnl(side: int, entry: float, exit_: float, qty: float) -> float:
    """Gross PnL of a closed quantity, before fees and funding."""
    return (exit_ - entry) * qty * side


@njit(cache=True)
def funding_payment(side: int, qty: float, price: float, rate: float) -> float:
    """What the position pays at one funding time (negative = receives): longs pay a positive rate."""
    return side * qty * price * rate


@njit(cache=True)
def funding_times_in(start_ms: int, end_ms: int) -> int:
    """How many funding timestamps F fall in [start_ms, end_ms)."""
    if end_ms <= start_ms:
        return 0
    first = -(-start_ms // FUNDING_PERIOD_MS)
    last = (end_ms - 1) // FUNDING_PERIOD_MS
    return max(0, last - first + 1)


@njit(cache=True)
def floor_ticks(price: float, tick: float) -> int:
    """Whole ticks at or below `price` (tolerant of float noise such as 0.30000000000000004)."""
    return int(math.floor(price / tick + 1e-9))


@njit(cache=True)
def ceil_ticks(price: float, tick: float) -> int:
    return int(math.ceil(price / tick - 1e-9))


@njit(cache=True)
def round_away_from_market(price: float, tick: float, side: int, is_stop: bool) -> float:
    """Round a stop or target to the tick on the side away from the market, so rounding can never
    push it through the current price: a long's stop rounds down and its target up; a short's
    stop rounds up and its target down."""
    down = (side == LONG) == is_stop
    k = floor_ticks(price, tick) if down else ceil_ticks(price, tick)
    return k * tick


@njit(cache=True)
def taker_fill_ticks(buying: bool, book_price: float, ref: float, slippage_rate: float, tick: float) -> int:
    """A market (taker) fill in whole ticks, the one rule of every mode: the fill model's slippage from
    `ref` (or walking the book, `book_price` = the average price for the quantity, when that is worse),
    rounded to the tick against the taker: a buy rounds up, a sell down. `book_price` NaN: no book (the
    backtest, paper trading before its first book). Fees are charged on this rounded price."""
    px = slipped(ref, buying, slippage_rate)
    if book_price == book_price:
        px = max(book_price, px) if buying else min(book_price, px)
    return ceil_ticks(px, tick) if buying else floor_ticks(px, tick)


@njit(cache=True)
def tick_price(ticks: int, tick: float) -> float:
    """A price given in whole ticks as the float nearest its decimal value (426461 ticks of 0.1 is
    42646.1, not 42646.100000000006), so float and Decimal paths agree on it."""
    inv = 1.0 / tick
    whole = round(inv)
    if whole >= 1.0 and abs(inv - whole) <= 1e-9 * whole:
        return ticks / whole
    return ticks * tick


@njit(cache=True)
def limit_reached(buying: bool, limit: float, price: float) -> bool:
    """A resting limit order fills once the last price trades at or through it."""
    return price <= limit if buying else price >= limit


@njit(cache=True)
def trailing_stop_level(side: int, extreme: float, distance: float, tick: float) -> float:
    """An exchange trailing stop: `distance` behind the best price since activation, on the tick
    away from the market."""
    return round_away_from_market(extreme - side * distance, tick, side, True)
