"""Advanced take-profit exits on a position in profit: the move fades, a wall stands ahead, taker
flow turns against it.

The position comes from a density bounce (strategy.mode density), because that entry is certain on
a scripted book: the price falls (rises) to within the touch tolerance (0.2 %) of a stable bid
(ask) wall and the bot buys (sells) away from it. Every advanced exit stays on with its defaults;
the paths are shaped so that the rule under test is the first that holds: the profit gate
(take_profit.min_profit_percent, 0.1 %, plus the 0.12 % a market round trip costs in fees and
slippage: 0.22 % of price move) keeps the in-profit rules quiet until the moment the scenario is
about, and the ATR target (2 ATR, about 0.36 % here) is never reached."""

from __future__ import annotations

from whale.scenarios import register
from whale.scenarios._base import BID_WALL, Expect, Scripted, bounce_long
from whale.scenarios._paths import PathBuilder

HEAVY = 12.0  # x the usual volume of a minute: a burst of market sells


@register
class FadingMove(Scripted):
    name = "fading-move"
    summary = "a short in profit while the fall runs out of speed: exit momentum_slowdown"
    expected = ("a density bounce short off an ask wall, closed with reason momentum_slowdown when the fall "
                "that put it in profit stops")
    script = {0: (("wall", "ask", "Sell", 0.35),)}
    trade = Expect("Sell", "bounce", "momentum_slowdown")
    log = (r"ask density 60,210\.5 appeared",
           r"density entry: bounce: ask density 60,210\.5 .* -> sell away from it",
           r"ALERT: Closed BTCUSDT Sell .* \(momentum_slowdown: velocity over 3 s \+0/s is below 0\.5 x the 15 s "
           r"velocity -[\d.]+/s in the short's direction\)")

    def build(self) -> PathBuilder:
        b = PathBuilder()
        b.flat(1)  # the ask wall appears
        b.bar(0.0, -0.02, 0.30, 0.25)  # up to within 0.2 % of the wall: sell (at about +0.16 %)
        b.bar(0.25, 0.26, -0.15, -0.15)  # a 20 s fall puts the short 0.3 % in profit, then it stalls
        return b.flat(1, -0.15)


@register
class CounterWall(Scripted):
    name = "counter-wall"
    summary = "a long reaches profit with a stable ask wall 0.29 % ahead of the price: exit counter_density"
    expected = ("a density bounce long, closed with reason counter_density as soon as it is in profit with the "
                "stable ask wall within 0.4 % ahead")
    # The ask wall at +0.35 % is about 0.52 % above the bounce entry and 0.29 % above the price where
    # the long clears its profit gate (0.22 % of move); more than the touch tolerance away from the
    # price while the bot is flat (no bounce short off it).
    script = {0: (BID_WALL, ("wall", "ask", "Sell", 0.35))}
    trade = Expect("Buy", "bounce", "counter_density")
    log = (r"ask density 60,210\.5 appeared",
           r"density entry: bounce: bid density 59,790\.5",
           r"ALERT: Closed BTCUSDT Buy .* \(counter_density: ask density 60,210\.5 \(5, [\d,]+ USDT, eroded 0 %\) "
           r"0\.2\d\d % above the price [\d,.]+, ahead of the long \(limit 0\.4 %\)\)")

    def build(self) -> PathBuilder:
        # The climb goes on for another minute and clears the profit gate near +0.06 %.
        return bounce_long(-0.01).bar(-0.01, -0.01, 0.08, 0.08).flat(1, 0.08)


@register
class TakerFlowReversal(Scripted):
    name = "taker-flow-reversal"
    summary = "a long in profit is hit by a burst of market sells (12x the usual volume): exit aggressive_reversal"
    expected = ("a density bounce long, closed with reason aggressive_reversal on the first burst of taker sells "
                "against it")
    script = {0: (BID_WALL,)}
    trade = Expect("Buy", "bounce", "aggressive_reversal")
    log = (r"density entry: bounce: bid density 59,790\.5",
           r"ALERT: Closed BTCUSDT Buy .* \(aggressive_reversal: taker sell volume [\d.]+ over 10 s against the long: "
           r"[\d.]+x the volume with it \([\d.]+\) and [\d.]+x its average")

    def build(self) -> PathBuilder:
        # A quiet minute, then a fall onto the bid wall (the long fills near -0.21 %) and a climb
        # back that clears the profit gate (0.22 % of move) only at its close, +0.065 %: a longer
        # climb would end flat and fade, which is momentum_slowdown's scenario.
        b = PathBuilder().flat(1).bar(0.10, 0.12, -0.30, 0.065)
        # The next minute opens one step lower with 12x the volume, every tick a market sell.
        b.bar(0.045, 0.045, -0.05, -0.03, volume=HEAVY * b.volume)
        return b.flat(1, -0.03)
