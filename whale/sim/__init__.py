"""Embedded Bybit V5 exchange simulator: REST + WebSocket on 127.0.0.1 with real auth, candle
replay along the core's bar path for one or several symbols on one account, a synthetic order book
with walls, a matching engine sharing the backtest's fill model, injectable faults, and a
stream-rate mode for benchmarks. See docs/simulator.md.

`Simulator`, `SimConfig`, `parse_faults` and `FaultSpec` load on first use, so importing the
defaults (for example to build the CLI) stays cheap.
"""

from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_PORT, HOST

_LAZY = {"Simulator": "whale.sim.server", "SimConfig": "whale.sim.server", "BUNDLED_DATA": "whale.candle_file",
         "FaultSpec": "whale.sim.faults", "parse_faults": "whale.sim.faults"}

__all__ = ["BUNDLED_DATA", "DEFAULT_API_KEY", "DEFAULT_API_SECRET", "DEFAULT_PORT", "HOST", "FaultSpec",
           "SimConfig", "Simulator", "parse_faults"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'whale.sim' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)
