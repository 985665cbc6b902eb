"""Alerts: always to the log, optionally to a webhook, never blocking the loop (docs/journal.md#alerts).

    alerts = AlertSystem.from_config(cfg.alerts, log)     # URL from $WHALEBOT_WEBHOOK_URL
    alerts.send_alert("Entered Buy 0.01 BTCUSDT @ 65000", "INFO", event="entry")
    ...
    alerts.close()                                         # on shutdown

- Every alert is logged as "ALERT: message" at its level, in the original's colours (INFO blue,
  WARNING yellow, ERROR red).
- With a webhook URL, alerts whose event is in `events` are queued (bounded) and posted by one
  background daemon thread. `send_alert` never waits: a full queue drops the alert and counts it;
  a slow or dead webhook only delays the worker. Failures are logged at WARNING, the first and
  then one in every `failure_log_every`, with the URL redacted.
- Payload by URL: Telegram (`https://api.telegram.org/bot<token>/sendMessage?chat_id=<id>`) gets
  `{"chat_id", "text"}` (every query parameter goes into the JSON body), Discord
  (`https://discord.com/api/webhooks/...`) gets `{"content"}`, anything else
  `{"text", "level", "event", "time"}`.
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from whale.config.model import ALERT_EVENTS
from whale.errors import BadInputError
from whale.logs import NEON_BLUE, NEON_RED, NEON_YELLOW, RESET, redact, register_secret, strip_ansi, watch_secret_env

LEVELS: dict[str, tuple[int, str]] = {
    "INFO": (logging.INFO, NEON_BLUE),
    "WARNING": (logging.WARNING, NEON_YELLOW),
    "ERROR": (logging.ERROR, NEON_RED),
    "CRITICAL": (logging.CRITICAL, NEON_RED),
}
TELEGRAM_HOSTS = frozenset(("api.telegram.org",))
DISCORD_HOSTS = frozenset(("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"))
TEXT_LIMITS = {"telegram": 4096, "discord": 2000}

_STOP = object()


def webhook_kind(url: str) -> str:
    """"telegram", "discord" or "generic"."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in TELEGRAM_HOSTS:
        return "telegram"
    if host in DISCORD_HOSTS and parts.path.startswith("/api/webhooks/"):
        return "discord"
    return "generic"


