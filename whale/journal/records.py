"""One journal entry: the TradeRecord (pending, open or closed), its allowed values, and the exact
Decimal conversions its amounts go through (docs/journal.md)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from whale.strategy.stops import EXIT_REASONS, STOP_BREAKEVEN, STOP_INITIAL, STOP_TRAILING
from whale.timefmt import iso_utc

SIDES = ("Buy", "Sell")
STATUSES = ("pending", "open", "closed")  # pending: journaled, order sent, fill not confirmed yet
NETWORKS = ("mainnet", "testnet", "demo-trading", "custom")
MODES = ("live", "paper", "demo")
STRATEGIES = ("indicators", "density", "combined")
SETUPS = ("indicators", "breakout", "bounce")  # what opened a trade: its exits and stop rules depend on it
STOP_KIND_NAMES = {STOP_INITIAL: "initial", STOP_BREAKEVEN: "break-even", STOP_TRAILING: "trailing"}

_DECIMAL_FIELDS = ("qty", "entry_price", "exit_price", "fees", "funding", "pnl", "initial_stop", "stop_loss",
                   "take_profit", "density_price")
_OPTIONAL_DECIMALS = frozenset(("exit_price", "pnl", "initial_stop", "stop_loss", "take_profit", "density_price"))


def to_decimal(value: Any, name: str = "value") -> Decimal:
    """An exact, finite Decimal from a Decimal, an int or a string; a float goes through its
    shortest repr (`Decimal(str(x))`), so 0.1 stays 0.1."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name}: not an amount: {value!r}")
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, (int, np.integer)):
        out = Decimal(int(value))
    elif isinstance(value, (float, np.floating)):
        out = Decimal(repr(float(value)))
    elif isinstance(value, str):
        try:
            out = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name}: not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"{name}: not an amount: {value!r}")
    if not out.is_finite():
        raise ValueError(f"{name}: not a finite amount: {value!r}")
    return out


def decimal_text(value: Decimal) -> str:
    """Plain notation, exact (no exponent): Decimal('1E-7') -> '0.0000001'."""
    return format(value, "f")


@dataclass(frozen=True, kw_only=True)
class TradeRecord:
    """One trade: pending (journaled before its order was sent; `entry_price` is then the pre-trade
    price it was sized at, `entry_time` when it was decided), open or closed. Immutable: change it
    through the tracker, which persists.

    Amounts are Decimal (floats given here go through their shortest repr); times are UTC ISO
    strings (epoch ms and aware datetimes are accepted and converted). `pnl` is net of fees and
    funding; `fees` and `funding` are what the trade paid (a rebate or received funding is
    negative). Lists are kept as tuples.
    """

    id: str
    symbol: str
    side: str
    qty: Decimal
    network: str
    mode: str
    strategy: str
    entry_time: str
    entry_price: Decimal
    status: str = "open"
    entry_order_link_id: str | None = None
    exit_order_link_ids: tuple[str, ...] = ()
    exit_time: str | None = None
    exit_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    pnl: Decimal | None = None
    reason: str | None = None
    initial_stop: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    stop_kind: int = STOP_INITIAL
    breakeven_done: bool = False
    density_price: Decimal | None = None
    adopted: bool = False
    entry_atr: float | None = None
    setup: str | None = None  # one of SETUPS; None in journals written before it existed (see setup_kind)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        put = object.__setattr__
        for name in ("id", "symbol"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}: a non-empty string is needed, got {value!r}")
        _choice(self, "side", SIDES)
        _choice(self, "status", STATUSES)
        _choice(self, "network", NETWORKS)
        _choice(self, "mode", MODES)
        _choice(self, "strategy", STRATEGIES)
        if self.setup is not None:
            _choice(self, "setup", SETUPS)
        for name in _DECIMAL_FIELDS:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL_DECIMALS:
                continue
            put(self, name, to_decimal(value, name))
        if self.qty <= 0:
            raise ValueError(f"qty: must be positive, got {self.qty}")
        if self.entry_price <= 0:
            raise ValueError(f"entry_price: must be positive, got {self.entry_price}")
        put(self, "entry_time", iso_utc(self.entry_time))
        if self.exit_time is not None:
            put(self, "exit_time", iso_utc(self.exit_time))
        if self.entry_order_link_id is not None and not isinstance(self.entry_order_link_id, str):
            raise ValueError(f"entry_order_link_id: a string is needed, got {self.entry_order_link_id!r}")
        put(self, "exit_order_link_ids", _strings(self.exit_order_link_ids, "exit_order_link_ids"))
        put(self, "notes", _strings(self.notes, "notes"))
        if self.reason is not None and self.reason not in EXIT_REASONS:
            raise ValueError(f"reason: {self.reason!r} is not one of {', '.join(EXIT_REASONS)}")
        if isinstance(self.stop_kind, bool) or self.stop_kind not in STOP_KIND_NAMES:
            raise ValueError(f"stop_kind: must be 0 (initial), 1 (break-even) or 2 (trailing), got {self.stop_kind!r}")
        put(self, "stop_kind", int(self.stop_kind))
        for name in ("breakeven_done", "adopted"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: true or false is needed, got {getattr(self, name)!r}")
        if self.entry_atr is not None:
            if isinstance(self.entry_atr, bool) or not isinstance(self.entry_atr, (int, float, np.floating)):
                raise ValueError(f"entry_atr: a number is needed, got {self.entry_atr!r}")
            atr = float(self.entry_atr)
            put(self, "entry_atr", atr if math.isfinite(atr) else None)
        if self.status == "closed":
            missing = [n for n in ("exit_time", "exit_price", "pnl", "reason") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"a closed trade needs {', '.join(missing)}")

    @property
    def direction(self) -> int:
        """+1 for Buy (long), -1 for Sell (short)."""
        return 1 if self.side == "Buy" else -1

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    def setup_kind(self) -> str:
        """The setup that opened the trade. Old journals lack `setup`: without a density price it was
        an indicator entry; with one, a wall ahead of the entry (above a long's, below a short's) was
        broken through (breakout), one behind it was bounced off (bounce)."""
        if self.setup is not None:
            return self.setup
        if self.density_price is None:
            return "indicators"
        ahead = (self.density_price - self.entry_price) * self.direction > 0
        return "breakout" if ahead else "bounce"

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = decimal_text(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Any) -> TradeRecord:
        """The record from its JSON object; ValueError naming the problem when it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"a trade must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:  # a required field is missing
            raise ValueError(str(exc).replace("TradeRecord.__init__() ", "")) from exc


def _choice(record: TradeRecord, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(record, name)
    if value not in choices:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _strings(values: Any, name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{name}: a list of strings is needed, got {values!r}")
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name}: a list of strings is needed, got {values!r}")
    return tuple(values)
