"""Faults the simulator can inject, from a `--faults SPEC` string or at run time.

SPEC is a comma-separated list of key=value items (keys may repeat where noted):

  drop_ws_every=N          close every WebSocket connection after it was sent N data messages
  drop_ws_mode=abort|close abort = TCP reset, no close frame (default); close = close frame 1000
  stall_ws_after=N         a connection goes silent after N data messages (socket stays open)
  stall_ws_seconds=S       ... for S seconds, then streams again (default 0 = for good)
  malformed_every=N        every Nth data message on a connection is cut short (invalid JSON)
  ws_stream=public|private|all   which connections the four WS faults above hit (default all)
  rate_limit=PATH:N[/S]    at most N calls of /v5/PATH per S seconds (default 1), then 10006 with a
                           future X-Bapi-Limit-Reset-Timestamp (repeatable; e.g. order/create:5)
  delay=PATH:MS            answer /v5/PATH (or * for every path) MS milliseconds late (repeatable)
  order_5xx_before=N       the Nth order/create answers HTTP 500 and is NOT executed
  order_5xx_after=N        the Nth order/create IS executed, then answers HTTP 500
  order_timeout_before=N   the Nth order/create gets no answer (connection closed after
  order_timeout_after=N    timeout_seconds), before / after executing it
                           (N = the Nth call counted from start; *N = every Nth call)
  order_ban_before=N       the Nth order/create starts an IP ban (ip_ban_seconds): it is answered
                           HTTP 403 and NOT executed
  order_ban_after=N        the Nth order/create is executed and answered, then the IP ban starts: the
                           calls after it (e.g. the fill look-up) are answered HTTP 403
  timeout_seconds=S        how long a timed-out request is held (default 30)
  ip_ban_after=N           after N REST requests every REST answer is HTTP 403 for ip_ban_seconds
  ip_ban_seconds=S         (default 10)
  bad_private_every=N      every Nth private message is preceded by one of the wrong shape (cycling:
                           data [null], data not a list, an item missing fields, an item with an
                           amount that is not a number) and carries a null item and a non-numeric
                           one before its real items (valid JSON, wrong shape)
  bad_market_every=N       at every Nth candle close one market value that cannot be true goes out
                           (cycling: a closing kline with close "NaN", one with close "inf", one with
                           a negative volume, each sent before the real closing kline; a ticker
                           with lastPrice "0")
  instrument=FIELD:VALUE   instruments-info serves VALUE (any text; `missing` leaves the field out)
                           for FIELD, one of tickSize, qtyStep, minOrderQty, maxOrderQty,
                           maxMktOrderQty, minNotionalValue, minLeverage, maxLeverage, leverageStep
                           (repeatable; e.g. instrument=qtyStep:0). Only the answer is wrong: the
                           simulator's own matching keeps the real rules.

Example: --faults drop_ws_every=500,order_timeout_after=1,rate_limit=order/create:5
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from whale.errors import BadInputError

STREAMS = ("public", "private", "all")
INSTRUMENT_FIELDS = {"tickSize": "priceFilter", "qtyStep": "lotSizeFilter", "minOrderQty": "lotSizeFilter",
                     "maxOrderQty": "lotSizeFilter", "maxMktOrderQty": "lotSizeFilter",
                     "minNotionalValue": "lotSizeFilter", "minLeverage": "leverageFilter",
                     "maxLeverage": "leverageFilter", "leverageStep": "leverageFilter"}
MISSING = "missing"
BAD_PRIVATE_KINDS = ("null_item", "not_a_list", "missing_fields", "bad_number")
BAD_MARKET_KINDS = ("kline_nan_close", "kline_inf_close", "kline_negative_volume", "ticker_zero_price")
ORDER_FAULT_KEYS = {"order_5xx_before": ("5xx", "before"), "order_5xx_after": ("5xx", "after"),
                    "order_timeout_before": ("timeout", "before"), "order_timeout_after": ("timeout", "after"),
                    "order_ban_before": ("ban", "before"), "order_ban_after": ("ban", "after")}


@dataclass
class OrderFault:
    kind: str  # "5xx" | "timeout" | "ban"
    when: str  # "before" | "after" executing
    nth: int
    every: bool = False

    def hits(self, call: int) -> bool:
        return call % self.nth == 0 if self.every else call == self.nth


@dataclass
class FaultSpec:
    drop_ws_every: int = 0
    drop_ws_mode: str = "abort"
    stall_ws_after: int = 0
    stall_ws_seconds: float = 0.0
    malformed_every: int = 0
    ws_stream: str = "all"
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=dict)
    delays_ms: dict[str, int] = field(default_factory=dict)
    order_faults: list[OrderFault] = field(default_factory=list)
    timeout_seconds: float = 30.0
    ip_ban_after: int = 0
    ip_ban_seconds: float = 10.0
    instrument: dict[str, str] = field(default_factory=dict)  # instruments-info field -> text served ("missing")
    bad_private_every: int = 0
    bad_market_every: int = 0


def parse_faults(text: str | None) -> FaultSpec:
    """Parse SPEC; a bad item raises BadInputError naming it (exit 2)."""
    spec = FaultSpec()
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise BadInputError(f"--faults: {item!r} is not key=value")
        try:
            _apply(spec, key, value)
        except ValueError as exc:
            raise BadInputError(f"--faults: {item!r}: {exc}") from None
    return spec


def _apply(spec: FaultSpec, key: str, value: str) -> None:
    if key in ("drop_ws_every", "stall_ws_after", "malformed_every", "ip_ban_after", "bad_private_every",
               "bad_market_every"):
        setattr(spec, key, _count(value))
    elif key in ("stall_ws_seconds", "timeout_seconds", "ip_ban_seconds"):
        setattr(spec, key, _seconds(value))
    elif key == "drop_ws_mode":
        if value not in ("abort", "close"):
            raise ValueError("expected abort or close")
        spec.drop_ws_mode = value
    elif key == "ws_stream":
        if value not in STREAMS:
            raise ValueError("expected public, private or all")
        spec.ws_stream = value
    elif key == "rate_limit":
        path, _, budget = value.partition(":")
        n_text, _, per = budget.partition("/")
        spec.rate_limits[_path(path)] = (_count(n_text), _seconds(per) if per else 1.0)
    elif key == "delay":
        path, _, ms = value.rpartition(":")
        spec.delays_ms["*" if path.strip() == "*" else _path(path)] = int(_seconds(ms))
    elif key == "instrument":
        name, sep, text = value.partition(":")
        _instrument_field(name.strip())
        if not sep:
            raise ValueError("expected FIELD:VALUE, e.g. qtyStep:0")
        spec.instrument[name.strip()] = text.strip()
    elif key in ORDER_FAULT_KEYS:
        every = value.startswith("*")
        spec.order_faults.append(OrderFault(*ORDER_FAULT_KEYS[key], _count(value.lstrip("*")), every))
    else:
        raise ValueError(f"unknown fault {key!r} (see docs/simulator.md)")


def _instrument_field(name: str) -> str:
    if name not in INSTRUMENT_FIELDS:
        raise ValueError(f"unknown instruments-info field {name!r}; one of {', '.join(INSTRUMENT_FIELDS)}")
    return name


def instrument_info_with_faults(info: dict, overrides: dict[str, str]) -> dict:
    """A copy of one instruments-info item with the faulty fields served as given."""
    if not overrides:
        return info
    out = dict(info)
    for name, text in overrides.items():
        group = dict(out.get(INSTRUMENT_FIELDS[name]) or {})
        if text == MISSING:
            group.pop(name, None)
        else:
            group[name] = text
        out[INSTRUMENT_FIELDS[name]] = group
    return out


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise ValueError("must be 1 or more")
    return n


def _seconds(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError("must be 0 or more")
    return x


def _path(text: str) -> str:
    p = text.strip().strip("/")
    if p.startswith("v5/"):
        p = p[3:]
    if not p or " " in p:
        raise ValueError(f"bad endpoint path {text!r} (e.g. order/create)")
    return p


class Faults:
    """The live fault state. Read by the server on its loop thread; the methods below are the
    run-time controls and may be called from any thread (the simulator marshals them)."""

    def __init__(self, spec: FaultSpec, run: Callable[[Callable[[], Any]], Any]) -> None:
        self.spec = spec
        self._run = run
        self.order_calls = 0
        self.rest_calls = 0
        self.ban_until = 0.0  # wall-clock monotonic seconds
        self.stalled: dict[str, tuple[float, bool]] = {}  # stream -> (until monotonic or inf, silent)
        self.actions: dict[str, Callable] = {}  # set by the server: "drop", "malformed", "book", "bad_market"
        self.private_messages = 0  # private data messages published (bad_private_every counts them)
        self.corrupt_private_left = 0  # the next this many private messages carry bad items
        self.bad_private_sent = 0  # wrong-shape messages sent so far (picks the next kind)
        self.closes = 0  # candle closes published (bad_market_every counts them)
        self.bad_market_armed: list[str] = []  # kline kinds waiting for the next closing kline
        self.bad_market_sent = 0

    # --- queries used by the server ---

    def applies_to(self, kind: str) -> bool:
        return self.spec.ws_stream in ("all", kind)

    def order_fault(self) -> OrderFault | None:
        self.order_calls += 1
        for f in self.spec.order_faults:
            if f.hits(self.order_calls):
                return f
        return None

    def private_fault(self) -> bool:
        """Called once per private data message: True when this one must carry bad items."""
        self.private_messages += 1
        if self.corrupt_private_left > 0:
            self.corrupt_private_left -= 1
            return True
        every = self.spec.bad_private_every
        return bool(every) and self.private_messages % every == 0

    def next_bad_private_kind(self) -> str:
        kind = BAD_PRIVATE_KINDS[self.bad_private_sent % len(BAD_PRIVATE_KINDS)]
        self.bad_private_sent += 1
        return kind

    def market_fault_on_close(self) -> str | None:
        """Called once per candle close: the bad market kind due now under bad_market_every, if any."""
        self.closes += 1
        every = self.spec.bad_market_every
        if not every or self.closes % every:
            return None
        kind = BAD_MARKET_KINDS[self.bad_market_sent % len(BAD_MARKET_KINDS)]
        self.bad_market_sent += 1
        return kind

    def delay_ms(self, path: str) -> int:
        return self.spec.delays_ms.get(path, self.spec.delays_ms.get("*", 0))

    def stream_stall(self, kind: str, now: float) -> tuple[bool, bool]:
        """(stalled, silent) for connections of `kind` at monotonic time `now`."""
        for key in (kind, "all"):
            got = self.stalled.get(key)
            if got is not None:
                if now < got[0]:
                    return True, got[1]
                del self.stalled[key]
        return False, False

    # --- run-time controls ---

    def drop_connections(self, stream: str = "all", mode: str = "abort") -> int:
        """Cut every WebSocket connection of `stream` now; returns how many were cut."""
        _check_stream(stream)
        if mode not in ("abort", "close"):
            raise ValueError("mode must be abort or close")
        return self._run(lambda: self.actions["drop"](stream, mode))

    def stall(self, stream: str = "all", seconds: float | None = None, silent: bool = False) -> None:
        """Stop sending data on `stream` (sockets stay open) for `seconds` (None = until resume()).
        silent=True also stops answering pings (JSON and protocol)."""
        _check_stream(stream)
        until = math.inf if seconds is None else time.monotonic() + seconds
        self._run(lambda: self.stalled.__setitem__(stream, (until, silent)))

    def resume(self) -> None:
        self._run(self.stalled.clear)

    def send_malformed(self, stream: str = "public") -> int:
        """Send one malformed (invalid JSON) text message to every connection of `stream`."""
        _check_stream(stream)
        return self._run(lambda: self.actions["malformed"](stream))

    def fail_next_order(self, kind: str = "timeout", when: str = "after") -> None:
        """The next order/create answers 5xx, times out or starts an IP ban (for `ip_ban_seconds`),
        `before` or `after` executing it."""
        if kind not in ("5xx", "timeout", "ban") or when not in ("before", "after"):
            raise ValueError("kind is 5xx, timeout or ban, when is before or after")
        self._run(lambda: self.spec.order_faults.append(OrderFault(kind, when, self.order_calls + 1)))

    def set_rate_limit(self, path: str, n: int | None, per_seconds: float = 1.0) -> None:
        """Budget /v5/`path` to n calls per `per_seconds` (None restores Bybit's limit)."""
        p = _path(path)
        if n is None:
            self._run(lambda: self.spec.rate_limits.pop(p, None))
        else:
            self._run(lambda: self.spec.rate_limits.__setitem__(p, (int(n), float(per_seconds))))

    def set_delay(self, path: str, ms: int) -> None:
        p = "*" if path == "*" else _path(path)
        self._run(lambda: self.spec.delays_ms.__setitem__(p, int(ms)))

    def ip_ban(self, seconds: float) -> None:
        """Answer every REST request with HTTP 403 for `seconds`."""
        self._run(lambda: setattr(self, "ban_until", time.monotonic() + seconds))

    def send_bad_private(self, kind: str | None = None) -> int:
        """Send wrong-shape messages (valid JSON) on every private topic to every private connection
        now: `kind` one of BAD_PRIVATE_KINDS, None = all of them. Returns the messages sent."""
        kinds = BAD_PRIVATE_KINDS if kind is None else (_check_kind(kind, BAD_PRIVATE_KINDS),)
        sent = self._run(lambda: sum(self.actions["bad_private"](k) for k in kinds))
        assert isinstance(sent, int)
        return sent

    def corrupt_private(self, count: int = 1) -> None:
        """The next `count` private messages carry a null item and an item with a non-numeric amount
        before their real items: the real ones must still be processed."""
        self._run(lambda: setattr(self, "corrupt_private_left", self.corrupt_private_left + int(count)))

    def send_bad_market(self, kind: str) -> None:
        """One market value that cannot be true (BAD_MARKET_KINDS): a kline kind goes out before the
        next closing kline of every subscribed interval, `ticker_zero_price` at once."""
        _check_kind(kind, BAD_MARKET_KINDS)
        if kind.startswith("kline"):
            self._run(lambda: self.bad_market_armed.append(kind))
        else:
            self._run(lambda: self.actions["bad_market"](kind))

    def set_instrument_field(self, name: str, text: str | None) -> None:
        """Serve `text` for an instruments-info field (`"missing"` leaves it out; None serves the real value)."""
        _instrument_field(name)
        if text is None:
            self._run(lambda: self.spec.instrument.pop(name, None))
        else:
            self._run(lambda: self.spec.instrument.__setitem__(name, str(text)))

    def book_snapshot(self) -> None:
        """Send a fresh orderbook snapshot mid-stream (clients must reset their book)."""
        self._run(lambda: self.actions["book"]("snapshot"))

    def book_restart(self) -> None:
        """Restart every orderbook stream at u=1 with a snapshot (Bybit's service-restart signal)."""
        self._run(lambda: self.actions["book"]("restart"))

    def book_delete_absent(self) -> None:
        """Send a delta that deletes a price level the book does not hold."""
        self._run(lambda: self.actions["book"]("delete_absent"))


def _check_kind(kind: str, kinds: tuple[str, ...]) -> str:
    if kind not in kinds:
        raise ValueError(f"kind must be one of {', '.join(kinds)}")
    return kind


def _check_stream(stream: str) -> None:
    if stream not in STREAMS:
        raise ValueError("stream must be public, private or all")
