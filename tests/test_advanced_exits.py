"""Advanced take-profit exits on hand-made price paths, trade flows and books."""

import dataclasses
import re

import pytest

from tests.test_density import LIFE_MS, book, stable
from whale.config.model import Density as DensitySettings
from whale.config.model import Fees, TakeProfit
from whale.fills import LONG, SHORT
from whale.strategy.advanced_exits import (
    AdvancedExits,
    LocalExtremaTracker,
    ManagedPosition,
    TakerFlow,
    round_trip_cost_pct,
)
from whale.strategy.density import DensityTracker
from whale.strategy.stops import R_AGGRESSIVE, R_COUNTER_DENSITY, R_MOMENTUM, R_RETURN_TO_RANGE

T0 = 1_700_000_000_000
S = 1000


def only(**on):
    """TakeProfit with just the named rules on."""
    flags = {"momentum_slowdown": False, "counter_density": False, "aggressive_reversal": False,
             "return_to_range": False}
    flags.update(on)
    return TakeProfit(**flags)


def feed(ex, path, t0=T0, step_ms=S):
    """path: prices, one per step; returns the time of the last."""
    t = t0
    for i, p in enumerate(path):
        t = t0 + i * step_ms
        ex.update(t, p)
    return t


# ----------------------------------------------------------------------------------------------
# Momentum slowdown


def momentum_path(last):
    """100 -> 113.5 over 12 s (1.125/s), then to `last` at 15 s: v_long = (last - 100) / 15,
    v_short = (last - 113.5) / 3."""
    return [100 + 1.125 * i for i in range(13)] + [113.5 + (last - 113.5) * k / 3 for k in (1, 2, 3)]


def test_momentum_slowdown_fires_below_the_threshold_and_not_at_it():
    ex = AdvancedExits(only(momentum_slowdown=True))
    pos = ManagedPosition(LONG, 100.0)
    t = feed(ex, momentum_path(115.0))  # v_short 0.5 = 0.5 x v_long 1.0: not below
    assert ex.velocity("long") == 1.0 and ex.velocity("short") == 0.5
    assert ex.check(pos, t) is None
    ex = AdvancedExits(only(momentum_slowdown=True))
    t = feed(ex, momentum_path(114.9))  # v_short 0.4667 < 0.5 x 0.9933
    d = ex.check(pos, t)
    assert d.reason_code == R_MOMENTUM and d.reason == "momentum_slowdown"
    assert "below 0.5 x the 15 s velocity" in d.detail


def test_momentum_slowdown_needs_the_long_window_and_a_move_the_positions_way():
    ex = AdvancedExits(only(momentum_slowdown=True))
    pos = ManagedPosition(LONG, 100.0)
    t = feed(ex, momentum_path(114.9)[:15])  # 14 s of history
    assert ex.velocity("long") is None and ex.check(pos, t) is None
    ex = AdvancedExits(only(momentum_slowdown=True))
    t = feed(ex, [100 - 0.5 * i for i in range(16)])  # falling: no momentum for a long to lose
    assert ex.check(ManagedPosition(LONG, 90.0), t) is None
    d = ex.check(ManagedPosition(SHORT, 100.0), t)  # steady fall for a short: no slowdown either
    assert d is None


def test_momentum_slowdown_for_a_short():
    ex = AdvancedExits(only(momentum_slowdown=True))
    t = feed(ex, [200 - p + 100 for p in momentum_path(114.9)])
    assert ex.check(ManagedPosition(SHORT, 100.5 + 100), t).reason_code == R_MOMENTUM


def test_in_profit_gate_at_its_edge():
    ex = AdvancedExits(only(momentum_slowdown=True))
    t = feed(ex, momentum_path(114.9))
    entry_at_edge = 114.9 / 1.001  # profit exactly 0.1 %
    assert ex.check(ManagedPosition(LONG, entry_at_edge * (1 - 1e-12)), t) is not None
    assert ex.check(ManagedPosition(LONG, 114.9 / 1.00099), t) is None  # 0.099 %


def test_in_profit_gate_counts_what_the_market_close_would_cost():
    """Default fees: 2 x 0.055 % taker + 0.01 % slippage = 0.12 %, so the 0.1 % gate needs 0.22 %
    of price move: an exit at 0.15 % would have paid more in fees than it locked in."""
    fees = Fees()
    assert round_trip_cost_pct(fees) == pytest.approx(0.12)
    ex = AdvancedExits(only(momentum_slowdown=True), fees=fees)
    t = feed(ex, momentum_path(114.9))
    assert ex.check(ManagedPosition(LONG, 114.9 / 1.0015), t) is None  # 0.15 % gross, 0.03 % net
    assert ex.check(ManagedPosition(LONG, 114.9 / 1.00219), t) is None  # 0.219 % gross
    d = ex.check(ManagedPosition(LONG, 114.9 / 1.0023), t)  # 0.23 % gross, 0.11 % net
    assert d is not None and d.reason_code == R_MOMENTUM
    free = AdvancedExits(only(momentum_slowdown=True), fees=Fees(taker_rate=0.0, slippage_rate=0.0))
    feed(free, momentum_path(114.9))
    assert free.check(ManagedPosition(LONG, 114.9 / 1.0015), t) is not None


