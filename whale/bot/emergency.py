"""The emergency close (docs/density_and_safety.md#safety-monitor): cancel every order, close
every position of the symbol with reduce-only market orders, retried a bounded number of times.
Used by the safety monitor's EMERGENCY state in the live loop and by `python whalebot.py close-all`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from whale.broker.base import Broker, BrokerPosition, VenueError
from whale.bybit.errors import BybitError
from whale.risk.safety import EmergencyPlan


class PositionReader(Protocol):
    """What open_positions needs of a broker (a Broker, or close-all's logging wrapper)."""

    def position(self) -> BrokerPosition | None: ...


class EmergencyBroker(PositionReader, Protocol):
    """What close_everything needs of a broker: its positions, and cancelling every order."""

    def cancel_all(self) -> None: ...


def open_positions(broker: PositionReader) -> list[BrokerPosition]:
    """Every position of the symbol the exchange shows: the emergency closes them all, whether the
    bot opened or adopted them or not (a broker without `positions()` shows only its own)."""
    lister = getattr(broker, "positions", None)
    if lister is not None:
        return list(lister())
    pos = broker.position()
    return [] if pos is None else [pos]


def close_exchange_positions(broker: Broker, new_link_id: Callable[[str], str], log: logging.Logger) -> int:
    """One reduce-only market close of each open position (each with its own orderLinkId); returns
    how many were sent. A refused one is logged and the others are still tried."""
    sent = 0
    for pos in open_positions(broker):
        try:
            broker.close_position(pos.size, new_link_id("emergency"), pos.position_idx)
            sent += 1
        except VenueError as exc:
            log.error(f"Emergency: closing {pos.size} (positionIdx {pos.position_idx}) failed: {exc}")
    return sent


def close_everything(broker: EmergencyBroker, close_once: Callable[[], object], plan: EmergencyPlan,
                     log: logging.Logger, sleep: Callable[[float], None]) -> bool:
    """True when the exchange shows no position afterwards. `close_once` is one closing round
    (e.g. the bot's journaled exit, then close_exchange_positions for whatever is left)."""
    try:
        broker.cancel_all()
    except (VenueError, BybitError) as exc:
        log.error(f"Emergency: cancelling the open orders failed: {exc}")
    for attempt in range(plan.max_attempts):
        try:
            if not open_positions(broker):
                return True
            close_once()
        except (VenueError, BybitError) as exc:
            log.error(f"Emergency close, attempt {attempt + 1} of {plan.max_attempts}: {exc}")
        if attempt < plan.max_attempts - 1:
            sleep(plan.retry_delays_ms[min(attempt, len(plan.retry_delays_ms) - 1)] / 1000.0)
    try:
        return not open_positions(broker)
    except (VenueError, BybitError):
        return False
