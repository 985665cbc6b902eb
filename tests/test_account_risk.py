"""The account-wide entry rules (issue 12), one implementation for the backtest kernel and the live
Account: the correlation of two symbols over common timestamps, the group rule (both signs), the
total exposure of every open position, max_open_positions, shrink vs skip, and the messages."""

import math

import numpy as np
import pytest

from tests.paths import BUNDLED
from whale.candle_file import load_candle_file
from whale.config.model import Config, replace_path
from whale.market.instruments import KNOWN
from whale.market.synthetic import derive_symbols
from whale.risk.account import Closes, OpenPosition, account_exposure, correlated_group, correlation, size_entry
from whale.risk.correlation import MIN_RETURNS, joins_group, log_return_correlation
from whale.risk.sizing import (
    NO_GROUP,
    SIZE_OK,
    SIZE_SHRUNK_CORRELATION,
    SIZE_SHRUNK_EXPOSURE,
    SKIP_CAPPED_BELOW_MIN,
    SKIP_CORRELATION,
    SKIP_EXPOSURE,
    SKIP_MAX_OPEN_POSITIONS,
    size_account_steps,
    size_steps,
)

MIN = 60_000
T0 = 1_750_000_020_000 - 1_750_000_020_000 % MIN


def walk(n, seed, t0=T0):
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return t0 + np.arange(n, dtype=np.int64) * MIN, close


def numpy_corr(ca, cb):
    ra, rb = np.diff(np.log(ca)), np.diff(np.log(cb))
    return float(np.corrcoef(ra, rb)[0, 1])


# ---- the correlation -----------------------------------------------------------------------------------

def test_correlation_is_pearson_of_log_returns_over_the_last_lookback_returns():
    ts, a = walk(300, 1)
    _, noise = walk(300, 2)
    b = a * noise / 100.0  # shares a's returns plus its own
    got = log_return_correlation(ts, a, ts, b, int(ts[-1]), 100, MIN_RETURNS)
    assert got == pytest.approx(numpy_corr(a[-101:], b[-101:]), abs=1e-12)
    assert 0.5 < got < 0.9
    assert log_return_correlation(ts, a, ts, a, int(ts[-1]), 100, MIN_RETURNS) == pytest.approx(1.0)
    assert log_return_correlation(ts, a, ts, 1.0 / a, int(ts[-1]), 100, MIN_RETURNS) == pytest.approx(-1.0)


def test_only_common_timestamps_at_or_before_the_decision_count():
    ts, a = walk(200, 3)
    _, b = walk(200, 4)
    keep = np.ones(200, dtype=bool)
    keep[[50, 51, 120, 180]] = False  # b misses four candles
    t_dec = int(ts[189])
    got = log_return_correlation(ts, a, ts[keep], b[keep], t_dec, 60, MIN_RETURNS)
    common = np.flatnonzero(keep[:190])[-61:]
    assert got == pytest.approx(numpy_corr(a[common], b[common]), abs=1e-12)
    # Candles after the decision change nothing; the argument order changes nothing.
    later = b.copy()
    later[190:] *= 3.0
    assert log_return_correlation(ts, a, ts[keep], later[keep], t_dec, 60, MIN_RETURNS) == got
    assert log_return_correlation(ts[keep], b[keep], ts, a, t_dec, 60, MIN_RETURNS) == pytest.approx(got, abs=1e-15)


def test_too_few_common_returns_give_nan_and_nan_joins_nothing():
    ts, a = walk(100, 5)
    late_ts, b = walk(100, 6, t0=int(ts[90]))  # b starts at a's candle 90: 10 common candles
    assert math.isnan(log_return_correlation(ts, a, late_ts, b, int(ts[-1]), 50, MIN_RETURNS))
    assert math.isnan(log_return_correlation(ts, a, ts, np.full(100, 7.0), int(ts[-1]), 50, MIN_RETURNS))  # flat
    assert not joins_group(math.nan, True, 0.7) and not joins_group(math.nan, False, 0.7)


def test_the_group_rule_same_side_above_the_threshold_opposite_side_below_minus_it():
    assert joins_group(0.86, True, 0.7) and not joins_group(0.86, False, 0.7)
    assert joins_group(-0.86, False, 0.7) and not joins_group(-0.86, True, 0.7)
    assert not joins_group(0.7, True, 0.7) and not joins_group(-0.7, False, 0.7)  # strictly beyond
    assert not joins_group(0.99, True, 1.0)  # threshold 1 switches the group off


# ---- the sizing rule with the account -----------------------------------------------------------------------

def size(open_notional=0.0, group=NO_GROUP, group_pct=200.0, open_count=0, max_open=3, shrink=True, equity=1000.0,
         entry=100.0, stop=90.0, risk=10.0, exposure=300.0, leverage=5.0, min_qty=0.01):
    """ETH-like steps of 0.01 at 100 USDT: risk 10 % over a 10 USDT stop wants 10 ETH = 1,000 USDT, 100 %."""
    return size_account_steps(equity, risk, entry, stop, 0.01, min_qty, 5.0, 0.0, leverage, 0.0, exposure, shrink,
                              open_notional, group, group_pct, open_count, max_open)


