"""A small day-like recording for the backtest --book tests: 36 minutes of bench/book_stream.py's
BTCUSDT stream (orderbook.200 every 100 ms with churn and walls, trades, tickers), and the density
config that trades on it (1-minute candles, no higher timeframes, the scenarios' density keys)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import book_stream
from whale.config import config_from_data
from whale.config.model import Config

DENSITY_CONFIG = {
    "strategy": {"mode": "density"},
    "interval": "1",
    "mtf_analysis": {"enabled": False},
    "trade_management": {"close_on_opposite_signal": False, "risk_per_trade_percent": 0.25,
                         "account_balance": 1000.0},
}


def write_recording(out: Path, hours: float = 0.6, seed: int = 1) -> Path:
    return book_stream.write_recording(out, hours, seed)


def density_config(tmp: Path, log_file: Path | None = None) -> tuple[Config, Path]:
    data = dict(DENSITY_CONFIG)
    if log_file is not None:
        data["logging"] = {"file": str(log_file)}
    path = tmp / "density.json"
    path.write_text(json.dumps(DENSITY_CONFIG))
    return config_from_data(data, source=str(path)).config, path
