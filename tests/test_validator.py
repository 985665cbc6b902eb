"""The signal validator: instrument limits, exposure and book impact, each at its edge."""

from decimal import Decimal

import numpy as np
import pytest

from whale.config.model import Risk
from whale.market.instruments import KNOWN
from whale.risk.validator import book_depth_near, validate_entry

BTC = KNOWN["BTCUSDT"]  # tick 0.10, step 0.001, min qty 0.001, min notional 5, max mkt 500, max 1190
RISK = Risk()


def btc_book(level_qty=1.0, levels=200, best_bid=95_000.0, step=4.7):
    k = np.arange(levels)
    return (best_bid - step * k, np.full(levels, level_qty), best_bid + 0.1 + step * k, np.full(levels, level_qty))


def check(qty, price=95_000.0, equity=10_000.0, exposure=0.0, book=None, side=1, risk=RISK, inst=BTC):
    return validate_entry(side, qty, price, equity, exposure, book, inst, risk)


def test_an_ordinary_entry_passes():
    v = check("0.010", book=btc_book())
    assert v.ok and v.rule == "ok" and bool(v)
    assert "0.01 at 95,000: exposure 950 USDT, 9.5 % of equity 10,000 USDT" == v.message


def test_min_qty():
    assert check(Decimal("0.001")).ok
    v = check(Decimal("0.0009"))
    assert not v and v.rule == "min_qty"
    assert "0.0009 is below the instrument's minimum order quantity 0.001" in v.message


def test_qty_step_is_exact_for_floats_and_decimals():
    assert check(0.003).ok  # 0.003 as a float is not exactly 3 x 0.001, its repr is
    assert check(Decimal("0.123")).ok
    v = check(0.0015)
    assert v.rule == "qty_step" and "0.0015 is not a multiple of the quantity step 0.001" in v.message


def test_max_market_qty_and_max_qty():
    assert check("500", equity=1e9).ok
    v = check("500.001", equity=1e9)
    assert v.rule == "max_qty" and "maximum market order quantity 500" in v.message


def test_min_notional_edge():
    # 0.001 BTC at 5000 = 5 USDT exactly: allowed; at 4999.9 it is below
    assert check("0.001", price="5000").ok
    v = check("0.001", price="4999.9")
    assert v.rule == "min_notional" and "order value 5.00 USDT" in v.message and "minimum 5 USDT" in v.message


def test_exposure_at_the_limit_passes_and_beyond_fails_with_the_numbers():
    # equity 1,000, limit 300 %: exactly 3,000 after the trade is allowed
    assert check("0.02", price="100000", equity=1000, exposure=1000).ok
    v = check("0.02", price="100000", equity=1000, exposure="1000.01")
    assert v.rule == "exposure"
    v = check("0.022", price="101000", equity=1000, exposure=1190)
    assert v.message == "exposure 3,412 USDT after the trade would be 341 % of equity 1,000 USDT (limit 300 %)"


def test_exposure_with_float_noise_is_exact():
    # 0.1 + 0.2 style noise must not flip a trade exactly at the limit
    risk = Risk(max_total_exposure_percent=30.0)
    assert check("0.003", price="10000", equity=1000.0, exposure=0.1 + 0.2 - 0.3 + 270.0, risk=risk).ok


def test_no_equity():
    assert check("0.01", equity=0).rule == "equity"


def test_bad_input():
    assert check("abc").rule == "bad_input"
    assert check("-1").rule == "bad_input"
    assert check(float("nan")).rule == "bad_input"


def test_book_impact_on_the_side_the_order_takes_at_its_edge():
    # 0.5 % of 95,000 = 475: asks 95,000.1 + 4.7 k up to 95,475 -> 102 levels of 1.0 = 102
    book = btc_book()
    assert book_depth_near(1, 95_000.0, book, 0.5) == 102.0
    assert book_depth_near(-1, 95_000.0, book, 0.5) == 102.0  # bids 95,000 - 4.7 k down to 94,525
    assert check("10.2", book=book, equity=1e7).ok  # exactly 10 %
    v = check("10.201", book=book, equity=1e7)
    assert v.rule == "book_impact"
    assert v.message == ("the order 10.201 would take 10.001 % of the 102 resting on the ask side within 0.5 % of "
                         "the price 95,000 (limit 10 %)")
    thin_bids = (book[0], book[1] * 0.01, book[2], book[3])
    assert check("10.2", book=thin_bids, equity=1e7).ok  # a buy takes the asks
    assert check("10.2", book=thin_bids, equity=1e7, side="Sell").rule == "book_impact"


def test_small_impact_limits_show_their_digits():
    # 0.01 % of 102 = 0.0102: 0.011 takes 0.0108 %; one decimal would say "0.0 % (limit 0.0 %)"
    risk = Risk(max_book_impact_percent=0.01, impact_depth_percent=0.5)
    v = check("0.011", book=btc_book(), equity=1e7, risk=risk)
    assert v.rule == "book_impact"
    assert "would take 0.011 % of the 102" in v.message and "(limit 0.01 %)" in v.message, v.message
    assert "0.0 %" not in v.message


def test_a_value_just_over_its_limit_never_reads_as_the_limit():
    v = check("0.02", price="100000", equity=1000, exposure="1004.5")
    assert v.rule == "exposure" and "would be 300.4 % of equity" in v.message and "(limit 300 %)" in v.message


def test_empty_side_and_no_book():
    bp, bs, _, _ = btc_book()
    v = check("0.01", book=(bp, bs, np.empty(0), np.empty(0)))
    assert v.rule == "book_impact" and "no ask depth" in v.message
    assert check("0.01", book=None).ok  # backtests have no book: the rule is skipped


@pytest.mark.parametrize("side", [1, -1, "Buy", "Sell"])
def test_sides_are_accepted_in_both_spellings(side):
    assert check("0.01", book=btc_book(), side=side).ok
