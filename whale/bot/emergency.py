"""The emergency close (docs/density_and_safety.md#safety-monitor): cancel every order, close every
position of the account (or of one symbol) with reduce-only market orders, retried a bounded number
of times. Used by the safety monitor's EMERGENCY state in the live loop and by
`python whalebot.py close-all`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from whale.risk.safety import EmergencyPlan
from whale.venue.errors import VenueError
from whale.venue.types import Fill, VenuePosition


class Closer(Protocol):
    """What the emergency close needs of an Execution (or of close-all's logging wrapper)."""

    def positions(self, symbol: str | None = None) -> list[VenuePosition]: ...

    def cancel_all(self, symbol: str | None = None) -> object: ...

    def close_position(self, symbol: str, qty, link_id: str, position_idx: int | None = None) -> Fill: ...


def close_exchange_positions(execution: Closer, new_link_id: Callable[[str], str], log: logging.Logger,
                             symbol: str | None = None) -> int:
    """One reduce-only market close of each open position of the account (of `symbol`), each with its
    own orderLinkId, whoever opened it; returns how many were sent. A refused one is logged and the
    others are still tried."""
    sent = 0
    for pos in execution.positions(symbol):
        try:
            execution.close_position(pos.symbol, pos.size, new_link_id("emergency"), pos.position_idx)
            sent += 1
        except VenueError as exc:
            log.error(f"Emergency: closing {pos.symbol} {pos.size} (positionIdx {pos.position_idx}) failed: {exc}")
    return sent


def close_everything(execution: Closer, close_once: Callable[[], object], plan: EmergencyPlan,
                     log: logging.Logger, sleep: Callable[[float], None], symbol: str | None = None) -> bool:
    """True when the venue shows no position (of `symbol`; None: of the whole account) afterwards.
    `close_once` is one closing round (e.g. the bots' journaled exits, then close_exchange_positions
    for whatever is left)."""
    try:
        execution.cancel_all(symbol)
    except VenueError as exc:
        log.error(f"Emergency: cancelling the open orders failed: {exc}")
    for attempt in range(plan.max_attempts):
        try:
            if not execution.positions(symbol):
                return True
            close_once()
        except VenueError as exc:
            log.error(f"Emergency close, attempt {attempt + 1} of {plan.max_attempts}: {exc}")
        if attempt < plan.max_attempts - 1:
            sleep(plan.retry_delays_ms[min(attempt, len(plan.retry_delays_ms) - 1)] / 1000.0)
    try:
        return not execution.positions(symbol)
    except VenueError:
        return False
