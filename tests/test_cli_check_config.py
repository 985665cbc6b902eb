"""`python whalebot.py check-config` end to end, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.net

REPO = Path(__file__).resolve().parent.parent
SECRET_VARS = ("BYBIT_API_KEY", "BYBIT_API_SECRET", "WHALEBOT_WEBHOOK_URL")

# The original author's live file as docs/original.md#config-keys describes it: BCHUSDT on
# "1", threshold 1.0, the precision / fee / slippage keys, the wb1.1.0 trade-management keys,
# explicit toggles including the extended set and wb1.1.0's volatility filter, and weights kept
# in weight_sets (with the whalebot.py branch's per-oscillator weights).
AUTHOR_FILE = """{
    "symbol": "BCHUSDT",
    "interval": "1",
    "loop_delay": 15,
    "orderbook_limit": 50,
    "signal_score_threshold": 1.0,
    "cooldown_sec": 60,
    "hysteresis_ratio": 0.85,
    "volume_confirmation_multiplier": 1.5,
    "trade_management": {
        "enabled": true,
        "account_balance": 1000.0,
        "risk_per_trade_percent": 1.0,
        "stop_loss_atr_multiple": 1.5,
        "take_profit_atr_multiple": 2.0,
        "max_open_positions": 1,
        "order_precision": 5,
        "price_precision": 3,
        "slippage_percent": 0.001,
        "trading_fee_percent": 0.0005,
        "enable_trailing_stop": true,
        "trailing_stop_atr_multiple": 0.8,
        "break_even_atr_trigger": 0.5,
        "move_to_breakeven_atr_trigger": 1.0,
        "profit_lock_in_atr_multiple": 0.5,
        "close_on_opposite_signal": true,
        "reverse_position_on_opposite_signal": false
    },
    "mtf_analysis": {
        "enabled": true,
        "higher_timeframes": ["60", "240"],
        "trend_indicators": ["ema", "ehlers_supertrend"],
        "trend_period": 50,
        "mtf_request_delay_seconds": 0.5
    },
    "indicator_settings": {
        "atr_period": 14, "ema_short_period": 9, "ema_long_period": 21, "rsi_period": 14,
        "macd_fast_period": 12, "macd_slow_period": 26, "macd_signal_period": 9,
        "rsi_oversold": 30, "rsi_overbought": 70, "cci_oversold": -100, "cci_overbought": 100,
        "kama_period": 10, "kama_fast_period": 2, "kama_slow_period": 30,
        "roc_period": 12, "roc_oversold": -5.0, "roc_overbought": 5.0
    },
    "indicators": {
        "ema_alignment": true, "sma_trend_filter": true, "momentum": true, "volume_confirmation": true,
        "stoch_rsi": true, "rsi": true, "bollinger_bands": true, "vwap": true, "cci": true, "wr": true,
        "psar": true, "sma_10": true, "mfi": true, "orderbook_imbalance": true, "fibonacci_levels": true,
        "ehlers_supertrend": true, "macd": true, "adx": true, "ichimoku_cloud": true, "obv": true,
        "cmf": true, "volatility_index": true, "vwma": true, "volume_delta": true,
        "volatility_filter": true, "kaufman_ama": true, "relative_volume": true, "market_structure": true,
        "dema": true, "keltner_channels": true, "roc": true, "candlestick_patterns": true,
        "fibonacci_pivot_points": true
    },
    "weight_sets": {
        "default_scalping": {
            "ema_alignment": 0.22, "sma_trend_filter": 0.28, "momentum_rsi_stoch_cci_wr_mfi": 0.18,
            "bollinger_bands": 0.22, "vwap": 0.22, "psar": 0.22, "sma_10": 0.07,
            "orderbook_imbalance": 0.07, "ehlers_supertrend_alignment": 0.55, "macd_alignment": 0.28,
            "adx_strength": 0.18, "ichimoku_confluence": 0.38, "obv_momentum": 0.18, "cmf_flow": 0.12,
            "mtf_trend_confluence": 0.32, "volatility_index_signal": 0.15, "vwma_cross": 0.15,
            "volume_delta_signal": 0.10, "kaufman_ama_cross": 0.20, "relative_volume_confirmation": 0.10,
            "market_structure_confluence": 0.25, "dema_crossover": 0.18, "keltner_breakout": 0.20,
            "roc_signal": 0.12, "candlestick_confirmation": 0.15, "fibonacci_pivot_points_confluence": 0.2,
            "rsi": 0.15, "stoch_rsi": 0.15, "cci": 0.1, "wr": 0.1, "mfi": 0.1
        },
        "aggressive_trend": {"ema_alignment": 0.4, "volume_confirmation": 0.15}
    }
}
"""
AUTHOR_LEGACY_KEYS = [
    "symbol", "trade_management.order_precision", "trade_management.price_precision",
    "trade_management.slippage_percent", "trade_management.trading_fee_percent",
    "indicators.volatility_filter", "weight_sets",
    "weight_sets.default_scalping.rsi", "weight_sets.default_scalping.stoch_rsi",
    "weight_sets.default_scalping.cci", "weight_sets.default_scalping.wr", "weight_sets.default_scalping.mfi",
]


def check_config(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "whalebot.py", "check-config", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, text: str, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_committed_config_is_ok():
    before = (REPO / "config.json").read_bytes()
    result = check_config()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "config OK\n" and result.stderr == ""
    assert (REPO / "config.json").read_bytes() == before


def test_partial_file_is_ok(tmp_path):
    result = check_config("--config", str(write(tmp_path, '{"symbols": ["ETHUSDT"], "dry_run": true}')))
    assert (result.returncode, result.stdout) == (0, "config OK\n")


def test_several_problems_at_once(tmp_path):
    path = write(tmp_path, json.dumps({
        "interval": 15,
        "orderbook_limit": 100,
        "trade_management": {"risk_per_trade_percent": 150, "leverag": 5},
        "mtf_analysis": {"higher_timeframes": ["60", "4h"]},
        "active_weights": {"ema_alignmnt": 0.3},
        "indicators": {"macd_cross": True},
        "indicator_settings": {"rsi_oversold": 75},
        "safety": {"max_drawdown_soft_percent": 40, "max_drawdown_hard_percent": 30},
        "exchange": {"network": "custom"},
        "api_key": "do-not-echo-1234",
    }, indent=4))
    result = check_config("--config", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {path} has 13 problems:"
    for key in ("interval", "orderbook_limit", "trade_management.risk_per_trade_percent",
                "trade_management.leverag", "mtf_analysis.higher_timeframes[1]", "active_weights.ema_alignmnt",
                "indicators.macd_cross", "indicator_settings.rsi_oversold", "safety.max_drawdown_soft_percent",
                "exchange.rest_url", "exchange.public_ws_url", "exchange.private_ws_url", "api_key"):
        assert sum(line.startswith(f"  {key}: ") for line in lines) == 1, key
    assert 'use "15"' in result.stderr and "did you mean 'leverage'?" in result.stderr
    assert "do-not-echo-1234" not in result.stderr


def test_author_live_file_loads_with_deprecation_warnings(tmp_path):
    path = write(tmp_path, AUTHOR_FILE)
    result = check_config("--config", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[-1] == "config OK" and result.stderr == ""
    warnings = out[:-1]
    assert all(line.startswith("warning: ") for line in warnings)
    assert sorted(line[len("warning: "):].split(": ", 1)[0] for line in warnings) == sorted(AUTHOR_LEGACY_KEYS)
    fee_line = [w for w in warnings if "trading_fee_percent" in w][0]
    assert "fees.taker_rate" in fee_line and "fraction" in fee_line
    assert path.read_text(encoding="utf-8") == AUTHOR_FILE  # never rewritten


def test_json_syntax_error_shows_line(tmp_path):
    path = write(tmp_path, '{\n    "symbol": "BTCUSDT",\n    "interval": "15"\n    "loop_delay": 15\n}\n')
    result = check_config("--config", str(path))
    assert result.returncode == 2
    assert f"{path}: JSON syntax error at line 4, column 5" in result.stderr
    assert '  4 |     "loop_delay": 15' in result.stderr


def test_missing_file_is_not_created(tmp_path):
    path = tmp_path / "absent.json"
    result = check_config("--config", str(path))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not path.exists()


def test_top_level_not_an_object(tmp_path):
    result = check_config("--config", str(write(tmp_path, '["symbol", "BTCUSDT"]')))
    assert result.returncode == 2 and "must be a JSON object" in result.stderr


def test_warnings_are_shown_even_when_the_file_fails(tmp_path):
    result = check_config("--config", str(write(tmp_path, '{"ml_enhancement": {}, "loop_delay": -1}')))
    assert result.returncode == 2
    assert result.stdout.startswith("warning: ml_enhancement: deprecated")
    assert "loop_delay: -1 is out of range (0, 3600]" in result.stderr
