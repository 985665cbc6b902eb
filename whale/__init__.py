"""Whalebot: a Bybit USDT-perpetual trading bot with one decision path for live, demo and backtest."""

__version__ = "2.0.0"
