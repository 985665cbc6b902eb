"""Named simulator scenarios: a price path, a script of book walls, faults and balance changes,
and the decision the bot must make with its recorded reason. Run one with
`python whalebot.py demo --scenario NAME`; `--list-scenarios` lists them.

Each scenario is a class in a module of this package, registered with @register. The demo runner
replays its candles in the simulator in lockstep with the live loop and calls `before_step(sim,
bot)` before every simulator step; `check(result, workdir)` returns what went differently from
the expectation (an empty list when the bot did what the scenario expects).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whale.market.candles import Candles

REGISTRY: dict[str, type[Scenario]] = {}


def register(cls: type[Scenario]) -> type[Scenario]:
    REGISTRY[cls.name] = cls
    return cls


@dataclass
class Scenario:
    """Base class: override the class attributes and the hooks that matter."""

    name = ""
    summary = ""  # one line for --list-scenarios
    expected = ""  # what the bot must do, in words (printed after the run)
    candles = 60  # primary candles replayed
    speed = 0.0  # simulator speed (replay ms per wall ms; 0 = as fast as possible)
    config: dict = field(default_factory=dict)  # dotted config keys -> values, over the demo config

    def data(self) -> Candles | Path | None:
        """The candles to replay (None: the bundled file)."""
        return None

    def sim_options(self) -> dict[str, Any]:
        return {}

    def before_step(self, sim, bot) -> None:
        """Called before every simulator step (walls, faults, balance changes)."""

    def check(self, result, workdir: Path) -> list[str]:
        """Problems with the outcome; empty when the bot did what `expected` says."""
        return []


def load_all() -> dict[str, type[Scenario]]:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(REGISTRY.items()))
