"""The replayed symbol's instrument: Bybit's published rules (shared with the backtest through
whale.market.instruments) plus what instruments-info also shows, and the number formats of the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np

from whale.market.instruments import Instrument, instrument_for
from whale.sim.codes import MIN_NOTIONAL, ExchangeError, params_error
from whale.sim.payloads import plain

_SYMBOL_IDS = {"BTCUSDT": 5, "ETHUSDT": 6}
_LAUNCH = {"BTCUSDT": "1585526400000", "ETHUSDT": "1615766400000"}


@dataclass(frozen=True)
class SimInstrument:
    rules: Instrument
    base_coin: str
    price_scale: int
    qty_decimals: int
    tick: float = field(init=False)
    step: float = field(init=False)
    _price_text: dict[int, str] = field(init=False, repr=False, compare=False)  # caches of the wire texts
    _qty_text: dict[int, str] = field(init=False, repr=False, compare=False)

    @property
    def symbol(self) -> str:
        return self.rules.symbol

    def __post_init__(self) -> None:
        object.__setattr__(self, "tick", self.rules.tick)
        object.__setattr__(self, "step", self.rules.step)
        object.__setattr__(self, "_price_text", {})
        object.__setattr__(self, "_qty_text", {})

    def price_text(self, ticks: int) -> str:
        """The wire text of a price given in ticks (cached: the book formats the same levels again and again)."""
        text = self._price_text.get(ticks)
        if text is None:
            text = self._price_text[ticks] = f"{ticks * self.tick:.{self.price_scale}f}"
        return text

    def qty_text(self, steps: int) -> str:
        text = self._qty_text.get(steps)
        if text is None:
            text = self._qty_text[steps] = f"{steps * self.step:.{self.qty_decimals}f}" if steps else "0"
        return text

    @property
    def min_price(self) -> Decimal:
        return self.rules.tick_size

    @property
    def max_price(self) -> Decimal:
        return self.rules.tick_size * 19_999_998

    def fmt_price(self, price: float | Decimal) -> str:
        return f"{price:.{self.price_scale}f}"

    def fmt_qty(self, qty: float | Decimal) -> str:
        return f"{qty:.{self.qty_decimals}f}"

    def price_of(self, ticks: int) -> Decimal:
        return self.rules.price_decimal(ticks)

    def info(self) -> dict:
        """One instruments-info list item (linear perpetual)."""
        r = self.rules
        return {
            "symbol": r.symbol, "symbolId": _SYMBOL_IDS.get(r.symbol, 1000), "contractType": "LinearPerpetual",
            "status": "Trading", "baseCoin": self.base_coin, "quoteCoin": "USDT",
            "launchTime": _LAUNCH.get(r.symbol, "1640995200000"), "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": str(self.price_scale),
            "leverageFilter": {"minLeverage": plain(r.min_leverage), "maxLeverage": f"{r.max_leverage:.2f}",
                               "leverageStep": str(r.leverage_step)},
            "priceFilter": {"minPrice": self.fmt_price(self.min_price), "maxPrice": self.fmt_price(self.max_price),
                            "tickSize": str(r.tick_size)},
            "lotSizeFilter": {"maxOrderQty": str(r.max_order_qty), "minOrderQty": str(r.min_order_qty),
                              "qtyStep": str(r.qty_step), "postOnlyMaxOrderQty": str(r.max_order_qty),
                              "maxMktOrderQty": str(r.max_mkt_order_qty), "minNotionalValue": plain(r.min_notional)},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False,
            "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": "",
        }

    # --- request validation (10001 for precision and limits, 110094 for notional) ---

    def check_qty(self, qty: Decimal, market: bool) -> None:
        r = self.rules
        if qty % r.qty_step != 0:
            raise params_error(f"Qty invalid: {qty} is not a multiple of qtyStep {r.qty_step}")
        if qty < r.min_order_qty:
            raise params_error(f"Qty invalid: {qty} is below minOrderQty {r.min_order_qty}")
        cap = r.max_mkt_order_qty if market else r.max_order_qty
        if qty > cap:
            kind = "maxMktOrderQty" if market else "maxOrderQty"
            raise params_error(f"The quantity of a single order exceeds the maximum limit: {qty} > {kind} {cap}")

    def check_price(self, price: Decimal, field: str = "price") -> None:
        if price % self.rules.tick_size != 0:
            raise params_error(f"{field} invalid: {price} is not a multiple of tickSize {self.rules.tick_size}")
        if price < self.min_price or price > self.max_price:
            raise params_error(f"{field} invalid: {price} is outside [{self.min_price}, {self.max_price}]")

    def check_notional(self, qty: Decimal, price: Decimal) -> None:
        if qty * price < self.rules.min_notional:
            raise ExchangeError(MIN_NOTIONAL, f"The order value is below the minimum of "
                                              f"{plain(self.rules.min_notional)}USDT (minNotionalValue)")


def parse_decimal(value, field: str, *, positive: bool = True, allow_zero: bool = False) -> Decimal:
    """A request number (string, or a plain JSON number as pybit may send) as Decimal, or 10001."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise params_error(f"{field} invalid: {value!r}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise params_error(f"{field} invalid: {value!r}") from None
    if not d.is_finite():
        raise params_error(f"{field} invalid: {value!r}")
    if d < 0 or (positive and d == 0 and not allow_zero):
        raise params_error(f"{field} invalid: {value!r}")
    return d


def sim_instrument(symbol: str, prices: np.ndarray | None) -> SimInstrument:
    rules = instrument_for(symbol, prices)
    base = symbol[:-4] if symbol.endswith("USDT") else symbol
    return SimInstrument(rules, base, rules.price_decimals, rules.qty_decimals)
