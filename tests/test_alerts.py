"""Alerts: the log line, the webhook formats, and a webhook that never delays the caller."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from whale import logs
from whale.alerts import AlertSystem, describe_url, webhook_kind, webhook_request
from whale.config.model import Alerts
from whale.errors import EXIT_BAD_INPUT, BadInputError
from whale.logs import NEON_BLUE, NEON_RED, NEON_YELLOW, RESET

SECRET_PATH = "/hooks/s3cr3t-token-0123456789"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in ("NO_COLOR", "FORCE_COLOR", "WHALEBOT_WEBHOOK_URL", "MY_HOOK"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    threads = set(threading.enumerate())
    yield
    logs.shutdown_logging()
    logs.clear_secrets()
    deadline = time.monotonic() + 5.0
    while [t for t in threading.enumerate() if t not in threads and t.is_alive()] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [t.name for t in threading.enumerate() if t not in threads and t.is_alive()] == []


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]


@pytest.fixture
def captured():
    logger = logging.getLogger("test_alerts")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = Records()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


class Hook:
    """A webhook on 127.0.0.1 recording what it gets; it can answer slowly or with an error."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.delay, self.status = delay, status
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.delay:
                    hook.release.wait(hook.delay)
                hook.bodies.append(json.loads(body))
                hook.paths.append(self.path)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def wait_for(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def hook():
    made: list[Hook] = []

    def make(**kw) -> Hook:
        made.append(Hook(**kw))
        return made[-1]

    yield make
    for h in made:
        h.stop()


def test_every_alert_is_logged_in_the_originals_colours(captured):
    logger, handler = captured
    alerts = AlertSystem(logger)
    assert alerts.worker is None and not alerts.webhook_enabled
    assert alerts.send_alert("price fetch failed") is False
    alerts.send_alert("stream stale", "WARNING", event="halt")
    alerts.send_alert("loop crashed", "error", event="error")
    assert [(r.levelno, r.getMessage()) for r in handler.records] == [
        (logging.INFO, f"{NEON_BLUE}ALERT: price fetch failed{RESET}"),
        (logging.WARNING, f"{NEON_YELLOW}ALERT: stream stale{RESET}"),
        (logging.ERROR, f"{NEON_RED}ALERT: loop crashed{RESET}"),
    ]
    with pytest.raises(ValueError, match="level"):
        alerts.send_alert("x", "LOUD")
    with pytest.raises(ValueError, match="event"):
        alerts.send_alert("x", event="entered")
    with pytest.raises(ValueError, match="unknown alert event"):
        AlertSystem(logger, events=["entry", "party"])
    assert alerts.close() is True


def test_colours_follow_the_console(captured):
    stream = io.StringIO()
    log = logs.setup_logging(logs.Logging(file=""), stream=stream, color=False)
    AlertSystem(log).send_alert("no colour here", "WARNING")
    assert "WARNING - ALERT: no colour here" in stream.getvalue() and "\x1b" not in stream.getvalue()


@pytest.mark.net  # a local webhook server (or a closed local port)
def test_webhook_gets_the_configured_events_only(captured, hook):
    logger, handler = captured
    h = hook()
    alerts = AlertSystem(logger, webhook_url=h.url, events=["entry", "error"])
    assert alerts.send_alert("Entered Buy 0.01 BTCUSDT", event="entry") is True
    assert alerts.send_alert("just info") is False  # "info" is not configured: log only
    assert alerts.send_alert(f"{NEON_RED}boom{RESET}", "ERROR", event="error") is True
    assert alerts.close(timeout=5) is True
    assert alerts.worker is not None and not alerts.worker.is_alive()
    assert [(b["text"], b["level"], b["event"]) for b in h.bodies] == [
        ("Entered Buy 0.01 BTCUSDT", "INFO", "entry"), ("boom", "ERROR", "error")]
    assert all(b["time"].endswith("Z") for b in h.bodies) and h.paths == [SECRET_PATH] * 2
    assert (alerts.sent, alerts.failed, alerts.dropped) == (2, 0, 0)
    assert alerts.send_alert("after close", event="entry") is False  # logged only
    assert handler.messages()[-1].endswith("ALERT: after close" + RESET)


@pytest.mark.net  # a local webhook server (or a closed local port)
def test_a_slow_webhook_never_delays_the_caller(captured, hook):
    logger, handler = captured
    h = hook(delay=2.0)
    alerts = AlertSystem(logger, webhook_url=h.url, events=["entry"], timeout=0.3, queue_size=3, failure_log_every=100)
    worst = 0.0
    for n in range(20):
        start = time.perf_counter()
        alerts.send_alert(f"alert {n}", event="entry")
        worst = max(worst, time.perf_counter() - start)
    assert worst < 0.05
    assert alerts.dropped >= 15  # the queue holds 3; one more may be in flight
    drops = [m for m in handler.messages(logging.WARNING) if "dropped" in m]
    assert drops and len(drops) <= 2 and "127.0.0.1" in drops[0] and "s3cr3t" not in drops[0]
    start = time.perf_counter()
    stopped = alerts.close(timeout=0.2)
    assert time.perf_counter() - start < 0.5 and stopped is False  # gives up the rest
    alerts.worker.join(5)  # ends after its current request times out
    assert not alerts.worker.is_alive() and alerts.failed >= 1
    failures = [m for m in handler.messages(logging.WARNING) if "failed" in m]
    assert failures and "ReadTimeout" in failures[0] and "s3cr3t" not in " ".join(handler.messages())


@pytest.mark.net  # a local webhook server (or a closed local port)
def test_a_dead_webhook_is_logged_once_every_n_failures(captured):
    logger, handler = captured
    with socket.socket() as s:  # bound, never listening: connections are refused, and no parallel test takes it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        alerts = AlertSystem(logger, webhook_url=f"http://127.0.0.1:{port}{SECRET_PATH}", events=["error"],
                             timeout=1.0, failure_log_every=3)
        for n in range(7):
            alerts.send_alert(f"e{n}", "ERROR", event="error")
        assert alerts.close(timeout=10) is True
    assert alerts.failed == 7 and alerts.sent == 0
    failures = [m for m in handler.messages(logging.WARNING) if "webhook" in m]
    assert len(failures) == 3  # failures 1, 4 and 7
    assert failures[0].startswith(f"alert webhook http://127.0.0.1:{port}/… failed (ConnectionError")
    assert "7 failure(s) so far" in failures[2] and all("s3cr3t" not in m for m in failures)


