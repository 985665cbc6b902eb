"""The simulated UNIFIED account (USDT, cross margin): one wallet, one realised PnL, one queue of
private events and one set of orderLinkIds, shared by the matching engine of every symbol.

Equity, margin and the available balance are the account's: every symbol's unrealised PnL,
position margin and open-order margin count, so one symbol's loss reduces what another can open
(110007 when the shared available balance is short). Each symbol's engine (`matching.Exchange`)
registers itself here and keeps its own orders, positions and stops.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from whale.config.model import Fees
from whale.sim import payloads
from whale.sim.clock import ReplayClock
from whale.sim.records import D0, q8

if TYPE_CHECKING:
    from whale.sim.matching import Exchange


class Ids:
    """Order and execution ids: random UUIDs, unique across runs and restarts as Bybit's are (so a
    client never confuses one run's order with another's). Nothing orders or decides by an id, so
    replays stay deterministic; only the execution `seq` counts up from a fixed start."""

    def __init__(self) -> None:
        self.exec_seq = 1_000_000_000

    @staticmethod
    def uuid() -> str:
        return str(uuid.uuid4())

    def next_seq(self) -> int:
        self.exec_seq += 1
        return self.exec_seq


class Account:
    def __init__(self, fees: Fees, balance: float, clock: ReplayClock, ids: Ids | None = None,
                 leverage: float = 10.0) -> None:
        self.fees = fees
        self.clock = clock
        self.ids = ids or Ids()
        self.wallet = q8(balance)
        self.cum_realised = D0
        self.default_leverage = Decimal(str(leverage)).quantize(Decimal("0.01"))
        self.engines: dict[str, Exchange] = {}  # symbol -> its matching engine, in the order they were listed
        self.events: list[tuple[str, dict]] = []  # private events (WebSocket shape) waiting to be pushed
        self.link_ids: set[str] = set()  # every orderLinkId used on the account (110072 on reuse)
        self._closed_seq = 0

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def register(self, engine: Exchange) -> None:
        if engine.symbol in self.engines:
            raise ValueError(f"{engine.symbol} is already listed on this account")
        self.engines[engine.symbol] = engine

    def next_closed_seq(self) -> int:
        self._closed_seq += 1
        return self._closed_seq

    # ------------------------------------------------------------------ events

    def emit(self, topic: str, data: dict) -> None:
        self.events.append((topic, data))

    def emit_position(self, data: dict) -> None:
        """Queue a position's current state, replacing a pending push of the same position (symbol and
        positionIdx), so one action (e.g. a market order: the fill, then the create) sends it once, as
        Bybit does."""
        sym, idx = data["symbol"], data["positionIdx"]
        self.events = [(t, d) for t, d in self.events
                       if t != "position" or d["positionIdx"] != idx or d["symbol"] != sym]
        self.emit("position", data)

    def emit_wallet(self) -> None:
        self.emit("wallet", payloads.wallet_account(self))

    def drain(self) -> list[tuple[str, dict]]:
        ev, self.events = self.events, []
        return ev

    # ------------------------------------------------------------------ money

    def realise(self, amount: Decimal) -> None:
        """Realised PnL, fees and funding land in the one wallet."""
        self.wallet += amount
        self.cum_realised += amount

    def set_balance(self, amount) -> None:
        self.wallet = q8(Decimal(str(amount)))
        self.emit_wallet()

    def metrics(self) -> dict[str, Decimal]:
        """The account's equity and margin over every symbol's positions and open orders."""
        upl = pos_im = pos_mm = ord_im = D0
        for ex in self.engines.values():
            for p in ex.positions.values():
                upl += ex.unrealised(p)
                pos_im += ex.position_im(p)
                pos_mm += ex.position_mm(p)
            ord_im += ex.order_im()
        equity = self.wallet + upl
        available = max(D0, equity - pos_im - ord_im)
        return {"upl": upl, "pos_im": pos_im, "pos_mm": pos_mm, "order_im": ord_im, "equity": equity,
                "available": available}
