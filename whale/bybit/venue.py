"""The Bybit venue: one BybitRest (one rate budget) for the account, one stream manager for every
symbol, and the Execution on real orders. `open_venue(cfg, options)` is what whale.venue.registry
calls for `exchange.name: "bybit"`; nothing else of whale.bybit is imported by the bot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from whale.bybit.endpoints import Endpoints, endpoints_for
from whale.bybit.execution import BybitExecution, translated
from whale.bybit.rest import BybitRest
from whale.bybit.startup import connect_with_deadline
from whale.bybit.ws import BybitWebSocketManager
from whale.config.model import Config
from whale.market.book import BookSnapshot
from whale.market.candles import Candles
from whale.market.instruments import Instrument
from whale.market.state import Markets
from whale.venue.errors import AuthError
from whale.venue.protocols import PRIVATE, PUBLIC, SymbolStreams
from whale.venue.registry import VenueOptions


class BybitMarketData:
    """MarketData on Bybit's REST and WebSocket APIs; every Bybit error leaves as a venue error."""

    def __init__(self, endpoints: Endpoints, rest: BybitRest, options: VenueOptions) -> None:
        self.endpoints = endpoints
        self.network = endpoints.network
        self.host = endpoints.rest_host
        self.rest = rest
        self.options = options
        self.keys = (options.api_key, options.api_secret) if options.api_key and options.api_secret else (None, None)
        self.streams = (PUBLIC, PRIVATE) if self.keys[0] else (PUBLIC,)
        self.ws: BybitWebSocketManager | None = None

    def connect(self, deadline_s: float, stop: threading.Event | None, config_path: str,
                symbol: str | None = None) -> str:
        reach = connect_with_deadline(self.endpoints, deadline_s, symbol=symbol, stop=stop, config_path=config_path)
        with translated():
            self.rest.sync_time()
        return f"Connected to {self.endpoints.rest_host} ({self.network}); clock offset {reach.offset_ms} ms"

    def instrument(self, symbol: str) -> Instrument:
        with translated():
            return self.rest.instrument(symbol)

    def history(self, symbol: str, interval: str, count: int, *, market_now_ms: int | None = None) -> Candles:
        with translated():
            return self.rest.history(symbol, interval, count, market_now_ms=market_now_ms)

    def last_price(self, symbol: str) -> Decimal:
        with translated():
            return self.rest.last_price(symbol)

    def orderbook(self, symbol: str, limit: int) -> BookSnapshot:
        with translated():
            return self.rest.orderbook(symbol, limit)

    def market_time_ms(self, symbol: str) -> int:
        with translated():
            return self.rest.market_time_ms(symbol)

    def start_streams(self, markets: Markets, wanted: list[SymbolStreams],
                      on_reconnect: Callable[[str], None]) -> None:
        o = self.options
        self.ws = BybitWebSocketManager(self.endpoints, markets, wanted, api_key=self.keys[0], api_secret=self.keys[1],
                                        stale_after_s=o.stale_after_s, on_reconnect=on_reconnect, clock=o.clock,
                                        server_time_ms=self.rest.server_now_ms)
        self.ws.start()

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        return self.ws is not None and self.ws.wait_ready(timeout, stop=stop)

    def stale(self, stream: str = PUBLIC) -> bool:
        return self.ws is None or self.ws.stale(stream)

    def message_age(self, stream: str = PUBLIC) -> float | None:
        return None if self.ws is None else self.ws.message_age(stream)

    def stream_problem(self) -> str | None:
        return None if self.ws is None else self.ws.auth_error()

    def data_received(self) -> dict[str, int]:
        return {} if self.ws is None else self.ws.data_received()

    def close(self, timeout: float) -> bool:
        return self.ws is None or self.ws.stop(timeout=timeout)


class BybitVenue:
    name = "bybit"

    def __init__(self, cfg: Config, options: VenueOptions) -> None:
        self.endpoints = endpoints_for(cfg)
        self.network = self.endpoints.network
        self.options = options
        self.rest = BybitRest(self.endpoints, options.api_key, options.api_secret, timeout=options.rest_timeout_s,
                              clock=options.clock, max_rate_limit_wait_s=options.rate_limit_wait_s,
                              abort=options.abort)
        if options.bad_data is not None:
            self.rest.bad_data = options.bad_data  # one count of refused exchange data for REST and streams
        self.market_data = BybitMarketData(self.endpoints, self.rest, options)
        self._execution: BybitExecution | None = None

    def execution(self) -> BybitExecution:
        if not self.rest.has_keys:
            raise AuthError("real orders need BYBIT_API_KEY and BYBIT_API_SECRET")
        if self._execution is None:
            self._execution = BybitExecution(self.rest, log=self.options.log)
        return self._execution

    def close(self, timeout: float) -> bool:
        ended = self.market_data.close(timeout)
        self.rest.close()
        return ended


def open_venue(cfg: Config, options: VenueOptions) -> BybitVenue:
    return BybitVenue(cfg, options)