# ----------------------------------------------------------------------------------------------
# Counter density


def tracker_with(walls):
    t = DensityTracker(DensitySettings(min_notional=1000.0))
    stable(t, walls)
    return t


def test_counter_density_ahead_of_a_long_within_twice_the_touch_tolerance():
    ex = AdvancedExits(only(counter_density=True))
    pos = ManagedPosition(LONG, 99.0)
    ex.update(T0, 100.0, tracker=tracker_with({100.39: 80.0}))
    d = ex.check(pos, T0)
    assert d.reason_code == R_COUNTER_DENSITY and d.reason == "counter_density"
    assert "ask density 100.39" in d.detail and "ahead of the long" in d.detail
    ex.update(T0 + 1, 100.0, tracker=tracker_with({100.41: 80.0}))
    assert ex.check(pos, T0 + 1) is None  # 0.41 % > 0.4 %
    ex.update(T0 + 2, 100.0, tracker=tracker_with({99.8: 80.0}))
    assert ex.check(pos, T0 + 2) is None  # a bid wall below helps a long


def test_counter_density_below_a_short_and_an_eroding_wall_is_not_an_obstacle():
    ex = AdvancedExits(only(counter_density=True))
    t = tracker_with({99.8: 100.0})
    ex.update(T0, 100.0, tracker=t)
    assert ex.check(ManagedPosition(SHORT, 101.0), T0).reason_code == R_COUNTER_DENSITY
    t.update(LIFE_MS + 1, *book({99.8: 70.0}))  # eroded 30 %: breaking, in the short's favour
    ex.update(T0 + 1, 100.0, tracker=t)
    assert ex.check(ManagedPosition(SHORT, 101.0), T0 + 1) is None


def test_counter_density_only_in_profit():
    ex = AdvancedExits(only(counter_density=True))
    ex.update(T0, 100.0, tracker=tracker_with({100.2: 80.0}))
    assert ex.check(ManagedPosition(LONG, 100.0), T0) is None


# ----------------------------------------------------------------------------------------------
# Aggressive counter-flow


def flow_run(sells_per_s_last_10, buys_per_s=1.0, seconds=70):
    """60 s of 1 buy + 1 sell per second, then 10 s with the given sell rate."""
    ex = AdvancedExits(only(aggressive_reversal=True))
    t = T0
    for i in range(seconds + 1):
        t = T0 + i * S
        sells = 1.0 if i <= seconds - 10 else sells_per_s_last_10
        ex.update(t, 100.0, trades=[(t, "Buy", buys_per_s, 100.0), (t, "Sell", sells, 100.0)])
    return ex, t


def test_taker_flow_reversal_fires_at_twice_the_flow_and_twice_its_average():
    ex, t = flow_run(2.0)
    assert (ex.flow.sell, ex.flow.buy) == (20.0, 10.0)
    assert ex.flow.base_sell == pytest.approx(50.0)  # 5 windows x 10
    d = ex.check(ManagedPosition(LONG, 99.0), t)
    assert d.reason_code == R_AGGRESSIVE and d.reason == "aggressive_reversal"
    assert "taker sell volume 20 over 10 s against the long" in d.detail
    ex, t = flow_run(1.9)
    assert ex.check(ManagedPosition(LONG, 99.0), t) is None


def test_taker_flow_needs_the_flow_above_its_own_average():
    # sells 3/s throughout: 3x the buys, but not above their usual level
    ex = AdvancedExits(only(aggressive_reversal=True))
    t = T0
    for i in range(71):
        t = T0 + i * S
        ex.update(t, 100.0, trades=[(t, 1, 1.0, 100.0), (t, -1, 3.0, 100.0)])
    assert ex.check(ManagedPosition(LONG, 99.0), t) is None
    assert ex.check(ManagedPosition(SHORT, 101.0), t) is None  # flow with a short


