"""A webhook post that fails must not put the webhook's secret in any output (issue 9, item 5).

Each webhook kind (Telegram, Discord, generic) posts to a host on 127.0.0.1 that answers HTTP 500,
closes the connection, or never answers. Telegram and Discord URLs keep their real hosts (so the
alert code takes its Telegram and Discord paths) and reach 127.0.0.1 through HTTPS_PROXY: the
client sends `CONNECT api.telegram.org:443` there and nothing leaves the machine. requests then
fails with the message the issue quotes ("... Max retries exceeded with url: /bot<token>/sendMessage
..."). Tokens are made up at run time in the real formats.
"""

from __future__ import annotations

import io
import logging
import os
import random
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from whale import logs
from whale.alerts import AlertSystem
from whale.config.model import Alerts, Logging

pytestmark = [pytest.mark.net, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parent.parent
ENV = "WHALEBOT_WEBHOOK_URL"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
              "no_proxy")


def telegram_token() -> str:
    """`<bot id>:<35 characters>`, as BotFather issues them."""
    return f"{random.randrange(10 ** 8, 10 ** 10)}:AA{secrets.token_urlsafe(26)[:33]}"


def discord_secret() -> str:
    """`<webhook id>/<webhook token>`."""
    return f"{random.randrange(10 ** 17, 10 ** 18)}/{secrets.token_urlsafe(51)[:68]}"


