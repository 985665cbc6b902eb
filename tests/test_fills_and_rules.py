"""The shared fill model and position rules: bar path, triggers, stop moves, sizing."""

import math

import pytest

from whale.fills import (
    HIT_STOP,
    HIT_TARGET,
    LONG,
    NO_EXIT,
    SHORT,
    bar_path,
    fee,
    first_exit_on_bar,
    funding_payment,
    funding_times_in,
    round_away_from_market,
    slipped,
)
from whale.risk.sizing import (
    SIZE_OK,
    SKIP_BELOW_MIN_NOTIONAL,
    SKIP_BELOW_MIN_QTY,
    SKIP_BEYOND_LEVERAGE,
    SKIP_EXPOSURE,
    SKIP_NO_STOP_DISTANCE,
    size_steps,
)
from whale.strategy.stops import (
    STOP_BREAKEVEN,
    STOP_INITIAL,
    STOP_TRAILING,
    initial_levels,
    move_stop,
)


def test_bar_path_up_down_and_doji():
    assert bar_path(100, 110, 95, 105) == (100, 95, 110, 105)  # up: low first
    assert bar_path(100, 110, 95, 97) == (100, 110, 95, 97)  # down: high first
    assert bar_path(100, 101, 90, 100) == (100, 101, 90, 100)  # doji: nearer extreme (high) first
    assert bar_path(100, 110, 99, 100) == (100, 99, 110, 100)  # doji: low nearer
    assert bar_path(100, 105, 95, 100) == (100, 95, 105, 100)  # tie: low first


def test_long_stop_before_target_on_down_candle_path():
    # Down candle: O -> H -> L -> C. The high reaches the target first.
    kind, price = first_exit_on_bar(LONG, 95.0, 108.0, 100, 110, 90, 92, False)
    assert (kind, price) == (HIT_TARGET, 108.0)
    # Up candle: O -> L -> H -> C. The low reaches the stop first.
    kind, price = first_exit_on_bar(LONG, 95.0, 108.0, 100, 110, 90, 105, False)
    assert (kind, price) == (HIT_STOP, 95.0)


def test_stop_wins_inside_entry_candle_even_if_path_says_target():
    kind, price = first_exit_on_bar(LONG, 95.0, 108.0, 100, 110, 90, 92, True)
    assert (kind, price) == (HIT_STOP, 95.0)


def test_gap_through_stop_fills_at_open():
    kind, price = first_exit_on_bar(SHORT, 105.0, 90.0, 107, 108, 103, 104, False)
    assert (kind, price) == (HIT_STOP, 107.0)
    kind, price = first_exit_on_bar(LONG, 95.0, 108.0, 110, 112, 109, 111, False)
    assert (kind, price) == (HIT_TARGET, 110.0)


def test_no_exit_inside_range():
    assert first_exit_on_bar(LONG, 90.0, 120.0, 100, 110, 95, 105, False)[0] == NO_EXIT
    assert first_exit_on_bar(SHORT, 120.0, 80.0, 100, 110, 95, 105, False)[0] == NO_EXIT


def test_slippage_fee_funding_signs():
    assert slipped(100.0, True, 0.001) == pytest.approx(100.1)
    assert slipped(100.0, False, 0.001) == pytest.approx(99.9)
    assert fee(100.0, -2.0, 0.0005) == pytest.approx(0.1)
    assert funding_payment(LONG, 1.0, 100.0, 0.0001) == pytest.approx(0.01)
    assert funding_payment(SHORT, 1.0, 100.0, 0.0001) == pytest.approx(-0.01)


def test_funding_times():
    h8 = 8 * 3_600_000
    assert funding_times_in(0, 1) == 1
    assert funding_times_in(1, h8) == 0
    assert funding_times_in(1, h8 + 1) == 1
    assert funding_times_in(h8 - 60_000, 3 * h8 + 1) == 3


def test_rounding_away_from_market():
    assert round_away_from_market(100.07, 0.1, LONG, True) == pytest.approx(100.0)
    assert round_away_from_market(100.03, 0.1, LONG, False) == pytest.approx(100.1)
    assert round_away_from_market(100.03, 0.1, SHORT, True) == pytest.approx(100.1)
    assert round_away_from_market(100.07, 0.1, SHORT, False) == pytest.approx(100.0)
    assert round_away_from_market(0.1 + 0.2, 0.1, LONG, True) == pytest.approx(0.3)  # float noise tolerated


