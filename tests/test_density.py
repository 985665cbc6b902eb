"""Density detection and tracking, and the density strategy (breakout, bounce, Density_Signal),
on hand-made books: 200 levels a side, 0.01 apart around 100, every level 10 (median 10) unless
a wall is put on it."""

import math

import numpy as np
import pytest

from whale.config.model import Density as DensitySettings
from whale.fills import LONG, SHORT
from whale.strategy.advanced_exits import ExitDecision, ManagedPosition
from whale.strategy.density import APPEARED, CONSUMED, ERODED, VANISHED, DensityTracker
from whale.strategy.density_strategy import (
    BOUNCE,
    BREAKOUT,
    DensityStrategy,
    StopMove,
    density_position,
)
from whale.strategy.stops import R_DENSITY_EROSION

SETTINGS = DensitySettings(min_notional=1000.0)
LIFE_MS = 30_000


def book(walls=None, best_bid=100.0, levels=200, size=10.0, gone=()):
    """Bids best_bid, best_bid - 0.01, ...; asks best_bid + 0.01, ...; walls {price: qty}; the
    levels at the prices in `gone` are deleted."""
    k = np.arange(levels)
    bid_px = np.round(best_bid - 0.01 * k, 2)
    ask_px = np.round(best_bid + 0.01 + 0.01 * k, 2)
    bid_sz = np.full(levels, size)
    ask_sz = np.full(levels, size)
    for price, qty in (walls or {}).items():
        for px, sz in ((bid_px, bid_sz), (ask_px, ask_sz)):
            hit = np.flatnonzero(np.isclose(px, price))
            if hit.size:
                sz[hit[0]] = qty
    keep_b = ~np.isin(np.round(bid_px, 2), np.round(gone, 2))
    keep_a = ~np.isin(np.round(ask_px, 2), np.round(gone, 2))
    return bid_px[keep_b], bid_sz[keep_b], ask_px[keep_a], ask_sz[keep_a]


def stable(tracker, walls, t0=0, **kw):
    """Show the book at t0 and again after the lifetime: every qualifying wall becomes stable."""
    tracker.update(t0, *book(walls, **kw))
    return tracker.update(t0 + LIFE_MS, *book(walls, **kw))


def kinds(events):
    return [(e.kind, e.side, e.price) for e in events]


# ----------------------------------------------------------------------------------------------
# Detection


def test_wall_at_exactly_the_multiplier_qualifies_and_just_below_does_not():
    t = DensityTracker(SETTINGS)
    events = stable(t, {100.05: 50.0, 99.95: 49.99})
    assert kinds(events) == [(APPEARED, "ask", 100.05)]
    assert t.median == 10.0
    d = t.get("ask", 100.05)
    assert d.multiple == 5.0 and d.qty == 50.0 and d.initial_qty == 50.0 and not d.pending
    assert t.get("bid", 99.95) is None


def test_min_notional_edge():
    at_edge = DensitySettings(min_notional=50.0 * 100.05)
    t = DensityTracker(at_edge)
    assert kinds(stable(t, {100.05: 50.0})) == [(APPEARED, "ask", 100.05)]
    above = DensitySettings(min_notional=50.0 * 100.05 + 0.01)
    t = DensityTracker(above)
    assert stable(t, {100.05: 50.0}) == []


def test_only_levels_inside_the_depth_band_are_candidates():
    # depth 1 %: mid 100.005 -> band [99.005, 101.005]; a wall at 98.5 is outside it
    t = DensityTracker(SETTINGS)
    assert kinds(stable(t, {98.5: 500.0, 99.1: 500.0})) == [(APPEARED, "bid", 99.1)]


def test_median_is_taken_over_the_band_on_both_sides():
    # every ask in the band is 30, every bid 10: median of the ~200 band levels is 10 or 30
    t = DensityTracker(SETTINGS)
    bp, bs, ap, asz = book()
    asz[:] = 30.0
    bs[:10] = 30.0  # tips the band median to 30
    t.update(0, bp, bs, ap, asz)
    assert t.median == 30.0
    assert math.isclose(t.mid, 100.005)


