"""The fill rule on recorded books (whale/book_fills.py): the walk, its rounding, a thin book, and the
book as it stands at a time."""

from __future__ import annotations

import numpy as np
import pytest

from whale.book_fills import NO_PRICE, BookUpdate, book_fill_ticks, side_at, walk_levels
from whale.config.model import DEFAULTS, Config
from whale.fills import taker_fill_ticks

TICK = 0.1
ASKS = (np.array([95000.1, 95000.2, 95000.5]), np.array([0.5, 1.0, 2.0]))
BIDS = (np.array([95000.0, 94999.8, 94999.0]), np.array([0.3, 0.7, 4.0]))


def test_the_walk_is_volume_weighted_over_the_levels_it_takes():
    avg, beyond = walk_levels(*ASKS, 1.2)
    assert avg == pytest.approx((95000.1 * 0.5 + 95000.2 * 0.7) / 1.2) and beyond == 0.0
    ticks, beyond = book_fill_ticks(True, *ASKS, 1.2, TICK)
    assert ticks == 950002 and beyond == 0.0  # 95000.158.. rounds up for a buy


def test_a_sell_walks_the_bids_and_rounds_down():
    ticks, _ = book_fill_ticks(False, *BIDS, 0.8, TICK)
    avg = (95000.0 * 0.3 + 94999.8 * 0.5) / 0.8  # 94999.875
    assert ticks == 949998 and ticks * TICK < avg


def test_a_fill_inside_the_best_level_is_the_best_price_exactly():
    assert book_fill_ticks(True, *ASKS, 0.5, TICK) == (950001, 0.0)
    assert book_fill_ticks(False, *BIDS, 0.001, TICK) == (950000, 0.0)


def test_the_rounding_is_the_projects_taker_rule():
    for qty in (0.1, 0.6, 1.3, 2.9, 3.5):
        avg, _ = walk_levels(*ASKS, qty)
        assert book_fill_ticks(True, *ASKS, qty, TICK)[0] == taker_fill_ticks(True, avg, avg, 0.0, TICK)
        avg, _ = walk_levels(*BIDS, qty)
        assert book_fill_ticks(False, *BIDS, qty, TICK)[0] == taker_fill_ticks(False, avg, avg, 0.0, TICK)


def test_no_slippage_floor_on_a_recorded_book():
    """The candle model's floor (last x 1.0001) would put a small BTC buy ~95 ticks above the ask."""
    candle_rule = taker_fill_ticks(True, 95000.1, 95000.0, DEFAULTS.fees.slippage_rate, TICK)
    book_rule, _ = book_fill_ticks(True, *ASKS, 0.01, TICK)
    assert book_rule == 950001
    assert candle_rule - book_rule >= 90


def test_a_book_too_thin_fills_the_rest_at_its_last_level_and_says_how_much():
    ticks, beyond = book_fill_ticks(True, *ASKS, 5.0, TICK)
    assert beyond == pytest.approx(1.5)
    want = (95000.1 * 0.5 + 95000.2 * 1.0 + 95000.5 * 3.5) / 5.0
    assert ticks == int(np.ceil(want / TICK - 1e-9))


def test_an_empty_side_has_no_price():
    empty = np.zeros(0)
    assert book_fill_ticks(True, empty, empty, 1.0, TICK) == (NO_PRICE, 1.0)


def test_float_noise_in_the_sizes_does_not_leave_a_remainder_for_the_next_level():
    prices = np.array([100.0, 200.0])
    sizes = np.array([0.1, 0.2])  # 0.1 + 0.2 != 0.3 in floats
    avg, beyond = walk_levels(prices, sizes, 0.1 + 0.2)
    assert avg == pytest.approx((10.0 + 40.0) / 0.3) and beyond == 0.0
    assert walk_levels(prices[:1], sizes[:1], 0.1) == (100.0, 0.0)


def test_the_side_as_it_stands_at_a_time():
    current = {95000.1: 0.5, 95000.2: 1.0}
    pending = [BookUpdate(1000, False, [], [(95000.1, 0.0), (95000.3, 2.0)]),
               BookUpdate(1050, False, [(95000.0, 9.0)], [(95000.2, 0.25)]),
               BookUpdate(1200, False, [], [(95000.2, 0.0)])]
    px, sz = side_at(current, True, pending, 1100)
    assert px.tolist() == [95000.2, 95000.3] and sz.tolist() == [0.25, 2.0]
    px, sz = side_at({95000.0: 1.0}, False, pending, 1100)
    assert px.tolist() == [95000.0] and sz.tolist() == [9.0]
    assert current == {95000.1: 0.5, 95000.2: 1.0}  # the current book is left as it is
    px, _ = side_at(current, True, pending, 999)
    assert px.tolist() == [95000.1, 95000.2]


def test_the_book_at_a_time_stops_at_the_first_update_stamped_after_it():
    """The recording's clock is the running maximum of its stamps: a late-stamped update after one
    past the time is past it too."""
    pending = [BookUpdate(1000, False, [], [(1.0, 1.0)]), BookUpdate(1300, False, [], [(2.0, 1.0)]),
               BookUpdate(1100, False, [], [(3.0, 1.0)])]
    px, _ = side_at({}, True, pending, 1200)
    assert px.tolist() == [1.0]


def test_a_snapshot_replaces_the_side():
    pending = [BookUpdate(10, True, [(5.0, 1.0)], [(6.0, 2.0), (7.0, 3.0)])]
    px, sz = side_at({1.0: 1.0, 2.0: 2.0}, True, pending, 10)
    assert px.tolist() == [6.0, 7.0] and sz.tolist() == [2.0, 3.0]


def test_latency_is_a_config_key_of_the_account():
    assert DEFAULTS.backtest.latency_ms == 100
    from whale.config.model import ACCOUNT_WIDE
    assert "backtest.latency_ms" in ACCOUNT_WIDE
    assert isinstance(Config().backtest.latency_ms, int)
