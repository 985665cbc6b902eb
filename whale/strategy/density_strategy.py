"""Density trading (`strategy.mode: density`) and the Density_Signal value of `combined` mode.

A stable density is *at* the price when it lies ahead of the price (an ask wall at or above it, a
bid wall at or below it) within `bounce_touch_tolerance_percent` % of it. That one proximity
serves both setups, so every density at the price gives exactly one of them:

- **breakout**: it has eroded by `breakout_erosion_percent` or more -> enter THROUGH it (an ask
  wall eroding -> buy, a bid wall eroding -> sell). Stop `breakout_min_stop_loss_percent` % behind
  whichever of the entry and the wall is further back (a long: min(entry, wall) x (1 - p)), so
  the stop is beyond the wall and at least that far from the entry. Stop to break-even once the
  profit reaches `breakout_breakeven_profit_percent` % (and the price is beyond the entry).
- **bounce**: it has eroded less -> enter AWAY from it (a bid wall under the price -> buy, an ask
  wall above -> sell). Stop `bounce_stop_loss_behind_density_percent` % behind the wall. Exit
  (`density_erosion`) when the wall has eroded by `bounce_density_erosion_exit_percent` or is gone.

Several setups at once: breakouts before bounces, the nearest density first. Each density gives
one signal per setup (a density is known by side, price and first-seen time): a breakout never
fires twice for the same wall; a bounce re-arms after the price has moved more than twice the
touch tolerance away from the wall.

Density_Signal (`density_score`): +1 when a holding bid density is at the price below it or an
ask density at the price has eroded past the breakout threshold; -1 for the mirror; 0 when
neither or both directions are present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from whale.config.model import Density as DensitySettings
from whale.fills import LONG, SHORT, round_away_from_market
from whale.strategy.advanced_exits import ExitDecision, ManagedPosition
from whale.strategy.density import ASK, BID, Density, DensityTracker, fmt_num, fmt_qty
from whale.strategy.stops import R_DENSITY_EROSION

BREAKOUT = "breakout"
BOUNCE = "bounce"
REARM_TOLERANCES = 2.0


@dataclass(frozen=True)
class DensityEntry:
    side: int  # LONG / SHORT
    kind: str  # breakout | bounce
    density_side: str  # bid | ask
    density_price: float
    stop: float  # for an entry at the price given to entry_signal; recompute from the fill with stop_for
    reason: str
    erosion_pct: float
    density_qty: float


@dataclass(frozen=True)
class StopMove:
    new_stop: float
    reason: str  # "breakeven"
    detail: str


@dataclass(frozen=True)
class _Setup:
    side: int
    kind: str
    density: Density
    distance_pct: float


def wall_side(kind: str, side: int) -> str:
    """Which side of the book the position's density rests on."""
    if kind == BREAKOUT:
        return ASK if side == LONG else BID
    return BID if side == LONG else ASK


