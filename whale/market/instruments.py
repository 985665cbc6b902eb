"""Instrument rules (tickSize, qtyStep, minimum size and notional, leverage limits).

Live trading takes them from Bybit's instruments-info, never guessed. Backtests and the
simulator have no exchange to ask, so they use the same rules Bybit publishes for the common
symbols, or rules inferred from the candle prices for others.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np


@dataclass(frozen=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    qty_step: Decimal
    min_order_qty: Decimal
    min_notional: Decimal
    max_order_qty: Decimal
    max_mkt_order_qty: Decimal
    max_leverage: Decimal = Decimal("100")
    min_leverage: Decimal = Decimal("1")
    leverage_step: Decimal = Decimal("0.01")

    @property
    def tick(self) -> float:
        return float(self.tick_size)

    @property
    def step(self) -> float:
        return float(self.qty_step)

    @property
    def price_decimals(self) -> int:
        """Digits after the point of a price: tickSize 0.10 -> 2."""
        return decimal_places(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        """Digits after the point of a quantity: qtyStep 0.001 -> 3."""
        return decimal_places(self.qty_step)

    def price_decimal(self, ticks: int) -> Decimal:
        """A price given in whole ticks, exactly."""
        return Decimal(ticks) * self.tick_size

    def qty_decimal(self, steps: int) -> Decimal:
        """A quantity given in whole qtySteps, exactly."""
        return Decimal(steps) * self.qty_step


def decimal_places(step: Decimal) -> int:
    """Digits after the point of a finite step as written: Decimal('0.10') -> 2, Decimal('1') -> 0."""
    exponent = step.as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N', 'F': NaN or infinity
        raise ValueError(f"not a finite step: {step}")
    return max(0, -exponent)


def _inst(symbol: str, tick: str, step: str, min_qty: str, max_qty: str, max_mkt: str,
          max_lev: str = "100") -> Instrument:
    return Instrument(symbol, Decimal(tick), Decimal(step), Decimal(min_qty), Decimal("5"), Decimal(max_qty),
                      Decimal(max_mkt), Decimal(max_lev))


KNOWN: dict[str, Instrument] = {
    "BTCUSDT": _inst("BTCUSDT", "0.10", "0.001", "0.001", "1190.000", "500.000"),
    "ETHUSDT": _inst("ETHUSDT", "0.01", "0.01", "0.01", "7240.00", "3620.00"),
    "SOLUSDT": _inst("SOLUSDT", "0.010", "0.1", "0.1", "79770.0", "39880.0"),
    "XRPUSDT": _inst("XRPUSDT", "0.0001", "1", "1", "2934510", "1467250", "75"),
    "BCHUSDT": _inst("BCHUSDT", "0.05", "0.01", "0.01", "1320.00", "660.00", "75"),
}


def instrument_for(symbol: str, prices: np.ndarray | None = None) -> Instrument:
    """Bybit's published rules for a known symbol, else rules inferred from the candle prices:
    the tick is the finest decimal the prices use, and the qty step keeps one step near 5 USDT."""
    if symbol in KNOWN:
        return KNOWN[symbol]
    decimals = 2
    if prices is not None and len(prices):
        sample = np.asarray(prices[: min(len(prices), 5000)], dtype=np.float64)
        for d in range(0, 9):
            if np.all(np.abs(sample * 10 ** d - np.round(sample * 10 ** d)) < 1e-6):
                decimals = d
                break
        else:
            decimals = 8
    tick = Decimal(1).scaleb(-decimals)
    price = float(np.median(prices)) if prices is not None and len(prices) else 100.0
    step_exp = int(np.floor(np.log10(max(5.0 / price, 1e-8))))
    step = Decimal(1).scaleb(step_exp)
    return Instrument(symbol, tick, step, step, Decimal("5"), step * 1_000_000, step * 500_000)
