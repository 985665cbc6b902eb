"""One symbol listed on the simulated exchange: its candles and instrument rules, synthetic book,
public market, matching engine (on the shared account) and public streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from whale.market.candles import Candles
from whale.sim.account import Account
from whale.sim.book import Book
from whale.sim.clock import ReplayClock
from whale.sim.feed import Feed
from whale.sim.instrument import SimInstrument, sim_instrument
from whale.sim.market import Market
from whale.sim.matching import Exchange
from whale.sim.tape import Tape
from whale.sim.ws import Hub

if TYPE_CHECKING:
    from whale.sim.server import SimConfig


class Listing:
    def __init__(self, symbol: str, candles: Candles, cfg: SimConfig, start_ms: int, clock: ReplayClock,
                 account: Account, hub: Hub, paced: frozenset[str] = frozenset()) -> None:
        """`cfg` gives the book's shape and the ticks per candle; `start_ms` is the replay's first candle:
        this symbol's candles before it are history, and when they all come later it joins then."""
        self.symbol = symbol
        self.instrument: SimInstrument = sim_instrument(symbol, candles.close)
        self.tape = Tape(candles, self.instrument, cfg.ticks_per_candle)
        self.start = int(np.searchsorted(candles.ts, start_ms, side="left"))  # its first candle to replay
        inst = self.instrument
        ref = float(candles.close[self.start - 1] if self.start else candles.open[0])
        level_ticks = cfg.book_level_ticks or max(1, int(round(0.01 * ref / 200 / inst.tick)))
        level_qty = cfg.book_level_qty or float(np.median(candles.volume)) / 50.0
        self.book = Book(level_ticks, level_qty / inst.step, int(cfg.book_churn_seconds * 1000), cfg.seed,
                         max(1, cfg.book_levels))
        self.market = Market(self.tape, self.book, clock, cfg.fees, self.start)
        self.exchange = Exchange(inst, account, self.book, self.market.last_tick, cfg.trigger_fill)
        self.feed = Feed(hub, self.market, self.tape, paced)

    @property
    def candles(self) -> Candles:
        return self.tape.candles