class DensityStrategy:
    def __init__(self, settings: DensitySettings, tick: float = 0.0) -> None:
        """`tick`: the instrument's tickSize, to round stops away from the market (0: no rounding)."""
        self.settings = settings
        self.tick = tick
        self._used: dict[tuple[str, str, float, int], bool] = {}
        self._memo: tuple[DensityTracker, int, float, list[_Setup]] | None = None
        # (tracker, tracker.stable_version, price) of the last entry_signal call, when it returned None
        self._none_at: tuple[DensityTracker, int, float] | None = None
        # (tracker, tracker.stable_version, side, price) of the last bounce wall found stable and holding
        self._holding: tuple[DensityTracker, int, str, float] | None = None

    # ------------------------------------------------------------------------------------------
    # Setups

    def _setups(self, price: float, tracker: DensityTracker) -> list[_Setup]:
        """The setups at `price` (kept for the tracker's update: entry_signal and density_score ask
        for the same ones)."""
        memo = self._memo
        if memo is not None and memo[0] is tracker and memo[1] == tracker.version and memo[2] == price:
            return memo[3]
        out = self._find_setups(price, tracker)
        self._memo = (tracker, tracker.version, price, out)
        return out

    def _find_setups(self, price: float, tracker: DensityTracker) -> list[_Setup]:
        s = self.settings
        tol = s.bounce_touch_tolerance_percent
        out = []
        for d in tracker.densities_near(price, tol):
            ahead = (d.price - price) if d.side == ASK else (price - d.price)
            if ahead < 0.0:
                continue
            dist = ahead / price * 100.0
            if dist > tol:
                continue
            if d.erosion_pct >= s.breakout_erosion_percent:
                out.append(_Setup(LONG if d.side == ASK else SHORT, BREAKOUT, d, dist))
            else:
                out.append(_Setup(LONG if d.side == BID else SHORT, BOUNCE, d, dist))
        out.sort(key=lambda x: (x.kind != BREAKOUT, x.distance_pct))
        return out

    def density_score(self, price: float, tracker: DensityTracker) -> float:
        """Density_Signal's value in {-1, 0, +1} (times the weight in the scoring kernel)."""
        if not (price > 0.0):
            return 0.0
        sides = {x.side for x in self._setups(price, tracker)}
        if len(sides) != 1:
            return 0.0
        return float(sides.pop())

    def stop_for(self, kind: str, side: int, entry_price: float, density_price: float) -> float:
        """The initial stop of a density entry filled at `entry_price`."""
        s = self.settings
        if kind == BREAKOUT:
            back = min(entry_price, density_price) if side == LONG else max(entry_price, density_price)
            raw = back * (1.0 - side * s.breakout_min_stop_loss_percent / 100.0)
        else:
            raw = density_price * (1.0 - side * s.bounce_stop_loss_behind_density_percent / 100.0)
        return round_away_from_market(raw, self.tick, side, True) if self.tick > 0.0 else raw

    def entry_signal(self, now_ms: int, price: float, tracker: DensityTracker) -> DensityEntry | None:
        """The entry to take now, or None. Returning an entry uses its setup up (see module doc)."""
        if not (price > 0.0) or tracker.last_ms is None:  # DensityTracker.ready, inline (every flat pass)
            return None
        # A None depends on the price, the stable densities (the setups near the price and the prune's
        # first_seen; their order only picks among unused setups) and `_used`, which changes only here:
        # after a None for the same stable densities and price (the prune done, every setup used), the
        # same call is None again. Most flat passes of the loop see no new price and the same walls.
        none_at = self._none_at
        if (none_at is not None and none_at[0] is tracker and none_at[1] == tracker.stable_version
                and none_at[2] == price):
            return None
        self._prune(price, tracker)
        for x in self._setups(price, tracker):
            d = x.density
            key = (x.kind, d.side, d.price, d.first_seen_ms)
            if key in self._used:
                continue
            self._used[key] = True
            self._none_at = None
            return self._entry(x, price)
        self._none_at = (tracker, tracker.stable_version, price)
        return None

    def _prune(self, price: float, tracker: DensityTracker) -> None:
        """Forget used setups whose density is gone; re-arm bounces the price has left."""
        if not self._used:
            return
        rearm = REARM_TOLERANCES * self.settings.bounce_touch_tolerance_percent
        for key in list(self._used):
            kind, side, level, first = key
            if tracker.first_seen(side, level) != first:  # gone, or another density at that price now
                del self._used[key]
            elif kind == BOUNCE and abs(price - level) / price * 100.0 > rearm:
                del self._used[key]

    def _entry(self, x: _Setup, price: float) -> DensityEntry:
        s, d = self.settings, x.density
        stop = self.stop_for(x.kind, x.side, price, d.price)
        act = "buy" if x.side == LONG else "sell"
        where = "above" if d.side == ASK else "below"
        wall = (f"{d.side} density {fmt_num(d.price)} ({fmt_qty(d.qty)}, {d.notional:,.0f} USDT) "
                f"{x.distance_pct:.3f} % {where} the price {fmt_num(price)}")
        if x.kind == BREAKOUT:
            reason = (f"breakout: {wall}, eroded {d.erosion_pct:.1f} % (threshold {s.breakout_erosion_percent:g} %) "
                      f"-> {act} through it; stop {fmt_num(stop)} ({s.breakout_min_stop_loss_percent:g} % behind)")
        else:
            reason = (f"bounce: {wall}, within {s.bounce_touch_tolerance_percent:g} % and holding (eroded "
                      f"{d.erosion_pct:.1f} %) -> {act} away from it; stop {fmt_num(stop)} "
                      f"({s.bounce_stop_loss_behind_density_percent:g} % behind the density)")
        return DensityEntry(x.side, x.kind, d.side, d.price, stop, reason, d.erosion_pct, d.qty)

    # ------------------------------------------------------------------------------------------
    # Management

    def manage(self, position: ManagedPosition, price: float, tracker: DensityTracker,
               now_ms: int) -> StopMove | ExitDecision | None:
        """Breakouts: the break-even move. Bounces: the density-erosion exit. Others: None."""
        if not (price > 0.0):
            return None
        if position.kind == BREAKOUT:
            return self._breakeven(position, price)
        if position.kind == BOUNCE and position.density_price is not None and tracker.ready:
            return self._bounce_exit(position, tracker)
        return None

    def _breakeven(self, pos: ManagedPosition, price: float) -> StopMove | None:
        trigger = self.settings.breakout_breakeven_profit_percent
        if pos.breakeven_done or pos.profit_pct(price) < trigger:
            return None
        side = pos.side
        be = round_away_from_market(pos.entry_price, self.tick, side, True) if self.tick > 0.0 else pos.entry_price
        tighter = not (pos.stop == pos.stop) or (be - pos.stop) * side > 0.0
        if not tighter or (price - be) * side <= 0.0:
            return None
        return StopMove(be, "breakeven", (
            f"breakout {pos.name} {pos.profit_pct(price):.2f} % in profit (trigger {trigger:g} %): stop "
            f"{fmt_num(pos.stop)} -> break-even {fmt_num(be)}"))

    def _bounce_exit(self, pos: ManagedPosition, tracker: DensityTracker) -> ExitDecision | None:
        side = wall_side(BOUNCE, pos.side)
        level = pos.density_price
        if level is None:  # manage() only asks for a bounce with its density price
            return None
        # A stable wall found holding still holds while no stable density changed (most passes).
        holding = (tracker, tracker.stable_version, side, level)
        if holding == self._holding:
            return None
        d = tracker.get(side, level, include_pending=True)
        if d is None:
            return ExitDecision.of(R_DENSITY_EROSION, f"the {side} density {fmt_num(level)} the bounce "
                                                      f"{pos.name} rests on is gone from the book")
        limit = self.settings.bounce_density_erosion_exit_percent
        if d.erosion_pct >= limit:
            return ExitDecision.of(R_DENSITY_EROSION, (
                f"the {side} density {fmt_num(level)} eroded {d.erosion_pct:.1f} % "
                f"({fmt_qty(d.initial_qty)} -> {fmt_qty(d.qty)}; limit {limit:g} %)"))
        if not d.pending:
            self._holding = holding
        return None


def density_position(entry: DensityEntry, entry_price: float, qty: float, opened_ms: int,
                     broken_extreme: float | None = None, stop: float = math.nan) -> ManagedPosition:
    """The ManagedPosition of a filled density entry (stop: the one actually set)."""
    return ManagedPosition(entry.side, entry_price, entry.stop if stop != stop else stop, qty, entry.kind,
                           entry.density_price, False, opened_ms, broken_extreme)
