"""The Bybit V5 REST client: pybit's `unified_trading.HTTP` underneath, every workaround for its
behaviour in this one class (docs/bybit.md#pybits-pitfalls), typed results, the error taxonomy, the local rate
budget and the never-resend policy for orders.

pybit workarounds, all here:
- its base URL is not a constructor argument: `endpoint` is overridden with the network's REST URL;
- `retry_codes`: pybit replaces an EMPTY set by its defaults ({10002, 10006, ...}) in __post_init__,
  so the attribute is cleared after construction; its 10006 sleep crashes on a reset time in the
  past and sleeps after the last attempt, so 10002/10006 are handled here; `max_retries=1`,
  `force_retry=False` (a timed-out POST is never re-sent by pybit);
- `ignore_codes={110043, 34040, 110025}` ("not modified") and retCode checked here;
- `requests` exceptions and pybit's FailedRequestError / InvalidRequestError become the taxonomy
  of `whale.bybit.errors`;
- prices and quantities go out as strings formatted from Decimal (`fmt_decimal`), never floats,
  never Decimals (pybit stringifies some fields with str() and chokes on Decimals in others);
- requests are signed with the server-corrected clock (`sync_time()` measures the offset against
  `/v5/market/time`; pybit's own timestamp is the raw local clock);
- one HTTP session guarded by a lock (its requests.Session is not documented thread-safe);
- `X-Bapi-Limit-*` headers read (`return_response_headers=True`): an exhausted endpoint is paused
  until Bybit's reset time; 10006 waits until that time (jittered) and retries a bounded number of
  times, unless the reset is further away than `max_rate_limit_wait_s`: then it fails at once with
  `RateLimitedError.retry_after_s`, so the caller reschedules instead of blocking.

Stopping (`abort`, the bot's stop event): every wait of the client (rate budget, 10006, back-off,
order look-ups) ends at once when it is set, with AbortedError; a request still in flight is
abandoned (it runs on a daemon thread, so the caller returns at once): a query ends with
AbortedError, an order/create with OutcomeUnknownError (its link id is resolved at the next start).

Orders: every order carries a unique `orderLinkId` (`new_link_id`). When the answer to an
order/create is lost (timeout, 5xx, dropped connection, 10000/10016) or Bybit says the id is a
duplicate (110072), the order is NEVER sent again: it is looked up by that orderLinkId on
`order/realtime` (open, then recently closed) a few times over several seconds. Found: its record is
returned (`OrderResult.resolved_by_query`). Not found by several answers in a row AND Bybit would
by now refuse the lost request anyway (its signed timestamp is older than recv_window + 1 s):
`OrderNotPlacedError` (place it again with a new id if still wanted). Otherwise, when the queries
themselves keep failing: `OutcomeUnknownError` carrying the link id (reconcile later).
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

from whale.bybit.clock import SYSTEM_CLOCK, Clock
from whale.bybit.endpoints import Endpoints
from whale.bybit.errors import (
    AbortedError,
    AuthError,
    BadDataError,
    BybitError,
    OrderNotPlacedError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    UnreachableError,
    error_for,
)
from whale.bybit.models import (
    ClosedPnl,
    Execution,
    OrderResult,
    PositionInfo,
    WalletInfo,
    dec,
    fmt_decimal,
    parse_closed_pnl,
    parse_execution,
    parse_position,
    parse_wallet,
)
from whale.bybit.public_messages import snapshot_from_bybit
from whale.bybit.quirks import CATEGORY, NOT_MODIFIED_CODES, SYMBOL_INVALID, interval_code
from whale.bybit.ratelimit import RateBudget
from whale.errors import BadInputError
from whale.logs import get_logger, register_secret
from whale.market import data_checks
from whale.market.book import BookSnapshot
from whale.market.candles import Candles, candles_from_rows
from whale.market.data_checks import BadData, BadValue
from whale.market.instruments import Instrument
from whale.market.intervals import MONTH, bucket_end, interval_ms
from whale.venue.ids import check_link_id, new_link_id

log = get_logger("bybit.rest")

SEVEN_DAYS_MS = 7 * 86_400_000
MAX_WINDOWS = 10  # executions / closed PnL: at most 10 windows of 7 days per call
KLINE_PAGE = 1000
IP_BAN_S = 600.0  # Bybit: after an HTTP 403 stop all HTTP for at least 10 minutes

# path -> (pybit method, signed, POST)
_CALLS: dict[str, tuple[str, bool, bool]] = {
    "market/time": ("get_server_time", False, False),
    "market/kline": ("get_kline", False, False),
    "market/tickers": ("get_tickers", False, False),
    "market/orderbook": ("get_orderbook", False, False),
    "market/instruments-info": ("get_instruments_info", False, False),
    "order/create": ("place_order", True, True),
    "order/cancel": ("cancel_order", True, True),
    "order/cancel-all": ("cancel_all_orders", True, True),
    "order/realtime": ("get_open_orders", True, False),
    "position/list": ("get_positions", True, False),
    "position/trading-stop": ("set_trading_stop", True, True),
    "position/set-leverage": ("set_leverage", True, True),
    "account/wallet-balance": ("get_wallet_balance", True, False),
    "execution/list": ("get_executions", True, False),
    "position/closed-pnl": ("get_closed_pnl", True, False),
}
# POSTs that may be sent again after an ambiguous answer: the exchange state they set is the same
# whether they ran once or twice (an order/create is not one of them).
_IDEMPOTENT_POSTS = frozenset({"order/cancel-all", "position/trading-stop", "position/set-leverage"})

class _Session(HTTP):
    """pybit's HTTP, signing with the timestamp the client gives (server-corrected clock)."""

    timestamp_fn: Callable[[], int] | None = None
    last_signed_ts: int = 0

    def _prepare_headers(self, payload, recv_window, content_type="application/json"):
        ts = self.timestamp_fn() if self.timestamp_fn is not None else int(time.time() * 1000)
        self.last_signed_ts = ts
        return {"Content-Type": content_type, "X-BAPI-API-KEY": self.api_key,
                "X-BAPI-SIGN": self._auth(payload=payload, recv_window=recv_window, timestamp=ts),
                "X-BAPI-SIGN-TYPE": "2", "X-BAPI-TIMESTAMP": str(ts), "X-BAPI-RECV-WINDOW": str(recv_window)}


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    """True when the request cannot have reached the server: DNS failure, refused, connect timeout,
    TLS handshake failure."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    import urllib3.exceptions as u3
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (u3.NewConnectionError, u3.ConnectTimeoutError, ConnectionRefusedError)):
            return True
        reason = getattr(e, "reason", None)
        if reason is None and e.args and isinstance(e.args[0], BaseException):
            reason = e.args[0]
        e = reason if isinstance(reason, BaseException) else (e.__cause__ or e.__context__)
    return False


def _why(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Name or service not known", "Temporary failure in name resolution", "nodename nor servname",
                   "Connection refused", "timed out", "Read timed out", "certificate verify failed",
                   "Connection reset", "Remote end closed connection", "Connection aborted"):
        if marker.lower() in text.lower():
            return marker.lower()
    return type(exc).__name__


class _AbortableClock:
    """The client's clock, whose sleep ends at once with AbortedError when `abort` is set."""

    def __init__(self, clock: Clock, abort: threading.Event) -> None:
        self._clock = clock
        self.abort = abort

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def sleep(self, seconds: float) -> None:
        if self.abort.wait(max(0.0, seconds)):
            raise AbortedError("the bot is stopping: a wait of the Bybit client was cut short")


