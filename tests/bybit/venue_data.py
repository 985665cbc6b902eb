"""The Bybit venue's MarketData over a test's own client and stream manager (a module, not the
conftest: `from conftest import` picks whichever conftest.py pytest imported first)."""

from __future__ import annotations

import logging

from whale.bybit.rest import BybitRest
from whale.bybit.ws import BybitWebSocketManager


def market_data(rest: BybitRest, ws: BybitWebSocketManager | None):
    """The venue's MarketData over this client and stream manager (what MarketFeed talks to)."""
    from whale.bybit.venue import BybitMarketData
    from whale.venue.registry import VenueOptions

    md = BybitMarketData(rest.endpoints, rest, VenueOptions(logging.getLogger("whalebot.test.bybit")))
    md.ws = ws
    return md
