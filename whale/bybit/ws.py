"""BybitWebSocketManager: our own manager on websocket-client's `WebSocketApp` (not pybit's
WebSocket; docs/bybit.md#pybits-pitfalls lists why), one thread per connection plus one watchdog
thread. One manager serves every symbol of the account.

Public stream (`/v5/public/linear`): per symbol, `kline.{interval}.{symbol}` for its interval and
each higher timeframe, `orderbook.{depth}.{symbol}`, `tickers.{symbol}`, `publicTrade.{symbol}`.
All symbols share one connection: subscriptions go out in requests of at most SUBSCRIBE_CHUNK (10)
topics, and when the topics of a connection would total more than MAX_ARGS_CHARS (21,000, Bybit's
limit per connection) the next symbols go on another public connection (`public-2`, ...); a
symbol's topics always share one connection. Private stream (`/v5/private`, only with keys):
`{"op":"auth"}` first, and the subscription to `order`, `execution`, `position`, `wallet` (every
symbol's) only after the auth ack said success.

- Messages go into the account's Markets (each symbol's book, candles, ticker, trades; the private
  queue), translated by whale.bybit.public_messages into venue-neutral values. Every handler is
  wrapped: a malformed message is logged (once per kind, then counted) and skipped; it never
  kills a thread. `success:false` acks are logged, not fatal. Private messages are checked for
  shape item by item (whale.bybit.private_messages) and market values for sense (MarketState):
  what fails is reported to `market.bad_data` and skipped, the rest of the message still counts.
- A raw tap (`tap=`, a RawTap: the `record` command) also gets every public topic message as
  received, with its local receive time, and `interrupted(symbols, reason)` on each reconnect and
  book resynchronisation, so a recorder shares this connection, its reconnects and its checks.
- `{"op":"ping"}` every 20 s on each stream (websocket-client answers protocol pings itself).
- Reconnect with exponential back-off and jitter (0.5 s -> 30 s, x2, +-25 %), re-auth,
  resubscribe; once the subscriptions are acknowledged again, `on_reconnect(stream)` is called (on
  the stream's thread: keep it short, e.g. set a flag) so the loop can gap-fill and reconcile.
- A book that needs a fresh snapshot (gap in `u`, crossed) is resynchronised by unsubscribing and
  resubscribing its topic. If `u` gaps keep coming while the book never crosses, the host does not
  number deltas consecutively: the gap check of that symbol's book is switched off (one warning).
- Stale streams: no data on a public connection (no message of any kind on the private one, whose
  pongs prove it alive) for `stale_after_s` -> the connection is cut and re-opened, and
  `stale(stream)` stays true until data flows again, so the feed falls back to REST. `PUBLIC`
  names every public connection together: stale when any is, its age the oldest.
- TLS: wss:// URLs are verified (certificate chain and host name); ws:// is plain (simulator).
- `skip_utf8_validation=True` by default: websocket-client's pure-Python UTF-8 check is the main
  per-byte cost; json.loads still rejects invalid UTF-8.
- Each connection is opened by us (`open_socket`, with a timeout covering TCP, TLS and the
  handshake) and handed to WebSocketApp, so a silent host cannot hang a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import websocket

from whale.bybit.clock import SYSTEM_CLOCK, Clock
from whale.bybit.endpoints import Endpoints, host_of
from whale.bybit.private_messages import check_items
from whale.bybit.public_messages import book_update, ticker_of, trades_of
from whale.bybit.quirks import interval_code
from whale.logs import get_logger, redact, register_secret
from whale.market.state import Markets, MarketState
from whale.venue.protocols import PRIVATE, PUBLIC, SymbolStreams

log = get_logger("bybit.ws")


PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
SUBSCRIBE_CHUNK = 10  # topics per subscribe request (Bybit: at most 10 args per request)
MAX_ARGS_CHARS = 21_000  # Bybit: the args of one public connection's subscriptions total at most this
PING_INTERVAL_S = 20.0
AUTH_EXPIRES_MS = 10_000
ACK_TIMEOUT_S = 10.0


class Backoff:
    """Exponential back-off with jitter: first, first*factor, ... capped at maximum, each +-jitter."""

    def __init__(self, first: float = 0.5, maximum: float = 30.0, factor: float = 2.0, jitter: float = 0.25,
                 rng: random.Random | None = None) -> None:
        self.first, self.maximum, self.factor, self.jitter = first, maximum, factor, jitter
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        base = min(self.maximum, self.first * self.factor ** self.attempt)
        self.attempt += 1
        return base * (1.0 + self.rng.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self.attempt = 0


def tls_context() -> ssl.SSLContext:
    """A verifying client context (certifi's bundle when installed, else the system's)."""
    try:
        import certifi
        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with requests
        return ssl.create_default_context()


def open_socket(url: str, timeout: float) -> socket.socket:
    """A connected TCP socket for a ws:// or wss:// URL (TLS verified for wss), with `timeout` as
    its timeout, ready to be handed to WebSocketApp. Raises OSError (incl. ssl.SSLError)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.settimeout(timeout)
        if secure:
            sock = tls_context().wrap_socket(sock, server_hostname=host)
            sock.settimeout(timeout)
        return sock
    except BaseException:
        sock.close()
        raise


