"""The overfitting measures: deflated Sharpe ratio (Bailey & López de Prado 2014), trade-order Monte
Carlo, walk-forward efficiency."""

import math

import numpy as np
import pytest

from whale.optimize.statistics import (
    deflated_sharpe,
    expected_max_sharpe,
    norm_cdf,
    norm_ppf,
    trade_order_monte_carlo,
    walk_forward_efficiency,
)


@pytest.mark.parametrize("p,z", [(0.975, 1.959963984540054), (0.01, -2.3263478740408408),
                                 (0.999, 3.090232306167813), (0.5, 0.0), (1e-9, -5.997807015007686)])
def test_normal_quantiles(p, z):
    assert norm_ppf(p) == pytest.approx(z, abs=1e-9)
    assert norm_cdf(norm_ppf(p)) == pytest.approx(p, rel=1e-9)


def test_expected_maximum_sharpe_of_a_thousand_unskilled_trials():
    """E[max] of 1,000 standard normal Sharpe ratios is about 3.26 (the false strategy theorem)."""
    assert expected_max_sharpe(1000, 1.0) == pytest.approx(3.255, abs=2e-3)
    assert expected_max_sharpe(1000, 0.25) == pytest.approx(3.255 / 2, abs=1e-3)
    assert expected_max_sharpe(1, 1.0) == 0.0


def test_deflated_sharpe_by_hand():
    rng = np.random.default_rng(3)
    r = rng.normal(0.002, 0.01, 400)
    trial_sr = rng.normal(0.0, 0.05, 200)
    d = deflated_sharpe(r, trial_sr)
    sr = r.mean() / r.std(ddof=1)
    z = (r - r.mean()) / r.std()
    skew, kurt = float(np.mean(z ** 3)), float(np.mean(z ** 4))
    v = trial_sr.var(ddof=1)
    g = 0.5772156649015329
    sr0 = math.sqrt(v) * ((1 - g) * norm_ppf(1 - 1 / 200) + g * norm_ppf(1 - 1 / (200 * math.e)))
    want = norm_cdf((sr - sr0) * math.sqrt(399) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr))
    assert d.probability == pytest.approx(want, rel=1e-12)
    assert (d.n_returns, d.n_trials) == (400, 200)
    assert d.kurtosis == pytest.approx(kurt) and d.skewness == pytest.approx(skew)


def test_more_trials_deflate_more_and_chance_is_named():
    rng = np.random.default_rng(4)
    r = rng.normal(0.0012, 0.01, 365)
    few = deflated_sharpe(r, rng.normal(0, 0.05, 5))
    many = deflated_sharpe(r, rng.normal(0, 0.05, 5000))
    assert few.probability > many.probability
    assert few.better_than_chance and not many.better_than_chance
    flat = deflated_sharpe(np.zeros(100), np.ones(10))
    assert flat.probability is None and not flat.better_than_chance


def test_trade_order_monte_carlo_is_seeded_and_ordered():
    pnl = np.array([50.0, -30.0, 20.0, -80.0, 40.0, 10.0, -20.0, 60.0] * 5)
    a = trade_order_monte_carlo(pnl, 1000.0, 1000, seed=7)
    b = trade_order_monte_carlo(pnl, 1000.0, 1000, seed=7)
    assert a == b
    assert 0.0 < a.max_drawdown_p50 <= a.max_drawdown_p95 < 1.0
    losses = 5 * (30 + 80 + 20)  # every loss in a row from the start balance is the worst order
    assert a.max_drawdown_p95 <= losses / 1000.0
    assert trade_order_monte_carlo(np.zeros(0), 1000.0).max_drawdown_p95 == 0.0


def test_walk_forward_efficiency():
    assert walk_forward_efficiency(10.0, 20.0) == 0.5
    assert walk_forward_efficiency(-5.0, 20.0) == -0.25
    assert walk_forward_efficiency(10.0, 0.0) is None
    assert walk_forward_efficiency(10.0, -3.0) is None