def test_a_young_candidate_is_pending_and_a_spoof_is_dropped():
    t = DensityTracker(SETTINGS)
    assert t.update(0, *book({100.05: 80.0})) == []
    assert t.update(LIFE_MS - 1, *book({100.05: 80.0})) == []
    assert t.densities() == []
    pending = t.get("ask", 100.05, include_pending=True)
    assert pending.pending and pending.age_s == pytest.approx(29.999)
    assert t.update(LIFE_MS - 1, *book()) == []  # pulled before its lifetime: a spoof, no event
    assert t.spoofs_filtered == 1
    assert t.update(LIFE_MS, *book({100.05: 80.0})) == []  # back: a new candidate, new clock
    assert kinds(t.update(2 * LIFE_MS, *book({100.05: 80.0}))) == [(APPEARED, "ask", 100.05)]


def test_appears_exactly_at_the_lifetime():
    t = DensityTracker(SETTINGS)
    t.update(1_000, *book({99.9: 60.0}))
    assert t.update(1_000 + LIFE_MS - 1, *book({99.9: 60.0})) == []
    ev = t.update(1_000 + LIFE_MS, *book({99.9: 60.0}))
    assert kinds(ev) == [(APPEARED, "bid", 99.9)]
    assert "appeared" in ev[0].text and "6.0x the median" in ev[0].text


def test_erosion_events_at_every_10_percent_and_the_strategy_thresholds():
    s = DensitySettings(min_notional=1000.0, breakout_erosion_percent=35.0, bounce_density_erosion_exit_percent=65.0)
    t = DensityTracker(s)
    assert t.thresholds == (10, 20, 30, 35, 40, 50, 60, 65, 70, 80, 90)
    stable(t, {100.1: 100.0})
    seen = []
    for step, qty in enumerate((91.0, 90.0, 66.0, 65.0, 64.0, 36.0, 35.0)):
        ev = t.update(LIFE_MS + 1 + step, *book({100.1: qty}))
        seen.append([(e.kind, e.threshold) for e in ev])
    assert seen == [[], [(ERODED, 10)], [(ERODED, 30)], [(ERODED, 35)], [], [(ERODED, 60)], [(ERODED, 65)]]
    assert t.get("ask", 100.1).erosion_pct == 65.0


def test_erosion_never_negative_and_a_refill_does_not_re_announce():
    t = DensityTracker(SETTINGS)
    stable(t, {100.1: 100.0})
    t.update(LIFE_MS + 1, *book({100.1: 150.0}))
    d = t.get("ask", 100.1)
    assert d.erosion_pct == 0.0 and d.peak_qty == 150.0 and d.initial_qty == 100.0
    assert [e.threshold for e in t.update(LIFE_MS + 2, *book({100.1: 75.0}))] == [20]
    assert t.update(LIFE_MS + 3, *book({100.1: 100.0})) == []
    assert t.update(LIFE_MS + 4, *book({100.1: 75.0})) == []
    assert [e.threshold for e in t.update(LIFE_MS + 5, *book({100.1: 65.0}))] == [30]


def test_an_eroding_wall_stays_tracked_below_the_multiplier_until_it_is_ordinary():
    t = DensityTracker(SETTINGS)
    stable(t, {100.1: 50.0})
    ev = t.update(LIFE_MS + 1, *book({100.1: 35.0}))  # 3.5x the median, eroded 30 %
    assert [(e.kind, e.threshold) for e in ev] == [(ERODED, 30)]
    assert t.get("ask", 100.1).erosion_pct == pytest.approx(30.0)
    assert t.update(LIFE_MS + 2, *book({100.1: 10.01})) != []  # still above the median
    assert t.get("ask", 100.1) is not None
    ev = t.update(LIFE_MS + 3, *book({100.1: 10.0}))  # the median: an ordinary level
    assert kinds(ev) == [(VANISHED, "ask", 100.1)] and "median" in ev[0].detail
    assert t.densities() == []


def test_vanished_when_pulled_and_consumed_when_traded_through():
    t = DensityTracker(SETTINGS)
    stable(t, {100.1: 80.0, 99.9: 80.0})
    ev = t.update(LIFE_MS + 1, *book({99.9: 80.0}, gone=(100.1,)))
    assert kinds(ev) == [(VANISHED, "ask", 100.1)] and ev[0].detail == "gone from the book"
    # the price falls through the bid wall: best bid now 99.85, the 99.9 level is gone
    ev = t.update(LIFE_MS + 2, *book({}, best_bid=99.85))
    assert kinds(ev) == [(CONSUMED, "bid", 99.9)]
    assert "traded through" in ev[0].text