def test_nothing_open_is_the_single_symbol_rule():
    assert size() == (1000, SIZE_OK) == size_steps(1000.0, 10.0, 100.0, 90.0, 0.01, 0.01, 5.0, 0.0, 5.0, 0.0, 300.0,
                                                   True)


def test_total_exposure_counts_every_open_position():
    # 2,500 USDT open: 500 USDT of the 300 % left, so 5 ETH instead of 10.
    assert size(open_notional=2500.0) == (500, SIZE_SHRUNK_EXPOSURE)
    assert size(open_notional=2500.0, shrink=False) == (0, SKIP_EXPOSURE)
    assert size(open_notional=2000.0) == (1000, SIZE_OK)  # exactly at the limit passes
    assert size(open_notional=3000.0) == (0, SKIP_CAPPED_BELOW_MIN)  # no room left at all


def test_the_correlated_group_is_one_more_cap():
    # The group holds 1,500 USDT; 200 % of 1,000 leaves 500 USDT for the entry.
    assert size(group=1500.0) == (500, SIZE_SHRUNK_CORRELATION)
    assert size(group=1500.0, shrink=False) == (0, SKIP_CORRELATION)
    assert size(group=1000.0) == (1000, SIZE_OK)
    assert size(group=NO_GROUP, open_notional=1500.0) == (1000, SIZE_OK)  # the same positions, uncorrelated
    # The tighter of exposure and group names the shrink.
    assert size(group=1500.0, open_notional=2800.0) == (200, SIZE_SHRUNK_EXPOSURE)
    assert size(group=1999.0, min_qty=0.1) == (0, SKIP_CAPPED_BELOW_MIN)  # 0.01 ETH of room, below 0.1


def test_max_open_positions_comes_first():
    assert size(open_count=3, max_open=3) == (0, SKIP_MAX_OPEN_POSITIONS)
    assert size(open_count=2, max_open=3) == (1000, SIZE_OK)
    assert size(open_count=50, max_open=0) == (1000, SIZE_OK)  # 0: no limit


# ---- the live Account's front: size_entry with positions and closes -------------------------------------------

@pytest.fixture(scope="module")
def pair():
    """BTCUSDT and ETHUSDT at a correlation of about 0.95, SOLUSDT about 0 with both (whale.market.synthetic)."""
    base = load_candle_file(BUNDLED).candles.slice(0, 2000)
    btc, eth, sol = derive_symbols(base, [1.0, 0.95, 0.0], seed=11, start_prices=[60_000.0, 2_500.0, 150.0])
    return {"BTCUSDT": Closes.of(btc.ts, btc.close), "ETHUSDT": Closes.of(eth.ts, eth.close),
            "SOLUSDT": Closes.of(sol.ts, sol.close)}


def risky(**keys) -> Config:
    cfg = replace_path(Config(), "trade_management.risk_per_trade_percent", 10.0)
    for k, v in keys.items():
        cfg = replace_path(cfg, k.replace("__", "."), v)
    return cfg


def test_a_correlated_second_entry_is_shrunk_and_says_why(pair):
    cfg = risky(trade_management__risk_per_trade_percent=5.0)
    t_dec = int(pair["ETHUSDT"].ts[-1])
    corr = correlation(pair["ETHUSDT"], pair["BTCUSDT"], t_dec, cfg.risk.correlation_lookback)
    assert 0.85 < corr < 0.99
    btc = OpenPosition("BTCUSDT", 1, 0.025, 60_000.0)  # 1,500 USDT
    # ETH long at 2,500 with a 100 USDT stop: 5 % of 1,000 wants 0.5 ETH = 1,250 USDT, within the leverage and
    # the 300 % exposure cap beside BTC's 1,500, but the group would hold 2,750 USDT: 275 % > 200 %.
    kw = dict(symbol="ETHUSDT", side=1, entry=2500.0, stop=2400.0, equity=1000.0, positions=[btc], closes=pair,
              decision_ts=t_dec)
    res = size_entry(cfg, KNOWN["ETHUSDT"], **kw)
    assert res.code == SIZE_SHRUNK_CORRELATION and res.steps == 20  # (2,000 - 1,500) / 2,500 = 0.2 ETH
    assert [m.symbol for m in res.group.members] == ["BTCUSDT"]
    assert res.message == (
        f"Entry shrunk to 0.20 ETH: correlation: ETHUSDT long would join BTCUSDT long (correlation {corr:.2f} > "
        f"0.70): group 2,750 USDT after the trade would be 275 % of equity 1,000 USDT (limit 200 %); risking 2.00 %")
    skip = size_entry(replace_path(cfg, "risk.when_capped", "skip"), KNOWN["ETHUSDT"], **kw)
    assert skip.code == SKIP_CORRELATION and skip.steps == 0 and not skip.sized
    assert skip.message == (
        f"correlation: ETHUSDT long would join BTCUSDT long (correlation {corr:.2f} > 0.70): group 2,750 USDT after "
        f"the trade would be 275 % of equity 1,000 USDT (limit 200 %); risk.when_capped is skip")
    # Without the BTC position, or with the group cap raised, the full 0.5 ETH.
    assert size_entry(cfg, KNOWN["ETHUSDT"], **{**kw, "positions": []}).steps == 50
    roomy = replace_path(cfg, "risk.max_correlated_exposure_percent", 300.0)
    assert (size_entry(roomy, KNOWN["ETHUSDT"], **kw).code, size_entry(roomy, KNOWN["ETHUSDT"], **kw).steps) == \
        (SIZE_OK, 50)


