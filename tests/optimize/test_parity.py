"""Any trial's figures equal `run_backtest` with that trial's config, bit for bit: random trials of
the default space, and of a wider space that switches scorers off (weight 0), turns on the extended
set and the ADX trend multiplier, changes indicator periods and the higher timeframes."""

import random

import numpy as np
import pytest

from tests.optimize.helpers import BTC_5M, ETH_5M, base_config, default_space, random_params
from whale.backtest import simulate as sim
from whale.backtest.runner import run_portfolio
from whale.commands.backtest import parse_date
from whale.config.model import replace_path
from whale.optimize.evaluate import Evaluator
from whale.optimize.market import load_market, load_markets
from whale.optimize.space import parse_space

WIDE = {
    "signal_score_threshold": [0.3, 2.5],
    "cooldown_sec": {"choice": [0, 900, 3600]},
    "hysteresis_ratio": [0.0, 1.0],
    "volume_confirmation_multiplier": [1.05, 3.0],
    "trade_management.stop_loss_atr_multiple": [0.5, 4.0],
    "trade_management.take_profit_atr_multiple": [0.5, 6.0],
    "trade_management.enable_trailing_stop": {"choice": [True, False]},
    "trade_management.reverse_position_on_opposite_signal": {"choice": [True, False]},
    "risk.when_capped": {"choice": ["shrink", "skip"]},
    "mtf_analysis.higher_timeframes": {"choice": [["60", "240"], ["60"], ["240", "720"]]},
    "mtf_analysis.trend_indicators": {"choice": [["ema"], ["sma", "ehlers_supertrend"], ["ema", "ehlers_supertrend"]]},
    "mtf_analysis.trend_period": {"int": [10, 60]},
    "indicators.adx_trend_multiplier": {"choice": [True, False]},
    "indicators.kaufman_ama": {"choice": [True, False]},
    "indicators.roc": {"choice": [True, False]},
    "indicators.fibonacci_pivot_points": {"choice": [True, False]},
    "indicator_settings.rsi_period": {"int": [5, 30]},
    "indicator_settings.atr_period": {"int": [5, 30]},
    "indicator_settings.cci_oversold": [-200, -50],
    "indicator_settings.volume_delta_threshold": [0.05, 0.5],
    "indicator_settings.ADX_STRONG_TREND_THRESHOLD": [25, 40],
    "active_weights.ema_alignment": {"choice": [0.0, 0.3, 0.9]},
    "active_weights.ichimoku_confluence": {"choice": [0.0, 0.38]},
    "active_weights.vwap": [0.0, 1.0],
    "active_weights.mtf_trend_confluence": [0.0, 1.0],
    "active_weights.volatility_index_signal": {"choice": [0.0, 0.15, 0.6]},
}
FIGURES = ("bars", "warmup_bars", "trades", "wins", "losses", "win_rate", "total_pnl", "avg_pnl", "profit_factor",
           "largest_win", "largest_loss", "fees", "funding", "max_drawdown", "max_drawdown_usdt", "sharpe", "sortino",
           "annual_return_pct", "calmar", "exposure_time", "start_balance", "end_balance", "return_pct",
           "long_trades", "short_trades")


def assert_same(cfg, evaluator, path, **kw):
    """`path`: one file or a list of them (a portfolio, as `backtest --data F --data G` runs it)."""
    got = evaluator.evaluate(cfg, keep=True)
    want = run_portfolio(cfg, path if isinstance(path, list) else [path], **kw)
    assert set(got.metrics) == set(FIGURES)
    for k in FIGURES:
        assert got.metrics[k] == want.report[k], f"{k}: trial {got.metrics[k]!r} != backtest {want.report[k]!r}"
    assert np.array_equal(got.trades, want.trades)
    assert np.array_equal(got.ts, want.ts)
    assert np.array_equal(got.equity, want.equity)
    assert evaluator.symbols == want.symbols and len(got.signals) == len(want.per_symbol)
    for k, one in enumerate(want.per_symbol):
        assert np.array_equal(got.signals[k], one.signals), one.symbol
        assert np.array_equal(got.scores[k], one.scores, equal_nan=True), one.symbol
    return got


def test_default_config_and_random_trials_of_the_default_space_equal_the_backtest():
    base = replace_path(base_config(), "signal_score_threshold", 1.0)
    ev = Evaluator(base, load_market(base, BTC_5M))
    assert assert_same(base, ev, BTC_5M).metrics["trades"] > 100
    space = default_space()
    rng = random.Random(13)
    traded = 0
    for _ in range(6):
        cfg = ev.config_for(random_params(space, rng))
        traded += assert_same(cfg, ev, BTC_5M).metrics["trades"] > 0
    assert traded >= 3


@pytest.mark.parametrize("seed", [1, 2])
def test_random_trials_of_a_wide_space_equal_the_backtest(seed):
    """Weights of 0 switch scorers off (a different warm-up), other timeframes, the extended set; with
    --from / --to cutting the file as the backtest does."""
    base = replace_path(base_config(), "signal_score_threshold", 1.0)
    date_from, date_to = parse_date("2024-03-01", "--from"), parse_date("2024-07-01", "--to")
    ev = Evaluator(base, load_market(base, ETH_5M, date_from, date_to))
    space = parse_space(WIDE, base, "wide")
    rng = random.Random(seed)
    for _ in range(5):
        cfg = ev.config_for(random_params(space, rng))
        assert_same(cfg, ev, ETH_5M, date_from=date_from, date_to=date_to)


def test_a_weight_of_zero_moves_the_report_start_as_in_the_backtest():
    """Ichimoku needs the longest warm-up of the defaults: switching it off starts the report earlier."""
    base = base_config()
    ev = Evaluator(base, load_market(base, BTC_5M))
    on = assert_same(base, ev, BTC_5M).metrics["warmup_bars"]
    off_cfg = ev.config_for({"active_weights.ichimoku_confluence": 0.0, "mtf_analysis.enabled": False})
    off = assert_same(off_cfg, ev, BTC_5M).metrics["warmup_bars"]
    assert off < on


def test_cached_trials_do_not_leak_into_each_other():
    """The same trial evaluated before and after many others gives the same figures (caches hold
    values, never state)."""
    base = base_config()
    ev = Evaluator(base, load_market(base, BTC_5M))
    space = default_space()
    rng = random.Random(5)
    first = ev.evaluate_params(random_params(space, random.Random(99))).metrics
    for _ in range(10):
        ev.evaluate_params(random_params(space, rng))
    assert ev.evaluate_params(random_params(space, random.Random(99))).metrics == first


@pytest.mark.parametrize("order", [(BTC_5M, ETH_5M), (ETH_5M, BTC_5M)])
def test_random_trials_on_two_files_equal_the_portfolio_backtest(order):
    """Two --data files: one account trading both symbols (account-wide sizing, the exposure cap, the
    correlated group), in the account's fixed order whatever the order of the files; the default config
    and four random trials of the default space, with a --from cut."""
    base = replace_path(replace_path(base_config(), "signal_score_threshold", 1.0),
                        "trade_management.max_open_positions", 2)
    date_from = parse_date("2024-02-01", "--from")
    files = list(order)
    ev = Evaluator(base, load_markets(base, files, date_from))
    got = assert_same(base, ev, files, date_from=date_from)
    assert {int(s) for s in got.trades[:, sim.T_SYMBOL]} == {0, 1}
    rng = random.Random(21)
    space = default_space()
    traded = 0
    for _ in range(4):
        cfg = ev.config_for(random_params(space, rng))
        traded += assert_same(cfg, ev, files, date_from=date_from).metrics["trades"] > 0
    assert traded >= 3