class FailingHost:
    """A TCP server on 127.0.0.1 that reads one request head per connection and then fails it:
    "500" answers HTTP 500, "close" closes without an answer, "timeout" holds it unanswered until
    stop(). Works as a plain HTTP server and as an HTTPS proxy (it fails the CONNECT)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.request_lines: list[str] = []
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="failing-host", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            head = b""
            deadline = time.monotonic() + 2.0
            while b"\r\n\r\n" not in head and time.monotonic() < deadline and not self._stop.is_set():
                ready, _, _ = select.select([conn], [], [], 0.05)
                if ready:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    head += chunk
            self.request_lines.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
            if self.mode == "500":
                conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                conn.close()
            elif self.mode == "close":
                conn.close()
            else:
                self._held.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        for conn in self._held:
            conn.close()


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in (*PROXY_VARS, ENV, "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    yield
    logs.shutdown_logging()
    logs.clear_secrets()


@pytest.fixture
def failing_host():
    made: list[FailingHost] = []

    def make(mode: str) -> FailingHost:
        made.append(FailingHost(mode))
        return made[-1]

    yield make
    for host in made:
        host.stop()


def webhook(kind: str, host: FailingHost) -> tuple[str, list[str], str]:
    """(webhook URL, the strings that must never be shown, what the failure line shows instead)."""
    if kind.startswith("telegram"):
        token = telegram_token()
        shown = urllib.parse.quote(token, safe="") if kind == "telegram-encoded" else token
        url = f"https://api.telegram.org/bot{shown}/sendMessage?chat_id=-100{random.randrange(10 ** 9, 10 ** 10)}"
        bot_id, key = token.split(":")
        return url, [token, key, f"bot{token}", urllib.parse.quote(token, safe=""), f"{bot_id}%3A"], \
            "https://api.telegram.org/…"
    if kind == "discord":
        secret = discord_secret()
        hook_id, token = secret.split("/")
        return f"https://discord.com/api/webhooks/{secret}", [secret, token, hook_id], "https://discord.com/…"
    token = secrets.token_urlsafe(24)
    key = secrets.token_hex(12)
    return f"http://127.0.0.1:{host.port}/hooks/{token}?key={key}", [token, key], f"http://127.0.0.1:{host.port}/…"


@pytest.mark.parametrize("mode", ["500", "close", "timeout"])
@pytest.mark.parametrize("kind", ["telegram", "telegram-encoded", "discord", "generic"])
def test_a_failing_webhook_never_shows_its_secret(kind, mode, tmp_path, monkeypatch, capfd, failing_host):
    host = failing_host(mode)
    url, forbidden, described = webhook(kind, host)
    if not kind == "generic":
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{host.port}")
    monkeypatch.setenv(ENV, url)
    console = io.StringIO()
    log_file = tmp_path / "whalebot.log"
    log = logs.setup_logging(Logging(file=str(log_file), level="DEBUG"), stream=console, color=False)
    # A handler some library adds after logging was set up (requests' own urllib3 logs the request line).
    foreign = logging.StreamHandler(console)
    urllib3_log = logging.getLogger("urllib3")
    urllib3_log.addHandler(foreign)
    old_level = urllib3_log.level
    urllib3_log.setLevel(logging.DEBUG)
    try:
        alerts = AlertSystem.from_config(Alerts(webhook_url_env=ENV, events=("error",)), log, timeout=0.5,
                                         failure_log_every=1)
        alerts.send_alert("Closing Buy 0.010 BTCUSDT failed: test", "ERROR", event="error")
        assert alerts.close(timeout=10) is True
        assert alerts.failed == 1 and alerts.sent == 0
    finally:
        urllib3_log.removeHandler(foreign)
        urllib3_log.setLevel(old_level)
        logs.shutdown_logging()
    assert host.request_lines, "the post never reached the failing host"
    out, err = capfd.readouterr()
    outputs = {"console": console.getvalue(), "whalebot.log": log_file.read_text(encoding="utf-8"),
               "stdout": out, "stderr": err}
    assert f"alert webhook {described} failed (" in outputs["console"]
    assert f"alert webhook {described} failed (" in outputs["whalebot.log"]
    for where, text in outputs.items():
        for secret in forbidden:
            assert secret not in text, f"{where} shows a secret part of the {kind} webhook URL: {text!r}"


def test_an_exception_message_is_redacted_whoever_logs_or_prints_it(tmp_path, monkeypatch, capfd):
    token = telegram_token()
    monkeypatch.setenv(ENV, f"https://api.telegram.org/bot{token}/sendMessage?chat_id=-1001")
    console = io.StringIO()
    logs.setup_logging(Logging(file=str(tmp_path / "whalebot.log")), stream=console, color=False)
    other = logging.getLogger("some.library")
    handler = logging.StreamHandler(console)
    other.addHandler(handler)
    other.propagate = False
    failure = ConnectionError(f"Max retries exceeded with url: /bot{token}/getMe")
    try:
        other.error("request failed: %s", failure)
        try:
            raise failure
        except ConnectionError:
            other.exception("again")
        worker = threading.Thread(target=lambda: (_ for _ in ()).throw(failure), name="worker")
        worker.start()
        worker.join(5)
    finally:
        other.removeHandler(handler)
        other.propagate = True
        logs.shutdown_logging()
    _, err = capfd.readouterr()
    assert "request failed: Max retries exceeded with url: /***/getMe" in console.getvalue()
    assert "Exception in thread worker" in err and "ConnectionError" in err
    for text in (console.getvalue(), err):
        assert token not in text and token.split(":")[1] not in text


def test_the_demo_with_a_failing_telegram_webhook_shows_no_token(tmp_path, failing_host):
    """End to end: the bot's own alerts (entries, exits) post to a Telegram URL whose host closes
    every connection; the console and whalebot.log of the whole run hold no part of the token."""
    host = failing_host("close")
    token = telegram_token()
    env = {k: v for k, v in os.environ.items() if k not in (*PROXY_VARS, "BYBIT_API_KEY", "BYBIT_API_SECRET")}
    env.update({ENV: f"https://api.telegram.org/bot{token}/sendMessage?chat_id=-1002", "NO_COLOR": "1",
                "HTTPS_PROXY": f"http://127.0.0.1:{host.port}"})
    config = tmp_path / "config.json"
    config.write_text('{"signal_score_threshold": 1.0, "trade_management": {"risk_per_trade_percent": 0.5},'
                      ' "indicators": {"orderbook_imbalance": false}}')
    workdir = tmp_path / "demo"
    result = subprocess.run([sys.executable, str(REPO / "whalebot.py"), "demo", "--config", str(config),
                             "--candles", "48", "--workdir", str(workdir)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stderr[-2000:]
    log_text = (workdir / "whalebot.log").read_text(encoding="utf-8")
    assert "alert webhook https://api.telegram.org/… failed (" in log_text, "no alert was posted"
    assert any(line.startswith("CONNECT api.telegram.org:443") for line in host.request_lines)
    for where, text in (("stdout", result.stdout), ("stderr", result.stderr), ("whalebot.log", log_text)):
        for secret in (token, token.split(":")[1], urllib.parse.quote(token, safe="")):
            assert secret not in text, f"the demo's {where} shows the Telegram token"