def test_out_of_the_book_depth_is_a_vanish():
    t = DensityTracker(DensitySettings(min_notional=1000.0, depth_percent=5.0))
    stable(t, {98.5: 300.0})
    bp, bs, ap, asz = book({98.5: 300.0}, levels=100)  # the book passed in now ends at 99.01
    ev = t.update(LIFE_MS + 1, bp, bs, ap, asz)
    assert kinds(ev) == [(VANISHED, "bid", 98.5)] and ev[0].detail == "out of the book depth"


def test_accessors_nearest_and_display():
    t = DensityTracker(SETTINGS)
    stable(t, {100.2: 80.0, 100.08: 60.0, 99.7: 90.0})
    assert [d.price for d in t.densities()] == [100.08, 100.2, 99.7]  # nearest to the mid first
    assert t.nearest("ask", 100.25).price == 100.2
    assert t.nearest("ask", 100.0).price == 100.08
    assert t.nearest("bid", 100.0, max_distance_pct=0.2) is None
    assert t.nearest("bid", 100.0, max_distance_pct=0.31).price == 99.7
    rows = t.for_display(LIFE_MS + 5_000)
    assert rows[0] == {"side": "ask", "price": 100.08, "size": 60.0, "notional": pytest.approx(6004.8),
                       "age_sec": 35.0, "erosion_percent": 0.0}
    d = t.get("bid", 99.7)
    assert d.distance_pct == pytest.approx((100.005 - 99.7) / 100.005 * 100)


def test_empty_book_is_no_data_and_one_sided_book_still_works():
    t = DensityTracker(SETTINGS)
    assert t.update(0, np.empty(0), np.empty(0), np.empty(0), np.empty(0)) == []
    assert not t.ready
    stable(t, {99.9: 80.0})
    assert t.update(LIFE_MS + 1, np.empty(0), np.empty(0), np.empty(0), np.empty(0)) == []
    assert t.get("bid", 99.9) is not None
    bp, bs, _, _ = book({99.9: 80.0})
    assert t.update(LIFE_MS + 2, bp, bs, np.empty(0), np.empty(0)) == []
    assert t.get("bid", 99.9).qty == 80.0


# ----------------------------------------------------------------------------------------------
# Strategy


def tracked(walls, price_bid=100.0):
    t = DensityTracker(SETTINGS)
    stable(t, walls, best_bid=price_bid)
    return t


def erode(t, walls, now=LIFE_MS + 1, **kw):
    t.update(now, *book(walls, **kw))
    return t


def test_breakout_fires_at_the_erosion_threshold_through_an_ask_wall():
    t = tracked({100.1: 100.0})
    s = DensityStrategy(SETTINGS, tick=0.01)
    erode(t, {100.1: 70.01})  # 29.99 %: still a holding wall -> a bounce sell, not a breakout
    assert s.entry_signal(LIFE_MS + 1, 100.0, t).kind == BOUNCE
    erode(t, {100.1: 70.0}, now=LIFE_MS + 2)  # 30 %
    e = s.entry_signal(LIFE_MS + 2, 100.0, t)
    assert (e.side, e.kind, e.density_side, e.density_price) == (LONG, BREAKOUT, "ask", 100.1)
    assert e.stop == 99.9  # 0.1 % behind the entry (the entry is behind the wall)
    assert "breakout" in e.reason and "eroded 30.0 %" in e.reason and "buy through it" in e.reason
    assert s.entry_signal(LIFE_MS + 3, 100.0, t) is None  # one signal per density


def test_breakout_needs_the_density_near_the_price():
    t = tracked({100.3: 100.0})
    erode(t, {100.3: 50.0})
    s = DensityStrategy(SETTINGS)
    assert s.entry_signal(LIFE_MS + 1, 100.0, t) is None  # 0.3 % away, tolerance 0.2 %
    assert s.entry_signal(LIFE_MS + 1, 100.11, t).kind == BREAKOUT  # 0.19 % away


def test_breakout_sell_through_an_eroding_bid_wall():
    t = tracked({99.9: 100.0})
    erode(t, {99.9: 60.0})
    s = DensityStrategy(SETTINGS, tick=0.01)
    e = s.entry_signal(LIFE_MS + 1, 100.0, t)
    assert (e.side, e.kind) == (SHORT, BREAKOUT)
    assert e.stop == pytest.approx(100.1)  # max(entry, wall) x 1.001 = 100.1
    assert s.density_score(100.0, t) == -1.0


