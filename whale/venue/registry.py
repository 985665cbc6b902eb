"""Which package serves which exchange: `VENUES` maps the config's `exchange.name` to the module that
builds it (data, not imports), and `open_venue` is the only way the bot reaches a venue package.

A venue module exposes `open_venue(cfg, options) -> Venue`. Adding an exchange is a new package with
that function, one entry here, and its name in `whale.config.model.EXCHANGES`
(docs/architecture.md#the-venue-boundary).
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

from whale.clock import Clock, WallClock
from whale.config.model import Config
from whale.errors import BadInputError
from whale.market.data_checks import BadData
from whale.venue.protocols import Execution, MarketData

VENUES: dict[str, str] = {"bybit": "whale.bybit.venue"}


@dataclass
class VenueOptions:
    """How the bot wants the venue opened. Keys only for real orders and the private stream."""

    log: logging.Logger
    api_key: str | None = None
    api_secret: str | None = None
    clock: Clock = field(default_factory=WallClock)
    abort: threading.Event | None = None  # the stop event: ends every wait and request in flight
    rest_timeout_s: float = 10.0
    rate_limit_wait_s: float = 2.0  # the longest the main thread waits for a rate limit; beyond, it reschedules
    stale_after_s: float = 30.0
    bad_data: BadData | None = None  # shared count of refused market data


class Venue(Protocol):
    """An opened venue: its market data, and (with keys) its execution. Closing it releases both."""

    name: str
    network: str
    market_data: MarketData

    def execution(self) -> Execution:
        """Real orders on the account (needs the keys)."""

    def close(self, timeout: float) -> bool:
        """Stop the streams, close the connections; True when everything ended in time."""


def open_venue(cfg: Config, options: VenueOptions) -> Venue:
    """The venue `cfg.exchange.name` names, opened (not yet connected: MarketData.connect does that)."""
    module = VENUES.get(cfg.exchange.name)
    if module is None:
        raise BadInputError(f"exchange.name {cfg.exchange.name!r}: expected one of {', '.join(VENUES)}")
    venue: Venue = importlib.import_module(module).open_venue(cfg, options)
    return venue
