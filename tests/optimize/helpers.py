"""Shared set-up of the optimiser tests: the 5-minute BTC series resampled to 15 minutes (the config's
interval), and random parameter sets drawn from the default space."""

from __future__ import annotations

import random
from typing import Any

from tests.paths import DATA_DIR
from whale.config.model import Config, replace_path
from whale.optimize.space import Space, load_space

BTC_5M = DATA_DIR / "BTCUSDT_5m.csv.gz"
ETH_5M = DATA_DIR / "ETHUSDT_5m.csv.gz"


def base_config() -> Config:
    """The default config (15-minute interval) with no log file, so runs leave nothing behind."""
    return replace_path(Config(), "logging.file", "")


def random_params(space: Space, rng: random.Random) -> dict[str, Any]:
    return space.draw(rng)


def default_space() -> Space:
    return load_space(None, base_config())
