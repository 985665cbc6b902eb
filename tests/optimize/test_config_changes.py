"""config_with_changes (the optimiser's per-trial config) equals config_from_data on the whole file with
the same changes, and refuses what it refuses with the same messages."""

import random

import pytest

from tests.optimize.helpers import base_config, random_params
from tests.optimize.test_parity import WIDE
from whale.config.loader import ConfigError, config_from_data, config_with_changes
from whale.config.model import to_dict
from whale.optimize.evaluate import apply_params
from whale.optimize.space import parse_space


def test_equal_to_validating_the_whole_file():
    base = base_config()
    space = parse_space(WIDE, base, "wide")
    rng = random.Random(2)
    for _ in range(200):
        params = random_params(space, rng)
        assert config_with_changes(base, params) == config_from_data(apply_params(to_dict(base), params)).config


@pytest.mark.parametrize("changes", [
    {"indicator_settings.ema_short_period": 30},  # not below ema_long_period
    {"signal_score_threshold": -1.0},
    {"active_weights.vwap": -0.5},
    {"mtf_analysis.higher_timeframes": ["7"]},
    {"indicator_settings.macd_fast_period": 40, "indicator_settings.macd_slow_period": 20},
])
def test_the_same_refusals(changes):
    base = base_config()
    with pytest.raises(ConfigError) as a:
        config_with_changes(base, changes)
    with pytest.raises(ConfigError) as b:
        config_from_data(apply_params(to_dict(base), changes))
    assert a.value.problems == b.value.problems


def test_higher_timeframes_not_above_the_interval_are_dropped_the_same_way():
    base = base_config()
    changes = {"mtf_analysis.higher_timeframes": ["15", "60"]}
    assert config_with_changes(base, changes) == config_from_data(apply_params(to_dict(base), changes)).config
