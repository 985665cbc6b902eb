"""The space file: its format, and one clear message for each kind of bad input."""

import json

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.optimize.helpers import base_config
from whale.errors import BadInputError
from whale.optimize.space import DEFAULT_SPACE, load_space, parse_space


def bad(data, *needles):
    with pytest.raises(BadInputError) as e:
        parse_space(data, base_config(), "my-space.json")
    text = str(e.value)
    assert text.startswith("my-space.json"), text
    for n in needles:
        assert n in text, text
    return text


def test_the_default_space_loads_and_keeps_weights_above_zero():
    space = load_space(None, base_config())
    assert len(space.params) >= 25
    for p in space.params:
        if p.key.startswith("active_weights."):
            assert p.kind == "float" and p.low > 0, p
    assert DEFAULT_SPACE.exists()


def test_formats():
    s = parse_space({"signal_score_threshold": [0.5, 4],
                     "indicator_settings.rsi_period": {"int": [7, 28]},
                     "indicator_settings.macd_signal_period": [5, 12],
                     "trade_management.stop_loss_atr_multiple": {"float": [0.5, 4], "log": True},
                     "cooldown_sec": {"float": [0, 3600], "step": 900},
                     "mtf_analysis.enabled": {"choice": [True, False]},
                     "mtf_analysis.higher_timeframes": {"choice": [["60", "240"], ["240"]]}}, base_config())
    d = s.distributions()
    assert d["signal_score_threshold"] == FloatDistribution(0.5, 4.0)
    assert d["indicator_settings.rsi_period"] == IntDistribution(7, 28)
    assert d["indicator_settings.macd_signal_period"] == IntDistribution(5, 12)  # an int key: an int range
    assert d["trade_management.stop_loss_atr_multiple"] == FloatDistribution(0.5, 4.0, log=True)
    assert d["cooldown_sec"] == FloatDistribution(0.0, 3600.0, step=900.0)
    assert isinstance(d["mtf_analysis.higher_timeframes"], CategoricalDistribution)
    values = s.values({"mtf_analysis.higher_timeframes": '["240"]', "indicator_settings.rsi_period": 9})
    assert values == {"mtf_analysis.higher_timeframes": ["240"], "indicator_settings.rsi_period": 9}


def test_an_empty_space():
    bad({}, "the space is empty")


def test_a_range_upside_down():
    bad({"signal_score_threshold": [4, 0.5]}, "signal_score_threshold", "upside down", "[0.5, 4]")


def test_an_unknown_key_gets_the_validators_did_you_mean():
    bad({"indicator_settings.rsi_perod": {"int": [7, 28]}}, "rsi_perod", "did you mean 'rsi_period'")
    bad({"signal_score_treshold": [1, 2]}, "signal_score_treshold", "did you mean 'signal_score_threshold'")


def test_a_bound_out_of_the_keys_range():
    bad({"signal_score_threshold": [0, 4]}, "signal_score_threshold", "out of range")
    bad({"indicator_settings.rsi_period": {"int": [1, 10]}}, "rsi_period", "out of range")


def test_keys_a_backtest_does_not_use_and_legacy_keys():
    bad({"interval": {"choice": ["5", "15"]}}, "interval", "cannot be optimised")
    bad({"safety.daily_loss_limit_percent": [1, 5]}, "cannot be optimised")
    bad({"backtest.latency_ms": {"int": [0, 500]}}, "latency_ms", "cannot be optimised")
    bad({"symbols": {"choice": [["BTCUSDT"], ["ETHUSDT"]]}}, "symbols", "cannot be optimised")
    bad({"active_weights.rsi": [0.1, 2]}, "active_weights.rsi", "must name one setting")


def test_malformed_entries():
    bad({"signal_score_threshold": [1]}, "two numbers")
    bad({"signal_score_threshold": {"range": [1, 2]}}, "expected")
    bad({"indicator_settings.rsi_period": {"int": [7.5, 20]}}, "whole numbers")
    bad({"signal_score_threshold": [2, 2]}, "holds one value")
    bad({"mtf_analysis.enabled": {"choice": []}}, "non-empty list")
    bad({"mtf_analysis.enabled": {"choice": [True, "yes"]}}, "mtf_analysis.enabled", "true or false")
    bad({"mtf_analysis.higher_timeframes": {"choice": [["60"], ["7"]]}}, "not a Bybit interval")


def test_a_space_file_that_is_not_json(tmp_path):
    p = tmp_path / "space.json"
    p.write_text('{"signal_score_threshold": [0.5, 4],}')
    with pytest.raises(BadInputError) as e:
        load_space(p, base_config())
    assert str(p) in str(e.value)
    with pytest.raises(BadInputError, match="no such file"):
        load_space(tmp_path / "missing.json", base_config())
    p.write_text(json.dumps([1, 2]))
    with pytest.raises(BadInputError, match="JSON object"):
        load_space(p, base_config())