@pytest.mark.net  # a local webhook server (or a closed local port)
def test_an_http_error_counts_as_a_failure(captured, hook):
    logger, handler = captured
    h = hook(status=429)
    alerts = AlertSystem(logger, webhook_url=h.url, events=["halt"])
    alerts.send_alert("halted", "WARNING", event="halt")
    assert alerts.close(timeout=5)
    assert alerts.failed == 1 and "failed (HTTP 429)" in handler.messages(logging.WARNING)[-1]


@pytest.mark.net  # a local webhook server (or a closed local port)
def test_the_url_is_redacted_from_every_whalebot_log_line(hook):
    stream = io.StringIO()
    log = logs.setup_logging(logs.Logging(file=""), stream=stream, color=False)
    h = hook()
    alerts = AlertSystem(log, webhook_url=h.url, events=["entry"])
    log.info("posting to %s", h.url)
    alerts.close()
    assert "s3cr3t" not in stream.getvalue() and "posting to ***" in stream.getvalue()


class FakeSession:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, float]] = []

    def post(self, url, json=None, timeout=None):
        self.posts.append((url, json, timeout))
        return SimpleNamespace(status_code=200, close=lambda: None)


def test_telegram_and_discord_payloads(captured):
    logger, _ = captured
    session = FakeSession()
    tg = "https://api.telegram.org/bot123456:ABC-secret/sendMessage?chat_id=-100200300"
    alerts = AlertSystem(logger, webhook_url=tg, events=["exit"], timeout=2.5, session=session)
    alerts.send_alert("Closed Buy: take_profit, PnL +4.23 USDT", event="exit")
    assert alerts.close(timeout=5)
    assert session.posts == [("https://api.telegram.org/bot123456:ABC-secret/sendMessage",
                              {"chat_id": "-100200300",
                               "text": "Whalebot INFO: Closed Buy: take_profit, PnL +4.23 USDT"},
                              2.5)]
    assert webhook_kind(tg) == "telegram" and webhook_kind("https://discord.com/api/webhooks/1/xyz") == "discord"
    assert webhook_kind("https://discord.com/other") == "generic" and webhook_kind("https://example.org/x") == "generic"
    url, body = webhook_request("https://discord.com/api/webhooks/1/xyz", "m" * 3000, "ERROR", "error", "t")
    assert url == "https://discord.com/api/webhooks/1/xyz" and list(body) == ["content"]
    assert len(body["content"]) == 2000 and body["content"].startswith("Whalebot ERROR: mmm")
    url, body = webhook_request("https://api.telegram.org/bot1:x", "hi", "INFO", "entry", "t")
    assert url == "https://api.telegram.org/bot1:x/sendMessage" and body == {"text": "Whalebot INFO: hi"}
    assert describe_url(tg) == "https://api.telegram.org/…"


@pytest.mark.net  # a local webhook server (or a closed local port)
def test_from_config_reads_the_url_from_the_environment(captured, hook):
    logger, _ = captured
    h = hook()
    cfg = Alerts(webhook_url_env="MY_HOOK", events=("halt",))
    off = AlertSystem.from_config(cfg, logger, environ={})
    assert off.worker is None
    blank = AlertSystem.from_config(cfg, logger, environ={"MY_HOOK": "  "})
    assert blank.worker is None
    on = AlertSystem.from_config(cfg, logger, environ={"MY_HOOK": h.url})
    assert on.webhook_url == h.url and on.events == {"halt"} and on.worker.daemon
    on.send_alert("halted", "WARNING", event="halt")
    assert on.close(timeout=5) and h.bodies[0]["text"] == "halted"
    with pytest.raises(BadInputError) as err:
        AlertSystem.from_config(cfg, logger, environ={"MY_HOOK": "ftp://secret-place/xyz"})
    assert err.value.exit_code == EXIT_BAD_INPUT and "MY_HOOK" in str(err.value)
    assert "secret-place" not in str(err.value)
