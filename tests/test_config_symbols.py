"""Multi-symbol config (issue 12): `symbols`, the `exchange` block, per-symbol `overrides` with
`Config.for_symbol`, the account-wide risk keys, and the old one-symbol keys that still load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from whale.config import DEFAULTS, Config, ConfigError, config_from_data, replace_path, to_dict
from whale.config.model import ACCOUNT_WIDE, Overrides

REPO = Path(__file__).resolve().parent.parent

ETH_OVERRIDE = {"trade_management": {"risk_per_trade_percent": 0.5, "leverage": 3},
                "active_weights": {"momentum_rsi_stoch_cci_wr_mfi": 0.2},
                "signal_score_threshold": 2.5}


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_data(data)
    return info.value.problems


def one_problem(data: dict) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


def warned(data: dict) -> dict[str, str]:
    return dict(w.split(": ", 1) for w in config_from_data(data).warnings)


def two(overrides: dict, **top: Any) -> dict:
    """A BTCUSDT + ETHUSDT config with `overrides`."""
    return {"symbols": ["BTCUSDT", "ETHUSDT"], "overrides": overrides, **top}


def nested(path: str, value: Any) -> dict:
    *parents, key = path.split(".")
    out: dict = {key: value}
    for p in reversed(parents):
        out = {p: out}
    return out


# --- symbols ----------------------------------------------------------------------------------


def test_default_is_one_symbol_and_symbol_is_its_single_symbol_view():
    assert DEFAULTS.symbols == ("BTCUSDT",) and DEFAULTS.symbol == "BTCUSDT"
    cfg = config_from_data({"symbols": ["ETHUSDT", "SOLUSDT"]}).config
    assert cfg.symbols == ("ETHUSDT", "SOLUSDT") and cfg.symbol == "ETHUSDT"
    with pytest.raises(AttributeError):
        cfg.symbol = "XRPUSDT"  # type: ignore[misc]  # read-only view


@pytest.mark.parametrize("symbols, expected", [
    ([], 'symbols: is empty; list at least one symbol, e.g. ["BTCUSDT"]'),
    (["BTCUSDT", "BTCUSDT"], 'symbols[1]: "BTCUSDT" is listed twice'),
    (["BTCUSDT", "ethusdt"], 'symbols[1]: "ethusdt" is not a Bybit symbol (capital letters and digits, e.g. '
                             'BTCUSDT); did you mean "ETHUSDT"?'),
    (["BTCUSDC"], 'symbols[0]: "BTCUSDC" is not a USDT perpetual'),
    (["BTCUSDT", 5], "symbols[1]: expected a string (in double quotes), got 5 (a number)"),
    ("BTCUSDT", 'symbols: expected a list [...] of strings, got "BTCUSDT" (a string); write ["BTCUSDT"]'),
])
def test_symbols_problems(symbols, expected):
    assert one_problem({"symbols": symbols}).startswith(expected)


def test_an_environment_secret_in_symbols_is_reported_once_and_not_echoed(monkeypatch):
    monkeypatch.setenv("BYBIT_API_KEY", "KEYFROMENV123")
    problem = one_problem({"symbols": ["BTCUSDT", "KEYFROMENV123"]})
    assert problem.startswith("symbols[1]: holds the value of an API key") and "KEYFROMENV123" not in problem


def test_old_symbol_key_loads_as_a_one_symbol_list_with_a_warning():
    loaded = config_from_data({"symbol": "ETHUSDT"})
    assert loaded.config.symbols == ("ETHUSDT",) and loaded.config.symbol == "ETHUSDT"
    [warning] = loaded.warnings
    assert warning == ('symbol: deprecated, replaced by symbols (one account can trade several); applied as symbols '
                       '["ETHUSDT"]. Write "symbols": ["ETHUSDT"] instead')


def test_old_symbol_and_symbols_must_agree():
    assert warned({"symbol": "ETHUSDT", "symbols": ["ETHUSDT"]}) == {
        "symbol": "deprecated, replaced by symbols, which says the same; delete it"}
    assert one_problem({"symbol": "ETHUSDT", "symbols": ["BTCUSDT", "ETHUSDT"]}) == (
        'symbol: "ETHUSDT" disagrees with symbols ["BTCUSDT", "ETHUSDT"]; symbol is the old spelling of '
        "symbols, so delete it")


# --- exchange ---------------------------------------------------------------------------------


def test_exchange_block_and_its_compatibility_properties():
    assert to_dict(DEFAULTS.exchange) == {"name": "bybit", "network": "mainnet", "rest_url": "",
                                          "public_ws_url": "", "private_ws_url": ""}
    urls = {"rest_url": "http://127.0.0.1:9", "public_ws_url": "ws://127.0.0.1:9/p", "private_ws_url": "ws://127.0.0.1:9/q"}
    loaded = config_from_data({"exchange": {"network": "custom", **urls}})
    cfg = loaded.config
    assert loaded.warnings == [] and cfg.exchange.network == cfg.network == "custom"
    assert (cfg.rest_url, cfg.public_ws_url, cfg.private_ws_url) == tuple(urls.values())
    assert one_problem({"exchange": {"name": "binance"}}).startswith(
        'exchange.name: "binance" is not one of "bybit"')
    assert one_problem({"exchange": {"network": "Testnet"}}).endswith('did you mean "testnet"?')


def test_old_connection_keys_load_into_exchange_with_one_warning_each():
    urls = {"rest_url": "http://127.0.0.1:9", "public_ws_url": "ws://127.0.0.1:9/p", "private_ws_url": "ws://127.0.0.1:9/q"}
    loaded = config_from_data({"network": "custom", **urls})
    assert loaded.config.exchange == config_from_data({"exchange": {"network": "custom", **urls}}).config.exchange
    warnings = dict(w.split(": ", 1) for w in loaded.warnings)
    assert list(warnings) == ["network", "rest_url", "public_ws_url", "private_ws_url"]
    assert warnings["network"] == ('deprecated, replaced by exchange.network (the exchange block); applied as '
                                   'exchange.network "custom". Move it there')
    assert all(f"replaced by exchange.{key}" in text for key, text in warnings.items())
    assert config_from_data({"network": "testnet"}).config.network == "testnet"


def test_old_and_new_connection_keys_must_agree():
    assert warned({"network": "testnet", "exchange": {"network": "testnet"}}) == {
        "network": "deprecated, replaced by exchange.network, which says the same; delete it"}
    assert one_problem({"network": "testnet", "exchange": {"network": "mainnet"}}) == (
        'network: "testnet" disagrees with exchange.network "mainnet"; network is the old spelling of '
        "exchange.network, so delete it")


def test_a_bad_old_connection_key_is_named_as_written():
    assert one_problem({"network": "moon"}).startswith(
        'network (applied as exchange.network): "moon" is not one of "mainnet", "testnet"')
    assert one_problem({"netwrok": "testnet"}) == "netwrok: unknown key; did you mean exchange.network?"


# --- overrides ----------------------------------------------------------------------------------


def test_overrides_give_each_symbol_its_effective_config():
    loaded = config_from_data(two({"ETHUSDT": ETH_OVERRIDE}))
    cfg = loaded.config
    assert loaded.warnings == []
    eth, btc = cfg.for_symbol("ETHUSDT"), cfg.for_symbol("BTCUSDT")
    assert eth.symbols == ("ETHUSDT",) and eth.symbol == "ETHUSDT" and not eth.overrides
    assert eth.trade_management.risk_per_trade_percent == 0.5 and eth.trade_management.leverage == 3.0
    assert eth.active_weights.momentum_rsi_stoch_cci_wr_mfi == 0.2 and eth.signal_score_threshold == 2.5
    assert eth.trade_management.stop_loss_atr_multiple == DEFAULTS.trade_management.stop_loss_atr_multiple
    assert eth.active_weights.vwap == DEFAULTS.active_weights.vwap
    assert btc == replace_path(replace_path(cfg, "symbols", ["BTCUSDT"]), "overrides", {})
    assert btc.trade_management == DEFAULTS.trade_management and btc.signal_score_threshold == 2.0
    # the account-wide view keeps every symbol; the file round-trips through to_dict
    assert cfg.symbols == ("BTCUSDT", "ETHUSDT") and cfg.symbol == "BTCUSDT"
    assert to_dict(cfg)["overrides"] == {"ETHUSDT": {
        "trade_management": {"risk_per_trade_percent": 0.5, "leverage": 3.0},
        "active_weights": {"momentum_rsi_stoch_cci_wr_mfi": 0.2}, "signal_score_threshold": 2.5}}
    again = config_from_data(json.loads(json.dumps(to_dict(cfg))))
    assert again.config == cfg and again.warnings == [] and hash(again.config) == hash(cfg)
    with pytest.raises(ValueError, match="XRPUSDT"):
        cfg.for_symbol("XRPUSDT")


def test_overrides_may_set_whole_sections_and_lists():
    cfg = config_from_data(two({"ETHUSDT": {"strategy": {"mode": "density"}, "orderbook_limit": 200,
                                            "mtf_analysis": {"higher_timeframes": ["240"]},
                                            "fees": {"slippage_rate": 0.0003}}})).config
    eth = cfg.for_symbol("ETHUSDT")
    assert (eth.strategy.mode, eth.orderbook_limit, eth.mtf_analysis.higher_timeframes, eth.fees.slippage_rate) \
        == ("density", 200, ("240",), 0.0003)
    assert cfg.for_symbol("BTCUSDT").mtf_analysis.higher_timeframes == ("60", "240")


@pytest.mark.parametrize("settings, expected", [
    ({"trade_management": {"risk_per_trade_percent": 150}},
     "overrides.ETHUSDT.trade_management.risk_per_trade_percent: 150 is out of range (0, 100]"),
    ({"trade_management": {"leverage": 250}},
     "overrides.ETHUSDT.trade_management.leverage: 250 is out of range [1, 200]"),
    ({"signal_score_threshold": "2"},
     'overrides.ETHUSDT.signal_score_threshold: expected a number, got "2" (a string); write 2 without quotes'),
    ({"strategy": {"mode": "Density"}}, 'overrides.ETHUSDT.strategy.mode: "Density" is not one of'),
    ({"trade_management": 3}, "overrides.ETHUSDT.trade_management: expected an object {...} of settings, got a number"),
    ({"active_weights": {"vwap": -1}},
     "overrides.ETHUSDT.active_weights.vwap: -1 is out of range: a weight must be >= 0"),
    ({"trade_managment": {}}, "overrides.ETHUSDT.trade_managment: unknown key; did you mean 'trade_management'?"),
    ({"trade_management": {"risk_per_trade_pct": 1}},
     "overrides.ETHUSDT.trade_management.risk_per_trade_pct: unknown key; did you mean 'risk_per_trade_percent'?"),
    ({"leverage": 3},
     "overrides.ETHUSDT.leverage: unknown key; it belongs at overrides.ETHUSDT.trade_management.leverage"),
    ({"indicators": {"rsl": True}}, "overrides.ETHUSDT.indicators.rsl: is not an indicator toggle"),
    ({"network": "testnet"}, "overrides.ETHUSDT.network: unknown key; it belongs at exchange.network, which is "
                             "account-wide (set it at the top level)"),
    ({"trade_management": {"leverage": 150}},
     "overrides.ETHUSDT.trade_management.leverage: 150 is outside the leverage ETHUSDT allows on Bybit: 1 to 100"),
    ({"trade_management": {"leverage": 2.005}},
     "overrides.ETHUSDT.trade_management.leverage: 2.005 is not a multiple of ETHUSDT's leverage step on Bybit (0.01)"),
    ({"indicator_settings": {"rsi_oversold": 75}},
     "overrides.ETHUSDT.indicator_settings.rsi_oversold: 75 must be below rsi_overbought (70)"),
    ({"indicator_settings": {"rsi_overbought": 20}},
     "indicator_settings.rsi_oversold (for ETHUSDT, with overrides.ETHUSDT): 30 must be below rsi_overbought (20)"),
])
def test_a_problem_in_an_override_names_its_full_path(settings, expected):
    assert one_problem(two({"ETHUSDT": settings})).startswith(expected)


@pytest.mark.parametrize("path", list(ACCOUNT_WIDE))
def test_account_wide_keys_cannot_be_overridden(path):
    default = DEFAULTS
    for part in path.split("."):
        default = getattr(default, part)
    problem = one_problem(two({"ETHUSDT": nested(path, to_dict(default))}))
    assert problem == (f"overrides.ETHUSDT.{path}: is account-wide, so it cannot differ per symbol: "
                       f"{ACCOUNT_WIDE[path]}; set {path} at the top level")


def test_account_wide_set_covers_the_account_and_loop_keys():
    assert {"symbols", "overrides", "exchange", "safety", "alerts", "logging", "interval", "loop_delay", "dry_run",
            "trade_management.account_balance", "trade_management.max_open_positions",
            "risk.max_total_exposure_percent", "risk.max_correlated_exposure_percent", "risk.correlation_lookback",
            "risk.correlation_threshold"} <= set(ACCOUNT_WIDE)
    one_key_of_safety = two({"ETHUSDT": {"safety": {"daily_loss_limit_percent": 2}}})
    assert one_problem(one_key_of_safety).startswith("overrides.ETHUSDT.safety: is account-wide")


def test_an_override_for_a_symbol_not_traded_is_an_error():
    assert one_problem({"symbols": ["BTCUSDT"], "overrides": {"ETHUSDT": {"signal_score_threshold": 3}}}) == (
        "overrides.ETHUSDT: ETHUSDT is not in symbols (BTCUSDT); add it there or delete this override")
    assert one_problem(two({"ethusdt": {}})).endswith("did you mean 'ETHUSDT'?")
    # the symbol's settings are still checked, so one run shows everything
    problems = problems_of({"overrides": {"ETHUSDT": {"signal_score_threshold": -1}}})
    assert [p.split(":")[0] for p in problems] == ["overrides.ETHUSDT", "overrides.ETHUSDT.signal_score_threshold"]


def test_overrides_must_be_objects():
    assert one_problem({"overrides": ["ETHUSDT"]}) == "overrides: expected an object {...} of symbol -> settings, " \
                                                      "got a list"
    assert one_problem(two({"ETHUSDT": 2})) == ("overrides.ETHUSDT: expected an object {...} of the settings "
                                                "ETHUSDT overrides, got a number")


def test_a_top_level_problem_is_not_repeated_for_each_symbol():
    problems = problems_of(two({"ETHUSDT": {"signal_score_threshold": 3}},
                               indicator_settings={"rsi_oversold": 75}))
    assert problems == ["indicator_settings.rsi_oversold: 75 must be below rsi_overbought (70)"]


def test_old_symbol_key_with_overrides():
    cfg = config_from_data({"symbol": "ETHUSDT", "overrides": {"ETHUSDT": {"cooldown_sec": 0}}}).config
    assert cfg.for_symbol("ETHUSDT").cooldown_sec == 0.0


# --- the leverage rule of each symbol's instrument ------------------------------------------------


def test_leverage_is_checked_for_every_symbol_with_its_override():
    data = {"symbols": ["BTCUSDT", "XRPUSDT"], "trade_management": {"leverage": 80}}
    assert one_problem(data) == "trade_management.leverage: 80 is outside the leverage XRPUSDT allows on Bybit: 1 to 75"
    cfg = config_from_data({**data, "overrides": {"XRPUSDT": {"trade_management": {"leverage": 50}}}}).config
    assert cfg.for_symbol("XRPUSDT").trade_management.leverage == 50 and cfg.trade_management.leverage == 80
    assert cfg.for_symbol("BTCUSDT").trade_management.leverage == 80
    problems = problems_of({"symbols": ["BTCUSDT", "ETHUSDT", "DOGEUSDT"], "trade_management": {"leverage": 150}})
    assert problems == ["trade_management.leverage: 150 is outside the leverage BTCUSDT allows on Bybit: 1 to 100",
                        "trade_management.leverage: 150 is outside the leverage ETHUSDT allows on Bybit: 1 to 100"]


# --- rules between keys, per symbol -------------------------------------------------------------


def test_an_overridden_higher_timeframe_not_longer_than_interval_is_dropped_for_that_symbol():
    loaded = config_from_data(two({"ETHUSDT": {"mtf_analysis": {"higher_timeframes": ["15", "60"]}}}))
    assert [w.split(": ")[0] for w in loaded.warnings] == ["overrides.ETHUSDT.mtf_analysis.higher_timeframes[0]"]
    cfg = loaded.config
    assert cfg.for_symbol("ETHUSDT").mtf_analysis.higher_timeframes == ("60",)
    assert cfg.for_symbol("BTCUSDT").mtf_analysis.higher_timeframes == ("60", "240")
    loaded = config_from_data(two({"ETHUSDT": {"mtf_analysis": {"higher_timeframes": ["5"]}}}))
    assert [w.split(": ")[0] for w in loaded.warnings] == ["overrides.ETHUSDT.mtf_analysis.higher_timeframes[0]",
                                                           "mtf_analysis.enabled (for ETHUSDT, with overrides.ETHUSDT)"]
    assert "multi-timeframe analysis (MTF_Trend_Confluence) is off" in loaded.warnings[1]
    assert loaded.config.for_symbol("ETHUSDT").mtf_analysis.enabled is False
    assert loaded.config.for_symbol("BTCUSDT").mtf_analysis.enabled is True


def test_a_warning_of_an_override_names_it():
    loaded = config_from_data(two({"ETHUSDT": {"trade_management": {"close_on_opposite_signal": False,
                                                                    "reverse_position_on_opposite_signal": True}}}))
    assert [w.split(": ")[0] for w in loaded.warnings] == [
        "overrides.ETHUSDT.trade_management.reverse_position_on_opposite_signal"]


# --- account-wide risk keys ---------------------------------------------------------------------


def test_correlation_risk_keys():
    risk = DEFAULTS.risk
    assert (risk.correlation_lookback, risk.correlation_threshold, risk.max_correlated_exposure_percent) == (
        500, 0.7, 200.0)
    assert one_problem({"risk": {"correlation_threshold": 1.5}}).startswith(
        "risk.correlation_threshold: 1.5 is out of range [0, 1]")
    assert one_problem({"risk": {"correlation_lookback": 10}}).startswith(
        "risk.correlation_lookback: 10 is out of range [20, 10000]")
    assert one_problem({"risk": {"correlation_lookback": 99.5}}).startswith(
        "risk.correlation_lookback: expected a whole number")
    assert one_problem({"risk": {"max_correlated_exposure_percent": 0}}).startswith(
        "risk.max_correlated_exposure_percent: 0 is out of range (0, 100000]")


def test_a_correlated_cap_above_the_total_cap_is_a_warning():
    loaded = config_from_data({"risk": {"max_correlated_exposure_percent": 400}})
    assert loaded.warnings == ["risk.max_correlated_exposure_percent: 400 is above risk.max_total_exposure_percent "
                               "(300), so it never binds: the total cap is reached first"]
    assert config_from_data({"risk": {"max_correlated_exposure_percent": 300}}).warnings == []


# --- code that builds configs ---------------------------------------------------------------------


def test_replace_path_takes_the_old_one_symbol_paths():
    cfg = replace_path(Config(), "network", "testnet")
    assert cfg.exchange.network == cfg.network == "testnet"
    for key in ("rest_url", "public_ws_url", "private_ws_url"):
        assert getattr(replace_path(cfg, key, "x://y").exchange, key) == "x://y"
    assert replace_path(cfg, "symbol", "ETHUSDT").symbols == ("ETHUSDT",)


def test_overrides_built_in_code():
    eth = {"trade_management": {"leverage": 3}, "mtf_analysis": {"higher_timeframes": ["240"]}}
    cfg = replace_path(replace_path(Config(), "symbols", ["BTCUSDT", "ETHUSDT"]), "overrides", {"ETHUSDT": eth})
    assert isinstance(cfg.overrides, Overrides) and list(cfg.overrides) == ["ETHUSDT"]
    assert cfg.overrides.paths("ETHUSDT") == (("trade_management.leverage", 3),
                                              ("mtf_analysis.higher_timeframes", ("240",)))
    assert cfg.for_symbol("ETHUSDT").mtf_analysis.higher_timeframes == ("240",)
    assert cfg.overrides == {"ETHUSDT": eth} and cfg.overrides["ETHUSDT"] == eth


# --- check-config --------------------------------------------------------------------------------


@pytest.mark.net  # runs whalebot.py in a subprocess
def test_check_config_on_a_multi_symbol_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_") and k != "WHALEBOT_WEBHOOK_URL"}

    def check(data: dict) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return subprocess.run([sys.executable, str(REPO / "whalebot.py"), "check-config", "--config", str(path)],
                              env=env, capture_output=True, text=True, timeout=60)

    good = check(two({"ETHUSDT": ETH_OVERRIDE}))
    assert (good.returncode, good.stdout, good.stderr) == (0, "config OK\n", "")
    bad = check(two({"ETHUSDT": {"trade_management": {"leverage": 150}, "safety": {}}}))
    assert bad.returncode == 2 and "config OK" not in bad.stdout
    assert "  overrides.ETHUSDT.trade_management.leverage: 150 is outside the leverage ETHUSDT allows" in bad.stderr
    assert "  overrides.ETHUSDT.safety: is account-wide" in bad.stderr
