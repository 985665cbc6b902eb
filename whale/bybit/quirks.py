"""Bybit's conventions as data, in one place: the product category, what each retCode means, which
codes mean "nothing to change", the interval codes, and the private stream's words for why a
position was closed. The rest of whale.bybit reads them from here; nothing outside whale.bybit
knows them (docs/architecture.md#the-venue-boundary).
"""

from __future__ import annotations

from whale.config.model import BYBIT_INTERVALS
from whale.venue.types import CAUSE_STOP_LOSS, CAUSE_TAKE_PROFIT, CAUSE_TRAILING_STOP

CATEGORY = "linear"  # USDT perpetuals: every REST call's `category`, the public stream's path

# retCodes (docs/bybit.md#retcodes-and-http-statuses). Everything not listed and not 0 is a refusal.
RETRYABLE_CODES = frozenset({10000, 10016, 10002, 110079, 10429})
RATE_LIMIT_CODES = frozenset({10006, 10018})
AUTH_CODES = frozenset({10003, 10004, 10005, 10007, 10009, 10010})
NOT_MODIFIED_CODES = frozenset({110043, 34040, 110025})  # "nothing to change": success for the caller
SYMBOL_INVALID = 10001  # instruments-info: "symbol invalid"

# The config's interval names are Bybit's codes ("1" ... "720", "D", "W", "M"): the kline topic and
# REST interval are the name itself. A venue with other codes maps them in its own quirks.
INTERVAL_CODES: dict[str, str] = {i: i for i in BYBIT_INTERVALS}

# An execution's stopOrderType / createType -> why the exchange closed the position.
CLOSE_CAUSES: dict[str, str] = {
    "StopLoss": CAUSE_STOP_LOSS, "PartialStopLoss": CAUSE_STOP_LOSS, "TakeProfit": CAUSE_TAKE_PROFIT,
    "PartialTakeProfit": CAUSE_TAKE_PROFIT, "TrailingStop": CAUSE_TRAILING_STOP,
    "CreateByStopLoss": CAUSE_STOP_LOSS, "CreateByTakeProfit": CAUSE_TAKE_PROFIT,
    "CreateByTrailingStop": CAUSE_TRAILING_STOP, "CreateByPartialStopLoss": CAUSE_STOP_LOSS,
    "CreateByPartialTakeProfit": CAUSE_TAKE_PROFIT,
}

# An order's final states in which nothing executed.
FINAL_WITHOUT_FILL = ("Rejected", "Cancelled", "Deactivated")
# An order's states in which it may still execute.
WORKING_STATES = ("New", "PartiallyFilled", "Untriggered")


def interval_code(interval: str) -> str:
    """Bybit's code for one of the config's intervals (an unknown one is sent as it is: Bybit refuses it)."""
    return INTERVAL_CODES.get(interval, interval)
