"""The config check applies what Bybit's published instrument rules decide offline: the leverage
range and step of the symbols the backtest knows (issue 9: `check-config` said "config OK" for
leverage 150 on ETHUSDT, and the bot then stopped at start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from whale.config import ConfigError, config_from_data
from whale.errors import EXIT_BAD_INPUT
from whale.market.instruments import KNOWN

REPO = Path(__file__).resolve().parent.parent


def cli(tmp_path: Path, command: list[str], cfg: dict) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_") and k != "WHALEBOT_WEBHOOK_URL"}
    return subprocess.run([sys.executable, str(REPO / "whalebot.py"), *command, "--config", str(path)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config_from_data(data)
    return err.value.problems


@pytest.mark.net
def test_check_config_refuses_a_leverage_bybit_does_not_allow(tmp_path):
    result = cli(tmp_path, ["check-config"], {"symbol": "ETHUSDT", "trade_management": {"leverage": 150}})
    assert result.returncode == EXIT_BAD_INPUT and "config OK" not in result.stdout
    assert "trade_management.leverage: 150 is outside the leverage ETHUSDT allows on Bybit: 1 to 100" in result.stderr


@pytest.mark.net
def test_the_bot_stops_with_the_same_message_before_connecting(tmp_path):
    # network "custom" on a port nothing listens on: the bot must not get as far as connecting.
    cfg = {"symbol": "ETHUSDT", "trade_management": {"leverage": 150}, "network": "custom",
           "rest_url": "http://127.0.0.1:9", "public_ws_url": "ws://127.0.0.1:9", "private_ws_url": "ws://127.0.0.1:9"}
    result = cli(tmp_path, ["run", "--workdir", str(tmp_path)], cfg)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "trade_management.leverage: 150 is outside the leverage ETHUSDT allows on Bybit: 1 to 100" in result.stderr
    assert "127.0.0.1" not in result.stderr  # refused on the config, not after a connection attempt


@pytest.mark.parametrize(("symbol", "leverage", "limit"), [
    ("BTCUSDT", 100.5, "1 to 100"), ("SOLUSDT", 101, "1 to 100"), ("XRPUSDT", 80, "1 to 75"),
    ("BCHUSDT", 76, "1 to 75"),
])
def test_each_known_symbol_has_its_own_range(symbol, leverage, limit):
    [message] = problems({"symbol": symbol, "trade_management": {"leverage": leverage}})
    assert message == (f"trade_management.leverage: {leverage:g} is outside the leverage {symbol} allows on Bybit: "
                       f"{limit}")


def test_the_leverage_step():
    [message] = problems({"symbol": "BTCUSDT", "trade_management": {"leverage": 2.005}})
    assert message == "trade_management.leverage: 2.005 is not a multiple of BTCUSDT's leverage step on Bybit (0.01)"


@pytest.mark.parametrize(("symbol", "leverage"), [
    ("ETHUSDT", 100), ("XRPUSDT", 75), ("BCHUSDT", 1), ("BTCUSDT", 12.5), ("BTCUSDT", 2.01),
    ("DOGEUSDT", 150),  # rules not known offline: Bybit checks it at start
])
def test_allowed_values_pass(symbol, leverage):
    cfg = config_from_data({"symbol": symbol, "trade_management": {"leverage": leverage}}).config
    assert cfg.trade_management.leverage == leverage


def test_the_known_rules_are_bybits():
    assert {s: (i.min_leverage, i.max_leverage) for s, i in KNOWN.items()} == {
        "BTCUSDT": (1, 100), "ETHUSDT": (1, 100), "SOLUSDT": (1, 100), "XRPUSDT": (1, 75), "BCHUSDT": (1, 75)}