def test_taker_flow_for_a_short_and_the_baseline_needs_one_window():
    ex = AdvancedExits(only(aggressive_reversal=True))
    t = T0
    for i in range(20):  # only 19 s of history: the baseline has 9 s < one window
        t = T0 + i * S
        ex.update(t, 100.0, trades=[(t, "Buy", 5.0, 100.0)])
    assert ex.check(ManagedPosition(SHORT, 101.0), t) is None
    t += S
    ex.update(t, 100.0, trades=[(t, "Buy", 5.0, 100.0)])  # 20 s: one full baseline window
    assert ex.flow.baseline_span(t) == 1.0
    assert ex.check(ManagedPosition(SHORT, 101.0), t) is None  # as heavy as its baseline
    t += S
    ex.update(t, 100.0, trades=[(t, "Buy", 100.0, 100.0)])  # 145 in 10 s vs 60 over the 11 s before
    assert ex.check(ManagedPosition(SHORT, 101.0), t).reason_code == R_AGGRESSIVE


def test_taker_flow_windows_evict():
    f = TakerFlow(10_000, baseline_windows=2)
    f.add([(0, 1, 1.0), (5_000, -1, 2.0)], 0)
    f.advance(10_000)
    assert (f.buy, f.sell, f.base_buy, f.base_sell) == (0.0, 2.0, 1.0, 0.0)
    f.advance(30_000)
    assert (f.base_buy, f.base_sell) == (0.0, 2.0)
    f.advance(35_000)
    assert not f.has_trades and (f.buy, f.sell, f.base_buy, f.base_sell) == (0.0, 0.0, 0.0, 0.0)


def imbalance_run(last, before=(0.1, -0.1)):
    ex = AdvancedExits(only(aggressive_reversal=True))
    t = T0
    for i in range(11):
        t = T0 + i * S
        ex.update(t, 100.0, book_imbalance=before[i % len(before)])
    t += S
    ex.update(t, 100.0, book_imbalance=last)
    return ex, t


def test_imbalance_jump_fallback_without_trades():
    ex, t = imbalance_run(-0.25)  # against a long: 0.25 >= 2 x mean |I| 0.1
    d = ex.check(ManagedPosition(LONG, 99.0), t)
    assert d.reason_code == R_AGGRESSIVE and "no taker trades" in d.detail
    ex, t = imbalance_run(-0.15)
    assert ex.check(ManagedPosition(LONG, 99.0), t) is None
    ex, t = imbalance_run(0.25)  # a jump in the long's favour
    assert ex.check(ManagedPosition(LONG, 99.0), t) is None
    assert ex.check(ManagedPosition(SHORT, 101.0), t).reason_code == R_AGGRESSIVE


def test_imbalance_floor_on_a_flat_book():
    ex, t = imbalance_run(-0.1, before=(0.0,))
    assert ex.check(ManagedPosition(LONG, 99.0), t) is not None  # 0.1 >= 2 x floor 0.05
    ex, t = imbalance_run(-0.09, before=(0.0,))
    assert ex.check(ManagedPosition(LONG, 99.0), t) is None


def test_imbalance_comes_from_the_tracker_band():
    ex = AdvancedExits(only(aggressive_reversal=True))
    t = DensityTracker(DensitySettings())
    bp, bs, ap, asz = book()
    asz[:] = 30.0
    t.update(0, bp, bs, ap, asz)
    ex.update(T0, 100.0, tracker=t)
    assert t.imbalance == pytest.approx((10 - 30) / 40, abs=0.01)
    assert ex._imbalance.q[-1][1] == t.imbalance


# ----------------------------------------------------------------------------------------------
# Return to range


def test_return_to_range_after_going_through_the_density_even_at_a_loss():
    ex = AdvancedExits(only(return_to_range=True))
    pos = ManagedPosition(LONG, 100.4, 100.3, 1.0, "breakout", 100.5)
    for i, p in enumerate((100.45, 100.49, 100.45)):  # never above the wall: not armed
        ex.update(T0 + i, p)
        assert ex.check(pos, T0 + i) is None
    ex.update(T0 + 5, 100.6)
    assert ex.check(pos, T0 + 5) is None and pos.best_price == 100.6
    ex.update(T0 + 6, 100.5)
    assert ex.check(pos, T0 + 6) is None  # at the wall is not behind it
    ex.update(T0 + 7, 100.38)  # below the wall, and below the entry: checked in profit or not
    d = ex.check(pos, T0 + 7)
    assert d.reason_code == R_RETURN_TO_RANGE and d.reason == "return_to_range"
    assert "fell back below its density at 100.5" in d.detail