class BybitRest:
    def __init__(self, endpoints: Endpoints, api_key: str | None = None, api_secret: str | None = None, *,
                 timeout: float = 10.0, recv_window: int = 5000, clock: Clock | None = None,
                 budget: RateBudget | None = None, max_rate_limit_retries: int = 3, max_rate_limit_wait_s: float = 10.0,
                 transient_retries: int = 2, resolve_timeout_s: float = 15.0, resolve_not_found: int = 3,
                 resync_every_s: float = 900.0, rng: random.Random | None = None,
                 abort: threading.Event | None = None) -> None:
        """`max_rate_limit_wait_s`: the longest wait for a rate limit (a 10006 reset, and the local
        budget's, up to 5 s); `abort`: see the module doc (the live bot passes its stop event)."""
        self.endpoints = endpoints
        self.host = endpoints.rest_host
        self.abort = abort
        base_clock = clock or SYSTEM_CLOCK
        self.clock: Clock = base_clock if abort is None else _AbortableClock(base_clock, abort)
        self.recv_window = int(recv_window)
        self.budget = budget or RateBudget(clock=self.clock, max_wait_s=min(5.0, max_rate_limit_wait_s))
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self.transient_retries = transient_retries
        self.resolve_timeout_s = resolve_timeout_s
        self.resolve_not_found = resolve_not_found
        self.resync_every_s = resync_every_s
        self._rng = rng or random.Random()
        self.has_keys = bool(api_key and api_secret)
        register_secret(api_key)
        register_secret(api_secret)
        self._lock = threading.Lock()
        self._http = _Session(api_key=api_key or None, api_secret=api_secret or None, timeout=timeout,
                              recv_window=self.recv_window, max_retries=1, retry_delay=0, force_retry=False,
                              ignore_codes=set(NOT_MODIFIED_CODES), return_response_headers=True,
                              logging_level=logging.WARNING, log_requests=False)
        self._http.retry_codes = set()  # an empty set given to the constructor means pybit's defaults
        self._http.endpoint = endpoints.rest_url.rstrip("/")
        self._http.timestamp_fn = self.server_now_ms
        self.offset_ms = 0
        self._synced_at: float | None = None
        self._instruments: dict[str, Instrument] = {}
        self.calls = 0  # requests sent (tests, logs)
        self.bad_data = BadData(get_logger("bybit.data"))  # market data refused (the live loop shares it)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the HTTP session. A request abandoned at shutdown may still hold the session's lock:
        then the session is closed without it (that request's connection is not in the pool)."""
        locked = self._lock.acquire(timeout=0.5)
        try:
            self._http.client.close()
        finally:
            if locked:
                self._lock.release()

    def sleep(self, seconds: float) -> None:
        """Sleep on the client's clock (AbortedError at once when the bot stops)."""
        self.clock.sleep(seconds)

    def __enter__(self) -> BybitRest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ time

    def server_now_ms(self) -> int:
        """Bybit's clock as far as we know: the local wall clock plus the measured offset."""
        return self.clock.now_ms() + self.offset_ms

    def sync_time(self) -> int:
        """Measure the offset between Bybit's clock and ours (ms; positive = ours is behind)."""
        t0 = self.clock.now_ms()
        body = self._call("market/time", {}, raw=True)
        t1 = self.clock.now_ms()
        result = body.get("result") or {}
        if result.get("timeNano"):
            server = int(result["timeNano"]) // 1_000_000
        elif result.get("timeSecond"):
            server = int(result["timeSecond"]) * 1000
        else:
            server = int(body.get("time") or 0)
        if not server:
            raise RetryableError(f"Bybit market/time on {self.host}: no time in the answer", endpoint="/v5/market/time")
        self.offset_ms = server - (t0 + t1) // 2
        self._synced_at = self.clock.monotonic()
        if abs(self.offset_ms) > 1000:
            log.warning("the local clock is %d ms %s Bybit's (%s); signing requests with Bybit's time. "
                        "Enable NTP time sync to fix the clock", abs(self.offset_ms),
                        "behind" if self.offset_ms > 0 else "ahead of", self.host)
        return self.offset_ms

    def _ensure_synced(self) -> None:
        if self._synced_at is None or self.clock.monotonic() - self._synced_at > self.resync_every_s:
            self.sync_time()

    def market_time_ms(self, symbol: str) -> int:
        """The exchange's market time: the order book's timestamp (the market's own clock; on the
        simulator this is replay time), never later than the server clock."""
        result = self._call("market/orderbook", {"category": CATEGORY, "symbol": symbol, "limit": 1})
        ts = int(result.get("ts") or 0)
        now = self.server_now_ms()
        return min(ts, now) if ts else now

    # ------------------------------------------------------------------ the request loop

    def _send(self, name: str, params: Mapping[str, Any]) -> tuple:
        """One request through pybit. Exceptions become plain tuples here (kind, ...), so the errors
        raised later carry no reference to requests' objects (which hold sockets):
        ("ok", body, headers) | ("api", retCode, retMsg, headers) | ("http", status) |
        ("net", never_sent, why) | ("nokeys",) | ("bad", why) | ("aborted",).
        With `abort`, the request runs on a daemon thread and is abandoned when the bot stops."""
        abort = self.abort
        if abort is None:
            return self._send_now(name, params)
        if abort.is_set():
            return ("aborted",)
        box: list[tuple] = []
        done = threading.Event()

        def work() -> None:
            try:
                box.append(self._send_now(name, params))
            finally:
                done.set()

        threading.Thread(target=work, name="whalebot-rest", daemon=True).start()
        while not done.wait(0.05):
            if abort.is_set():
                return ("aborted",)
        return box[0] if box else ("bad", "the request thread failed")

    def _send_now(self, name: str, params: Mapping[str, Any]) -> tuple:
        try:
            with self._lock:
                self.calls += 1
                body, _elapsed, headers = getattr(self._http, name)(**dict(params))
            return "ok", body, headers
        except InvalidRequestError as exc:
            return "api", int(exc.status_code), str(exc.message), exc.resp_headers
        except FailedRequestError as exc:
            return "http", int(exc.status_code or 0)
        except requests.exceptions.RequestException as exc:
            return "net", _never_sent(exc), _why(exc)
        except PermissionError:
            return ("nokeys",)
        except ValueError as exc:  # pybit's JSON decoding and sleep bugs surface as ValueError
            return "bad", str(exc)[:200]

    def _call(self, path: str, params: Mapping[str, Any], *, ok_codes: frozenset[int] = frozenset(),
              raw: bool = False) -> Any:
        """One REST call with the taxonomy applied. Returns `result` (or the whole body when `raw`);
        with `ok_codes`, returns (result, retCode)."""
        name, signed, post = _CALLS[path]
        endpoint = f"/v5/{path}"
        params = {k: v for k, v in params.items() if v is not None}
        ambiguous_is_unknown = post and path not in _IDEMPOTENT_POSTS
        if signed:
            if not self.has_keys:
                raise AuthError(f"Bybit {endpoint} needs API keys: set BYBIT_API_KEY and BYBIT_API_SECRET in .env",
                                endpoint=endpoint, host=self.host)
            self._ensure_synced()
        rate_retries = transient = 0
        clock_retried = False
        while True:
            self.budget.acquire(path)
            got = self._send(name, params)
            kind = got[0]
            if kind == "aborted":
                if ambiguous_is_unknown:
                    raise OutcomeUnknownError(f"Bybit {endpoint} on {self.host}: abandoned in flight because the bot "
                                              f"is stopping; the request may have executed", endpoint=endpoint,
                                              host=self.host)
                raise AbortedError(f"Bybit {endpoint} on {self.host}: abandoned because the bot is stopping",
                                   endpoint=endpoint, host=self.host)
            if kind == "nokeys":
                raise AuthError(f"Bybit {endpoint} needs API keys: set BYBIT_API_KEY and BYBIT_API_SECRET in .env",
                                endpoint=endpoint, host=self.host)
            if kind == "bad":
                raise RetryableError(f"Bybit {endpoint} on {self.host}: unreadable answer ({got[1]})",
                                     endpoint=endpoint, host=self.host)
            if kind == "http":
                status = got[1]
                problem = self._http_status(path, status, ambiguous_is_unknown)
                if problem is None and transient < self.transient_retries:
                    transient += 1
                    self._backoff(transient, f"{endpoint} answered HTTP {status}")
                    continue
                raise problem or RetryableError(f"Bybit {endpoint} on {self.host}: HTTP {status} (server error); "
                                                f"gave up after {transient + 1} attempts",
                                                code=status, endpoint=endpoint, host=self.host)
            if kind == "net":
                never_sent, why = got[1], got[2]
                if never_sent or not ambiguous_is_unknown:
                    if transient < self.transient_retries:
                        transient += 1
                        what = "cannot connect to" if never_sent else "no answer from"
                        self._backoff(transient, f"{endpoint}: {what} {self.host} ({why})")
                        continue
                    if post and not never_sent:
                        raise OutcomeUnknownError(f"Bybit {endpoint} on {self.host}: no answer ({why}) after "
                                                  f"{transient + 1} attempts", endpoint=endpoint, host=self.host)
                    text = (f"cannot reach Bybit at {self.host} ({why})" if never_sent else
                            f"no answer from Bybit at {self.host} ({why}) after {transient + 1} attempts")
                    raise UnreachableError(text, endpoint=endpoint, host=self.host)
                raise OutcomeUnknownError(f"Bybit {endpoint} on {self.host}: no answer ({why}); the request may have "
                                          f"executed", endpoint=endpoint, host=self.host)
            if kind == "ok":
                body, headers = got[1], got[2]
                code = int(body.get("retCode", 0) or 0)
                ret_msg = str(body.get("retMsg", ""))
            else:
                code, ret_msg, headers = got[1], got[2], got[3]
            self._note_limits(path, headers)
            if code == 0 or code in ok_codes:
                if raw:
                    return body
                result = body.get("result") or {}
                return (result, code) if ok_codes else result
            if code in (10006, 10018):
                until = self._until_reset(headers)
                if until is not None and until > self.max_rate_limit_wait_s:
                    self.budget.block(path, until)  # the next calls fail fast locally until the reset
                    raise RateLimitedError(f"Bybit {endpoint} on {self.host}: rate limit exceeded (retCode {code}); "
                                           f"Bybit accepts it again in {until:.1f} s", code=code, endpoint=endpoint,
                                           ret_msg=ret_msg, host=self.host, retry_after_s=until)
                if rate_retries >= self.max_rate_limit_retries:
                    raise RateLimitedError(f"Bybit {endpoint} on {self.host}: rate limit exceeded (retCode {code}) "
                                           f"{rate_retries + 1} times in a row", code=code, endpoint=endpoint,
                                           ret_msg=ret_msg, host=self.host, retry_after_s=until)
                rate_retries += 1
                wait = self._reset_wait(headers)
                self.budget.block(path, wait)
                log.warning("Bybit %s: rate limit (retCode %s); waiting %.2f s before retry %d/%d", endpoint, code,
                            wait, rate_retries, self.max_rate_limit_retries)
                self.clock.sleep(wait)
                continue
            if code == 10002 and signed and not clock_retried:
                clock_retried = True
                log.warning("Bybit %s: request timestamp outside recv_window; measuring the server time again",
                            endpoint)
                self.sync_time()
                continue
            if code in (10000, 10016):
                if ambiguous_is_unknown:
                    raise OutcomeUnknownError(f"Bybit {endpoint} on {self.host}: {ret_msg} (retCode {code}); the "
                                              f"request may have executed", code=code, endpoint=endpoint,
                                              ret_msg=ret_msg, host=self.host)
                if transient < self.transient_retries:
                    transient += 1
                    self._backoff(transient, f"{endpoint}: retCode {code} {ret_msg}")
                    continue
            if code == 110079 and transient < self.transient_retries:
                transient += 1
                self._backoff(transient, f"{endpoint}: order is being processed (110079)")
                continue
            raise error_for(code, endpoint, ret_msg, self.host)

    def _http_status(self, path: str, status: int, ambiguous_is_unknown: bool) -> BybitError | None:
        """The error for an HTTP status other than 200, or None when retrying is right."""
        endpoint = f"/v5/{path}"
        if status == 403:
            self.budget.block(None, IP_BAN_S)
            return RateLimitedError(f"Bybit {endpoint} on {self.host}: HTTP 403 (IP rate limit breached, or access "
                                    f"from a restricted country); all requests paused for {IP_BAN_S / 60:.0f} minutes",
                                    code=403, endpoint=endpoint, host=self.host, retry_after_s=IP_BAN_S)
        if status == 429:
            self.budget.block(None, 1.0)
            return None
        if status == 401:
            return AuthError(f"Bybit {endpoint} on {self.host}: HTTP 401: authentication headers refused; check "
                             f"BYBIT_API_KEY and BYBIT_API_SECRET", code=401, endpoint=endpoint, host=self.host)
        if status == 404:
            return RejectedError(f"Bybit {endpoint} on {self.host}: HTTP 404: no such endpoint (check `network` / "
                                 f"`rest_url`)", code=404, endpoint=endpoint, host=self.host)
        if status >= 500 or status == 409:  # 409 = pybit could not decode the JSON
            if ambiguous_is_unknown:
                return OutcomeUnknownError(f"Bybit {endpoint} on {self.host}: HTTP {status}; the request may have "
                                           f"executed", code=status, endpoint=endpoint, host=self.host)
            return None
        return RejectedError(f"Bybit {endpoint} on {self.host}: HTTP {status}", code=status, endpoint=endpoint,
                             host=self.host)

    def _backoff(self, attempt: int, why: str) -> None:
        wait = min(4.0, 0.5 * 2 ** (attempt - 1)) * (1.0 + self._rng.uniform(-0.25, 0.25))
        log.warning("Bybit %s; retrying in %.2f s", why, wait)
        self.clock.sleep(wait)

    def _until_reset(self, headers: Mapping[str, str] | None) -> float | None:
        """Seconds until Bybit's X-Bapi-Limit-Reset-Timestamp (None when absent)."""
        reset = _header_int(headers, "X-Bapi-Limit-Reset-Timestamp")
        return None if not reset else max(0.0, (reset - self.server_now_ms()) / 1000.0)

    def _reset_wait(self, headers: Mapping[str, str] | None) -> float:
        """Seconds until Bybit's X-Bapi-Limit-Reset-Timestamp (1 s when absent), bounded, with jitter."""
        reset = _header_int(headers, "X-Bapi-Limit-Reset-Timestamp")
        wait = (reset - self.server_now_ms()) / 1000.0 if reset else 1.0
        wait = min(max(wait, 0.05), self.max_rate_limit_wait_s)
        return wait * (1.0 + self._rng.uniform(0.0, 0.2))

    def _note_limits(self, path: str, headers: Mapping[str, str] | None) -> None:
        """An endpoint with no calls left is paused until Bybit's reset time."""
        remaining = _header_int(headers, "X-Bapi-Limit-Status")
        reset = _header_int(headers, "X-Bapi-Limit-Reset-Timestamp")
        if remaining == 0 and reset:
            wait = (reset - self.server_now_ms()) / 1000.0
            if wait > 0:
                self.budget.block(path, min(wait, self.max_rate_limit_wait_s))

    # ------------------------------------------------------------------ market data

    def instrument(self, symbol: str) -> Instrument:
        """Trading rules of a linear symbol from instruments-info (cached)."""
        cached = self._instruments.get(symbol)
        if cached is not None:
            return cached
        try:
            result = self._call("market/instruments-info", {"category": CATEGORY, "symbol": symbol})
        except RejectedError as exc:
            if exc.code != SYMBOL_INVALID:
                raise
            result = {}  # "symbol invalid"
        items = [i for i in result.get("list") or [] if i.get("symbol") == symbol]
        if not items:
            raise BadInputError(f"symbol {symbol!r} is not traded as a linear contract on {self.host} "
                                f"(check `symbol` in config.json)")
        inst = parse_instrument(items[0], f"Bybit instruments-info on {self.host}")
        self._instruments[symbol] = inst
        return inst

    def klines(self, symbol: str, interval: str, *, start: int | None = None, end: int | None = None,
               limit: int = 200, market_now_ms: int | None = None) -> tuple[Candles, tuple | None]:
        """Candles in ascending order: (closed ones, the forming one or None). A candle is closed when
        its last millisecond is not after the market time (`market_time_ms`, read before the klines)."""
        interval_ms(interval)  # ValueError for a bad interval
        now = self.market_time_ms(symbol) if market_now_ms is None else market_now_ms
        rows = self._kline_rows(symbol, interval, start, end, limit)
        return _split_forming(rows, interval, now)

    def _kline_rows(self, symbol: str, interval: str, start: int | None, end: int | None,
                    limit: int) -> list[tuple]:
        result = self._call("market/kline", {"category": CATEGORY, "symbol": symbol,
                                             "interval": interval_code(interval), "start": start, "end": end,
                                             "limit": limit})
        return kline_rows(result.get("list") or [], f"REST kline.{interval}.{symbol}", self.bad_data)

    def history(self, symbol: str, interval: str, count: int | None = None, *, end_ms: int | None = None,
                start_ms: int | None = None, progress: Callable[[int, int | None], None] | None = None,
                market_now_ms: int | None = None) -> Candles:
        """Closed candles, ascending, without duplicates: the newest `count` opening at or before
        `end_ms` (default: now), and/or every candle opening in [start_ms, end_ms]. Pages backwards
        1000 at a time with end = oldest start - 1. `progress(candles_so_far, target_or_None)`."""
        step = interval_ms(interval)
        if count is None and start_ms is None:
            raise ValueError("history needs count or start_ms")
        now = self.market_time_ms(symbol) if market_now_ms is None else market_now_ms
        target = count
        if target is None and start_ms is not None:
            last = min(end_ms, now) if end_ms is not None else now
            target = max(0, (last - start_ms) // step + 1)
        got: dict[int, tuple] = {}
        cursor = end_ms
        pages = 0
        max_pages = (target or 0) // KLINE_PAGE + 5 if interval != MONTH else 50
        while pages < max_pages:
            want = KLINE_PAGE if count is None else min(KLINE_PAGE, count - len(got) + 1)
            rows = self._kline_rows(symbol, interval, None, cursor, max(1, want))
            pages += 1
            if not rows:
                break
            closed, _forming = _split_forming(rows, interval, now, as_rows=True)
            for r in closed:
                if (start_ms is None or r[0] >= start_ms) and (end_ms is None or r[0] <= end_ms):
                    got[r[0]] = r
            if progress is not None:
                progress(min(len(got), target) if target is not None else len(got), target)
            oldest = rows[0][0]
            if count is not None and len(got) >= count:
                break
            if start_ms is not None and oldest <= start_ms:
                break
            if len(rows) < want or (cursor is not None and oldest > cursor):
                break  # no older history (or a server that ignores `end`)
            cursor = oldest - 1
        keys = sorted(got)
        if count is not None:
            keys = keys[-count:]
        return candles_from_rows([got[k] for k in keys], interval)

    def ticker(self, symbol: str) -> dict:
        """The ticker as Bybit sends it (strings)."""
        result = self._call("market/tickers", {"category": CATEGORY, "symbol": symbol})
        items = result.get("list") or []
        if not items:
            raise RejectedError(f"Bybit /v5/market/tickers on {self.host}: no ticker for {symbol}",
                                endpoint="/v5/market/tickers", host=self.host)
        return dict(items[0])

    def last_price(self, symbol: str) -> Decimal:
        """The ticker's lastPrice, exact; BadDataError when it is not a price above 0."""
        text = self.ticker(symbol).get("lastPrice")
        try:
            data_checks.price(text, "lastPrice")
        except BadValue as exc:
            self.bad_data.refuse(f"REST tickers {symbol}", str(exc))
            raise BadDataError(f"Bybit /v5/market/tickers on {self.host}: {exc} for {symbol}",
                               endpoint="/v5/market/tickers", host=self.host) from exc
        return dec(text)

    def orderbook(self, symbol: str, limit: int = 50) -> BookSnapshot:
        result = self._call("market/orderbook", {"category": CATEGORY, "symbol": symbol, "limit": limit})
        return snapshot_from_bybit(result)

    # ------------------------------------------------------------------ orders

    def set_leverage(self, symbol: str, leverage: Decimal | int | str) -> bool:
        """True when changed, False when it already was that (110043 is success)."""
        lev = fmt_decimal(leverage)
        _, code = self._call("position/set-leverage", {"category": CATEGORY, "symbol": symbol, "buyLeverage": lev,
                                                       "sellLeverage": lev}, ok_codes=frozenset({110043}))
        return code == 0

    def place_order(self, symbol: str, side: str, qty: Decimal | int | str, *, order_type: str = "Market",
                    price: Decimal | None = None, reduce_only: bool = False, stop_loss: Decimal | None = None,
                    take_profit: Decimal | None = None, position_idx: int = 0, link_id: str,
                    time_in_force: str | None = None, close_on_trigger: bool = False,
                    trigger_price: Decimal | None = None, trigger_direction: int | None = None) -> OrderResult:
        """Place one order with `link_id` (from new_link_id; never reused). See the module doc for
        what happens when the answer is lost: the order is looked up, never sent again."""
        check_link_id(link_id)
        if side not in ("Buy", "Sell"):
            raise ValueError(f"side {side!r}: expected Buy or Sell")
        if order_type not in ("Market", "Limit"):
            raise ValueError(f"order_type {order_type!r}: expected Market or Limit")
        if order_type == "Limit" and price is None:
            raise ValueError("a Limit order needs a price")
        params: dict[str, Any] = {
            "category": CATEGORY, "symbol": symbol, "side": side, "orderType": order_type, "qty": fmt_decimal(qty),
            "orderLinkId": link_id, "positionIdx": int(position_idx)}
        if price is not None:
            params["price"] = fmt_decimal(price)
        if time_in_force:
            params["timeInForce"] = time_in_force
        if reduce_only:
            params["reduceOnly"] = True
        if close_on_trigger:
            params["closeOnTrigger"] = True
        if stop_loss is not None:
            params["stopLoss"] = fmt_decimal(stop_loss)
        if take_profit is not None:
            params["takeProfit"] = fmt_decimal(take_profit)
        if trigger_price is not None:
            params["triggerPrice"] = fmt_decimal(trigger_price)
            params["triggerDirection"] = int(trigger_direction or 0)
        if stop_loss is not None or take_profit is not None:
            params["tpslMode"] = "Full"
        try:
            result = self._call("order/create", params)
        except OutcomeUnknownError as exc:
            cause, duplicate = str(exc), False
        except RejectedError as exc:
            if exc.code != 110072:
                raise
            cause, duplicate = str(exc), True
        else:
            return OrderResult(order_id=str(result.get("orderId", "")),
                               link_id=str(result.get("orderLinkId") or link_id))
        # The answer is lost (or Bybit knows the id already): look the order up, never send it again.
        if duplicate:
            log.warning("order %s: Bybit says the orderLinkId was used already (110072); looking it up", link_id)
        else:
            log.warning("order %s (%s %s %s): %s; looking it up by orderLinkId", link_id, side, params["qty"],
                        symbol, cause)
        return self._resolve(symbol, link_id, side, dec(params["qty"]), self._http.last_signed_ts, cause,
                             duplicate=duplicate)

    def _resolve(self, symbol: str, link_id: str, side: str, qty: Decimal, sent_ts: int, cause: str, *,
                 duplicate: bool = False) -> OrderResult:
        """Find an order whose create answer was lost (never re-send it)."""
        deadline = self.clock.monotonic() + self.resolve_timeout_s
        expired_at = sent_ts + self.recv_window + 1000  # after this Bybit refuses the lost request anyway
        not_found = 0
        delays = (0.3, 0.6, 1.0, 1.5, 2.0)
        for attempt in itertools.count():
            try:
                order = self.get_order(symbol, link_id=link_id)
                answered = True
            except (RetryableError, OutcomeUnknownError) as exc:
                order, answered = None, False
                log.warning("order %s: lookup failed (%s)", link_id, str(exc))
            if order is not None:
                if order.get("side") != side or (qty > 0 and dec(order.get("qty"), Decimal(0)) != qty):
                    raise RejectedError(f"orderLinkId {link_id} belongs to another order ({order.get('side')} "
                                        f"{order.get('qty')}); refusing to treat it as this one", code=110072,
                                        endpoint="/v5/order/create", host=self.host)
                status = str(order.get("orderStatus") or "") or None
                log.warning("order %s found by orderLinkId: %s (status %s); it was not sent again", link_id,
                            order.get("orderId"), status)
                return OrderResult(order_id=str(order.get("orderId", "")), link_id=link_id, status=status,
                                   resolved_by_query=True, order=dict(order))
            if answered:
                not_found += 1
            if duplicate and not_found >= self.resolve_not_found:
                raise RejectedError(f"orderLinkId {link_id} is a duplicate (110072) but no such order can be found",
                                    code=110072, endpoint="/v5/order/create", host=self.host)
            if not_found >= self.resolve_not_found and self.server_now_ms() >= expired_at:
                raise OrderNotPlacedError(f"order {link_id} ({side} {qty} {symbol}) was not placed: {cause}; "
                                          f"{not_found} lookups by orderLinkId found nothing after its recv_window "
                                          f"expired", link_id=link_id, endpoint="/v5/order/create", host=self.host)
            left = deadline - self.clock.monotonic()
            if left <= 0:
                raise OutcomeUnknownError(f"order {link_id} ({side} {qty} {symbol}): outcome unknown after "
                                          f"{attempt + 1} lookups ({cause}); reconcile before trading on",
                                          link_id=link_id, endpoint="/v5/order/create", host=self.host)
            wait = delays[min(attempt, len(delays) - 1)]
            if not_found >= self.resolve_not_found:
                wait = max(wait, (expired_at - self.server_now_ms()) / 1000.0)
            try:
                self.clock.sleep(max(0.0, min(wait, left)))
            except AbortedError as exc:
                raise OutcomeUnknownError(f"order {link_id} ({side} {qty} {symbol}): the bot stopped while looking it "
                                          f"up ({cause}); it is resolved at the next start", link_id=link_id,
                                          endpoint="/v5/order/create", host=self.host) from exc
        raise AssertionError("unreachable")

    def get_order(self, symbol: str, *, link_id: str | None = None, order_id: str | None = None) -> dict | None:
        """One order by orderLinkId or orderId, open or recently closed; None when Bybit has none."""
        base = {"category": CATEGORY, "symbol": symbol}
        if order_id:
            base["orderId"] = order_id
        elif link_id:
            base["orderLinkId"] = link_id
        else:
            raise ValueError("get_order needs link_id or order_id")
        for open_only in (0, 1):
            result = self._call("order/realtime", dict(base, openOnly=open_only))
            for item in result.get("list") or []:
                if (order_id and item.get("orderId") == order_id) or (link_id and item.get("orderLinkId") == link_id):
                    return dict(item)
        return None

    def open_orders(self, symbol: str | None) -> list[dict]:
        """Every open order of the symbol (None: of every USDT symbol; conditional and TP/SL ones included),
        newest first."""
        return self._paged("order/realtime", {"category": CATEGORY, **_symbol_or_all(symbol), "limit": 50})

    def cancel_order(self, symbol: str, *, order_id: str | None = None, link_id: str | None = None) -> bool:
        """True when cancelled; False when Bybit has no such open order (110001: already filled,
        cancelled or unknown — reconcile through the order stream or get_order)."""
        params = {"category": CATEGORY, "symbol": symbol}
        if order_id:  # never both (pitfall 13)
            params["orderId"] = order_id
        elif link_id:
            params["orderLinkId"] = link_id
        else:
            raise ValueError("cancel_order needs order_id or link_id")
        for attempt in (1, 2):
            try:
                self._call("order/cancel", params)
                return True
            except RejectedError as exc:
                if exc.code in (110001, 110008, 110010):
                    return False
                raise
            except OutcomeUnknownError:
                # A cancel is safe to repeat: ask once more; "does not exist" then means it is final.
                if attempt == 2:
                    raise
        return True

    def cancel_all(self, symbol: str | None) -> list[dict]:
        """Cancel every open order of the symbol (None: of every USDT symbol), including TP/SL and
        conditional ones."""
        result = self._call("order/cancel-all", {"category": CATEGORY, **_symbol_or_all(symbol)})
        return [dict(x) for x in result.get("list") or []]

    # ------------------------------------------------------------------ positions and account

    def positions(self, symbol: str | None) -> list[PositionInfo]:
        """The symbol's position rows (flat ones included; two rows in hedge mode); None: every USDT
        symbol's open positions."""
        return [parse_position(p) for p in self._paged("position/list", {"category": CATEGORY, **_symbol_or_all(symbol),
                                                                         "limit": 50})]

    def set_trading_stop(self, symbol: str, *, position_idx: int = 0, stop_loss: Decimal | str | None = None,
                         take_profit: Decimal | str | None = None, trailing_stop: Decimal | str | None = None,
                         active_price: Decimal | str | None = None) -> bool:
        """Set the position's TP / SL / trailing stop (Full mode; "0" or Decimal(0) clears one).
        False when nothing changed (34040)."""
        params: dict[str, Any] = {"category": CATEGORY, "symbol": symbol, "tpslMode": "Full",
                                  "positionIdx": int(position_idx)}
        for key, value in (("stopLoss", stop_loss), ("takeProfit", take_profit), ("trailingStop", trailing_stop),
                           ("activePrice", active_price)):
            if value is not None:
                params[key] = fmt_decimal(value)
        if len(params) == 4:
            raise ValueError("set_trading_stop needs stop_loss, take_profit or trailing_stop")
        _, code = self._call("position/trading-stop", params, ok_codes=frozenset({34040}))
        return code == 0

    def wallet(self) -> WalletInfo:
        result = self._call("account/wallet-balance", {"accountType": "UNIFIED"})
        items = result.get("list") or []
        if not items:
            raise RejectedError(f"Bybit /v5/account/wallet-balance on {self.host}: no UNIFIED account",
                                endpoint="/v5/account/wallet-balance", host=self.host)
        return parse_wallet(items[0])

    def executions(self, symbol: str, *, start_ms: int | None = None, end_ms: int | None = None,
                   link_id: str | None = None, order_id: str | None = None) -> list[Execution]:
        """Fills of the symbol, oldest first, de-duplicated by execId (Bybit's default window: the
        last 7 days; with start_ms, every 7-day window from there on, at most 10)."""
        base = {"category": CATEGORY, "symbol": symbol, "orderLinkId": link_id if not order_id else None,
                "orderId": order_id, "limit": 100}
        seen: dict[str, Execution] = {}
        for window in self._windows(symbol, start_ms, end_ms):  # oldest window first
            for item in reversed(self._paged("execution/list", dict(base, **window))):  # listed newest first
                e = parse_execution(item)
                seen.setdefault(e.exec_id, e)
        # Stable: fills of the same millisecond keep the exchange's order (ids are random, never an order).
        return sorted(seen.values(), key=lambda e: e.exec_time)

    def closed_pnl(self, symbol: str, *, start_ms: int | None = None, end_ms: int | None = None) -> list[ClosedPnl]:
        """Closed-PnL records of the symbol, oldest first (windows as for executions)."""
        out: dict[tuple, ClosedPnl] = {}
        for window in self._windows(symbol, start_ms, end_ms):
            for item in reversed(self._paged("position/closed-pnl", dict({"category": CATEGORY, "symbol": symbol,
                                                                          "limit": 100}, **window))):
                c = parse_closed_pnl(item)
                out.setdefault((c.order_id, c.updated_ms, c.closed_size), c)
        return sorted(out.values(), key=lambda c: c.updated_ms)  # stable, as for executions

    def _windows(self, symbol: str, start_ms: int | None, end_ms: int | None) -> list[dict]:
        if start_ms is None:
            return [{"endTime": end_ms}] if end_ms is not None else [{}]
        end = end_ms if end_ms is not None else self.market_time_ms(symbol)
        start = start_ms
        if end - start > MAX_WINDOWS * SEVEN_DAYS_MS:
            log.warning("executions/closed PnL: only the last %d days are read", MAX_WINDOWS * 7)
            start = end - MAX_WINDOWS * SEVEN_DAYS_MS
        out = []
        while True:
            stop = min(end, start + SEVEN_DAYS_MS)
            out.append({"startTime": start, "endTime": stop})
            if stop >= end:
                return out
            start = stop + 1

    def _paged(self, path: str, params: dict, max_pages: int = 50) -> list[dict]:
        out: list[dict] = []
        cursor = None
        for _ in range(max_pages):
            result = self._call(path, dict(params, cursor=cursor) if cursor else params)
            out.extend(dict(x) for x in result.get("list") or [])
            cursor = result.get("nextPageCursor") or None
            if not cursor:
                break
        return out


# ---------------------------------------------------------------------- helpers


def _symbol_or_all(symbol: str | None) -> dict[str, str]:
    """One symbol, or every symbol settled in USDT (how Bybit lists or cancels across symbols)."""
    return {"symbol": symbol} if symbol else {"settleCoin": "USDT"}


def _header_int(headers: Mapping[str, str] | None, name: str) -> int | None:
    if not headers:
        return None
    value = headers.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def candle_last_ms(start_ms: int, interval: str) -> int:
    """The last millisecond of the candle opening at `start_ms`."""
    if interval == MONTH:
        return int(bucket_end(np.array([start_ms]), interval)[0]) - 1
    return start_ms + interval_ms(interval) - 1


def _split_forming(rows: list[tuple], interval: str, now_ms: int, as_rows: bool = False):
    closed = [r for r in rows if candle_last_ms(r[0], interval) <= now_ms]
    forming = next((r for r in reversed(rows) if candle_last_ms(r[0], interval) > now_ms), None)
    if as_rows:
        return closed, forming
    return candles_from_rows(closed, interval), forming


def kline_rows(items: list, source: str, bad_data: BadData) -> list[tuple]:
    """(ts, o, h, l, c, v) rows in ascending order from `market/kline` items; an item that cannot be
    true (a price not finite or not above 0, a negative volume, not numbers, too short) is skipped
    and reported to `bad_data`."""
    rows = []
    for r in items:
        try:
            if not isinstance(r, list) or len(r) < 6:
                raise BadValue(f"item {r!r} is not a list [start, open, high, low, close, volume, ...]")
            o, h, lo, c, v = r[1:6]
            rows.append((int(r[0]),) + data_checks.candle(o, h, lo, c, v, f"candle {r[0]}"))
        except (BadValue, TypeError, ValueError) as exc:
            bad_data.refuse(source, str(exc))
    rows.sort(key=lambda r: r[0])
    return rows


def parse_instrument(item: Mapping[str, Any], source: str = "Bybit instruments-info") -> Instrument:
    """The instrument's rules. BadDataError naming the symbol and the field when one is missing, not a
    number, or not above 0 (a qtyStep or tickSize of 0 would divide by zero when sizing an order;
    trading on rules that cannot be right is refused)."""
    symbol = str(item.get("symbol") or "?")
    groups = {name: item.get(name) or {} for name in ("lotSizeFilter", "priceFilter", "leverageFilter")}

    def rule(group: str, name: str, default: Decimal | None = None, *, zero_ok: bool = False) -> Decimal:
        values = groups[group]
        text = values.get(name) if isinstance(values, Mapping) else None
        if text in (None, "") and default is not None:
            return default
        try:
            value = dec(text)
        except (ValueError, TypeError):
            value = None
        if value is None or value < 0 or (value == 0 and not zero_ok):
            shown = "missing" if text in (None, "") else repr(text)
            raise BadDataError(f"{source} for {symbol}: {group}.{name} is {shown}; it must be a number "
                               f"{'of 0 or more' if zero_ok else 'above 0'}. Refusing to trade on instrument "
                               f"rules that cannot be right")
        return value

    max_qty = rule("lotSizeFilter", "maxOrderQty")
    return Instrument(symbol=symbol, tick_size=rule("priceFilter", "tickSize"),
                      qty_step=rule("lotSizeFilter", "qtyStep"), min_order_qty=rule("lotSizeFilter", "minOrderQty"),
                      min_notional=rule("lotSizeFilter", "minNotionalValue", Decimal(0), zero_ok=True),
                      max_order_qty=max_qty, max_mkt_order_qty=rule("lotSizeFilter", "maxMktOrderQty", max_qty),
                      max_leverage=rule("leverageFilter", "maxLeverage", Decimal(100)),
                      min_leverage=rule("leverageFilter", "minLeverage", Decimal(1)),
                      leverage_step=rule("leverageFilter", "leverageStep", Decimal("0.01")))


__all__ = ["BybitRest", "new_link_id", "check_link_id", "parse_instrument", "candle_last_ms"]
