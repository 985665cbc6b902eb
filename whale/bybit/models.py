"""Typed records for what the REST client returns, and the parsers that build them from Bybit's
strings (docs/bybit.md#wire-conventions: every number is a JSON string; parse with Decimal,
never float).

The same parsers read REST `result.list` items and private WebSocket `data` items (the position
topic calls the entry price `entryPrice` where REST says `avgPrice`; both are accepted). Unset
optional prices come as "", "0" or "0.00": they become None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)


def dec(value: Any, default: Decimal | None = None) -> Decimal:
    """A Decimal from a Bybit string (or int); "" / None give `default` (ValueError without one)."""
    if value is None or value == "":
        if default is not None:
            return default
        raise ValueError("missing number")
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def opt_dec(value: Any) -> Decimal | None:
    """None for "", "0", "0.00" and None (Bybit's ways of saying "unset"), else the Decimal."""
    if value is None or value == "":
        return None
    d = dec(value)
    return None if d == 0 else d


def opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return int(Decimal(str(value)))


def fmt_decimal(value: Any) -> str:
    """The string sent to Bybit for a price or quantity: from a Decimal, an int or a numeric string,
    in plain notation. Floats are refused (0.1 + 0.2 would go out as "0.30000000000000004")."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"prices and quantities must be Decimal (or str/int), not {type(value).__name__}: {value!r}")
    if isinstance(value, (int, str)):
        value = dec(value)
    if not isinstance(value, Decimal):
        raise TypeError(f"prices and quantities must be Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    text = format(value, "f")
    return "0" if text in ("-0", "0", "-0.0") else text


@dataclass(frozen=True)
class OrderResult:
    """What place_order knows about an order. `status` is None when Bybit only acknowledged it (the
    acknowledgement is asynchronous; the private `order` stream or get_order tells the outcome);
    after an ambiguous answer the order was looked up (`resolved_by_query`) and `order` is its record."""

    order_id: str
    link_id: str
    status: str | None = None
    resolved_by_query: bool = False
    order: dict | None = None


@dataclass(frozen=True)
class PositionInfo:
    symbol: str
    side: str | None  # "Buy" | "Sell" | None when flat
    size: Decimal
    avg_price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trailing_stop: Decimal | None
    position_idx: int
    leverage: Decimal | None
    unrealised_pnl: Decimal
    updated_ms: int | None
    mark_price: Decimal | None = None
    liq_price: Decimal | None = None
    created_ms: int | None = None

    @property
    def is_open(self) -> bool:
        return self.size > 0


def parse_position(d: Mapping[str, Any]) -> PositionInfo:
    size = dec(d.get("size"), ZERO)
    side = d.get("side") or None
    avg = d.get("avgPrice") if d.get("avgPrice") not in (None, "") else d.get("entryPrice")
    return PositionInfo(
        symbol=str(d.get("symbol", "")), side=side if size > 0 else None, size=size, avg_price=opt_dec(avg),
        stop_loss=opt_dec(d.get("stopLoss")), take_profit=opt_dec(d.get("takeProfit")),
        trailing_stop=opt_dec(d.get("trailingStop")), position_idx=int(d.get("positionIdx") or 0),
        leverage=opt_dec(d.get("leverage")), unrealised_pnl=dec(d.get("unrealisedPnl"), ZERO),
        updated_ms=opt_int(d.get("updatedTime")), mark_price=opt_dec(d.get("markPrice")),
        liq_price=opt_dec(d.get("liqPrice")), created_ms=opt_int(d.get("createdTime")))


@dataclass(frozen=True)
class WalletInfo:
    """The UNIFIED account (amounts in USD, as Bybit reports them) and each coin's wallet balance."""

    total_equity: Decimal
    total_available: Decimal
    wallet_balance: Decimal
    unrealised_pnl: Decimal = ZERO
    coins: dict[str, Decimal] = field(default_factory=dict)


def parse_wallet(account: Mapping[str, Any]) -> WalletInfo:
    coins = {}
    for c in account.get("coin") or []:
        try:
            coins[str(c.get("coin"))] = dec(c.get("walletBalance"), ZERO)
        except (ValueError, AttributeError):
            continue
    return WalletInfo(total_equity=dec(account.get("totalEquity"), ZERO),
                      total_available=dec(account.get("totalAvailableBalance"), ZERO),
                      wallet_balance=dec(account.get("totalWalletBalance"), ZERO),
                      unrealised_pnl=dec(account.get("totalPerpUPL"), ZERO), coins=coins)


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: str
    link_id: str
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    exec_type: str  # Trade, Funding, AdlTrade, BustTrade, ...
    exec_time: int
    closed_size: Decimal
    is_maker: bool
    symbol: str = ""
    order_type: str = ""
    stop_order_type: str = ""
    create_type: str = ""


def parse_execution(d: Mapping[str, Any]) -> Execution:
    return Execution(exec_id=str(d.get("execId", "")), order_id=str(d.get("orderId", "")),
                     link_id=str(d.get("orderLinkId", "")), side=str(d.get("side", "")),
                     price=dec(d.get("execPrice"), ZERO), qty=dec(d.get("execQty"), ZERO),
                     fee=dec(d.get("execFee"), ZERO), exec_type=str(d.get("execType", "")),
                     exec_time=opt_int(d.get("execTime")) or 0, closed_size=dec(d.get("closedSize"), ZERO),
                     is_maker=bool(d.get("isMaker", False)), symbol=str(d.get("symbol", "")),
                     order_type=str(d.get("orderType", "")), stop_order_type=str(d.get("stopOrderType", "")),
                     create_type=str(d.get("createType", "")))


@dataclass(frozen=True)
class ClosedPnl:
    symbol: str
    order_id: str
    side: str  # the side of the closing order
    qty: Decimal
    closed_size: Decimal
    avg_entry_price: Decimal
    avg_exit_price: Decimal
    closed_pnl: Decimal
    open_fee: Decimal | None
    close_fee: Decimal | None
    created_ms: int
    updated_ms: int
    order_type: str = ""
    exec_type: str = ""
    leverage: Decimal | None = None


def parse_closed_pnl(d: Mapping[str, Any]) -> ClosedPnl:
    return ClosedPnl(symbol=str(d.get("symbol", "")), order_id=str(d.get("orderId", "")), side=str(d.get("side", "")),
                     qty=dec(d.get("qty"), ZERO), closed_size=dec(d.get("closedSize"), ZERO),
                     avg_entry_price=dec(d.get("avgEntryPrice"), ZERO), avg_exit_price=dec(d.get("avgExitPrice"), ZERO),
                     closed_pnl=dec(d.get("closedPnl"), ZERO),
                     open_fee=dec(d["openFee"]) if d.get("openFee") not in (None, "") else None,
                     close_fee=dec(d["closeFee"]) if d.get("closeFee") not in (None, "") else None,
                     created_ms=opt_int(d.get("createdTime")) or 0, updated_ms=opt_int(d.get("updatedTime")) or 0,
                     order_type=str(d.get("orderType", "")), exec_type=str(d.get("execType", "")),
                     leverage=opt_dec(d.get("leverage")))