def test_return_to_range_behind_the_broken_local_extreme_for_a_short():
    ex = AdvancedExits(only(return_to_range=True))
    pos = ManagedPosition(SHORT, 99.7, 99.9, 1.0, "indicators", broken_extreme=99.75)
    ex.update(T0, 99.7)
    assert ex.check(pos, T0) is None
    ex.update(T0 + 1, 99.76)
    d = ex.check(pos, T0 + 1)
    assert d.reason_code == R_RETURN_TO_RANGE and "above the local low it broke at 99.75" in d.detail
    bounce = ManagedPosition(LONG, 100.0, 99.6, 1.0, "bounce", 99.9)  # density part is for breakouts
    ex.update(T0 + 2, 100.0)
    ex.check(bounce, T0 + 2)
    ex.update(T0 + 3, 99.85)
    assert ex.check(bounce, T0 + 3) is None


def test_check_order_and_toggles():
    tp = TakeProfit()
    ex = AdvancedExits(tp)
    pos = ManagedPosition(LONG, 100.0, 99.0, 1.0, "breakout", 113.0)
    t = T0
    for i, p in enumerate(momentum_path(112.9)):  # slowing, and back under the 113 wall it went through
        t = T0 + i * S
        ex.update(t, p)
        ex.check(pos, t)  # called on every update: it records the best price
    assert pos.best_price == 113.5
    assert [d.reason for d in ex.check_all(pos, t)] == ["return_to_range", "momentum_slowdown"]
    assert ex.check(pos, t).reason == "return_to_range"
    off = AdvancedExits(dataclasses.replace(tp, enabled=False))
    feed(off, momentum_path(112.9))
    assert off.check(ManagedPosition(LONG, 100.0, 99.0, 1.0, "breakout", 113.0), t) is None
    no_rr = AdvancedExits(dataclasses.replace(tp, return_to_range=False))
    feed(no_rr, momentum_path(112.9))
    assert no_rr.check(ManagedPosition(LONG, 100.0, 99.0, 1.0, "breakout", 113.0), t).reason == "momentum_slowdown"


# ----------------------------------------------------------------------------------------------
# Local extrema


def test_local_extrema_use_completed_minutes_in_the_window():
    x = LocalExtremaTracker(2.5)  # 3 whole minutes
    assert x.minutes == 3 and x.high() is None
    base = 10 * 60_000
    for minute, prices in enumerate(([100, 105], [99, 101], [102, 103], [98, 104])):
        for k, p in enumerate(prices):
            x.update(base + minute * 60_000 + k * 1000, p)
    # minutes 0..2 completed; minute 3 forming (its 98 and 104 not counted)
    assert (x.high(), x.low()) == (105, 99)
    x.update(base + 4 * 60_000, 100)  # minute 3 completes; minute 0 leaves the window
    assert (x.high(), x.low()) == (104, 98)
    assert x.extreme(LONG) == 104 and x.extreme(SHORT) == 98
    x.update(base + 7 * 60_000, 99)  # a gap: the window is minutes 4..6, only minute 4 (100) has prices
    assert (x.high(), x.low()) == (100, 100)
    x.update(base + 20 * 60_000, 100)  # minute 7 completes but is out of the window 17..19
    assert x.high() is None and x.low() is None


def test_the_entry_records_the_high_it_broke():
    ex = AdvancedExits(TakeProfit(local_extrema_window_min=60))
    t = T0 - T0 % 60_000
    for i in range(120):
        ex.update(t + i * S, 100 + (i % 10) * 0.1)  # a range 100 .. 100.9 for two minutes
    ex.update(t + 125 * S, 101.2)  # breaks out in the third minute
    assert ex.extrema.high() == pytest.approx(100.9)


def test_taker_volumes_are_exact_steps_and_print_with_the_instruments_precision():
    """Volumes are sums of exchange quantities (issue 11 item 8): kept as whole qtySteps they never
    carry float residue (a "with" volume of -1.98952e-13 gave 'infx' and '957040509450460.0x'),
    never go negative, and print with the instrument's decimals."""
    from decimal import Decimal

    ex = AdvancedExits(only(aggressive_reversal=True), qty_step=Decimal("0.001"))
    t = T0
    for i in range(60):  # a minute of mixed flow with sizes floats cannot sum exactly
        t = T0 + i * S
        ex.update(t, 100.0, trades=[(t, "Buy", 0.1, 100.0), (t, "Buy", 0.2, 100.0), (t, "Sell", 0.3, 100.0)])
    for i in range(60, 71):  # then ten seconds of sells only
        t = T0 + i * S
        ex.update(t, 100.0, trades=[(t, "Sell", 0.7, 100.0)])
    assert ex.flow.buy == 0.0 and ex.flow.sell == 7.0 and ex.flow.base_buy == 14.7
    d = ex.check(ManagedPosition(LONG, 99.0), t)
    assert d is not None and d.reason_code == R_AGGRESSIVE
    assert "taker sell volume 7.000 over 10 s against the long: no taker volume with it" in d.detail
    assert "e-" not in d.detail and "inf" not in d.detail
    assert re.search(r"and 2\.3x its average 3\.080 per 10 s", d.detail), d.detail


