"""Whalebot: a Bybit USDT-perpetual trading bot with one decision path for live, demo and backtest."""

from whale.numba_cache import use_source_keyed_cache

__version__ = "2.0.0"

use_source_keyed_cache()  # before any module imports numba
