"""A recorded order book in the simulator (`sim --book`), and the matching engine that fills on it.

`RecordedBook` is one symbol's book as the replay has played it: levels in ticks and qty steps
(the instrument's), changed by the recording's snapshots and deltas. `BookExchange` is the
matching engine of `whale.sim.matching` with one difference: a taker fill comes from the fill rule
on recorded books (`whale.book_fills`): the walk of the recorded levels as they stand at the
order's time plus the latency (a stop or target the engine triggers itself: at the triggering
print's time), rounded against the taker, with no slippage floor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

import numpy as np

from whale.book_fills import NO_PRICE, book_fill_ticks
from whale.market.instruments import KNOWN, Instrument
from whale.recording.format import Header
from whale.sim.account import Account
from whale.sim.instrument import SimInstrument, sim_instrument
from whale.sim.matching import Exchange

log = logging.getLogger("whalebot.sim")

Levels = list[tuple[int, int]]  # (price in ticks, size in qty steps)
SideAt = Callable[[bool, int], tuple[np.ndarray, np.ndarray]]  # (buying, until ms) -> (ticks, steps) best first


def recorded_instrument(symbol: str, header: Header) -> SimInstrument:
    """Bybit's rules for a known symbol; for another, the recording's units as tick and qty step."""
    if symbol in KNOWN:
        return sim_instrument(symbol, None)
    tick = Decimal(header.price_unit.text)
    step = Decimal(header.size_unit.text)
    rules = Instrument(symbol, tick, step, step, Decimal("5"), step * 1_000_000, step * 500_000)
    base = symbol[:-4] if symbol.endswith("USDT") else symbol
    return SimInstrument(rules, base, rules.price_decimals, rules.qty_decimals)


class RecordedBook:
    """One symbol's book in ticks and steps. `levels()` and `best()` are what the feed and the
    engine read (as the synthetic book's), `version` moves on every change."""

    def __init__(self, symbol: str, tick: float, step: float) -> None:
        self.symbol = symbol
        self.tick = tick
        self.step = step
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.known = False  # a snapshot has been played
        self.version = 0
        self.off_grid = 0  # recorded values not on the instrument's grid (rounded to it)
        self._cache: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None

    def units(self, levels: Sequence[tuple[float, float]], count: bool = True) -> Levels:
        """Recorded (price, size) floats as (ticks, steps) of the instrument (`count`: count and warn
        about values off the grid, once per value played)."""
        out = []
        tick, step = self.tick, self.step
        for price, size in levels:
            t = price / tick
            s = size / step
            ti, si = round(t), round(s)
            if count and (abs(t - ti) > 1e-6 or abs(s - si) > 1e-6):
                self.off_grid += 1
                if self.off_grid == 1:
                    log.warning(f"sim: {self.symbol}: the recording has a level ({price}, {size}) off the "
                                f"instrument's grid (tick {tick}, step {step}); such values are rounded to it")
            out.append((ti, si))
        return out

    def apply(self, snapshot: bool, bids: Levels, asks: Levels) -> None:
        if snapshot:
            self.bids = {p: s for p, s in bids if s > 0}
            self.asks = {p: s for p, s in asks if s > 0}
            self.known = True
        else:
            for side, levels in ((self.bids, bids), (self.asks, asks)):
                for p, s in levels:
                    if s > 0:
                        side[p] = s
                    else:
                        side.pop(p, None)
        self.version += 1

    def levels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid ticks descending, their sizes, ask ticks ascending, their sizes)."""
        if self._cache is not None and self._cache[0] == self.version:
            return self._cache[1]
        bp = sorted(self.bids, reverse=True)
        ap = sorted(self.asks)
        got = (np.array(bp, dtype=np.int64), np.array([self.bids[p] for p in bp], dtype=np.int64),
               np.array(ap, dtype=np.int64), np.array([self.asks[p] for p in ap], dtype=np.int64))
        self._cache = (self.version, got)
        return got

    def best(self) -> tuple[int, int, int, int]:
        """(best bid, its size, best ask, its size); 0 for an empty side."""
        bid = max(self.bids) if self.bids else 0
        ask = min(self.asks) if self.asks else 0
        return bid, self.bids.get(bid, 0), ask, self.asks.get(ask, 0)


class BookExchange(Exchange):
    """The matching engine on a recorded book (see the module doc). `side_at(buying, until_ms)` gives
    the side a taker order takes as it stands at a time (the replay reads the recording ahead)."""

    def __init__(self, instrument: SimInstrument, account: Account, book: RecordedBook, last_tick: int,
                 latency_ms: int, side_at: SideAt) -> None:
        super().__init__(instrument, account, book, last_tick)  # type: ignore[arg-type]  # the Book interface
        self.latency_ms = int(latency_ms)
        self.side_at = side_at
        self.taker_fills = 0
        self.beyond_book = 0  # taker fills larger than the recorded side: the rest at its last level
        self._triggering = False  # inside on_tick: the engine triggers the order itself, no latency

    def on_tick(self, tick: int, now: int, gap: bool) -> None:
        self._triggering = True
        try:
            super().on_tick(tick, now, gap)
        finally:
            self._triggering = False

    def _taker_price(self, buying: bool, qty: Decimal, ref: float, limit: Decimal | None) -> Decimal:
        steps = float(qty / self.instrument.rules.qty_step)
        until = self.now + (0 if self._triggering else self.latency_ms)
        prices, sizes = self.side_at(buying, until)
        ticks, beyond = book_fill_ticks(buying, prices.astype(np.float64), sizes.astype(np.float64), steps, 1.0)
        self.taker_fills += 1
        if ticks == NO_PRICE or beyond > 0:
            self.beyond_book += 1
            side = "buy" if buying else "sell"
            if ticks == NO_PRICE:
                ticks = self.last_tick
                log.warning(f"sim: {self.symbol}: a {side} of {qty} meets an empty side of the recorded book: it "
                            f"fills at the last price")
            else:
                log.warning(f"sim: {self.symbol}: a {side} of {qty} takes more than the recorded book holds "
                            f"({beyond * float(self.instrument.rules.qty_step):g} beyond its {len(prices)} levels): "
                            f"the rest fills at its last level")
        price = self._price(int(ticks))
        if limit is not None:
            price = min(price, limit) if buying else max(price, limit)
        return price