def describe_url(url: str) -> str:
    """The URL without what may be secret (path, query, credentials): `https://api.telegram.org/…`."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def webhook_request(url: str, message: str, level: str, event: str, when: str) -> tuple[str, dict]:
    """(URL to POST to, JSON body) for one alert."""
    kind = webhook_kind(url)
    if kind == "generic":
        return url, {"text": message, "level": level, "event": event, "time": when}
    text = f"Whalebot {level}: {message}"
    limit = TEXT_LIMITS[kind]
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    if kind == "discord":
        return url, {"content": text}
    parts = urllib.parse.urlsplit(url)
    body: dict[str, Any] = dict(urllib.parse.parse_qsl(parts.query))
    body["text"] = text
    path = parts.path.rstrip("/")
    if path.startswith("/bot") and path.count("/") == 1:  # .../bot<token> without the method
        path += "/sendMessage"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")), body


def _now_iso() -> str:
    now = datetime.datetime.now(datetime.UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertSystem:
    """Log every alert; post the configured events to a webhook from a background thread.

    `send_alert` is thread-safe and returns at once. Counters `sent`, `failed` and `dropped` say
    what became of the webhook alerts. `close(timeout)` sends what is queued (up to `timeout`
    seconds) and stops the worker; later alerts are only logged.
    """

    def __init__(self, logger: logging.Logger, *, webhook_url: str | None = None, events: Iterable[str] = (),
                 timeout: float = 5.0, queue_size: int = 100, failure_log_every: int = 10,
                 session: requests.Session | None = None) -> None:
        self.logger = logger
        self.events = frozenset(events)
        unknown = sorted(self.events - set(ALERT_EVENTS))
        if unknown:
            raise ValueError(f"unknown alert event(s) {', '.join(unknown)}; known: {', '.join(ALERT_EVENTS)}")
        self.timeout = float(timeout)
        self.failure_log_every = max(1, int(failure_log_every))
        self.webhook_url = webhook_url or None
        self.sent = self.failed = self.dropped = 0
        self._counts = threading.Lock()
        self._closed = False
        self._abandon = threading.Event()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._session = session
        if self.webhook_url:
            register_secret(self.webhook_url)  # the URL (a Telegram token, a Discord secret) never reaches a log
            self._queue = queue.Queue(maxsize=max(1, int(queue_size)))
            self._thread = threading.Thread(target=self._run, name="whalebot-alerts", daemon=True)
            self._thread.start()

    @classmethod
    def from_config(cls, cfg_alerts: Any, logger: logging.Logger, environ: Mapping[str, str] = os.environ,
                    **kwargs: Any) -> AlertSystem:
        """From the config's `alerts` section: the URL is the value of the environment variable
        named by `alerts.webhook_url_env` (unset or empty: log only). BadInputError (exit 2) when
        it is not an http(s) URL."""
        name = cfg_alerts.webhook_url_env
        watch_secret_env(name)
        url = (environ.get(name) or "").strip() or None
        if url is not None:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise BadInputError(f"the environment variable {name} (alerts.webhook_url_env) must hold an "
                                    "http(s) webhook URL; its value is not shown because it is a secret")
        return cls(logger, webhook_url=url, events=cfg_alerts.events, **kwargs)

    @property
    def worker(self) -> threading.Thread | None:
        """The webhook thread (None without a webhook)."""
        return self._thread

    @property
    def webhook_enabled(self) -> bool:
        return self._queue is not None and not self._closed

    def _webhook(self) -> tuple[queue.Queue, str]:
        """The queue and the URL, which exist together (only with a webhook configured)."""
        if self._queue is None or self.webhook_url is None:
            raise RuntimeError("no alert webhook is configured")
        return self._queue, self.webhook_url

    def send_alert(self, message: str, level: str = "INFO", event: str = "info") -> bool:
        """Log "ALERT: message" at `level` (INFO, WARNING, ERROR, CRITICAL) and, when `event` is a
        configured webhook event, queue it for the webhook. True when queued; never blocks."""
        name = str(level).upper()
        if name not in LEVELS:
            raise ValueError(f"alert level {level!r} is not one of {', '.join(LEVELS)}")
        if event not in ALERT_EVENTS:
            raise ValueError(f"alert event {event!r} is not one of {', '.join(ALERT_EVENTS)}")
        levelno, colour = LEVELS[name]
        self.logger.log(levelno, "%sALERT: %s%s", colour, message, RESET)
        if not self.webhook_enabled or event not in self.events:
            return False
        text = redact(strip_ansi(str(message)))
        q, url = self._webhook()
        try:
            q.put_nowait((text, name, event, _now_iso()))
        except queue.Full:
            with self._counts:
                self.dropped += 1
                dropped = self.dropped
            if (dropped - 1) % self.failure_log_every == 0:
                self.logger.warning("alert webhook %s is behind: %d alert(s) dropped so far (queue full)",
                                    describe_url(url), dropped)
            return False
        return True

    # ---- the worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        q, _ = self._webhook()
        session = self._session or requests.Session()
        try:
            while not self._abandon.is_set():
                item = q.get()
                if item is _STOP:
                    break
                self._post(session, *item)
        finally:
            if self._session is None:
                session.close()

    def _post(self, session: requests.Session, text: str, level: str, event: str, when: str) -> None:
        _, webhook_url = self._webhook()
        url, body = webhook_request(webhook_url, text, level, event, when)
        try:
            response = session.post(url, json=body, timeout=self.timeout)
            ok, detail = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
            response.close()
        except Exception as exc:  # noqa: BLE001 - any failure of an alert must stay in this thread
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        with self._counts:
            if ok:
                self.sent += 1
                return
            self.failed += 1
            failed = self.failed
        if (failed - 1) % self.failure_log_every == 0:
            self.logger.warning("alert webhook %s failed (%s); %d failure(s) so far, logged once every %d",
                                describe_url(webhook_url), redact(detail), failed, self.failure_log_every)

    def close(self, timeout: float = 2.0) -> bool:
        """Post what is queued, within `timeout` seconds, and stop the worker. True when it stopped
        in time; otherwise it gives up the rest and ends after its current request (a daemon thread,
        it never holds up the exit)."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return True
        q, _ = self._webhook()
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            q.put(_STOP, timeout=max(0.0, timeout))
        except queue.Full:
            pass
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            self._abandon.set()
            try:  # wake a worker idle on an empty queue; a busy one sees _abandon after its request
                q.put_nowait(_STOP)
            except queue.Full:
                pass
            return False
        return True

    def __enter__(self) -> AlertSystem:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
