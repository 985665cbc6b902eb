"""The broker interface: how the PositionManager opens, protects and closes a position, whatever
executes the orders — Bybit (real orders, also the simulator in demo), or the paper broker.

A broker reports what happened on the exchange side as events (a stop or target that filled, a
funding charge, a position that changed without us), so the PositionManager handles a Bybit
private-stream update and a paper fill the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from whale.market.instruments import Instrument
from whale.venue.errors import (  # noqa: F401 - re-exported: the broker interface's errors
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    TemporaryError,
    VenueError,
)

# Why the exchange closed (part of) a position on its own.
CAUSE_STOP_LOSS = "StopLoss"
CAUSE_TAKE_PROFIT = "TakeProfit"
CAUSE_TRAILING_STOP = "TrailingStop"
CAUSE_OTHER = "Other"  # a close we did not send: manual, liquidation, ADL


@dataclass(frozen=True)
class Fill:
    """One order's execution, aggregated over its fills."""

    side: str  # "Buy" / "Sell"
    qty: Decimal
    price: Decimal  # volume-weighted average
    fee: Decimal
    time_ms: int
    order_id: str
    link_id: str


# What a look-up of one of our orders by its orderLinkId found (OrderLookup.state).
ORDER_FILLED = "filled"  # it executed (all of it, or part of it and the rest was cancelled)
ORDER_MISSING = "missing"  # the exchange knows no such order and no execution of it: it never arrived
ORDER_REFUSED = "refused"  # rejected or cancelled without any execution
ORDER_WORKING = "working"  # accepted and not final yet: look again later


@dataclass(frozen=True)
class OrderLookup:
    state: str
    fill: Fill | None = None
    detail: str = ""


@dataclass(frozen=True)
class BrokerPosition:
    side: int  # +1 long, -1 short
    size: Decimal
    entry_price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    position_idx: int = 0


@dataclass(frozen=True)
class ExitEvent:
    """The exchange closed `qty` of the position by itself (a stop, target, or something else)."""

    cause: str
    fill: Fill


@dataclass(frozen=True)
class FundingEvent:
    amount: Decimal  # paid by the position (negative: received)
    time_ms: int


@dataclass
class BrokerEvents:
    exits: list[ExitEvent] = field(default_factory=list)
    funding: list[FundingEvent] = field(default_factory=list)
    position_changed: bool = False  # a position update arrived (check it against ours)


class Broker(Protocol):
    instrument: Instrument

    def equity(self) -> Decimal:
        """Total equity in USDT (the sizing base)."""

    def position(self) -> BrokerPosition | None:
        """The exchange's view of our position now (None when flat)."""

    def positions(self) -> list[BrokerPosition]:
        """Every open position of the symbol on the exchange, whatever its positionIdx (the
        emergency close closes them all, whoever opened them)."""

    def open_position(self, side: int, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        """A market entry with the stop (and target) attached. RejectedError: refused; TemporaryError
        (RateLimitedError): not executed, try later; OutcomeUnknownError: sent, outcome or fill not
        known: look it up by `link_id` (lookup_order), never send it again."""

    def lookup_order(self, link_id: str, side: str) -> OrderLookup:
        """What became of our order `link_id` (side "Buy"/"Sell"): its fill when it executed."""

    def set_stops(self, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        """Move the position's stop / target on the exchange; False when nothing changed."""

    def close_position(self, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        """A reduce-only market close of `qty` of the position at `position_idx` (None: the bot's)."""

    def cancel_all(self) -> None:
        """Cancel every open order of the symbol."""

    def poll(self) -> BrokerEvents:
        """What the exchange did on its own since the last poll."""