def test_initial_levels_from_atr():
    sl, tp = initial_levels(LONG, 100.0, 2.0, 1.5, 2.0, 0.1)
    assert (sl, tp) == (pytest.approx(97.0), pytest.approx(104.0))
    sl, tp = initial_levels(SHORT, 100.0, 2.0, 1.5, 2.0, 0.1)
    assert (sl, tp) == (pytest.approx(103.0), pytest.approx(96.0))


def _move(side, entry, stop, kind, be, close, atr=1.0, trailing=True):
    return move_stop(side, entry, stop, kind, be, close, atr, 0.01, trailing, 0.5, 0.8, 1.0, 0.5)


def test_trailing_arms_and_never_loosens():
    stop, kind, be = _move(LONG, 100.0, 98.5, STOP_INITIAL, False, 100.4)
    assert (stop, kind, be) == (98.5, STOP_INITIAL, False)  # below the 0.5 ATR trigger
    stop, kind, be = _move(LONG, 100.0, 98.5, STOP_INITIAL, False, 100.6)
    assert stop == pytest.approx(99.8) and kind == STOP_TRAILING  # 100.6 - 0.8
    stop2, kind2, _ = _move(LONG, 100.0, stop, kind, be, 100.2)
    assert stop2 == stop and kind2 == kind  # price fell back: the stop stays


def test_breakeven_then_lock_in_for_short():
    stop, kind, be = move_stop(SHORT, 100.0, 101.5, STOP_INITIAL, False, 98.9, 1.0, 0.01, False, 0.5, 0.8, 1.0, 0.0)
    assert be and kind == STOP_BREAKEVEN and stop == pytest.approx(100.0)
    stop, kind, be = move_stop(SHORT, 100.0, stop, kind, be, 98.0, 1.0, 0.01, False, 0.5, 0.8, 1.0, 0.5)
    assert kind == STOP_TRAILING and stop == pytest.approx(98.5)


def test_stop_never_placed_through_the_close():
    # Break-even reached earlier, price now below entry: the entry stop would be above the close.
    stop, kind, be = move_stop(LONG, 100.0, 98.0, STOP_INITIAL, True, 99.5, 1.0, 0.01, False, 0.5, 0.8, 1.0, 0.5)
    assert stop == 98.0 and kind == STOP_INITIAL


def _skip_sizing(equity, risk, entry, stop, step, min_qty, min_notional, max_qty, leverage, exposure):
    """The rule with no fees in the order cost and risk.when_capped "skip" (the caps skip)."""
    return size_steps(equity, risk, entry, stop, step, min_qty, min_notional, max_qty, leverage, 0.0, exposure, False)


def test_sizing_rounds_down_and_skips():
    steps, code = _skip_sizing(1000.0, 1.0, 100.0, 99.0, 0.001, 0.001, 5.0, 1e9, 20.0, 2000.0)
    assert code == SIZE_OK and steps == 10_000  # 10 USDT risk / 1.0 distance = 10 units
    steps, code = _skip_sizing(1000.0, 1.0, 100.0, 98.7, 0.01, 0.01, 5.0, 1e9, 20.0, 2000.0)
    assert code == SIZE_OK and steps == 769  # 7.6923 -> 7.69, never rounded up
    assert math.isclose(steps * 0.01 * 1.3, 9.997, rel_tol=1e-9)
    assert _skip_sizing(1000.0, 1.0, 100.0, 100.0, 0.001, 0.001, 5.0, 1e9, 5.0, 2000.0)[1] == SKIP_NO_STOP_DISTANCE
    assert _skip_sizing(10.0, 1.0, 60000.0, 59000.0, 0.001, 0.001, 5.0, 1e9, 5.0, 2000.0)[1] == SKIP_BELOW_MIN_QTY
    assert _skip_sizing(1000.0, 0.001, 100.0, 99.0, 0.001, 0.001, 5.0, 1e9, 5.0, 2000.0)[1] == SKIP_BELOW_MIN_NOTIONAL
    assert _skip_sizing(1000.0, 1.0, 100.0, 99.9, 0.001, 0.001, 5.0, 1e9, 5.0, 2000.0)[1] == SKIP_BEYOND_LEVERAGE
    # 10 USDT of risk over a 0.3 stop: 33.3 units x 100 = 333 % of equity, within 5x leverage, beyond 300 %.
    assert _skip_sizing(1000.0, 1.0, 100.0, 99.7, 0.001, 0.001, 5.0, 1e9, 5.0, 300.0)[1] == SKIP_EXPOSURE
    assert _skip_sizing(1000.0, 1.0, 100.0, 99.7, 0.001, 0.001, 5.0, 1e9, 5.0, 400.0)[1] == SIZE_OK
