"""What a triggered take-profit, stop or conditional order fills around (SimConfig.trigger_fill,
`sim --trigger-fill`): `level`, the candle fill model, walks the book re-centred on the level the path
passed between two ticks; `book`, as Bybit does, walks the book as it stands at the tick that crossed
the level. The matching engine is driven as the candle replay drives it (the book moves to the tick,
then the engine sees it), with no slippage floor, so the walk alone decides."""

from __future__ import annotations

from decimal import Decimal

import pytest

from whale.config.model import Fees
from whale.errors import BadInputError
from whale.fills import ceil_ticks, floor_ticks
from whale.sim.account import Account
from whale.sim.book import Book
from whale.sim.clock import ReplayClock
from whale.sim.instrument import sim_instrument
from whale.sim.matching import Exchange
from whale.sim.server import SimConfig, Simulator

T0 = 1_748_000_040_000
ENTRY = 600_000  # ticks: 60,000.0 USDT
AWAY = 100  # ticks from the entry to the stop and the target
BEYOND = 37  # ticks the crossing tick lies beyond the level
QTY = "0.2"  # BTC: several levels of a book of 0.05 BTC levels, so the walk's average is not one level's price
FEES = Fees(slippage_rate=0.0)


class Engine:
    def __init__(self, trigger_fill: str) -> None:
        self.inst = sim_instrument("BTCUSDT", None)
        self.clock = ReplayClock(T0)
        self.book = Book(level_ticks=30, base_steps=50.0, churn_ms=600_000, seed=1)  # 0.05 BTC levels, 3 USDT apart
        self.book.set_price(ENTRY, True, T0)
        self.ex = Exchange(self.inst, Account(FEES, 100_000.0, self.clock, leverage=10.0), self.book, ENTRY,
                           trigger_fill)
        self.tick = ENTRY

    def price(self, ticks: int) -> str:
        return self.inst.fmt_price(ticks * float(self.inst.tick))

    def tick_to(self, tick: int, gap: bool = False) -> None:
        """The replay's tick: the book moves to it, then the engine sees it."""
        now = self.clock.now_ms() + 4_000
        self.clock.set(now)
        self.book.set_price(tick, tick >= self.tick, now)
        self.tick = tick
        self.ex.on_tick(tick, now, gap)

    def walk(self, buying: bool, shift: int) -> Decimal:
        """The fill of QTY taken from the book as it stands now, moved by `shift` ticks, rounded against
        the taker (worked out from the book's levels, not through the engine)."""
        bids, bsz, asks, asz = self.book.levels()
        ticks, sizes = (asks, asz) if buying else (bids, bsz)
        left = int(Decimal(QTY) / self.inst.rules.qty_step)
        cost = 0
        for t, s in zip(ticks.tolist(), sizes.tolist(), strict=False):
            take = min(s, left)
            cost += t * take
            left -= take
            if not left:
                break
        assert not left
        avg = (cost / int(Decimal(QTY) / self.inst.rules.qty_step) + shift) * float(self.inst.tick)
        tick = float(self.inst.tick)
        return self.inst.price_of(ceil_ticks(avg, tick) if buying else floor_ticks(avg, tick))


def _open(e: Engine, side: str, kind: str) -> int:
    """A position of QTY on `side` with its `kind` stop AWAY ticks from the entry; the level in ticks."""
    sign = 1 if side == "Buy" else -1
    level = ENTRY + sign * AWAY * (1 if kind == "TakeProfit" else -1)
    field = "takeProfit" if kind == "TakeProfit" else "stopLoss"
    e.ex.create_order({"side": side, "orderType": "Market", "qty": QTY, "orderLinkId": "t-open",
                       field: e.price(level)})
    assert e.ex.positions[0].size == Decimal(QTY)
    return level


@pytest.mark.parametrize("side", ["Buy", "Sell"])
@pytest.mark.parametrize("kind", ["TakeProfit", "StopLoss"])
def test_a_crossed_stop_fills_around_its_level_or_the_tick(side, kind):
    fills = {}
    for mode in ("level", "book"):
        e = Engine(mode)
        level = _open(e, side, kind)
        away = 1 if level > ENTRY else -1
        e.tick_to(level - away)  # not there yet
        assert e.ex.positions[0].size == Decimal(QTY)
        crossing = level + away * BEYOND
        e.tick_to(crossing)
        closed = e.ex.fills[-1]
        assert e.ex.positions[0].size == 0 and closed.stop_order_type == kind
        closing_buy = side == "Sell"
        want = e.walk(closing_buy, level - crossing) if mode == "level" else e.walk(closing_buy, 0)
        assert closed.price == want, mode
        fills[mode] = closed.price
    # The two differ by about the distance between the level and the tick that crossed it.
    gap = abs(fills["book"] - fills["level"]) / Decimal("0.1")
    assert BEYOND - 2 <= gap <= BEYOND + 2, fills


def test_a_candle_opening_beyond_the_level_fills_around_the_tick_either_way():
    fills = {}
    for mode in ("level", "book"):
        e = Engine(mode)
        level = _open(e, "Buy", "StopLoss")
        e.tick_to(level - BEYOND, gap=True)
        fills[mode] = e.ex.fills[-1].price
        assert fills[mode] == e.walk(False, 0), mode
    assert fills["level"] == fills["book"]


def test_a_triggered_conditional_market_order_fills_around_its_trigger_or_the_tick():
    for mode in ("level", "book"):
        e = Engine(mode)
        trigger = ENTRY + AWAY
        e.ex.create_order({"side": "Buy", "orderType": "Market", "qty": QTY, "orderLinkId": "t-stop-entry",
                           "triggerPrice": e.price(trigger), "triggerDirection": 1})
        assert not e.ex.fills
        e.tick_to(trigger + BEYOND)
        (fill,) = e.ex.fills
        assert fill.price == e.walk(True, -BEYOND if mode == "level" else 0), mode


def test_an_unknown_trigger_fill_is_refused_naming_it():
    with pytest.raises(BadInputError, match="trigger_fill 'mid' must be one of level, book"):
        Simulator(SimConfig(trigger_fill="mid"))
