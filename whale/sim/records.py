"""The matching engine's records: orders, positions, fills and closed-PnL entries.

Prices and quantities are Decimal (principle 6: money and orders are exact); the hot per-tick
checks use the float copies (`limit_f`, `trigger_f`) kept beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

D0 = Decimal(0)
Q8 = Decimal("0.00000001")
OPEN_STATUSES = frozenset(("New", "PartiallyFilled", "Untriggered"))
TPSL_KINDS = ("TakeProfit", "StopLoss", "TrailingStop")


def q8(x) -> Decimal:
    """A USDT amount kept to 8 decimals (floats through their shortest repr, so 0.1 stays 0.1)."""
    return Decimal(repr(x) if isinstance(x, float) else x).quantize(Q8)


@dataclass
class Order:
    order_id: str
    link_id: str
    side: str  # "Buy" | "Sell"
    order_type: str  # "Market" | "Limit"
    qty: Decimal
    price: Decimal  # the limit price, or a market order's protection price
    tif: str
    position_idx: int
    reduce_only: bool
    close_on_trigger: bool
    created: int
    updated: int
    status: str = "New"
    stop_order_type: str = "UNKNOWN"  # or "Stop", "TakeProfit", "StopLoss", "TrailingStop"
    create_type: str = "CreateByUser"
    trigger_price: Decimal = D0
    trigger_direction: int = 0
    take_profit: Decimal = D0
    stop_loss: Decimal = D0
    cum_qty: Decimal = D0
    cum_value: Decimal = D0
    cum_fee: Decimal = D0
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    last_price_on_created: str = ""
    closed_pnl: Decimal = D0
    limit_f: float = 0.0
    trigger_f: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_conditional(self) -> bool:
        return self.stop_order_type != "UNKNOWN"

    @property
    def is_tpsl(self) -> bool:
        return self.stop_order_type in TPSL_KINDS

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.cum_qty if self.is_open else D0

    @property
    def avg_price(self) -> Decimal:
        return self.cum_value / self.cum_qty if self.cum_qty else D0

    @property
    def sign(self) -> int:
        return 1 if self.side == "Buy" else -1


@dataclass
class Position:
    idx: int
    leverage: Decimal
    side: int = 0  # 1 long, -1 short, 0 flat
    size: Decimal = D0
    entry_value: Decimal = D0  # sum of qty * price of the open size
    open_fee: Decimal = D0  # entry fees of the open size, not yet in a closed-PnL record
    take_profit: Decimal = D0
    stop_loss: Decimal = D0
    trailing: Decimal = D0  # distance in price
    active_price: Decimal = D0
    trail_active: bool = False
    trail_extreme: float = 0.0
    cum_realised: Decimal = D0
    cur_realised: Decimal = D0
    created: int = 0
    updated: int = 0
    seq: int = -1
    stops: dict[str, Order] = field(default_factory=dict)  # "TakeProfit"/"StopLoss"/"TrailingStop" -> order

    @property
    def avg(self) -> Decimal:
        return self.entry_value / self.size if self.size else D0

    @property
    def side_name(self) -> str:
        return "Buy" if self.side > 0 else ("Sell" if self.side < 0 else "")


@dataclass
class Fill:
    exec_id: str
    order_id: str
    link_id: str
    side: str
    order_type: str
    stop_order_type: str
    create_type: str
    order_price: Decimal
    order_qty: Decimal
    leaves: Decimal
    price: Decimal
    qty: Decimal
    value: Decimal
    fee: Decimal
    fee_rate: float
    exec_type: str
    time: int
    is_maker: bool
    closed_size: Decimal
    exec_pnl: Decimal
    mark: Decimal
    seq: int


@dataclass
class ClosedPnl:
    order_id: str
    side: str  # the closing order's side
    qty: Decimal  # the closing order's qty
    order_price: Decimal
    order_type: str
    closed_size: Decimal
    entry_value: Decimal
    exit_value: Decimal
    pnl: Decimal
    open_fee: Decimal
    close_fee: Decimal
    leverage: Decimal
    time: int
    seq: int = 0  # account-wide order of the records (several symbols' closes can share a time)