def test_breakout_stop_rules():
    s = DensityStrategy(SETTINGS)
    # entry beyond the wall (already through): the stop goes behind the wall
    assert s.stop_for(BREAKOUT, LONG, 100.2, 100.1) == pytest.approx(100.1 * 0.999)
    assert s.stop_for(BREAKOUT, LONG, 100.0, 100.1) == pytest.approx(100.0 * 0.999)
    assert s.stop_for(BREAKOUT, SHORT, 99.8, 99.9) == pytest.approx(99.9 * 1.001)
    ticked = DensityStrategy(SETTINGS, tick=0.05)
    assert ticked.stop_for(BREAKOUT, LONG, 100.0, 100.1) == pytest.approx(99.9)  # 99.9 is on the grid
    assert ticked.stop_for(BOUNCE, LONG, 100.0, 99.93) == pytest.approx(99.6)  # 99.63 rounded down
    assert ticked.stop_for(BOUNCE, SHORT, 100.0, 100.07) == pytest.approx(100.4)  # 100.37 rounded up


def test_bounce_off_a_holding_bid_wall_buys_with_the_stop_behind_it():
    t = tracked({99.9: 100.0})
    s = DensityStrategy(SETTINGS)
    assert s.entry_signal(LIFE_MS, 100.2, t) is None  # 0.2994 % away: too far
    e = s.entry_signal(LIFE_MS, 100.1, t)  # 0.1998 % away: within 0.2 %
    assert (e.side, e.kind, e.density_price) == (LONG, BOUNCE, 99.9)
    assert e.stop == pytest.approx(99.9 * 0.997)
    assert "bounce" in e.reason and "away from it" in e.reason
    assert s.density_score(100.1, t) == 1.0


def test_bounce_short_off_an_ask_wall_and_the_re_arm():
    t = tracked({100.1: 100.0})
    s = DensityStrategy(SETTINGS)
    e = s.entry_signal(LIFE_MS, 100.0, t)
    assert (e.side, e.kind, e.density_side) == (SHORT, BOUNCE, "ask")
    assert e.stop == pytest.approx(100.1 * 1.003)
    assert s.entry_signal(LIFE_MS + 1, 100.0, t) is None  # used
    assert s.entry_signal(LIFE_MS + 2, 99.75, t) is None  # 0.35 % away: not re-armed yet
    assert s.entry_signal(LIFE_MS + 3, 100.0, t) is None
    assert s.entry_signal(LIFE_MS + 4, 99.65, t) is None  # 0.45 % away (> 2 x 0.2 %): re-armed
    assert s.entry_signal(LIFE_MS + 5, 100.0, t).kind == BOUNCE  # a new touch


def test_breakouts_come_before_bounces_and_conflicting_directions_score_zero():
    t = tracked({100.1: 100.0, 99.95: 100.0})
    erode(t, {100.1: 100.0, 99.95: 50.0})  # the bid wall under the price is breaking
    s = DensityStrategy(SETTINGS)
    # ask wall above holding -> bounce sell; bid wall below breaking -> breakout sell: both -1
    assert s.density_score(100.0, t) == -1.0
    assert s.entry_signal(LIFE_MS + 1, 100.0, t).kind == BREAKOUT
    t2 = tracked({100.1: 100.0, 99.95: 100.0})  # bounce sell above, bounce buy below: conflict
    assert s.density_score(100.0, t2) == 0.0
    assert s.density_score(100.0, DensityTracker(SETTINGS)) == 0.0


def test_density_score_for_an_eroding_ask_above():
    t = tracked({100.15: 100.0})
    s = DensityStrategy(SETTINGS)
    assert s.density_score(100.0, t) == -1.0  # holding ask above: a bounce sell
    erode(t, {100.15: 70.0})
    assert s.density_score(100.0, t) == 1.0  # eroded 30 %: a breakout buy
    assert s.density_score(99.5, t) == 0.0  # too far


