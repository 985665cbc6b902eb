"""When the safety checks run (whale/bot/cadence.py): on wall time in the live bot; on market time
in the lockstep demo, so they fall on the same market steps every run (issue 11 item 2), with wall
time covering a market that stands still."""

from whale.bot.cadence import Cadence


class Clocks:
    def __init__(self):
        self.wall, self.market = 100.0, 1_000_000

    def mono(self):
        return self.wall

    def ms(self):
        return self.market


def test_wall_time_by_default():
    c = Clocks()
    cad = Cadence(30.0, c.mono, c.ms)
    assert cad.due() and not cad.due()
    c.market += 10 * 60_000  # the market's time does not matter
    assert not cad.due()
    c.wall += 30.0
    assert cad.due()
    cad.force()
    assert cad.due()


def test_market_time_in_the_demo_whatever_the_wall_clock_does():
    c = Clocks()
    cad = Cadence(30.0, c.mono, c.ms, market_interval_s=900.0)
    seen = []
    for step in range(60):  # one-minute steps, 0.05 s of wall time each
        c.market += 60_000
        c.wall += 0.05 if step % 7 else 2.5  # an uneven wall clock changes nothing
        seen.append(cad.due())
    assert [i for i, due in enumerate(seen) if due] == [0, 15, 30, 45]


def test_a_market_that_stands_still_is_checked_on_wall_time():
    c = Clocks()
    cad = Cadence(1.0, c.mono, c.ms, market_interval_s=60.0)
    assert cad.due()
    c.wall += 0.5
    assert not cad.due()
    c.wall += 0.6  # held for over a second with no market data: the checks go on
    assert cad.due()
    c.wall += 0.2
    c.market += 1_000  # the market moves again, less than a candle
    c.wall += 5.0
    assert not cad.due()  # it moved since the last check: market time decides again
