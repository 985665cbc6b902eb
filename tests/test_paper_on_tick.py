"""PaperExecution.on_tick's fast paths give what the plain tick gives: the memo of the last tick that
triggered nothing (same position object, same price) and the funding pre-test (a funding time passed
since the previous tick), including a stop moved onto the current price at the same millisecond."""

from __future__ import annotations

import random
from decimal import Decimal

from whale.config.model import Config
from whale.fills import FUNDING_PERIOD_MS, funding_times_in
from whale.market.instruments import KNOWN
from whale.venue.paper import PaperExecution

SYMBOL = "BTCUSDT"
T0 = 1_748_000_040_000


def _paper() -> PaperExecution:
    return PaperExecution(lambda s: KNOWN[SYMBOL], Config().fees, start_balance=Decimal(100_000),
                          leverage=Decimal(10))


def _plain_tick(paper: PaperExecution, price: float, ms: int) -> None:
    """The tick without the memo: every tick checks the stop and the target."""
    paper._quiet.clear()  # noqa: SLF001 - the plain computation this test compares with
    paper.on_tick(SYMBOL, price, ms)


def test_a_stop_moved_onto_the_price_triggers_at_the_same_tick():
    paper = _paper()
    paper.on_tick(SYMBOL, 60_000.0, T0)
    paper.open_position(SYMBOL, 1, Decimal("0.010"), Decimal("59000"), None, "t-open")
    paper.on_tick(SYMBOL, 60_000.0, T0 + 1000)  # nothing triggers: remembered
    paper.on_tick(SYMBOL, 60_000.0, T0 + 1000)
    assert not paper.events
    paper.set_stops(SYMBOL, stop_loss=Decimal("60000"))  # the same price and time, a new stop: it triggers now
    paper.on_tick(SYMBOL, 60_000.0, T0 + 1000)
    assert [e.cause for e in paper.poll().exits] == ["StopLoss"]
    assert paper.position(SYMBOL) is None


def test_a_target_set_at_the_price_triggers_and_a_new_position_is_checked():
    paper = _paper()
    paper.on_tick(SYMBOL, 60_000.0, T0)
    paper.open_position(SYMBOL, -1, Decimal("0.010"), Decimal("61000"), Decimal("59000"), "t-1")
    paper.on_tick(SYMBOL, 60_000.0, T0 + 1)
    paper.close_position(SYMBOL, Decimal("0.010"), "t-close")
    paper.open_position(SYMBOL, 1, Decimal("0.010"), Decimal("60000"), None, "t-2")  # its stop is at the price
    paper.on_tick(SYMBOL, 60_000.0, T0 + 1)
    assert [e.cause for e in paper.poll().exits] == ["StopLoss"]
    paper.open_position(SYMBOL, 1, Decimal("0.010"), Decimal("59000"), Decimal("61000"), "t-3")
    paper.on_tick(SYMBOL, 60_000.0, T0 + 2)
    paper.set_stops(SYMBOL, take_profit=Decimal("60000"))
    paper.on_tick(SYMBOL, 60_000.0, T0 + 2)
    assert [e.cause for e in paper.poll().exits] == ["TakeProfit"]


def test_funding_is_charged_at_each_funding_time_passed():
    boundary = (T0 // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
    times = [T0, boundary - 1, boundary - 1, boundary, boundary, boundary + 1, boundary + 3 * FUNDING_PERIOD_MS,
             boundary + 3 * FUNDING_PERIOD_MS - 5, boundary + 4 * FUNDING_PERIOD_MS - 1]
    paper = _paper()
    paper.on_tick(SYMBOL, 60_000.0, T0)
    paper.open_position(SYMBOL, 1, Decimal("0.010"), Decimal("50000"), None, "t-open")
    expected = 0
    since = paper.funding_from_ms[SYMBOL]
    for ms in times:
        expected += funding_times_in(since + 1, ms + 1)
        since = ms
        paper.on_tick(SYMBOL, 60_000.0, ms)
    assert expected == 5  # 1 at the boundary, 3 in the jump, and the one passed again after the clock went back
    assert len(paper.poll().funding) == expected


def test_random_ticks_match_the_plain_tick():
    rng = random.Random(7)
    fast, plain = _paper(), _paper()
    ms = T0
    for step in range(4000):
        ms += rng.choice((0, 0, 1, 250, FUNDING_PERIOD_MS // 3))
        price = float(rng.choice((59_900, 59_950, 60_000, 60_050, 60_100)))
        action, side, offset = rng.random(), rng.choice((1, -1)), rng.choice((0, 50, 100))
        for paper in (fast, plain):
            pos = paper.position(SYMBOL)
            if action < 0.05 and pos is None:
                paper.open_position(SYMBOL, side, Decimal("0.010"), Decimal(str(price - side * 100)),
                                    Decimal(str(price + side * 100)), f"t-{step}")
            elif action < 0.15 and pos is not None:
                paper.set_stops(SYMBOL, stop_loss=Decimal(str(price - offset * int(pos.side))))
        fast.on_tick(SYMBOL, price, ms)
        _plain_tick(plain, price, ms)
        assert fast.state() == plain.state(), step
        assert fast.poll() == plain.poll(), step
    assert fast.orders > 20 and fast.last_exits  # the sequence traded and triggered
    assert fast.balance != Decimal(100_000)


def test_a_tick_repeated_at_the_same_price_and_time_changes_nothing():
    """What the replay's feed relies on when it skips a print at the price of the one before it (same time)."""
    rng = random.Random(11)
    once, twice = _paper(), _paper()
    ms = T0
    for step in range(3000):
        ms += rng.choice((0, 1, 250, FUNDING_PERIOD_MS // 3))
        price = float(rng.choice((59_900, 60_000, 60_100)))
        side, opening = rng.choice((1, -1)), rng.random() < 0.1
        for paper in (once, twice):
            if opening and paper.position(SYMBOL) is None:
                paper.open_position(SYMBOL, side, Decimal("0.010"), Decimal(str(price - side * 100)),
                                    Decimal(str(price + side * 100)), f"t-{step}")
        once.on_tick(SYMBOL, price, ms)
        twice.on_tick(SYMBOL, price, ms)
        twice.on_tick(SYMBOL, price, ms)
        assert once.state() == twice.state(), step
        assert once.poll() == twice.poll(), step
    assert once.last_exits
