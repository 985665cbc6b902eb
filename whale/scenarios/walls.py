"""Density entries (strategy.mode density): a wall the price breaks through, a wall the price
bounces off, and a breakout that fails back behind its wall.

Each wall is 5 BTC (about 300k USDT, 10x the synthetic book's median level), placed while the
price is more than the touch tolerance (0.2 %) away, so that it is a stable density (30 s of
replay time) before the price gets near it. Prices are in percent from the path's reference price
(60,000 USDT)."""

from __future__ import annotations

from whale.scenarios import register
from whale.scenarios._base import BID_WALL, Expect, Scripted, bounce_long
from whale.scenarios._paths import PathBuilder

# The breakouts' ask wall at +0.40 % appears before the first candle and loses 40 % of its size
# over 30 s during the second, while the price waits 0.4 % under it.
ERODING_ASK_WALL = {0: (("wall", "ask", "Sell", 0.40),), 1: (("erode", "ask", 40, 30),)}


@register
class WallBreakthrough(Scripted):
    name = "wall-breakthrough"
    summary = "an ask wall above the price is eaten away, then the price runs through it: buy the breakout"
    expected = ("a density breakout long through the eroded ask wall (the log says 'breakout'), closed on the "
                "exchange at its target (take_profit)")
    script = ERODING_ASK_WALL
    trade = Expect("Buy", "breakout", "take_profit")
    log = (r"ask density 60,240\.5 appeared: 5 ",
           r"  ask 60240\.5 \| size 3 \(180,722 USDT\) \| age \d+s \| erosion 40\.0%",  # the display, a candle later
           r"density entry: breakout: ask density 60,240\.5 \(3, .* eroded 40\.0 % \(threshold 30 %\) -> buy through",
           r"ALERT: Closed BTCUSDT Buy .* \(take_profit\)")
    # One tick (67 ms) before the target fills: which the log shows first depends on the machine.
    log_anywhere = (r"ask density 60,240\.5 consumed \(the price traded through it\)",)

    def build(self) -> PathBuilder:
        b = PathBuilder()
        b.flat(2)  # the wall appears, then erodes while the price waits
        b.bar(0.0, -0.02, 0.25, 0.22)  # the price climbs to within 0.2 % of the eroded wall: buy
        b.bar(0.22, 0.20, 0.90, 0.85)  # and runs through it, past the ATR target
        return b.flat(1, 0.85)


@register
class WallHolds(Scripted):
    name = "wall-holds"
    summary = "the price falls onto a bid wall that holds and bounces off it: buy the bounce"
    expected = ("a density bounce long off the holding bid wall (the log says 'bounce'), closed on the exchange "
                "at its target (take_profit) as the price rallies away from the wall")
    script = {0: (BID_WALL,)}
    trade = Expect("Buy", "bounce", "take_profit")
    log = (r"bid density 59,790\.5 appeared",
           r"density entry: bounce: bid density 59,790\.5 .* within 0\.2 % and holding \(eroded 0\.0 %\) -> buy away "
           r"from it; stop 59,611\.1 \(0\.3 % behind the density\)",
           r"ALERT: Opened BTCUSDT Buy .* SL 59611\.10",  # the bounce stop, not the ATR one
           r"ALERT: Closed BTCUSDT Buy .* \(take_profit\)")

    def build(self) -> PathBuilder:
        # Down to within 0.2 % of the wall (buy), a touch at -0.30 %; then the bounce runs past the
        # ATR target.
        return bounce_long(-0.25).bar(-0.25, -0.26, 0.40, 0.35).flat(1, 0.35)


@register
class FailedBreakout(Scripted):
    name = "failed-breakout"
    summary = "a breakout through an eroded ask wall pokes above it and falls back below: exit return_to_range"
    expected = ("a density breakout long, closed with reason return_to_range once the price is back below the "
                "wall it broke")
    script = ERODING_ASK_WALL
    trade = Expect("Buy", "breakout", "return_to_range")
    log = (r"density entry: breakout: ask density 60,240\.5 .* -> buy through it",
           r"ask density 60,240\.5 consumed",
           r"ALERT: Closed BTCUSDT Buy .* \(return_to_range: the long fell back below its density at 60,240\.5: price "
           r"[\d,.]+ after reaching [\d,.]+\)")

    def build(self) -> PathBuilder:
        b = PathBuilder()
        b.flat(2)  # the wall appears, then erodes
        # A jump to just under the eroded wall (buy), 20 s above it (under 0.1 % of profit), back below.
        b.bar(0.37, 0.46, 0.30, 0.32)
        return b.flat(1, 0.32)
