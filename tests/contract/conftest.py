"""The venues every Execution contract test runs against: the paper Execution (in process, prices
given by ticks) and the Bybit Execution against the simulator (real HTTP, two symbols on one
account, lockstep so the prices hold still). Each gives the test the same small interface."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from tests.paths import BUNDLED as BTC_DATA
from whale.candle_file import load_candle_file
from whale.config.model import Fees
from whale.market.instruments import KNOWN, Instrument
from whale.venue.paper import PaperExecution
from whale.venue.protocols import Execution

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START_BALANCE = Decimal(10_000)
LOG = logging.getLogger("whalebot.test.contract")


class Venue:
    """One Execution and what a test needs around it: the symbols' prices, their rules, quantities."""

    name = ""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution

    def price(self, symbol: str) -> Decimal:
        raise NotImplementedError

    def instrument(self, symbol: str) -> Instrument:
        return self.execution.instrument(symbol)

    def qty(self, symbol: str) -> Decimal:
        """A small order: ten minimum quantities (notional far within the balance)."""
        inst = self.instrument(symbol)
        return inst.qty_decimal(round(10 * float(inst.min_order_qty) / inst.step))

    def level(self, symbol: str, fraction: float) -> Decimal:
        """A price `fraction` away from the price now (0.98: 2 % under), on the tick grid."""
        inst = self.instrument(symbol)
        return inst.price_decimal(round(float(self.price(symbol)) * fraction / inst.tick))

    def close(self) -> None:
        pass


    def executions(self, link_id: str) -> list:
        """What the venue executed under a client order id (its own records)."""
        return []


class PaperVenue(Venue):
    name = "paper"
    PRICES = {"BTCUSDT": 60_000.0, "ETHUSDT": 2_500.0}

    def __init__(self) -> None:
        self.saved: list[dict] = []
        super().__init__(PaperExecution(lambda s: KNOWN[s], Fees(), start_balance=START_BALANCE,
                                        leverage=Decimal(10), save=self.saved.append))
        for symbol, price in self.PRICES.items():
            self.execution.on_tick(symbol, price, 1_750_000_000_000)

    def price(self, symbol: str) -> Decimal:
        return Decimal(repr(self.PRICES[symbol]))


class SimVenue(Venue):
    name = "bybit"

    def __init__(self, faults: str = "", rest_timeout_s: float = 5.0) -> None:
        from whale.bybit.endpoints import Endpoints
        from whale.bybit.execution import BybitExecution
        from whale.bybit.rest import BybitRest
        from whale.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimConfig, Simulator

        eth = BTC_DATA.parent / "ETHUSDT-PERP_1m.csv.gz"
        data = {"BTCUSDT": load_candle_file(BTC_DATA).candles.slice(0, 1200),
                "ETHUSDT": load_candle_file(eth).candles.slice(0, 1200)}
        self.sim = Simulator(SimConfig(data=data, speed=0, lockstep=True, history_candles=1000,
                                       enforce_rate_limits=False, start_balance=float(START_BALANCE),
                                       faults=faults)).start()
        self.rest = BybitRest(Endpoints("custom", self.sim.rest_url, self.sim.public_ws_url, self.sim.private_ws_url),
                              DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout=rest_timeout_s)
        super().__init__(BybitExecution(self.rest, log=LOG))
        for symbol in SYMBOLS:
            self.execution.prepare(symbol, Decimal(10))

    def price(self, symbol: str) -> Decimal:
        return Decimal(repr(self.sim.for_symbol(symbol).last_price))

    def executions(self, link_id: str) -> list:
        return self.sim.call(lambda: [f for s in SYMBOLS for f in self.sim.core.listing(s).exchange.fills
                                      if f.link_id == link_id])

    def close(self) -> None:
        self.rest.close()
        self.sim.stop()


@pytest.fixture(params=["paper", pytest.param("bybit", marks=pytest.mark.net)])
def venue(request):
    v = PaperVenue() if request.param == "paper" else SimVenue()
    try:
        yield v
    finally:
        v.close()


@pytest.fixture(params=[pytest.param("bybit", marks=pytest.mark.net)])
def lossy_venue(request):
    """The venues whose answer to an order can be lost (not paper: its fills are immediate): the next
    order's answer times out after it executed."""
    v = SimVenue(faults="timeout_seconds=3", rest_timeout_s=1.0)
    v.sim.faults.fail_next_order("timeout", "after")
    try:
        yield v
    finally:
        v.close()