def auth_message(api_key: str, api_secret: str, expires_ms: int) -> dict:
    sig = hmac.new(api_secret.encode(), f"GET/realtime{expires_ms}".encode(), hashlib.sha256).hexdigest()
    return {"op": "auth", "args": [api_key, expires_ms, sig]}


class _Stream:
    """One stream (public or private): its connection, thread and bookkeeping."""

    def __init__(self, mgr: BybitWebSocketManager, name: str, url: str, topics: list[str], kind: str) -> None:
        self.mgr = mgr
        self.name = name
        self.kind = kind  # PUBLIC or PRIVATE
        self.url = url
        self.host = host_of(url)
        self.topics = topics
        self.thread: threading.Thread | None = None
        self.app: websocket.WebSocketApp | None = None
        self.lock = threading.Lock()
        self.connected = False
        self.ready = threading.Event()  # authenticated (private) and subscriptions acknowledged
        self.connected_at: float | None = None
        self.last_message: float | None = None  # any message
        self.last_data: float | None = None  # topic messages
        self.data_frames = 0  # data messages (a topic, or not parseable) handled on this connection
        self.last_ping = 0.0
        self.connects = 0
        self.reconnects = 0
        self.stale_cuts = 0
        self.pending_acks: set[str] = set()
        self.acks_done = False
        self.auth_ok: bool | None = None
        self.auth_error: str | None = None
        self.last_error: str | None = None
        self.backoff = Backoff(*mgr.backoff, rng=mgr.rng)
        self._req = itertools.count(1)
        self.trace: deque[tuple[float, str]] = deque(maxlen=256)  # (monotonic, event): what happened, in order

    def symbols(self) -> tuple[str, ...]:
        """The symbols whose public topics this connection carries."""
        return tuple(dict.fromkeys(self.mgr._routes[t].market.symbol for t in self.topics if t in self.mgr._routes))

    def note(self, event: str) -> None:
        self.trace.append((self.mgr.clock.monotonic(), event))

    # ------------------------------------------------------------------ sending

    def send(self, obj: dict) -> bool:
        app = self.app
        if app is None or not self.connected:
            return False
        try:
            app.send(json.dumps(obj, separators=(",", ":")))
            return True
        except Exception as exc:  # noqa: BLE001 - a send on a dying socket: the thread reconnects
            log.debug("%s stream: send failed (%s)", self.name, exc)
            return False

    def req_id(self, kind: str) -> str:
        return f"{kind}-{next(self._req)}"

    def subscribe(self, topics: list[str]) -> None:
        chunk = self.mgr.subscribe_chunk
        for i in range(0, len(topics), chunk):
            rid = self.req_id("sub")
            self.pending_acks.add(rid)
            self.note("subscribe_sent")
            self.send({"op": "subscribe", "req_id": rid, "args": topics[i:i + chunk]})

    def close(self) -> None:
        """Cut the connection from any thread: shut the socket down so the stream thread's read
        fails at once (WebSocketApp.close() would wait for the server's close frame while the
        stream thread reads the same socket)."""
        with self.lock:
            app = self.app
        if app is None:
            return
        app.keep_running = False
        ws = app.sock
        raw = getattr(ws, "sock", None) if ws is not None else None
        if raw is not None:
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        mgr = self.mgr
        while not mgr._stop.is_set():
            try:
                sock = open_socket(self.url, mgr.connect_timeout)
            except OSError as exc:
                self.last_error = f"cannot connect to {self.host}: {exc}"
                self._wait_before_retry(self.last_error)
                continue
            with self.lock:
                if mgr._stop.is_set():
                    sock.close()
                    break
                self.app = websocket.WebSocketApp(self.url, on_open=self._on_open, on_message=self._on_message,
                                                  on_error=self._on_error, on_close=self._on_close, socket=sock)
            try:
                self.app.run_forever(skip_utf8_validation=mgr.skip_utf8_validation, ping_interval=0, reconnect=0)
            except Exception as exc:  # noqa: BLE001 - never let the thread die
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected = False
                self.ready.clear()
                try:
                    sock.close()
                except OSError:
                    pass
                with self.lock:
                    self.app = None
            if mgr._stop.is_set():
                break
            if self.connected_at is not None and self.last_data is not None \
                    and mgr.clock.monotonic() - self.connected_at > 30.0:
                self.backoff.reset()
            self._wait_before_retry(self.last_error or "connection closed")

    def _wait_before_retry(self, why: str) -> None:
        delay = self.backoff.next()
        if self.auth_ok is False:
            delay = max(delay, self.backoff.maximum)
        level = 30 if self.backoff.attempt <= 3 or self.backoff.attempt % 10 == 0 else 10  # WARNING, then DEBUG
        log.log(level, "%s stream (%s): %s; reconnecting in %.1f s", self.name, self.host, why, delay)
        self.mgr._stop.wait(delay)

    # ------------------------------------------------------------------ callbacks (stream thread)

    def _on_open(self, app) -> None:
        mgr = self.mgr
        if mgr._stop.is_set():  # stop() came while this connection was being opened
            self.close()
            return
        now = mgr.clock.monotonic()
        self.connected = True
        self.connected_at = now
        self.last_ping = now
        self.connects += 1
        if self.connects > 1:
            self.reconnects += 1
        self.pending_acks = set()
        self.acks_done = False
        self.auth_ok = None
        self.last_error = None
        self.data_frames = 0
        try:
            sock = app.sock.sock if app.sock is not None else None
            if sock is not None:
                sock.settimeout(None)  # connected: reads happen when select says so
        except Exception:  # noqa: BLE001
            pass
        log.info("%s stream connected to %s%s", self.name, self.host,
                 f" (reconnect {self.reconnects})" if self.reconnects else "")
        self.note("open")
        if self.kind == PUBLIC:
            mgr._reset_books(self)  # this connection's snapshots will rebuild them; stale until then
            if self.connects > 1:
                mgr._tap_gap(self.symbols(), f"reconnect {self.reconnects}")
        if self.kind == PRIVATE:
            expires = mgr.server_time_ms() + AUTH_EXPIRES_MS
            self.note("auth_sent")
            self.send(auth_message(mgr.api_key, mgr.api_secret, expires))
        else:
            self.subscribe(list(self.topics))

    def _on_close(self, app, code=None, reason=None) -> None:
        self.connected = False
        self.ready.clear()
        self.note("closed")

    def _on_error(self, app, error) -> None:
        self.last_error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__

    def _on_message(self, app, raw) -> None:
        mgr = self.mgr
        recv_us = time.time_ns() // 1000 if mgr.tap is not None else 0  # the local receive time, for a recorder
        now = mgr.clock.monotonic()
        self.last_message = now
        data = True  # a topic message, or one that cannot be read: counted once handled (lockstep)
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError("not a JSON object")
            topic = msg.get("topic")
            if topic is not None:
                self.last_data = now
                mgr.markets.touch(self.kind)
                if self.kind == PUBLIC:
                    try:
                        mgr._on_public(self, str(topic), msg)
                    finally:
                        if mgr.tap is not None:
                            mgr._tap_message(msg, recv_us)
                else:
                    mgr._on_private(self, str(topic), msg)
            else:
                data = False
                if self.kind == PRIVATE:
                    mgr.markets.touch(self.kind)
                self._on_op(msg)
        except Exception as exc:  # noqa: BLE001 - a bad message is skipped, never fatal
            kind = _kind_of(raw)
            mgr._malformed(self.kind, kind, raw, exc)
        finally:
            if data:
                self.data_frames += 1

    def _on_op(self, msg: dict) -> None:
        op = msg.get("op")
        success = msg.get("success")
        if op == "auth":
            self.note("auth_ok" if success else "auth_refused")
            if success:
                self.auth_ok = True
                self.auth_error = None
                self.backoff.reset()
                log.info("private stream authenticated on %s", self.host)
                self.subscribe(list(self.topics))
            else:
                self.auth_ok = False
                self.auth_error = redact(str(msg.get("ret_msg") or "refused"))
                log.error("private stream: authentication refused by %s (%s): check BYBIT_API_KEY / "
                          "BYBIT_API_SECRET, that the keys belong to this network, and the system clock",
                          self.host, self.auth_error)
                self.close()
            return
        if op in ("subscribe", "unsubscribe"):
            rid = str(msg.get("req_id") or "")
            if success is False:
                log.warning("%s stream: %s refused by %s: %s", self.name, op, self.host, msg.get("ret_msg"))
            if op == "unsubscribe" or rid.startswith("resync"):
                self.mgr._on_resync_ack(self, op, rid)
                return
            self.pending_acks.discard(rid)
            if not self.pending_acks and not self.acks_done and rid.startswith("sub"):
                self.note("subscribed")
                self.acks_done = True
                self.ready.set()
                if self.reconnects:
                    self.mgr._reconnected(self)
            return
        if op in ("ping", "pong") or msg.get("ret_msg") == "pong":
            return
        if success is False:
            log.warning("%s stream: %s", self.name, str(msg.get("ret_msg") or msg)[:300])