def test_breakout_break_even_move_at_its_profit_edge():
    s = DensityStrategy(SETTINGS, tick=0.01)
    t = tracked({})
    pos = ManagedPosition(LONG, 100.0, 99.9, 1.0, BREAKOUT, 100.1)
    assert s.manage(pos, 100.49, t, 1) is None  # 0.49 % < 0.5 %
    move = s.manage(pos, 100.5, t, 1)
    assert isinstance(move, StopMove) and move.new_stop == 100.0 and move.reason == "breakeven"
    assert "break-even 100" in move.detail
    pos.stop, pos.breakeven_done = move.new_stop, True
    assert s.manage(pos, 101.0, t, 2) is None
    short = ManagedPosition(SHORT, 100.0, 100.1, 1.0, BREAKOUT, 99.9)
    assert s.manage(short, 99.5, t, 1).new_stop == 100.0
    tight = ManagedPosition(LONG, 100.0, 100.2, 1.0, BREAKOUT, 100.1)  # stop already beyond entry
    assert s.manage(tight, 100.6, t, 1) is None


def test_bounce_exit_on_erosion_edge_and_on_disappearance():
    t = tracked({99.9: 100.0})
    s = DensityStrategy(SETTINGS)
    e = s.entry_signal(LIFE_MS, 100.05, t)
    pos = density_position(e, 100.05, 1.0, LIFE_MS)
    assert (pos.kind, pos.density_price, pos.stop) == (BOUNCE, 99.9, e.stop)
    erode(t, {99.9: 35.01})  # 64.99 %
    assert s.manage(pos, 100.05, t, LIFE_MS + 1) is None
    erode(t, {99.9: 35.0}, now=LIFE_MS + 2)  # 65 %
    d = s.manage(pos, 100.05, t, LIFE_MS + 2)
    assert isinstance(d, ExitDecision) and d.reason_code == R_DENSITY_EROSION and d.reason == "density_erosion"
    assert "eroded 65.0 %" in d.detail
    erode(t, {}, now=LIFE_MS + 3, gone=(99.9,))
    d = s.manage(pos, 100.05, t, LIFE_MS + 3)
    assert d.reason == "density_erosion" and "gone" in d.detail


def test_a_restored_bounce_holds_while_its_wall_is_pending_in_a_fresh_tracker():
    s = DensityStrategy(SETTINGS)
    pos = ManagedPosition(LONG, 100.05, 99.6, 1.0, BOUNCE, 99.9)
    t = DensityTracker(SETTINGS)
    assert s.manage(pos, 100.05, t, 0) is None  # no book yet: no decision
    t.update(0, *book({99.9: 100.0}))
    assert s.manage(pos, 100.05, t, 0) is None
    t.update(1, *book({}, gone=(99.9,)))
    assert s.manage(pos, 100.05, t, 1).reason == "density_erosion"


def test_indicator_positions_are_not_managed_here():
    s = DensityStrategy(SETTINGS)
    assert s.manage(ManagedPosition(LONG, 100.0, 99.0), 110.0, tracked({}), 1) is None


def _entry_fields(e):
    return None if e is None else (e.side, e.kind, e.density_side, e.density_price, e.stop, e.reason)


def test_entry_signal_memo_of_a_none_answers_as_a_full_evaluation():
    """entry_signal skips its work when the last call returned None for the same stable densities and
    price: over a random walk of books and prices (repeats, books that change only other levels or
    pending walls, erosion, walls gone and new ones stable, bounce re-arms), it answers exactly as a
    strategy whose memo is forgotten before every call."""
    import random

    rng = random.Random(7)
    t = tracked({100.1: 100.0, 99.9: 100.0, 100.15: 100.0})
    fast, slow = DensityStrategy(SETTINGS, tick=0.01), DensityStrategy(SETTINGS, tick=0.01)
    prices = [99.6, 99.75, 99.95, 100.0, 100.02, 100.05, 100.3]
    answers, memo_hits, now = [], 0, LIFE_MS
    for _ in range(400):
        if rng.random() < 0.3:  # a new book: the same walls, or erode, refill or pull one, or a new one
            now += LIFE_MS if rng.random() < 0.05 else 1  # a pending wall becomes stable
            walls = {100.1: rng.choice([100.0, 100.0, 75.0, 60.0]), 99.9: rng.choice([100.0, 100.0, 50.0])}
            gone = (100.15,) if rng.random() < 0.2 else ()
            if not gone:
                walls[100.15] = 100.0
            if rng.random() < 0.3:
                walls[rng.choice([99.95, 100.05])] = 90.0  # pending until it has lived LIFE_MS
            erode(t, walls, now=now, gone=gone, size=rng.choice([10.0, 10.0, 11.0]))
        price = rng.choice(prices) if rng.random() < 0.5 else (answers[-1][0] if answers else 100.0)
        hit = fast._none_at == (t, t.stable_version, price)
        slow._none_at = None
        got, want = fast.entry_signal(now, price, t), slow.entry_signal(now, price, t)
        assert _entry_fields(got) == _entry_fields(want)
        assert fast._used == slow._used
        memo_hits += hit
        answers.append((price, got))
    assert memo_hits > 50 and sum(a[1] is not None for a in answers) > 3  # both paths were exercised


