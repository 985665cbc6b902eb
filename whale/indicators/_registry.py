"""The kernel registry: what each indicator's kernel takes, and buffers a caller can own and extend.

A kernel is called as ``kernel(*inputs, *params, *outputs, *states, start, end)``; all outputs and
states are float64 arrays of the same length as the inputs, allocated by the caller and filled with
NaN (NaN means "not computed yet / warming up"). `IndicatorBuffers` does that bookkeeping for one
indicator instance; the public functions in `whale.indicators` are `compute()` over [0, n).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Relative agreement the history figures are made for (docs/indicators.md, "History needed").
HISTORY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class KernelSpec:
    """How to call one indicator's range kernel.

    inputs   names of the input arrays, in call order ("high", "low", "close", "x", ...); all float64
             except "timestamp_ms" (int64)
    params   (name, type) in call order; `normalize` maps the public keyword arguments to them
    outputs  names of the output arrays, in call order (what the public function returns)
    states   names of the internal-state arrays (not outputs, but the caller must keep them)
    lookback params -> index of the first candle where every output is defined
    history  params -> candles of history a cold start needs to agree with a full-history run
             within HISTORY_TOLERANCE (measured on the real data: docs/indicators.md)
    """

    name: str
    kernel: Any
    inputs: tuple[str, ...]
    params: tuple[tuple[str, type], ...]
    outputs: tuple[str, ...]
    states: tuple[str, ...]
    lookback: Callable[..., int]
    history: Callable[..., int]
    normalize: Callable[..., dict] | None = None

    def resolve(self, **params: Any) -> dict:
        """Public keyword arguments -> the kernel's parameters, converted and checked."""
        if self.normalize is not None:
            params = self.normalize(**params)
        names = [p for p, _ in self.params]
        missing = [p for p in names if p not in params]
        extra = [p for p in params if p not in names]
        if missing or extra:
            raise TypeError(f"{self.name}: missing parameters {missing}, unexpected {extra}")
        out = {}
        for pname, ptype in self.params:
            value = ptype(params[pname])
            if ptype is int and value < 1:
                raise ValueError(f"{self.name}: {pname} must be >= 1, got {value}")
            if ptype is float and not math.isfinite(value):
                raise ValueError(f"{self.name}: {pname} must be finite, got {value}")
            out[pname] = value
        return out


REGISTRY: dict[str, KernelSpec] = {}


def register(spec: KernelSpec) -> KernelSpec:
    REGISTRY[spec.name] = spec
    return spec


def spec(name: str) -> KernelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown indicator {name!r}; known: {sorted(REGISTRY)}") from None


def lookback(name: str, **params: Any) -> int:
    """Index of the first candle at which every output of `name` is defined (its warm-up)."""
    s = spec(name)
    return int(s.lookback(**s.resolve(**params)))


def history_needed(name: str, **params: Any) -> int:
    """Candles of history a cold start needs so its values match a full-history computation."""
    s = spec(name)
    extra = {k: params.pop(k) for k in list(params) if k == "interval_ms"}
    return int(s.history(**s.resolve(**params), **extra))


def as_f64(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _as_input(name: str, x: Any) -> np.ndarray:
    if name == "timestamp_ms":
        return np.ascontiguousarray(x, dtype=np.int64)
    return as_f64(x)


class IndicatorBuffers:
    """Output and state arrays of one indicator instance, owned by the caller (the live engine).

    Typical live use: ``b = IndicatorBuffers("rsi", n, period=14); b.run(inputs, 0, n)`` for the
    history, then for each new closed candle append it to the inputs, ``b.resize(n + 1)`` and
    ``b.run(inputs, n, n + 1)``. ``b.drop_front(k)`` trims the oldest k candles (trim the inputs by
    the same k). Results are bit-identical to one batch run over the same inputs.
    """

    def __init__(self, name: str, n: int, **params: Any) -> None:
        self.name = name
        self.n = int(n)
        self.spec = spec(name)
        self.params = self.spec.resolve(**params)
        self._args = tuple(self.params[p] for p, _ in self.spec.params)
        self.arrays: dict[str, np.ndarray] = {
            a: np.full(self.n, np.nan) for a in self.spec.outputs + self.spec.states}

    @property
    def outputs(self) -> tuple[np.ndarray, ...]:
        return tuple(self.arrays[a] for a in self.spec.outputs)

    def run(self, inputs: Mapping[str, Any] | Sequence[Any], start: int, end: int) -> None:
        """Compute [start, end); inputs by name or in `spec.inputs` order, at least `end` long."""
        if isinstance(inputs, Mapping):
            arrs = [_as_input(k, inputs[k]) for k in self.spec.inputs]
        else:
            arrs = [_as_input(k, v) for k, v in zip(self.spec.inputs, inputs, strict=True)]
        if not 0 <= start <= end <= self.n or any(a.shape[0] < end for a in arrs):
            raise ValueError(f"{self.name}: bad range [{start}, {end}) for buffers of {self.n} "
                             f"and inputs of {[a.shape[0] for a in arrs]}")
        if start == end:
            return
        bufs = [self.arrays[a] for a in self.spec.outputs + self.spec.states]
        self.spec.kernel(*arrs, *self._args, *bufs, start, end)

    def resize(self, n: int) -> None:
        """Grow (NaN-filled) or shrink at the end, keeping the computed prefix."""
        for k, a in self.arrays.items():
            b = np.full(n, np.nan)
            m = min(n, self.n)
            b[:m] = a[:m]
            self.arrays[k] = b
        self.n = n

    def drop_front(self, k: int) -> None:
        """Forget the oldest k candles (the kernels only ever look a bounded distance back)."""
        for key, a in self.arrays.items():
            self.arrays[key] = a[k:].copy()
        self.n -= k


def run_into(name: str, inputs: Sequence[Any], outputs: Sequence[np.ndarray], **params: Any) -> None:
    """Batch run over [0, n) into caller-made outputs (e.g. rows of one 2-D array); the states are
    temporary. A run over [0, n) writes every element, so the outputs need no NaN fill."""
    s = spec(name)
    arrs = [_as_input(k, v) for k, v in zip(s.inputs, inputs, strict=True)]
    n = arrs[0].shape[0]
    if any(a.ndim != 1 or a.shape[0] != n for a in arrs):
        raise ValueError(f"{name}: inputs must be 1-D and of equal length, got {[a.shape for a in arrs]}")
    if len(outputs) != len(s.outputs) or any(o.shape != (n,) for o in outputs):
        raise ValueError(f"{name}: need {len(s.outputs)} outputs of length {n}")
    values = s.resolve(**params)
    states = [np.empty(n) for _ in s.states]
    s.kernel(*arrs, *(values[p] for p, _ in s.params), *outputs, *states, 0, n)


def compute(name: str, inputs: Sequence[Any], **params: Any) -> tuple[np.ndarray, ...]:
    """Batch form behind every public function: the outputs over the whole input."""
    s = spec(name)
    arrs = [_as_input(k, v) for k, v in zip(s.inputs, inputs, strict=True)]
    outputs = tuple(np.empty(arrs[0].shape[0]) for _ in s.outputs)
    run_into(name, arrs, outputs, **params)
    return outputs


def decay_candles(retain: float, tol: float = 1e-12) -> int:
    """Candles for a geometric memory `retain`**k to fall below tol (history of an EMA-like filter)."""
    if retain <= 0.0:
        return 0
    return int(math.ceil(math.log(tol) / math.log(retain)))


def wilder_history(period: int) -> int:
    """History of a Wilder (alpha 1/period) average seeded at index `period`."""
    return period + decay_candles(1.0 - 1.0 / period)
