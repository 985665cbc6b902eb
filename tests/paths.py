"""Where the tests and benchmarks find the files they read: inside this repository, never beside it.

A user's clone has nothing next to it, so every path is resolved from the repository root
(`tests/test_self_contained.py` fails on any path that leaves it).
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"  # the six real candle series (data/README.md)
BUNDLED = DATA_DIR / "BTCUSDT-PERP_1m.csv.gz"  # the demo's and the backtest's default file
BYBIT_EXAMPLES = REPO_ROOT / "tests" / "fixtures" / "bybit"  # Bybit V5 example payloads (README there)