def test_tracker_lookups_agree_with_the_full_list_of_tracks():
    """get / first_seen / densities_near (which build only the tracks they return) against
    densities(include_pending=True) over random books."""
    import random

    rng = random.Random(3)
    t = DensityTracker(SETTINGS)
    now = 0
    for _ in range(60):
        now += rng.choice([1, 10_000, 30_000])
        walls = {p: rng.choice([80.0, 100.0, 40.0]) for p in rng.sample([99.7, 99.85, 99.9, 100.1, 100.2, 100.3], 3)}
        t.update(now, *book(walls, best_bid=rng.choice([100.0, 100.01])))
        every = {(d.side, d.price): d for d in t.densities(include_pending=True)}
        for side in ("bid", "ask"):
            for p in (99.7, 99.85, 99.9, 100.1, 100.2, 100.3, 42.0):
                d = every.get((side, p))
                assert t.get(side, p, include_pending=True) == d
                assert t.get(side, p) == (d if d is not None and not d.pending else None)
                assert t.first_seen(side, p) == (d.first_seen_ms if d is not None and not d.pending else None)
        assert t.get("buy", 99.9) is None
        for price, limit in ((100.0, 0.2), (100.0, 0.35), (99.8, 0.1)):
            want = [d for d in t.densities() if abs(d.price - price) / price * 100.0 <= limit]
            assert t.densities_near(price, limit) == want


def test_the_stable_version_changes_exactly_when_a_stable_density_does():
    """DensityTracker.stable_version (the kernel's count of updates that changed a stable track) moves
    when a stable density appears, erodes, refills or goes, and not for other levels or pending walls."""
    import random

    rng = random.Random(11)
    t = DensityTracker(SETTINGS)
    now, moved, kept = 0, 0, 0
    before = (t.stable_version, [])
    for _ in range(300):
        now += rng.choice([1, 1, 1, 10_000, LIFE_MS])
        walls = {p: rng.choice([100.0, 100.0, 100.0, 70.0, 40.0]) for p in rng.sample([99.8, 99.9, 100.1, 100.2], 2)}
        t.update(now, *book(walls, size=rng.choice([10.0, 10.0, 11.0])))
        rows = [r[:6] for r in t._tracks(True)]
        assert (t.stable_version != before[0]) == (rows != before[1])
        moved += t.stable_version != before[0]
        kept += t.stable_version == before[0] and t.version != 0
        before = (t.stable_version, rows)
    t.reset()
    assert t.stable_version != before[0]
    assert moved > 20 and kept > 20


def test_the_bounce_exit_memo_answers_as_a_full_evaluation():
    """_bounce_exit skips the look-up while its stable wall was last found holding and no stable
    density changed: over random books (other walls moving, the wall eroding past the exit limit, gone,
    back as a pending wall) it answers as a strategy whose memo is forgotten before every call."""
    import random

    rng = random.Random(5)
    fast, slow = DensityStrategy(SETTINGS), DensityStrategy(SETTINGS)
    hits = exits = 0
    for _ in range(6):
        t = tracked({99.9: 100.0, 100.2: 100.0})
        pos = ManagedPosition(LONG, 100.05, 99.6, 1.0, BOUNCE, 99.9)
        now = LIFE_MS
        for _ in range(150):
            if rng.random() < 0.4:
                now += LIFE_MS if rng.random() < 0.05 else 1
                walls = {100.2: rng.choice([100.0, 100.0, 80.0])}
                if rng.random() > 0.03:
                    walls[99.9] = rng.choice([100.0, 100.0, 100.0, 90.0, 36.0, 35.0])
                erode(t, walls, now=now, size=rng.choice([10.0, 10.0, 11.0]))
            hit = fast._holding == (t, t.stable_version, "bid", 99.9)
            slow._holding = None
            got, want = fast.manage(pos, 100.05, t, now), slow.manage(pos, 100.05, t, now)
            assert got == want
            hits += hit
            exits += got is not None
    assert hits > 100 and exits > 10
