"""The two protocols the bot talks to, whatever the exchange: Execution (orders, positions, equity)
and MarketData (streams and REST reads). Both serve every symbol of one account.

`ForSymbol` binds an Execution to one symbol under the single-symbol names the PositionManager
uses (`execution.for_symbol(s)`), so the PositionManager stays a per-symbol object.

Every method raises only the venue-neutral errors of whale.venue.errors (a venue package translates
its own, keeping them as the cause).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from whale.market.book import BookSnapshot
from whale.market.candles import Candles
from whale.market.instruments import Instrument
from whale.market.state import Markets
from whale.venue.types import Fill, OrderLookup, Side, VenueEvents, VenueOrder, VenuePosition

PUBLIC, PRIVATE = "public", "private"


class TradeLike(Protocol):
    """What `last_exit` needs of a journal trade."""

    @property
    def symbol(self) -> str: ...

    @property
    def entry_time(self) -> str: ...


class Execution(Protocol):
    """Orders, positions and equity of one account, for many symbols. Only the main thread calls it."""

    name: str  # what the display and the logs call it ("Bybit", "paper")
    remote: bool  # its calls go to the exchange (they count as venue calls that succeed or fail), which can
    #               also change positions behind the bot's back (so they are checked over REST)
    keeps_positions: str  # where an open position stays when the bot stops (the shutdown message says it)

    def instrument(self, symbol: str) -> Instrument:
        """The symbol's trading rules (tick, qty step, minimums)."""

    def prepare(self, symbol: str, leverage: Decimal) -> str:
        """Get the symbol ready to trade (e.g. set its leverage); a line for the log, or ''."""

    def equity(self) -> Decimal:
        """The account's equity in USDT: wallet plus the unrealised PnL of every position (the sizing base)."""

    def start_equity(self, configured: Decimal) -> Decimal:
        """The drawdown base at start: the real wallet's equity, or the configured paper balance."""

    def positions(self, symbol: str | None = None) -> list[VenuePosition]:
        """Every open position of the account (of one symbol), whoever opened it."""

    def position(self, symbol: str, position_idx: int | None = None) -> VenuePosition | None:
        """The symbol's position at `position_idx` (None: the bot's), None when flat."""

    def open_position(self, symbol: str, side: Side, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        """A market entry with the stop (and target) attached. RejectedError: refused; TemporaryError
        (RateLimitedError): not executed, try later; OutcomeUnknownError: sent, outcome or fill not
        known: look it up by `link_id` (lookup_order), never send it again."""

    def lookup_order(self, symbol: str, link_id: str, side: Side) -> OrderLookup:
        """What became of our order `link_id`: its fill when it executed."""

    def set_stops(self, symbol: str, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        """Move the position's stop / target on the venue; False when nothing changed."""

    def close_position(self, symbol: str, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        """A reduce-only market close of `qty` of the position at `position_idx` (None: the bot's)."""

    def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """The resting orders of the symbol (of every symbol of the account when None)."""

    def cancel_all(self, symbol: str | None = None) -> list[VenueOrder]:
        """Cancel every open order of the symbol (of every symbol of the account when None); the
        orders cancelled."""

    def last_exit(self, trade: TradeLike) -> tuple[Fill | None, str]:
        """The fill (and its cause) that closed `trade`'s position since it opened, if the venue has it:
        how a restart or a position check finds an exit the bot did not see."""

    def on_tick(self, symbol: str, price: float, time_ms: int) -> None:
        """A new last price (paper trading fills its stops, targets and funding here)."""

    def handle_private(self, topic: str, data: Any) -> None:
        """One private-stream update (fills, positions) from MarketData's queue, on the main thread."""

    def poll(self) -> VenueEvents:
        """What the venue did on its own since the last poll, for every symbol."""

    @property
    def events(self) -> VenueEvents:
        """What poll() would take now, left in place: the loop looks at it on every pass and polls only
        when it holds something."""

    def for_symbol(self, symbol: str) -> ForSymbol:
        """The single-symbol view the PositionManager uses."""


class ForSymbol:
    """An Execution bound to one symbol, under the PositionManager's single-symbol names."""

    def __init__(self, execution: Execution, symbol: str) -> None:
        self.execution = execution
        self.symbol = symbol
        self.instrument = execution.instrument(symbol)

    def equity(self) -> Decimal:
        return self.execution.equity()

    def position(self) -> VenuePosition | None:
        return self.execution.position(self.symbol)

    def positions(self) -> list[VenuePosition]:
        """Every open position of the symbol, whatever its position_idx (the emergency close closes them all)."""
        return self.execution.positions(self.symbol)

    def open_position(self, side: int, qty: Decimal, stop_loss: Decimal, take_profit: Decimal | None,
                      link_id: str) -> Fill:
        return self.execution.open_position(self.symbol, Side.of(side), qty, stop_loss, take_profit, link_id)

    def lookup_order(self, link_id: str, side: int | str) -> OrderLookup:
        return self.execution.lookup_order(self.symbol, link_id, Side.of(side))

    def set_stops(self, stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
        return self.execution.set_stops(self.symbol, stop_loss=stop_loss, take_profit=take_profit)

    def close_position(self, qty: Decimal, link_id: str, position_idx: int | None = None) -> Fill:
        return self.execution.close_position(self.symbol, qty, link_id, position_idx)

    def cancel_all(self) -> list[VenueOrder]:
        return self.execution.cancel_all(self.symbol)

    def last_exit(self, trade: TradeLike) -> tuple[Fill | None, str]:
        return self.execution.last_exit(trade)


@dataclass(frozen=True)
class SymbolStreams:
    """What one symbol's public streams carry: closed and forming candles of `intervals` (the
    primary first), the book `book_depth` levels deep, the ticker and the public trades."""

    symbol: str
    intervals: tuple[str, ...]
    book_depth: int


class MarketData(Protocol):
    """Market data of many symbols: one set of stream connections and one REST rate budget for the
    account. The streams write into a whale.market.state.Markets; the reads are REST."""

    network: str
    host: str  # the REST host, for messages
    streams: tuple[str, ...]  # the stream names it runs: PUBLIC, and PRIVATE with keys

    def connect(self, deadline_s: float, stop: threading.Event | None, config_path: str,
                symbol: str | None = None) -> str:
        """Prove the venue answers within one deadline (its streams with `symbol`'s ticker) and measure
        the clock; a line for the log. Raises a WhaleError naming the host (and StartupCancelled, exit
        0, when `stop` is set meanwhile)."""

    def instrument(self, symbol: str) -> Instrument:
        """The symbol's trading rules (cached); a WhaleError naming the symbol when it is not traded."""

    def history(self, symbol: str, interval: str, count: int, *, market_now_ms: int | None = None) -> Candles:
        """The newest `count` closed candles, ascending."""

    def last_price(self, symbol: str) -> Decimal:
        """The last traded price, exact."""

    def orderbook(self, symbol: str, limit: int) -> BookSnapshot:
        """The best `limit` levels per side, best first."""

    def market_time_ms(self, symbol: str) -> int:
        """The venue's clock (ms), as its market data stamps it."""

    def start_streams(self, markets: Markets, wanted: list[SymbolStreams],
                      on_reconnect: Callable[[str], None]) -> None:
        """Open the streams for every symbol of `wanted`, writing into `markets`; `on_reconnect(stream)`
        after each reconnect (on a stream thread: keep it short)."""

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Until every stream is connected and subscribed: True, or False after `timeout`."""

    def stale(self, stream: str = PUBLIC) -> bool:
        """The stream cannot be trusted for fresh data now (not connected, or silent too long)."""

    def message_age(self, stream: str = PUBLIC) -> float | None:
        """Seconds since the stream's last sign of life (None before the first)."""

    def data_received(self) -> dict[str, int]:
        """Data messages handled so far on the current connections, by stream (PUBLIC, PRIVATE): an
        in-process simulator in lockstep compares them with what it sent (the demo)."""

    def stream_problem(self) -> str | None:
        """Why the streams are not ready (e.g. the private stream's authentication was refused)."""

    def close(self, timeout: float) -> bool:
        """Stop the streams and release the connections; True when every thread ended in time."""