def test_the_opposite_side_of_a_correlated_symbol_is_a_hedge_not_the_same_bet(pair):
    btc = OpenPosition("BTCUSDT", 1, 0.025, 60_000.0)
    t_dec = int(pair["ETHUSDT"].ts[-1])
    group = correlated_group("ETHUSDT", -1, [btc], pair, t_dec, risky())
    assert group.members == ()
    # An inverse symbol (its returns negated): short it beside a BTC long is the same bet again.
    inv = Closes.of(pair["BTCUSDT"].ts, 1.0 / pair["BTCUSDT"].close)
    closes = {**pair, "INVUSDT": inv}
    group = correlated_group("INVUSDT", -1, [btc], closes, t_dec, risky())
    assert [(m.symbol, round(m.correlation, 6)) for m in group.members] == [("BTCUSDT", -1.0)]
    assert group.phrase() == "INVUSDT short would join BTCUSDT long (correlation -1.00 < -0.70)"


def test_an_uncorrelated_entry_is_taken_at_full_risk(pair):
    btc = OpenPosition("BTCUSDT", 1, 0.025, 60_000.0)
    t_dec = int(pair["SOLUSDT"].ts[-1])
    assert abs(correlation(pair["SOLUSDT"], pair["BTCUSDT"], t_dec, 500)) < 0.2
    # SOL at 150 with a 10 USDT stop: 10 % of 1,000 wants 10 SOL = 1,500 USDT, within 300 % with BTC's 1,500.
    res = size_entry(risky(), KNOWN["SOLUSDT"], symbol="SOLUSDT", side=1, entry=150.0, stop=140.0, equity=1000.0,
                     positions=[btc], closes=pair, decision_ts=t_dec)
    assert (res.code, res.steps, res.message) == (SIZE_OK, 100, "")


def test_exposure_of_every_open_position_is_in_the_message(pair):
    positions = [OpenPosition("BTCUSDT", 1, 0.025, 60_000.0), OpenPosition("XRPUSDT", -1, 400.0, 2.5)]
    assert account_exposure(positions) == 2500.0
    res = size_entry(risky(), KNOWN["SOLUSDT"], symbol="SOLUSDT", side=1, entry=150.0, stop=140.0, equity=1000.0,
                     positions=positions, closes=pair, decision_ts=int(pair["SOLUSDT"].ts[-1]))
    assert res.code == SIZE_SHRUNK_EXPOSURE and res.steps == 33  # 500 USDT of room at 150
    assert res.message == ("Entry shrunk to 3.3 SOL: the 10 % risk needs 1,500 USDT; with the open positions' "
                           "2,500 USDT that is 400 % of equity 1,000 USDT, exposure cap 300 %; risking 3.30 %")


def test_at_max_open_positions_no_entry_and_the_count_is_named(pair):
    positions = [OpenPosition("BTCUSDT", 1, 0.001, 60_000.0), OpenPosition("XRPUSDT", -1, 4.0, 2.5),
                 OpenPosition("BCHUSDT", 1, 0.1, 400.0)]
    res = size_entry(risky(), KNOWN["SOLUSDT"], symbol="SOLUSDT", side=1, entry=150.0, stop=140.0, equity=1000.0,
                     positions=positions, closes=pair, decision_ts=int(pair["SOLUSDT"].ts[-1]))
    assert res.code == SKIP_MAX_OPEN_POSITIONS and res.steps == 0
    assert res.message == "max_open_positions: 3 positions open (BTCUSDT, XRPUSDT, BCHUSDT), the limit is 3"
    more = size_entry(risky(trade_management__max_open_positions=4), KNOWN["SOLUSDT"], symbol="SOLUSDT", side=1,
                      entry=150.0, stop=140.0, equity=1000.0, positions=positions, closes=pair,
                      decision_ts=int(pair["SOLUSDT"].ts[-1]))
    assert more.sized
