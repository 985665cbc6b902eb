"""Symbols with a chosen correlation, derived from one real candle series (for tests and benchmarks).

Only BTC and ETH candles are bundled, and copies of one series are the same bet to the correlation
rule. So each derived symbol i mixes the real series' log returns r_t with log returns b_t drawn by a
block bootstrap of the same series (blocks of `block` consecutive candles from random places,
independent for every symbol, seeded):

    m_t = w_i * r_t + sqrt(1 - w_i^2) * b_t

The two parts have the same distribution and are about independent, so m keeps the real series'
volatility, corr(m_i, r) = w_i and corr(m_i, m_j) = w_i * w_j. `weight_for(rho)` gives the weight
two symbols of one weight need to correlate at rho. Prices are rebuilt from the returns (each open is
the previous close) from a start price; each candle's wicks and notional volume are a mix, with
weights w^2 and 1 - w^2, of those of the two candles its return came from; prices are rounded to a
tick of about six significant digits. docs/portfolio.md ("Data for many symbols") shows what the
recipe measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from whale.market.candles import Candles


def weight_for(correlation: float) -> float:
    """The weight w of the real returns that gives two symbols of that weight the correlation w^2."""
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"correlation {correlation} is not in [0, 1]")
    return math.sqrt(correlation)


def tick_for(price: float) -> float:
    """A tick of about six significant digits at `price` (ETH at 2,500 -> 0.01)."""
    return float(10.0 ** (math.floor(math.log10(price)) - 5))


def block_bootstrap(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Indices 0..n-1 of n draws: blocks of `block` consecutive indices starting at random places."""
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    idx = (starts[:, None] + np.arange(block)[None, :]).ravel()
    return idx[:n]


def derive_symbols(base: Candles, weights: Sequence[float], *, seed: int, block: int = 240,
                   start_prices: Sequence[float] | None = None) -> list[Candles]:
    """One Candles per weight, on base's timestamps (module docstring). `start_prices` default: the
    base's first open for every symbol."""
    if len(base) < 3:
        raise ValueError("the base series needs at least 3 candles")
    for w in weights:
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"weight {w} is not in [0, 1]")
    prices = list(start_prices) if start_prices is not None else [float(base.open[0])] * len(weights)
    if len(prices) != len(weights):
        raise ValueError(f"{len(weights)} weights but {len(prices)} start prices")
    o, h, lo, c, v = base.open, base.high, base.low, base.close, base.volume
    prev = np.concatenate(([o[0]], c[:-1]))
    r = np.log(c / prev)  # each candle's return from the previous close (the first from its open)
    body_hi, body_lo = np.maximum(o, c), np.minimum(o, c)
    up = np.log(h / body_hi)
    down = np.log(body_lo / lo)
    notional = v * c
    n = len(base)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(weights))]
    out = []
    for w, p0, rng in zip(weights, prices, rngs, strict=True):
        j = block_bootstrap(n, block, rng)
        a, b = w, math.sqrt(max(0.0, 1.0 - w * w))
        m = a * r + b * r[j]
        close = p0 * np.exp(np.cumsum(m))
        open_ = np.concatenate(([p0], close[:-1]))
        w2 = w * w
        hi = np.maximum(open_, close) * np.exp(w2 * up + (1.0 - w2) * up[j])
        low = np.minimum(open_, close) * np.exp(-(w2 * down + (1.0 - w2) * down[j]))
        tick = tick_for(p0)
        o_t, c_t = _on_tick(open_, tick), _on_tick(close, tick)
        h_t = np.maximum(_on_tick(hi, tick), np.maximum(o_t, c_t))
        l_t = np.maximum(np.minimum(_on_tick(low, tick), np.minimum(o_t, c_t)), tick)
        vol = (w2 * notional + (1.0 - w2) * notional[j]) / close
        out.append(Candles.from_arrays(base.ts, o_t, h_t, l_t, c_t, np.round(vol, 3), base.interval))
    return out


def _on_tick(x: np.ndarray, tick: float) -> np.ndarray:
    """Round to the tick, kept as the short decimal it is (so files show 2500.01, not 2500.0100000000002)."""
    decimals = max(0, -math.floor(math.log10(tick) + 1e-9))
    return np.round(np.round(x / tick) * tick, decimals)


def log_returns(close: np.ndarray) -> np.ndarray:
    return np.diff(np.log(close))