def test_taker_flow_sums_never_go_below_zero():
    from decimal import Decimal

    f = TakerFlow(10_000, baseline_windows=2, qty_step=Decimal("0.001"))
    f.add([(0, "Buy", 0.1), (1, "Buy", 0.2), (2, "Sell", 0.3)], 0)
    f.add([(9_000, "Sell", 0.1)], 9_000)
    f.advance(10_005)  # the three first trades leave the recent window, the last one stays
    assert (f.buy, f.sell) == (0.0, 0.1) and (f.base_buy, f.base_sell) == (0.3, 0.3)
    f.advance(40_000)
    assert (f.buy, f.sell, f.base_buy, f.base_sell) == (0.0, 0.0, 0.0, 0.0)


def test_an_update_repeated_at_the_same_market_moment_changes_nothing():
    """The loop may pass several times on one market state (a timer, a private message): the windows
    run on market time and keep one sample per moment, so how often the loop wakes never changes a
    decision (issue 11 item 2)."""
    once, twice = AdvancedExits(only(aggressive_reversal=True)), AdvancedExits(only(aggressive_reversal=True))
    for i, imbalance in enumerate([0.1, -0.1, 0.05, -0.05] * 4 + [-0.6]):
        t = T0 + i * S
        once.update(t, 100.0 + i, book_imbalance=imbalance)
        twice.update(t, 100.0 + i, book_imbalance=imbalance)
        twice.update(t, 100.0 + i, book_imbalance=imbalance)
    assert once._imbalance.jump() == twice._imbalance.jump()
    assert once._prices.samples(False) == twice._prices.samples(False)
    assert once._prices.samples(True) == twice._prices.samples(True)


def test_a_repeated_market_moment_leaves_the_windows_as_a_pop_and_append_would():
    """The rolling windows replace the last sample in place when the same market moment comes again
    (and skip the window trim, which cannot move): the same deques, sums and extremes, bit for bit,
    as the plain pop / append / trim of every call, over random walks with many repeated moments."""
    import random
    from collections import deque

    from whale.strategy.advanced_exits import LocalExtremaTracker, _ImbalanceHistory, _PriceWindows

    def price_at_ref(q, window, now, price):
        if q and q[-1][0] == now:
            q.pop()
        q.append((now, price))
        while len(q) > 1 and q[1][0] <= now - window:
            q.popleft()

    def imbalance_ref(st, window, now, value):  # st = [deque, abs_sum]
        q = st[0]
        if q and q[-1][0] == now:
            st[1] -= abs(q.pop()[1])
        q.append((now, value))
        st[1] += abs(value)
        while q and q[0][0] < now - window:
            st[1] -= abs(q.popleft()[1])
        if len(q) == 1:
            st[1] = abs(value)

    for seed in range(4):
        rng = random.Random(seed)
        window = rng.choice([0.0, 300.0, 5_000.0])
        fast_p, ref_p = _PriceWindows(window, window), deque()
        fast_i, ref_i = _ImbalanceHistory(window), [deque(), 0.0]
        extrema, highs, lows, minute, hi, lo = LocalExtremaTracker(2), {}, {}, None, None, None
        now = 1_700_000_000_000
        for _ in range(3000):
            now += rng.choice([0, 0, 0, 1, 7, 100, 20_000])
            price = round(100 + rng.uniform(-1, 1), 2)
            value = rng.choice([0.1, 0.2, 0.3, -0.7, 1 / 3, -0.0, 0.0])
            fast_p.add(now, price)
            price_at_ref(ref_p, window, now, price)
            fast_i.add(now, value)
            imbalance_ref(ref_i, window, now, value)
            assert fast_p.samples(False) == fast_p.samples(True) == list(ref_p)
            assert list(fast_i.q) == list(ref_i[0]) and fast_i.abs_sum == ref_i[1]
            extrema.update(now, price)
            m = now // 60_000
            if minute is not None and m > minute:
                highs[minute], lows[minute] = hi, lo
            if m != minute:
                minute, hi, lo = m, price, price
            hi, lo = max(hi, price), min(lo, price)
            done = [k for k in highs if m - 2 <= k < m]
            assert extrema.high() == (max(highs[k] for k in done) if done else None)
            assert extrema.low() == (min(lows[k] for k in done) if done else None)
