"""The venue-neutral records: what an Execution reports, whatever exchange (or paper) filled it.

Amounts are Decimal (docs/architecture.md, principle 6); every record names its symbol, since one
account trades many. A venue package builds these from its own wire records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum


class Side(IntEnum):
    """A position's or an order's side: +1 long / buy, -1 short / sell. An int (the core's side
    arithmetic works on it) whose name is the word exchanges and the journal use."""

    Buy = 1
    Sell = -1

    @classmethod
    def of(cls, value: int | str) -> Side:
        """Side.of("Buy"), Side.of(-1); ValueError for anything else."""
        if isinstance(value, str):
            try:
                return cls[value]
            except KeyError:
                raise ValueError(f"side {value!r}: expected Buy or Sell") from None
        if value in (1, -1):
            return cls(int(value))
        raise ValueError(f"side {value!r}: expected +1 or -1")

    @property
    def opposite(self) -> Side:
        return Side(-int(self))

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)


# Why the venue closed (part of) a position on its own.
CAUSE_STOP_LOSS = "StopLoss"
CAUSE_TAKE_PROFIT = "TakeProfit"
CAUSE_TRAILING_STOP = "TrailingStop"
CAUSE_OTHER = "Other"  # a close we did not send: manual, liquidation, ADL


@dataclass(frozen=True)
class Fill:
    """One order's execution, aggregated over its fills."""

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal  # volume-weighted average
    fee: Decimal
    time_ms: int
    order_id: str
    link_id: str


# What a look-up of one of our orders by its client order id found (OrderLookup.state).
ORDER_FILLED = "filled"  # it executed (all of it, or part of it and the rest was cancelled)
ORDER_MISSING = "missing"  # the venue knows no such order and no execution of it: it never arrived
ORDER_REFUSED = "refused"  # rejected or cancelled without any execution
ORDER_WORKING = "working"  # accepted and not final yet: look again later


@dataclass(frozen=True)
class OrderLookup:
    state: str
    fill: Fill | None = None
    detail: str = ""


@dataclass(frozen=True)
class VenuePosition:
    """An open position as the venue holds it. `position_idx` tells a hedge-mode venue's two sides
    of one symbol apart (0 in one-way mode)."""

    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    position_idx: int = 0


@dataclass(frozen=True)
class VenueOrder:
    """A resting order on the venue (a limit, a conditional, a TP/SL order), for listing and cancelling.
    `text` describes it in the venue's words ("Buy Limit 0.005 @ 85140"; empty when unknown)."""

    symbol: str
    order_id: str
    link_id: str
    text: str = ""


@dataclass(frozen=True)
class ExitEvent:
    """The venue closed `fill.qty` of the symbol's position by itself (a stop, a target, or something else)."""

    symbol: str
    cause: str
    fill: Fill


@dataclass(frozen=True)
class FundingEvent:
    symbol: str
    amount: Decimal  # paid by the position (negative: received)
    time_ms: int


@dataclass
class VenueEvents:
    """What the venue did on its own since the last poll, for every symbol."""

    exits: list[ExitEvent] = field(default_factory=list)
    funding: list[FundingEvent] = field(default_factory=list)
    position_changed: set[str] = field(default_factory=set)  # symbols with a position update (check them)

    def for_symbol(self, symbol: str) -> VenueEvents:
        """The events of one symbol."""
        return VenueEvents([e for e in self.exits if e.symbol == symbol],
                           [f for f in self.funding if f.symbol == symbol],
                           {symbol} & self.position_changed)

    def __bool__(self) -> bool:
        return bool(self.exits or self.funding or self.position_changed)
