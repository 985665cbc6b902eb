"""The emergency close (whalebot.md §8): cancel every order, close the position with reduce-only
market orders, retried a bounded number of times. Used by the safety monitor's EMERGENCY state in
the live loop and by `python whalebot.py close-all`."""

from __future__ import annotations

import logging
from typing import Callable

from whale.broker.base import Broker, BrokerError
from whale.bybit.errors import BybitError
from whale.risk.safety import EmergencyPlan


def close_everything(broker: Broker, close_once: Callable[[], object], plan: EmergencyPlan, log: logging.Logger,
                     sleep: Callable[[float], None]) -> bool:
    """True when the exchange shows no position afterwards."""
    try:
        broker.cancel_all()
    except (BrokerError, BybitError) as exc:
        log.error(f"Emergency: cancelling the open orders failed: {exc}")
    for attempt in range(plan.max_attempts):
        try:
            if broker.position() is None:
                return True
            close_once()
        except (BrokerError, BybitError) as exc:
            log.error(f"Emergency close, attempt {attempt + 1} of {plan.max_attempts}: {exc}")
        if attempt < plan.max_attempts - 1:
            sleep(plan.retry_delays_ms[min(attempt, len(plan.retry_delays_ms) - 1)] / 1000.0)
    try:
        return broker.position() is None
    except (BrokerError, BybitError):
        return False
