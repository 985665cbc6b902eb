"""Exchange data that cannot be true is refused where it enters, and counted.

Market values: `price(value, what)` is a finite float above 0, `size(value, what)` a finite float of
0 or more; anything else raises BadValue (a ValueError) naming the field and the value. A kline
with close "NaN" or a ticker with lastPrice "0" is therefore skipped at the WebSocket or REST
parser, never stored, shown or fed to the strategy.

`BadData` is the count of what was refused, shared by the WebSocket threads and the REST client:
each refusal is logged at WARNING with its source and what was wrong (when they pour in, the first
`log_limit` per source within `window_s`, the rest at DEBUG, so a broken feed cannot flood the
log), and `threshold` refusals within `window_s` seconds raise one alert per window
(`alert(text)`, e.g. AlertSystem.send_alert), since a feed that keeps sending such data is a
problem a trader must hear about.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

ALERT_THRESHOLD = 3
ALERT_WINDOW_S = 60.0
LOG_LIMIT = 10  # WARNING lines per source and window; the rest go to DEBUG


_INF = math.inf


class BadValue(ValueError):
    """A market value that cannot be true (NaN, infinite, a price of 0 or below, a negative size)."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise BadValue(f"{what} {value!r} is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadValue(f"{what} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise BadValue(f"{what} {value!r} is not a finite number")
    return x


def price(value: Any, what: str) -> float:
    """`value` as a price: a finite number above 0, else BadValue."""
    if type(value) is float and 0 < value < _INF:  # a replay's decoded value: the fast path
        return value
    if type(value) is str:  # the wire's form: the fast path
        try:
            x = float(value)
        except ValueError:
            x = math.nan
        if 0 < x < _INF:
            return x
    x = _number(value, what)
    if x <= 0:
        raise BadValue(f"{what} {value!r} is not a price above 0")
    return x


def size(value: Any, what: str) -> float:
    """`value` as a volume or size: a finite number of 0 or more, else BadValue."""
    if type(value) is float and 0 <= value < _INF:
        return value
    if type(value) is str:
        try:
            x = float(value)
        except ValueError:
            x = math.nan
        if 0 <= x < _INF:
            return x
    x = _number(value, what)
    if x < 0:
        raise BadValue(f"{what} {value!r} is negative")
    return x


def candle(o: Any, h: Any, lo: Any, c: Any, v: Any, what: str = "kline") -> tuple[float, float, float, float, float]:
    """(open, high, low, close, volume) as floats, or BadValue naming the first bad field. On the
    stream's hot path: the common case is five float() calls and one comparison chain."""
    try:
        if bool not in (type(o), type(h), type(lo), type(c), type(v)):  # float(True) would be 1.0
            x = (float(o), float(h), float(lo), float(c), float(v))
            if 0 < x[0] < _INF and 0 < x[1] < _INF and 0 < x[2] < _INF and 0 < x[3] < _INF and 0 <= x[4] < _INF:
                return x
    except (TypeError, ValueError):
        pass
    return (price(o, f"{what} open"), price(h, f"{what} high"), price(lo, f"{what} low"), price(c, f"{what} close"),
            size(v, f"{what} volume"))  # one of them raises, naming the field


class BadData:
    """Refused exchange data: logged, counted, and one alert per window when it repeats. Thread-safe."""

    def __init__(self, logger: logging.Logger, *, threshold: int = ALERT_THRESHOLD, window_s: float = ALERT_WINDOW_S,
                 log_limit: int = LOG_LIMIT, alert: Callable[[str], Any] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.log = logger
        self.threshold = max(1, int(threshold))
        self.log_limit = max(1, int(log_limit))
        self.window_s = float(window_s)
        self.alert = alert
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._recent_by_source: dict[str, deque[float]] = {}
        self._alerted_at: float | None = None
        self.total = 0
        self.by_source: dict[str, int] = {}
        self.alerts = 0

    def refuse(self, source: str, problem: str) -> None:
        """One message (or item) from `source` (e.g. "kline.15.BTCUSDT") was skipped because of `problem`."""
        now = self._monotonic()
        with self._lock:
            self.total += 1
            self.by_source[source] = self.by_source.get(source, 0) + 1
            count = self._count(self._recent, now)
            logged = self._count(self._recent_by_source.setdefault(source, deque()), now)
            raise_alert = count >= self.threshold and (self._alerted_at is None
                                                       or now - self._alerted_at > self.window_s)
            if raise_alert:
                self._alerted_at = now
                self.alerts += 1
        if logged <= self.log_limit:
            more = (f" (further ones from {source} within {self.window_s:.0f} s are logged at DEBUG)"
                    if logged == self.log_limit else "")
            self.log.warning(f"Skipped bad data from the exchange ({source}): {problem}{more}")
        else:
            self.log.debug(f"Skipped bad data from the exchange ({source}): {problem}")
        if raise_alert and self.alert is not None:
            try:  # outside the lock: the alert logs too
                self.alert(f"{count} bad messages from the exchange within {self.window_s:.0f} s, all skipped "
                           f"(latest: {source}: {problem})")
            except Exception as exc:  # noqa: BLE001 - an alert problem must not stop a stream thread
                self.log.warning(f"Could not raise the bad-data alert: {exc}")

    def _count(self, times: deque[float], now: float) -> int:
        """Add `now` to `times`, drop what is older than the window, return how many are left."""
        times.append(now)
        while times and now - times[0] > self.window_s:
            times.popleft()
        return len(times)
