"""Config loading and validation: defaults, every problem at once, legacy keys, secrets, docs."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import re
from pathlib import Path

import pytest

from whale.config import (
    DEFAULTS,
    Config,
    ConfigError,
    config_from_data,
    default_config_text,
    load_config,
    to_dict,
    with_log_level,
)
from whale.config import doc as config_doc
from whale.config.loader import _hints, parse_json
from whale.errors import EXIT_BAD_INPUT, BadInputError

REPO = Path(__file__).resolve().parent.parent

SCALPING_TOGGLES = dict.fromkeys(
    "ema_alignment sma_trend_filter momentum volume_confirmation stoch_rsi rsi bollinger_bands vwap cci wr "
    "psar sma_10 mfi orderbook_imbalance fibonacci_levels ehlers_supertrend macd adx ichimoku_cloud obv cmf "
    "volatility_index vwma volume_delta".split(), True)

# A wb1.1.0 user's file as the original left it after a few starts: profiles, the ML block, the
# trade-confirmation extras, fee keys of the whalebot.py branch, and the empty indicators /
# active_weights of the first-run defaults (docs/original.md#config-keys).
WB110_FILE = {
    "symbol": "BCHUSDT", "interval": "1", "loop_delay": 15, "orderbook_limit": 50,
    "signal_score_threshold": 1.0, "cooldown_sec": 60, "hysteresis_ratio": 0.85,
    "volume_confirmation_multiplier": 1.5,
    "current_strategy_profile": "default_scalping",
    "adaptive_strategy_enabled": True,
    "log_level": "debug",
    "trade_management": {
        "enabled": True, "account_balance": 1000.0, "risk_per_trade_percent": 1.0,
        "stop_loss_atr_multiple": 1.5, "take_profit_atr_multiple": 2.0, "max_open_positions": 1,
        "order_precision": 5, "price_precision": 3, "slippage_percent": 0.001, "trading_fee_percent": 0.0005,
        "enable_trailing_stop": True, "trailing_stop_atr_multiple": 0.8, "break_even_atr_trigger": 0.5,
        "move_to_breakeven_atr_trigger": 1.0, "profit_lock_in_atr_multiple": 0.5,
        "close_on_opposite_signal": True, "reverse_position_on_opposite_signal": False},
    "mtf_analysis": {"enabled": True, "higher_timeframes": ["60", "240"],
                     "trend_indicators": ["ema", "ehlers_supertrend"], "trend_period": 50,
                     "mtf_request_delay_seconds": 0.5},
    "ml_enhancement": {"enabled": False, "model_path": "ml_model.pkl", "retrain_on_startup": False,
                       "training_data_limit": 5000, "prediction_lookahead": 12, "profit_target_percent": 0.5,
                       "feature_lags": [1, 2, 3, 5], "cross_validation_folds": 5,
                       "sentiment_analysis_enabled": False, "bullish_sentiment_threshold": 0.6,
                       "bearish_sentiment_threshold": 0.4},
    "strategy_profiles": {
        "default_scalping": {
            "description": "Standard scalping for fast markets.",
            "market_condition_criteria": {"adx_range": [0, 25], "volatility_range": [0.005, 0.02]},
            "indicators_enabled": {**SCALPING_TOGGLES, "volatility_filter": True},
            "weights": {"ema_alignment": 0.22, "sma_trend_filter": 0.28, "momentum_rsi_stoch_cci_wr_mfi": 0.18,
                        "volume_confirmation": 0.12, "volatility_filter": 0.10, "bollinger_bands": 0.22,
                        "vwap": 0.22, "psar": 0.22, "sma_10": 0.07, "orderbook_imbalance": 0.07,
                        "ehlers_supertrend_alignment": 0.55, "macd_alignment": 0.28, "adx_strength": 0.18,
                        "ichimoku_confluence": 0.38, "obv_momentum": 0.18, "cmf_flow": 0.12,
                        "mtf_trend_confluence": 0.32, "volatility_index_signal": 0.15, "vwma_cross": 0.15,
                        "volume_delta_signal": 0.10, "sentiment_signal": 0.15}},
        "trend_following": {
            "description": "Longer trends.",
            "market_condition_criteria": {"adx_range": [25, 100], "volatility_range": [0.01, 0.05]},
            "indicators_enabled": {"ema_alignment": True, "sma_trend_filter": True, "macd": True, "adx": True,
                                   "ehlers_supertrend": True, "ichimoku_cloud": True, "mtf_analysis": True,
                                   "volume_confirmation": True, "volatility_filter": True, "rsi": False,
                                   "stoch_rsi": False},
            "weights": {"ema_alignment": 0.30, "sma_trend_filter": 0.20, "macd_alignment": 0.40,
                        "adx_strength": 0.35, "ehlers_supertrend_alignment": 0.60, "ichimoku_confluence": 0.50,
                        "mtf_trend_confluence": 0.40, "volume_confirmation": 0.15, "volatility_filter": 0.15,
                        "sentiment_signal": 0.20}}},
    "indicator_settings": {"atr_period": 14, "rsi_period": 14, "ADX_STRONG_TREND_THRESHOLD": 25,
                           "ADX_WEAK_TREND_THRESHOLD": 20, "enable_volume_confirmation": True,
                           "volume_confirmation_period": 20, "min_volume_multiplier": 1.2,
                           "enable_volatility_filter": True, "optimal_volatility_min": 0.005,
                           "optimal_volatility_max": 0.03},
    "indicators": {},
    "active_weights": {},
}

WB110_LEGACY_PATHS = [
    "symbol", "current_strategy_profile", "strategy_profiles", "adaptive_strategy_enabled", "log_level",
    "ml_enhancement", "trade_management.order_precision", "trade_management.price_precision",
    "trade_management.slippage_percent", "trade_management.trading_fee_percent",
    "strategy_profiles.default_scalping.weights.volume_confirmation",
    "strategy_profiles.default_scalping.weights.volatility_filter",
    "strategy_profiles.default_scalping.weights.sentiment_signal",
    "strategy_profiles.default_scalping.indicators_enabled.volatility_filter",
    "indicator_settings.enable_volume_confirmation", "indicator_settings.min_volume_multiplier",
    "indicator_settings.enable_volatility_filter", "indicator_settings.optimal_volatility_min",
    "indicator_settings.optimal_volatility_max",
]


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_data(data)
    return info.value.problems


def one_problem(data: dict) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


def warned_paths(warnings: list[str]) -> list[str]:
    return [w.split(": ", 1)[0] for w in warnings]


def leaf_fields(cls: type = Config, prefix: str = "") -> list[tuple[str, dataclasses.Field]]:
    out = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(leaf_fields(tp, f"{prefix}{f.name}."))
        else:
            out.append((prefix + f.name, f))
    return out


# --- defaults and the committed config.json ---------------------------------------------------


def test_committed_config_json_equals_the_model_defaults():
    committed = json.loads((REPO / "config.json").read_text(encoding="utf-8"))
    assert committed == to_dict(Config())


def test_committed_config_json_validates_without_warnings():
    loaded = load_config(REPO / "config.json", create_if_missing=False)
    assert loaded.warnings == []
    assert loaded.config == DEFAULTS
    assert loaded.created is False


def test_every_default_survives_a_round_trip_through_validation():
    loaded = config_from_data(json.loads(default_config_text()))
    assert loaded.config == Config() and loaded.warnings == []


# --- file handling ----------------------------------------------------------------------------


def test_missing_file_is_created_once_from_the_defaults(tmp_path):
    path = tmp_path / "config.json"
    first = load_config(path)
    assert first.created is True and first.config == DEFAULTS
    assert path.read_text(encoding="utf-8") == json.dumps(to_dict(Config()), indent=4) + "\n"
    second = load_config(path)
    assert second.created is False and second.config == DEFAULTS


def test_existing_file_is_never_rewritten(tmp_path):
    path = tmp_path / "config.json"
    text = '{"symbol": "ETHUSDT", "strategy_profiles": {}, "trade_management": {"order_precision": 3}}'
    path.write_text(text, encoding="utf-8")
    before = path.stat().st_mtime_ns
    loaded = load_config(path)
    assert loaded.config.symbol == "ETHUSDT" and loaded.created is False
    assert path.read_text(encoding="utf-8") == text and path.stat().st_mtime_ns == before


def test_missing_file_without_create_is_an_error(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(path, create_if_missing=False)
    assert not path.exists()
    assert isinstance(info.value, BadInputError) and info.value.exit_code == EXIT_BAD_INPUT


def test_omitted_keys_take_their_defaults():
    loaded = config_from_data({"symbol": "ETHUSDT", "trade_management": {"leverage": 3}})
    cfg = loaded.config
    assert cfg.symbol == "ETHUSDT" and cfg.trade_management.leverage == 3.0
    assert cfg.trade_management.risk_per_trade_percent == DEFAULTS.trade_management.risk_per_trade_percent
    assert cfg.indicator_settings == DEFAULTS.indicator_settings


def test_numbers_are_converted_to_the_field_type():
    cfg = config_from_data({"signal_score_threshold": 3, "trade_management": {"max_open_positions": 2.0},
                            "mtf_analysis": {"higher_timeframes": ["60"]}}).config
    assert cfg.signal_score_threshold == 3.0 and isinstance(cfg.signal_score_threshold, float)
    assert cfg.trade_management.max_open_positions == 2 and isinstance(cfg.trade_management.max_open_positions, int)
    assert cfg.mtf_analysis.higher_timeframes == ("60",)


def test_log_to_reports_creation_and_warnings(tmp_path, caplog):
    logger = logging.getLogger("test_config.log_to")
    created = load_config(tmp_path / "new.json")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        created.log_to(logger)
        config_from_data({"ml_enhancement": {}}, source="old.json").log_to(logger)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith(f"{tmp_path / 'new.json'} did not exist: created it with the defaults")
    assert messages[1].startswith("old.json: ml_enhancement: deprecated and ignored")


def test_log_level_override(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"logging": {"level": "WARNING"}}', encoding="utf-8")
    assert load_config(path).config.logging.level == "WARNING"
    assert load_config(path, log_level="debug").config.logging.level == "DEBUG"
    assert with_log_level(DEFAULTS, None) is DEFAULTS
    assert with_log_level(DEFAULTS, "ERROR").logging.level == "ERROR"
    with pytest.raises(BadInputError):
        with_log_level(DEFAULTS, "LOUD")


# --- one problem each -------------------------------------------------------------------------


@pytest.mark.parametrize("data, expected", [
    ({"trade_management": {"risk_per_trade_percent": 150}},
     "trade_management.risk_per_trade_percent: 150 is out of range (0, 100]"),
    ({"loop_delay": 0}, "loop_delay: 0 is out of range (0, 3600]"),
    ({"fees": {"taker_rate": -0.1}}, "fees.taker_rate: -0.1 is out of range [0, 0.05]"),
    ({"density": {"min_notional": -1}}, "density.min_notional: -1 is out of range: must be >= 0"),
    ({"interval": 15}, 'interval: expected a string (in double quotes), got 15 (a number); use "15"'),
    ({"interval": "15m"}, 'interval: "15m" is not a Bybit interval (1 3 5 15 30 60 120 240 360 720 D W M); '
                          'use "15"'),
    ({"mtf_analysis": {"higher_timeframes": ["60", "2h"]}}, 'mtf_analysis.higher_timeframes[1]: "2h" is not a '
                                                            'Bybit interval'),
    ({"mtf_analysis": {"higher_timeframes": ["60", 240]}}, 'mtf_analysis.higher_timeframes[1]: expected a string'),
    ({"loop_delay": True}, "loop_delay: expected a number, got true"),
    ({"loop_delay": "15"}, 'loop_delay: expected a number, got "15" (a string); write 15 without quotes'),
    ({"dry_run": "false"}, 'dry_run: expected true or false, got "false" (a string); write false without quotes'),
    ({"dry_run": 1}, "dry_run: expected true or false, got 1 (a number)"),
    ({"trade_management": {"max_open_positions": 2.5}},
     "trade_management.max_open_positions: expected a whole number, got 2.5"),
    ({"trade_management": {"max_open_positions": True}},
     "trade_management.max_open_positions: expected a whole number, got true"),
    ({"orderbook_limit": 100}, "orderbook_limit: 100 is not one of 1, 50, 200, 1000"),
    ({"strategy": {"mode": "Density"}},
     'strategy.mode: "Density" is not one of "indicators", "density", "combined"; did you mean "density"?'),
    ({"logging": {"level": "info"}}, 'did you mean "INFO"?'),
    ({"logging": {"file": None}}, 'logging.file: expected a string (in double quotes), got null; delete the key '
                                  'to use the default "logs/whalebot.log"'),
    ({"trade_managment": {}}, "trade_managment: unknown key; did you mean 'trade_management'?"),
    ({"trade_management": {"risk_per_trade_pct": 1}},
     "trade_management.risk_per_trade_pct: unknown key; did you mean 'risk_per_trade_percent'?"),
    ({"leverage": 5}, "leverage: unknown key; it belongs at trade_management.leverage"),
    ({"trade_management": "yes"}, 'trade_management: expected an object {...} of settings, got a string'),
    ({"active_weights": {"vwap": -0.1}}, "active_weights.vwap: -0.1 is out of range: a weight must be >= 0"),
    ({"alerts": {"events": ["entry", "entry"]}}, 'alerts.events[1]: "entry" is listed twice'),
    ({"alerts": {"events": ["entry", "exitt"]}}, 'alerts.events[1]: "exitt" is not one of'),
    ({"mtf_analysis": {"trend_indicators": "ema"}}, "mtf_analysis.trend_indicators: expected a list"),
    ({"symbol": "btcusdt"}, 'symbol: "btcusdt" is not a Bybit symbol'),
    ({"symbol": "BTCUSDC"}, 'symbol: "BTCUSDC" is not a USDT perpetual'),
    ({"logging": {"file": "logs/"}}, 'logging.file: "logs/" is a directory; name a file in it, e.g. '
                                     '"logs/whalebot.log"'),
    ({"alerts": {"webhook_url_env": "my webhook"}}, "alerts.webhook_url_env: \"my webhook\" is not an environment "
                                                   "variable name"),
])
def test_each_problem_names_its_key_path(data, expected):
    assert expected in one_problem(data)


def test_weight_naming_no_scorer_lists_the_scorers_and_suggests_one():
    problem = one_problem({"active_weights": {"ema_alignmnt": 0.2}})
    assert problem.startswith("active_weights.ema_alignmnt: names no scorer; scorers are: ema_alignment, ")
    assert "density_signal" in problem and problem.endswith("did you mean 'ema_alignment'?")


def test_toggle_that_is_not_an_indicator_lists_the_toggles():
    problem = one_problem({"indicators": {"rsl": True}})
    assert problem.startswith("indicators.rsl: is not an indicator toggle; toggles are: ema_alignment, ")
    assert problem.endswith("did you mean 'rsi'?")


def test_non_finite_numbers_are_rejected(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"loop_delay": NaN, "cooldown_sec": Infinity}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [p.split(":")[0] for p in info.value.problems] == ["loop_delay", "cooldown_sec"]


def test_every_problem_is_reported_in_one_run(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "interval": 15,
        "netwrok": "testnet",
        "trade_management": {"risk_per_trade_percent": 150, "max_open_positions": 0},
        "active_weights": {"ema_alignmnt": 0.2},
        "indicators": {"rsi": "yes"},
        "indicator_settings": {"macd_fast_period": 30},
        "safety": {"max_drawdown_soft_percent": 50},
    }), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == f"{path} has 8 problems:"
    for key in ("interval", "netwrok", "trade_management.risk_per_trade_percent",
                "trade_management.max_open_positions", "active_weights.ema_alignmnt", "indicators.rsi",
                "indicator_settings.macd_fast_period", "safety.max_drawdown_soft_percent"):
        assert sum(line.startswith(f"  {key}: ") for line in lines[1:]) == 1, key


# --- rules between keys -----------------------------------------------------------------------


def test_higher_timeframe_not_longer_than_interval_is_ignored_with_a_warning():
    # The original accepted "60" over interval "60": such a file loads; the entry is dropped.
    loaded = config_from_data({"interval": "60", "mtf_analysis": {"higher_timeframes": ["60", "240"]}})
    assert warned_paths(loaded.warnings) == ["mtf_analysis.higher_timeframes[0]"]
    assert loaded.warnings[0] == ('mtf_analysis.higher_timeframes[0]: "60" is not longer than interval "60", so it '
                                  'is ignored: a higher timeframe must be longer than the interval')
    assert loaded.config.mtf_analysis.higher_timeframes == ("240",) and loaded.config.mtf_analysis.enabled
    loaded = config_from_data({"interval": "240", "mtf_analysis": {"higher_timeframes": ["60", "240", "D"]}})
    assert warned_paths(loaded.warnings) == ["mtf_analysis.higher_timeframes[0]", "mtf_analysis.higher_timeframes[1]"]
    assert loaded.config.mtf_analysis.higher_timeframes == ("D",)


def test_when_no_higher_timeframe_remains_mtf_is_off():
    loaded = config_from_data({"interval": "240", "mtf_analysis": {"higher_timeframes": ["60"]}})
    assert warned_paths(loaded.warnings) == ["mtf_analysis.higher_timeframes[0]", "mtf_analysis.enabled"]
    assert "multi-timeframe analysis (MTF_Trend_Confluence) is off" in loaded.warnings[1]
    assert loaded.config.mtf_analysis.enabled is False and loaded.config.mtf_analysis.higher_timeframes == ()


def test_a_higher_timeframe_that_is_no_bybit_interval_is_still_an_error():
    problem = one_problem({"interval": "60", "mtf_analysis": {"higher_timeframes": ["60", "90"]}})
    assert problem.startswith('mtf_analysis.higher_timeframes[1]: "90" is not a Bybit interval')


@pytest.mark.net  # runs whalebot.py in a subprocess
def test_check_config_accepts_the_originals_60_over_60(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, json.dumps({"interval": "60", "mtf_analysis": {"higher_timeframes": ["60", "240"]}}))
    proc = subprocess.run([sys.executable, str(REPO / "whalebot.py"), "check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'warning: mtf_analysis.higher_timeframes[0]: "60" is not longer than interval "60", so it is ignored' \
        in proc.stdout and proc.stdout.rstrip().endswith("config OK")


def test_higher_timeframe_that_is_not_a_multiple_is_a_warning():
    loaded = config_from_data({"interval": "240", "mtf_analysis": {"higher_timeframes": ["360", "720"]}})
    assert warned_paths(loaded.warnings) == ["mtf_analysis.higher_timeframes[0]"]
    assert "not a whole multiple" in loaded.warnings[0]
    loaded = config_from_data({"interval": "W", "mtf_analysis": {"higher_timeframes": ["M"]}})
    assert warned_paths(loaded.warnings) == ["mtf_analysis.higher_timeframes[0]"]
    assert config_from_data({"interval": "720", "mtf_analysis": {"higher_timeframes": ["D", "W", "M"]}}).warnings == []


def test_timeframe_rules_skip_when_mtf_is_off():
    loaded = config_from_data({"interval": "240", "mtf_analysis": {"enabled": False, "higher_timeframes": ["60"]}})
    assert loaded.warnings == [] and loaded.config.mtf_analysis.higher_timeframes == ("60",)
    assert "is empty" in one_problem({"mtf_analysis": {"higher_timeframes": []}})


def test_custom_network_needs_all_three_urls():
    problems = problems_of({"exchange": {"network": "custom"}})
    assert [p.split(":")[0] for p in problems] == ["exchange.rest_url", "exchange.public_ws_url",
                                                   "exchange.private_ws_url"]
    assert all('is required with network "custom"' in p for p in problems)
    # the old top-level spelling: the same rule, and a missing URL is asked for in the exchange block
    problems = problems_of({"network": "custom", "rest_url": "http://127.0.0.1:9000"})
    assert [p.split(":")[0] for p in problems] == ["exchange.public_ws_url", "exchange.private_ws_url"]


def test_custom_network_urls_must_have_the_right_scheme():
    exchange = {"network": "custom", "rest_url": "ws://127.0.0.1:9000",
                "public_ws_url": "wss://127.0.0.1/v5/public/linear", "private_ws_url": "ws://127.0.0.1/v5/private"}
    problem = one_problem({"exchange": exchange})
    assert problem.startswith('exchange.rest_url: "ws://127.0.0.1:9000" is not an http(s) URL')
    problem = one_problem(dict(exchange))  # written at the top level: named as written
    assert problem.startswith('rest_url (applied as exchange.rest_url): "ws://127.0.0.1:9000" is not an http(s) URL')
    cfg = config_from_data({"exchange": {"network": "custom", "rest_url": "http://127.0.0.1:9000",
                                         "public_ws_url": "ws://127.0.0.1:9001/v5/public/linear",
                                         "private_ws_url": "ws://127.0.0.1:9001/v5/private"}}).config
    assert cfg.exchange.rest_url == cfg.rest_url == "http://127.0.0.1:9000"


def test_urls_are_only_for_the_custom_network():
    problem = one_problem({"exchange": {"network": "testnet", "public_ws_url": "wss://example.org/ws"}})
    assert problem.startswith('exchange.public_ws_url: is set, but network is "testnet"')


@pytest.mark.parametrize("name", ["rsi", "stoch_rsi", "cci", "williams_r", "mfi", "roc"])
def test_oversold_must_be_below_overbought(name):
    over = getattr(DEFAULTS.indicator_settings, f"{name}_overbought")
    problem = one_problem({"indicator_settings": {f"{name}_oversold": over}})
    assert problem.startswith(f"indicator_settings.{name}_oversold: ")
    assert f"must be below {name}_overbought" in problem


@pytest.mark.parametrize("settings, path", [
    ({"ADX_WEAK_TREND_THRESHOLD": 30}, "indicator_settings.ADX_WEAK_TREND_THRESHOLD"),
    ({"macd_fast_period": 26}, "indicator_settings.macd_fast_period"),
    ({"ema_short_period": 30}, "indicator_settings.ema_short_period"),
    ({"kama_fast_period": 40}, "indicator_settings.kama_fast_period"),
    ({"psar_acceleration": 0.5}, "indicator_settings.psar_acceleration"),
    ({"ehlers_fast_period": 30}, "indicator_settings.ehlers_fast_period"),
    ({"ehlers_fast_period": 20, "ehlers_fast_multiplier": 3.0}, "indicator_settings.ehlers_fast_multiplier"),
    ({"ichimoku_tenkan_period": 30}, "indicator_settings.ichimoku_tenkan_period"),
    ({"ichimoku_senkou_span_b_period": 20}, "indicator_settings.ichimoku_kijun_period"),
])
def test_indicator_setting_pairs(settings, path):
    assert one_problem({"indicator_settings": settings}).startswith(path + ": ")


def test_equal_adx_thresholds_and_equal_ehlers_periods_with_a_narrower_fast_band_are_fine():
    config_from_data({"indicator_settings": {"ADX_WEAK_TREND_THRESHOLD": 25,
                                             "ehlers_fast_period": 20, "ehlers_fast_multiplier": 2.0}})


def test_drawdown_soft_must_not_exceed_hard():
    problem = one_problem({"safety": {"max_drawdown_soft_percent": 25}})
    assert problem == "safety.max_drawdown_soft_percent: 25 must be at most max_drawdown_hard_percent (20)"


def test_a_rule_between_keys_is_skipped_when_one_of_them_is_already_wrong():
    problem = one_problem({"indicator_settings": {"rsi_oversold": "low", "rsi_overbought": 20}})
    assert problem.startswith("indicator_settings.rsi_oversold: expected a number")


def test_warnings_for_settings_that_do_nothing():
    loaded = config_from_data({"trade_management": {"close_on_opposite_signal": False,
                                                    "reverse_position_on_opposite_signal": True,
                                                    "account_balance": 50}})
    assert warned_paths(loaded.warnings) == ["trade_management.reverse_position_on_opposite_signal",
                                             "trade_management.account_balance"]


def test_max_open_positions_is_account_wide_and_loads_without_a_warning():
    # It counts the positions of every symbol now; 1 (an original's file) and 3 both load quietly.
    for n in (1, 3, 100):
        loaded = config_from_data({"trade_management": {"max_open_positions": n}})
        assert loaded.warnings == [] and loaded.config.trade_management.max_open_positions == n
    assert "out of range [1, 100]" in one_problem({"trade_management": {"max_open_positions": 101}})
    assert DEFAULTS.trade_management.max_open_positions == 3


def test_the_model_and_docs_say_max_open_positions_counts_the_account():
    from whale.config.model import TradeManagement

    field = {f.name: f for f in dataclasses.fields(TradeManagement)}["max_open_positions"]
    assert "no effect" not in field.metadata["doc"] and "every symbol" in field.metadata["doc"]
    line = next(x for x in (REPO / "docs" / "config.md").read_text().splitlines()
                if x.startswith("| `trade_management.max_open_positions`"))
    assert "*account-wide*" in line and "no effect" not in line


# --- JSON syntax and shape ----------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    return path


def syntax_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


def test_syntax_error_names_line_and_column_and_shows_the_line(tmp_path):
    message = syntax_error(tmp_path, '{\n    "symbol": "BTCUSDT"\n    "interval": "15"\n}\n')
    lines = message.splitlines()
    assert lines[0].endswith("config.json: JSON syntax error at line 3, column 5: Expecting ',' delimiter")
    assert '  2 |     "symbol": "BTCUSDT"' in lines
    assert '  3 |     "interval": "15"' in lines
    assert "    |     ^" in lines
    assert "a comma is probably missing at the end of the previous line" in message


@pytest.mark.parametrize("text, hint", [
    ('{\n  "symbol": "BTCUSDT",\n}\n', "comma before } or ]"),
    ('{\n  // my settings\n  "symbol": "BTCUSDT"\n}\n', "does not allow comments"),
    ("{'symbol': 'BTCUSDT'}", "double quotes"),
    ('{"dry_run": True}', "write true, not True"),
    ("", "the file is empty"),
    ('{"symbol": "BTCUSDT"}\n{}', "one JSON object"),
])
def test_syntax_error_hints(tmp_path, text, hint):
    assert hint in syntax_error(tmp_path, text)


def test_long_minified_line_is_cut_around_the_error(tmp_path):
    text = '{"symbol": "BTCUSDT", ' + ", ".join(f'"k{i}": {i}' for i in range(200)) + ' "x": 1}'
    message = syntax_error(tmp_path, text)
    shown = [line for line in message.splitlines() if line.startswith("  1 | ")][0]
    assert len(shown) < 140 and "..." in shown


def test_top_level_must_be_an_object(tmp_path):
    message = syntax_error(tmp_path, "[1, 2]")
    assert "the top level must be a JSON object {...} of settings, got a list" in message


def test_a_key_written_twice_is_an_error():
    problems = problems_of(parse_json('{"symbol": "BTCUSDT", "symbol": "ETHUSDT"}', "config.json"))
    assert problems == ["symbol: written twice in the same object; JSON keeps only the last one, so delete "
                        "the other"]


def test_a_key_written_twice_in_a_file(tmp_path):
    message = syntax_error(tmp_path, '{"trade_management": {"leverage": 2, "leverage": 20}}')
    assert "trade_management.leverage: written twice" in message


def test_non_utf8_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"symbol": "\xff"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'\xef\xbb\xbf{"symbol": "ETHUSDT"}')
    assert load_config(path).config.symbol == "ETHUSDT"


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, path, env", [
    ({"api_key": "A1b2C3d4E5f6G7h8"}, "api_key", "BYBIT_API_KEY"),
    ({"alerts": {"apiSecret": "A1b2C3d4E5f6G7h8A1b2"}}, "alerts.apiSecret", "BYBIT_API_SECRET"),
    ({"alerts": {"webhook_url": "https://example.org/hook/A1b2C3d4E5f6"}}, "alerts.webhook_url",
     "WHALEBOT_WEBHOOK_URL"),
    ({"alerts": {"telegram_bot_token": "123456:A1b2C3d4E5f6"}}, "alerts.telegram_bot_token", "WHALEBOT_WEBHOOK_URL"),
    ({"notes": "https://discord.com/api/webhooks/123/A1b2C3d4E5f6"}, "notes", "WHALEBOT_WEBHOOK_URL"),
    ({"alerts": {"webhook_url_env": "MY_HOOK", "hook": "https://hooks.slack.com/services/A1b2C3d4E5f6"}},
     "alerts.hook", "MY_HOOK"),
])
def test_secrets_in_the_file_are_an_error_that_points_to_env(data, path, env):
    problem = one_problem(data)
    assert problem.startswith(f"{path}: ") and ".env" in problem and env in problem
    assert "A1b2C3d4E5f6" not in problem


def test_webhook_url_pasted_into_the_env_name_key():
    problem = one_problem({"alerts": {"webhook_url_env": "https://discord.com/api/webhooks/1/A1b2C3d4E5f6"}})
    assert problem.startswith("alerts.webhook_url_env: holds a URL") and "A1b2C3d4E5f6" not in problem


def test_value_of_an_environment_secret_in_the_file(monkeypatch):
    monkeypatch.setenv("BYBIT_API_KEY", "KeyFromEnv123")
    problem = one_problem({"symbol": "KeyFromEnv123"})
    assert problem.startswith("symbol: holds the value of an API key") and "KeyFromEnv123" not in problem


# --- legacy keys of the original ----------------------------------------------------------------


def test_wb110_file_loads_with_one_warning_per_legacy_key():
    loaded = config_from_data(copy.deepcopy(WB110_FILE))
    paths = warned_paths(loaded.warnings)
    assert sorted(paths) == sorted(WB110_LEGACY_PATHS)
    cfg = loaded.config
    assert cfg.symbol == "BCHUSDT" and cfg.interval == "1" and cfg.signal_score_threshold == 1.0
    # default_scalping lists every base toggle and the original's weights: the defaults again.
    assert cfg.indicators == DEFAULTS.indicators and cfg.active_weights == DEFAULTS.active_weights
    assert cfg.fees.taker_rate == 0.0005 and cfg.fees.slippage_rate == 0.001
    assert cfg.fees.maker_rate == DEFAULTS.fees.maker_rate
    assert cfg.logging.level == "DEBUG"


def test_legacy_warnings_say_what_replaced_the_key():
    warnings = dict(w.split(": ", 1) for w in config_from_data(copy.deepcopy(WB110_FILE)).warnings)
    assert "qtyStep" in warnings["trade_management.order_precision"]
    assert "tickSize" in warnings["trade_management.price_precision"]
    fee = warnings["trade_management.trading_fee_percent"]
    assert "fees.taker_rate" in fee and "fraction" in fee and "0.0005 = 0.05 %" in fee
    assert "fees.slippage_rate" in warnings["trade_management.slippage_percent"]
    assert "profile 'default_scalping' was applied" in warnings["strategy_profiles"]
    assert "logging.level" in warnings["log_level"]
    assert all(w.startswith("deprecated") for w in warnings.values())


def test_the_selected_profile_is_applied_when_the_file_has_no_toggles_or_weights():
    data = copy.deepcopy(WB110_FILE)
    data["current_strategy_profile"] = "trend_following"
    loaded = config_from_data(data)
    toggles, weights = loaded.config.indicators, loaded.config.active_weights
    on = {name for name, value in to_dict(toggles).items() if value}
    assert on == {"ema_alignment", "sma_trend_filter", "macd", "adx", "ehlers_supertrend", "ichimoku_cloud",
                  "volume_confirmation"}
    assert weights.macd_alignment == 0.40 and weights.ehlers_supertrend_alignment == 0.60
    assert weights.vwap == DEFAULTS.active_weights.vwap  # a weight the profile omits keeps its default
    assert "strategy_profiles.trend_following.indicators_enabled.mtf_analysis" in warned_paths(loaded.warnings)


def test_explicit_toggles_and_weights_win_over_profiles():
    data = copy.deepcopy(WB110_FILE)
    data["indicators"] = {"rsi": False}
    data["active_weights"] = {"vwap": 0.5}
    loaded = config_from_data(data)
    assert loaded.config.indicators.rsi is False and loaded.config.indicators.macd is True
    assert loaded.config.active_weights.vwap == 0.5
    warning = [w for w in loaded.warnings if w.startswith("strategy_profiles: ")][0]
    assert "ignored" in warning


def test_unknown_profile_falls_back_to_the_defaults():
    data = copy.deepcopy(WB110_FILE)
    data["current_strategy_profile"] = "moon"
    loaded = config_from_data(data)
    assert loaded.config.indicators == DEFAULTS.indicators
    warning = [w for w in loaded.warnings if w.startswith("strategy_profiles: ")][0]
    assert "no profile 'moon'" in warning and "default_scalping, trend_following" in warning
    selector = [w for w in loaded.warnings if w.startswith("current_strategy_profile: ")][0]
    assert "'moon'" in selector and "does not have" in selector


def test_current_strategy_profile_warning_matches_what_was_done():
    # applied: the warning must not say the profiles "are gone"
    warnings = dict(w.split(": ", 1) for w in config_from_data(copy.deepcopy(WB110_FILE)).warnings)
    selector = warnings["current_strategy_profile"]
    assert "are gone" not in selector
    assert "selected profile 'default_scalping' of strategy_profiles, which was applied" in selector
    # overridden by explicit sections
    data = copy.deepcopy(WB110_FILE)
    data["indicators"], data["active_weights"] = {"rsi": False}, {"vwap": 0.5}
    warnings = dict(w.split(": ", 1) for w in config_from_data(data).warnings)
    assert "ignored, because indicators and active_weights are set" in warnings["current_strategy_profile"]
    # no strategy_profiles at all
    warnings = dict(w.split(": ", 1) for w in config_from_data({"current_strategy_profile": "x"}).warnings)
    assert "does not have" in warnings["current_strategy_profile"] and "ignored" in warnings["current_strategy_profile"]


def test_weight_sets_default_scalping_becomes_active_weights():
    loaded = config_from_data({"weight_sets": {"default_scalping": {"vwap": 0.3, "rsi": 0.15},
                                               "aggressive_trend": {"vwap": 0.9}}})
    assert loaded.config.active_weights.vwap == 0.3
    assert warned_paths(loaded.warnings) == ["weight_sets", "weight_sets.default_scalping.rsi"]


def test_problem_in_a_mapped_legacy_value_names_the_key_the_user_wrote():
    problems = problems_of({"log_level": "verbose",
                            "strategy_profiles": {"default_scalping": {"weights": {"vwap": "high"}}}})
    assert problems[0].startswith("strategy_profiles.default_scalping.weights.vwap: expected a number")
    assert problems[1].startswith('log_level (applied as logging.level): "VERBOSE" is not one of')


def test_legacy_keys_yield_to_their_replacements():
    loaded = config_from_data({"log_level": "DEBUG", "log_filename": "wb.log",
                               "logging": {"level": "ERROR", "file": "x.log"},
                               "fees": {"taker_rate": 0.0006},
                               "trade_management": {"trading_fee_percent": 0.0005}})
    cfg = loaded.config
    assert (cfg.logging.level, cfg.logging.file, cfg.fees.taker_rate) == ("ERROR", "x.log", 0.0006)
    assert len(loaded.warnings) == 3 and all("ignored" in w for w in loaded.warnings)


def test_log_filename_keeps_the_original_log_directory():
    loaded = config_from_data({"log_filename": "wb.log"})
    assert loaded.config.logging.file == "bot_logs/trading-bot/logs/wb.log"


def test_numbers_written_as_strings_are_errors_with_a_hint():
    problem = one_problem({"trade_management": {"account_balance": "1000.0"}})
    assert problem == ('trade_management.account_balance: expected a number, got "1000.0" (a string); '
                       "write 1000.0 without quotes")


# --- documentation --------------------------------------------------------------------------------


def test_every_key_has_a_meaning():
    assert [path for path, f in leaf_fields() if not f.metadata.get("doc")] == []


def test_docs_list_every_key_of_the_model():
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    for path, _ in leaf_fields():
        assert re.search(rf"^\| `{re.escape(path)}` \|", text, re.M), path


def test_docs_are_generated_from_the_model():
    committed = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert committed == config_doc.render(), "run: python -m whale.config.doc > docs/config.md"