def _kind_of(raw) -> str:
    """A short label of a message for the once-per-kind malformed log (its topic prefix if any)."""
    head = raw[:200] if isinstance(raw, (bytes, str)) else b""
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    marker = '"topic":"'
    i = head.find(marker)
    if i >= 0:
        rest = head[i + len(marker):]
        return rest.split('"', 1)[0].split(".", 1)[0] or "topic"
    return "message"


def public_topics(wanted: SymbolStreams) -> list[str]:
    """One symbol's public topics: its candles (primary first), its book, ticker and trades."""
    sym = wanted.symbol
    klines = [f"kline.{interval_code(i)}.{sym}" for i in wanted.intervals]
    return klines + [f"orderbook.{wanted.book_depth}.{sym}", f"tickers.{sym}", f"publicTrade.{sym}"]


def split_connections(groups: list[list[str]], max_chars: int = MAX_ARGS_CHARS) -> list[list[str]]:
    """Topic groups (one per symbol, kept together) packed in order onto connections whose topics total
    at most `max_chars` characters (a group alone longer than that still gets a connection)."""
    out: list[list[str]] = []
    used = 0
    for group in groups:
        size = sum(len(t) for t in group)
        if not out or used + size > max_chars:
            out.append([])
            used = 0
        out[-1].extend(group)
        used += size
    return out


