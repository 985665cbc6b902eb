"""The kernels behind every indicator, for callers that own the arrays (the live engine, backtests).

For each indicator name (the public function's name) `spec(name)` gives the numba range kernel and
the names of its inputs, parameters, outputs and internal-state arrays. The call convention is

    kernel(*inputs, *params, *outputs, *states, start, end)

filling outputs and states at [start, end) from inputs at indices <= i and outputs/states at < i.
Allocate every output and state array with the inputs' length, NaN-filled, and keep them between
calls: computing [0, n) at once or [0, m) then [m, m+1), [m+1, m+2), ... gives bit-identical arrays,
and trimming the oldest candles of inputs, outputs and states together changes nothing as long as
`history_needed(name, **params)` candles are kept. `IndicatorBuffers` does this bookkeeping:

    b = IndicatorBuffers("macd", n, fast=12, slow=26, signal=9)
    b.run({"close": close}, 0, n)              # batch over the history
    ...append a closed candle to close...
    b.resize(n + 1); b.run({"close": close}, n, n + 1)
    line, signal, hist = b.outputs

A kernel never reads more than lookback(name, **params) + 1 candles before the one it computes.
"""

from __future__ import annotations

# Importing the indicator modules registers their kernels.
from whale.indicators import momentum, structure, trend, volatility, volume  # noqa: F401
from whale.indicators._registry import (
    HISTORY_TOLERANCE,
    REGISTRY,
    IndicatorBuffers,
    KernelSpec,
    compute,
    history_needed,
    lookback,
    spec,
)

__all__ = ["HISTORY_TOLERANCE", "REGISTRY", "IndicatorBuffers", "KernelSpec", "compute", "history_needed",
           "lookback", "names", "spec"]


def names() -> list[str]:
    """Every registered indicator name."""
    return sorted(REGISTRY)