class RawTap(Protocol):
    """Sees the public streams as they arrive (the `record` command): called on the stream's thread,
    so it must be quick and do its own locking."""

    def message(self, msg: dict, recv_us: int) -> None:
        """A public topic message (parsed JSON, after the manager handled it) and its local receive
        time in µs since the epoch. Raising counts it as malformed (logged once, skipped)."""

    def interrupted(self, symbols: tuple[str, ...], reason: str) -> None:
        """The stream of `symbols` was interrupted (a reconnect, a book resynchronisation): what
        follows starts with a fresh snapshot."""


class _Route:
    """Where a public topic's messages go: the kind of message, the symbol's state, the kline interval."""

    __slots__ = ("kind", "market", "interval", "stream")

    def __init__(self, kind: str, market: MarketState, interval: str | None = None) -> None:
        self.kind, self.market, self.interval = kind, market, interval
        self.stream: _Stream | None = None


class BybitWebSocketManager:
    def __init__(self, endpoints: Endpoints, markets: Markets, wanted: list[SymbolStreams], *,
                 api_key: str | None = None, api_secret: str | None = None, stale_after_s: float = 30.0,
                 on_reconnect: Callable[[str], None] | None = None, clock: Clock | None = None,
                 skip_utf8_validation: bool = True, ping_interval_s: float = PING_INTERVAL_S,
                 connect_timeout: float = 10.0, backoff: tuple[float, float] = (0.5, 30.0),
                 server_time_ms: Callable[[], int] | None = None, rng: random.Random | None = None,
                 max_args_chars: int = MAX_ARGS_CHARS, subscribe_chunk: int = SUBSCRIBE_CHUNK,
                 tap: RawTap | None = None) -> None:
        """`wanted`: every symbol's public streams (each symbol must be in `markets`). `tap` (a
        recorder) also gets every public topic message as received, and each interruption."""
        self.tap = tap
        self.endpoints = endpoints
        self.markets = markets
        self.wanted = list(wanted)
        self.intervals = list(dict.fromkeys(i for w in self.wanted for i in w.intervals))  # every symbol's
        self.api_key = api_key or ""
        self.api_secret = api_secret or ""
        register_secret(api_key)
        register_secret(api_secret)
        self.stale_after_s = float(stale_after_s)
        self.on_reconnect = on_reconnect
        self.clock = clock or SYSTEM_CLOCK
        self.server_time_ms = server_time_ms or self.clock.now_ms
        self.skip_utf8_validation = skip_utf8_validation
        self.ping_interval_s = min(float(ping_interval_s), max(0.5, self.stale_after_s / 2.0))
        self.connect_timeout = float(connect_timeout)
        self.backoff: tuple[float, float] = backoff
        self.rng = rng or random.Random()
        self.subscribe_chunk = max(1, int(subscribe_chunk))
        self._stop = threading.Event()
        self._started = False
        self._watchdog: threading.Thread | None = None
        self._routes: dict[str, _Route] = {}
        self.book_topics: dict[str, str] = {}  # symbol -> its book topic
        groups = []
        for w in self.wanted:
            market = markets[w.symbol]
            topics = public_topics(w)
            intervals = list(w.intervals) + [None] * (len(topics) - len(w.intervals))
            for t, interval in zip(topics, intervals, strict=True):
                self._routes[t] = _Route(t.split(".", 1)[0], market, interval)
            self.book_topics[w.symbol] = topics[len(w.intervals)]
            groups.append(topics)
        self.streams: dict[str, _Stream] = {}
        for n, topics in enumerate(split_connections(groups, max_args_chars)):
            name = PUBLIC if n == 0 else f"{PUBLIC}-{n + 1}"
            stream = _Stream(self, name, endpoints.public_ws_url, topics, PUBLIC)
            self.streams[name] = stream
            for t in topics:
                self._routes[t].stream = stream
        if self.api_key and self.api_secret:
            self.streams[PRIVATE] = _Stream(self, PRIVATE, endpoints.private_ws_url, list(PRIVATE_TOPICS), PRIVATE)
        self.malformed: dict[str, int] = {}
        self._malformed_logged: set[tuple[str, str]] = set()
        self._resync_lock = threading.Lock()
        self._resync_pending: set[str] = set()  # symbols whose book resubscription is under way
        self._resync_ids: dict[str, str] = {}  # req_id -> symbol of a resync request
        self._gap_resyncs: dict[str, list[float]] = {}
        self._gaps_seen: dict[str, int] = {}
        self.resyncs = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BybitWebSocketManager:
        if self._started:
            return self
        self._started = True
        self._stop.clear()
        for s in self.streams.values():
            s.thread = threading.Thread(target=s.run, name=f"whalebot-ws-{s.name}", daemon=True)
            s.thread.start()
        self._watchdog = threading.Thread(target=self._watch, name="whalebot-ws-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Close every stream and join the threads; True when all of them ended within `timeout`."""
        self._stop.set()
        for s in self.streams.values():
            s.close()
        deadline = SYSTEM_CLOCK.monotonic() + timeout
        threads = [s.thread for s in self.streams.values()] + [self._watchdog]
        for t in threads:
            if t is not None:
                t.join(max(0.0, deadline - SYSTEM_CLOCK.monotonic()))
        self._started = False
        return all(t is None or not t.is_alive() for t in threads)

    def __enter__(self) -> BybitWebSocketManager:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    def _named(self, stream: str) -> list[_Stream]:
        """The connections a stream name means: PUBLIC every public one, PRIVATE the private one, or
        one connection by its own name (`public-2`)."""
        if stream in (PUBLIC, PRIVATE):
            return [s for s in self.streams.values() if s.kind == stream]
        s = self.streams.get(stream)
        return [s] if s is not None else []

    def connected(self, stream: str = PUBLIC) -> bool:
        found = self._named(stream)
        return bool(found) and all(s.connected for s in found)

    def ready(self, stream: str = PUBLIC) -> bool:
        found = self._named(stream)
        return bool(found) and all(s.ready.is_set() for s in found)

    def wait_ready(self, timeout: float, streams: tuple[str, ...] | None = None, *,
                   stop: threading.Event | None = None) -> bool:
        """Until every stream (or the given ones) is connected, authenticated and subscribed: True,
        or False after `timeout` s. A set `stop` (Ctrl-C / SIGTERM during start-up) raises
        whale.bybit.startup.StartupCancelled within about 0.1 s, so start-up does not sit out the
        deadline on a host that never answers."""
        deadline = SYSTEM_CLOCK.monotonic() + timeout
        for name in streams or tuple(self.streams):
            found = self._named(name)
            if not found:
                return False
            for s in found:
                while not s.ready.is_set():
                    left = deadline - SYSTEM_CLOCK.monotonic()
                    if stop is not None and stop.is_set():
                        from whale.bybit.startup import StartupCancelled  # startup imports this module

                        raise StartupCancelled("stopped during start-up (Ctrl-C or SIGTERM)")
                    if left <= 0:
                        return False
                    s.ready.wait(min(left, 0.1) if stop is not None else left)
        return True

    def data_received(self) -> dict[str, int]:
        """Data messages handled so far on each stream's current connections, by stream (PUBLIC sums the
        public connections): an in-process simulator in lockstep compares them with what it sent
        (docs/simulator.md)."""
        out: dict[str, int] = {}
        for s in self.streams.values():
            out[s.kind] = out.get(s.kind, 0) + s.data_frames
        return out

    def _age(self, s: _Stream) -> float | None:
        last = s.last_data if s.kind == PUBLIC else s.last_message
        return None if last is None else max(0.0, self.clock.monotonic() - last)

    def message_age(self, stream: str = PUBLIC) -> float | None:
        """Seconds since the stream's last sign of life (public: data; private: any message), None
        before the first one (for PUBLIC: the oldest of the public connections)."""
        found = self._named(stream)
        if not found:
            return None
        ages = [self._age(s) for s in found]
        if any(a is None for a in ages):
            return None
        return max(a for a in ages if a is not None)

    def stale(self, stream: str = PUBLIC) -> bool:
        """True when the stream cannot be trusted for fresh data: not connected, or silent for
        longer than stale_after_s (since it connected, when it has sent nothing yet)."""
        found = self._named(stream)
        return not found or any(self._stale(s) for s in found)

    def _stale(self, s: _Stream) -> bool:
        if not s.connected:
            return True
        age = self._age(s)
        if age is None:
            return s.connected_at is None or self.clock.monotonic() - s.connected_at > self.stale_after_s
        return age > self.stale_after_s

    def auth_error(self) -> str | None:
        s = self.streams.get(PRIVATE)
        return s.auth_error if s else None

    def stats(self) -> dict:
        return {name: {"connected": s.connected, "connects": s.connects, "reconnects": s.reconnects,
                       "stale_cuts": s.stale_cuts, "last_error": s.last_error, "auth_error": s.auth_error,
                       "topics": len(s.topics)}
                for name, s in self.streams.items()} | {"malformed": dict(self.malformed), "resyncs": self.resyncs}

    # ------------------------------------------------------------------ the books

    def _reset_books(self, s: _Stream) -> None:
        """A public connection (re)opened: the books of its symbols wait for its fresh snapshots."""
        for topic in s.topics:
            route = self._routes[topic]
            if route.kind == "orderbook":
                route.market.reset_book()
                with self._resync_lock:
                    self._resync_pending.discard(route.market.symbol)

    def resync_book(self, symbol: str | None = None, reason: str = "requested") -> bool:
        """Ask for a fresh snapshot of a symbol's book (default: the first symbol's) by unsubscribing
        and subscribing its topic. False if one is pending or its connection is not up."""
        symbol = symbol or self.wanted[0].symbol
        topic = self.book_topics[symbol]
        route = self._routes[topic]
        s = route.stream
        assert s is not None
        with self._resync_lock:
            if symbol in self._resync_pending or not s.connected:
                return False
            self._resync_pending.add(symbol)
        self.resyncs += 1
        route.market.reset_book()
        self._tap_gap((symbol,), f"resync ({reason})")
        log.warning("order book %s: resynchronising (%s)", topic, reason)
        rid = s.req_id("resync-unsub")
        with self._resync_lock:
            self._resync_ids[rid] = symbol
        if not s.send({"op": "unsubscribe", "req_id": rid, "args": [topic]}):
            with self._resync_lock:
                self._resync_pending.discard(symbol)
                self._resync_ids.pop(rid, None)
            return False
        return True

    def _on_resync_ack(self, s: _Stream, op: str, rid: str) -> None:
        with self._resync_lock:
            symbol = self._resync_ids.pop(rid, None)
        if symbol is None:
            return
        if op == "unsubscribe":
            sub = s.req_id("resync-sub")
            with self._resync_lock:
                self._resync_ids[sub] = symbol
            s.send({"op": "subscribe", "req_id": sub, "args": [self.book_topics[symbol]]})
        elif op == "subscribe":
            with self._resync_lock:
                self._resync_pending.discard(symbol)

    def _book_needs_resync(self, market: MarketState) -> None:
        book = market.book
        symbol = market.symbol
        now = self.clock.monotonic()
        if book.check_gaps and book.gaps > self._gaps_seen.get(symbol, 0):
            self._gaps_seen[symbol] = book.gaps
            recent = [t for t in self._gap_resyncs.get(symbol, []) if now - t < 60.0] + [now]
            self._gap_resyncs[symbol] = recent
            if len(recent) > 3 and book.crossings == 0:
                book.check_gaps = False
                route = self._routes[self.book_topics[symbol]]
                log.warning("order book %s: update ids (u) are not consecutive on %s; relying on snapshots and "
                            "the crossed-book check instead", self.book_topics[symbol],
                            route.stream.host if route.stream else "?")
        self.resync_book(symbol, "gap in update ids or crossed book")

    # ------------------------------------------------------------------ dispatch (stream threads)

    def _on_public(self, s: _Stream, topic: str, msg: dict) -> None:
        route = self._routes.get(topic)
        if route is None:
            raise ValueError(f"unexpected topic {topic!r}")
        market = route.market
        kind = route.kind
        if kind == "orderbook":
            if not market.on_book(book_update(msg)):
                self._book_needs_resync(market)
            elif msg.get("type") == "snapshot" and market.symbol in self._resync_pending:
                with self._resync_lock:
                    self._resync_pending.discard(market.symbol)
        elif kind == "kline":
            interval = route.interval or ""
            stamp = int(msg.get("ts") or 0)
            for k in msg["data"]:  # values as sent: MarketState refuses those that cannot be true
                market.on_kline(interval, int(k["start"]), k["open"], k["high"], k["low"], k["close"], k["volume"],
                                bool(k["confirm"]), int(k.get("timestamp") or stamp))
        elif kind == "tickers":
            market.on_ticker(*ticker_of(msg))
        else:
            market.on_trades(trades_of(msg["data"]))

    def _on_private(self, s: _Stream, topic: str, msg: dict) -> None:
        """Only items of the right shape reach the queue: each bad one is reported (what is wrong, which
        topic) and skipped, and the good items of the same message still go through."""
        base = topic.split(".", 1)[0]
        if base not in PRIVATE_TOPICS:
            raise ValueError(f"unexpected private topic {topic!r}")
        items, problems = check_items(base, msg.get("data"))
        for problem in problems:
            self.markets.bad_data.refuse(f"private {topic}", problem)
        if items:
            self.markets.on_private(base, items)

    def _malformed(self, stream: str, kind: str, raw: Any, exc: Exception) -> None:
        key = f"{stream}:{kind}"
        self.malformed[key] = self.malformed.get(key, 0) + 1
        if (stream, kind) in self._malformed_logged:
            return
        self._malformed_logged.add((stream, kind))
        text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
        log.warning("%s stream: skipped a malformed %s message (%s: %s): %.200s (further ones are counted, "
                    "not logged)", stream, kind, type(exc).__name__, exc, text)

    def _tap_message(self, msg: dict, recv_us: int) -> None:
        """Hand a public topic message to the raw tap; its failure is a malformed message, never fatal."""
        tap = self.tap
        if tap is None:
            return
        try:
            tap.message(msg, recv_us)
        except Exception as exc:  # noqa: BLE001 - a message the tap cannot keep is logged and skipped
            self._malformed(PUBLIC, f"tap:{str(msg.get('topic', '')).split('.', 1)[0]}", json.dumps(msg)[:200], exc)

    def _tap_gap(self, symbols: tuple[str, ...], reason: str) -> None:
        tap = self.tap
        if tap is None or not symbols:
            return
        try:
            tap.interrupted(symbols, reason)
        except Exception:  # noqa: BLE001 - a tap bug must not kill the stream
            log.exception("raw tap: interrupted(%s) failed", ",".join(symbols))

    def _reconnected(self, s: _Stream) -> None:
        log.info("%s stream resubscribed on %s after reconnect %d", s.name, s.host, s.reconnects)
        if self.on_reconnect is not None:
            try:
                self.on_reconnect(s.kind)
            except Exception:  # noqa: BLE001 - a callback bug must not kill the stream
                log.exception("on_reconnect(%s) failed", s.kind)

    # ------------------------------------------------------------------ watchdog thread

    def _watch(self) -> None:
        period = max(0.05, min(0.5, self.stale_after_s / 4.0, self.ping_interval_s / 4.0))
        while not self._stop.wait(period):
            for s in list(self.streams.values()):
                try:
                    self._check(s)
                except Exception:  # noqa: BLE001 - the watchdog must keep watching
                    log.exception("WebSocket watchdog: %s stream check failed", s.name)

    def _check(self, s: _Stream) -> None:
        if not s.connected or s.connected_at is None:
            return
        now = self.clock.monotonic()
        if not s.acks_done and s.auth_ok is not False and now - s.connected_at > ACK_TIMEOUT_S:
            # An acknowledgement never came: carry on (the data will show whether it worked).
            log.warning("%s stream (%s): no acknowledgement of the subscription after %.0f s", s.name, s.host,
                        ACK_TIMEOUT_S)
            s.acks_done = True
            s.ready.set()
            if s.reconnects:
                self._reconnected(s)
        if now - s.last_ping >= self.ping_interval_s:
            s.last_ping = now
            s.send({"op": "ping", "req_id": s.req_id("ping")})
        last = s.last_data if s.kind == PUBLIC else s.last_message
        ref = max(last or 0.0, s.connected_at)
        if now - ref > self.stale_after_s:
            s.stale_cuts += 1
            log.warning("%s stream (%s): no %s for %.0f s; reconnecting", s.name, s.host,
                        "data" if s.kind == PUBLIC else "message", now - ref)
            s.last_error = "stale"
            s.connected_at = now  # one cut per stale episode
            s.close()
