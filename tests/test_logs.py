"""Logging: handlers, formats, colours, rotation and secret redaction in every handler."""

from __future__ import annotations

import io
import logging
import re

import pytest
from colorama import Fore, Style

from whale import logs
from whale.config.model import Config, Logging, replace_path
from whale.errors import BadInputError

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z - (?P<name>[\w.]+) - (?P<level>[A-Z]+) - (?P<msg>.*)$")
ANSI = "\x1b["


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def clean_logging(monkeypatch):
    for name in ("NO_COLOR", "FORCE_COLOR", "BYBIT_API_KEY", "BYBIT_API_SECRET", "WHALEBOT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
    logs.shutdown_logging()
    logs.clear_secrets()


def file_section(tmp_path, **kw) -> Logging:
    return Logging(file=str(tmp_path / "logs" / "bot.log"), **kw)


def test_colour_constants_are_the_originals():
    assert (logs.NEON_GREEN, logs.NEON_BLUE, logs.NEON_PURPLE) == (Fore.LIGHTGREEN_EX, Fore.CYAN, Fore.MAGENTA)
    assert (logs.NEON_YELLOW, logs.NEON_RED, logs.NEON_CYAN) == (Fore.YELLOW, Fore.LIGHTRED_EX, Fore.CYAN)
    assert logs.RESET == Style.RESET_ALL
    assert logs.INDICATOR_COLORS["SMA_10"] == Fore.LIGHTBLUE_EX
    assert logs.INDICATOR_COLORS["MinusDI"] == Fore.RED
    assert len(logs.INDICATOR_COLORS) == 38
    assert logs.indicator_color("VWMA") == Fore.WHITE and logs.indicator_color("KAMA") == logs.NEON_YELLOW


def test_setup_is_idempotent_and_children_inherit(tmp_path):
    stream = io.StringIO()
    logs.setup_logging(file_section(tmp_path), stream=stream)
    logger = logs.setup_logging(file_section(tmp_path), stream=stream)
    assert logger.name == "whalebot" and len(logger.handlers) == 2 and logger.propagate is False
    logs.get_logger("positions").info("opened %s", "Buy")
    assert stream.getvalue().count("opened Buy") == 1
    logs.shutdown_logging()
    assert logger.handlers == [] and logger.propagate is True


def test_console_and_file_formats(tmp_path):
    stream = io.StringIO()
    section = file_section(tmp_path)
    logs.setup_logging(section, stream=stream)
    logs.get_logger("x").warning("careful: %d", 3)
    console = stream.getvalue().splitlines()
    assert len(console) == 1 and re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z - WARNING - careful: 3$", console[0])
    logs.shutdown_logging()
    lines = (tmp_path / "logs" / "bot.log").read_text(encoding="utf-8").splitlines()
    match = LINE.match(lines[0])
    assert match and match.group("name", "level", "msg") == ("whalebot.x", "WARNING", "careful: 3")


def test_level_and_override(tmp_path):
    stream = io.StringIO()
    logs.setup_logging(Logging(file="", level="WARNING"), stream=stream)
    log = logs.get_logger("lvl")
    log.info("quiet")
    log.warning("loud")
    logs.setup_logging(Logging(file="", level="WARNING"), stream=stream, log_level_override="DEBUG")
    log.debug("debugging")
    assert "quiet" not in stream.getvalue() and "loud" in stream.getvalue() and "debugging" in stream.getvalue()
    with pytest.raises(BadInputError):
        logs.setup_logging(Logging(file=""), stream=stream, log_level_override="CHATTY")


def test_no_colour_unless_a_terminal_and_never_in_the_file(tmp_path, monkeypatch):
    plain, terminal = io.StringIO(), FakeTerminal()
    message = f"{logs.NEON_GREEN}Current Price: 100{logs.RESET} and more"
    logs.setup_logging(file_section(tmp_path), stream=plain)
    logs.get_logger().info(message)
    assert ANSI not in plain.getvalue() and "Current Price: 100 and more" in plain.getvalue()

    logs.setup_logging(file_section(tmp_path), stream=terminal)
    logs.get_logger().info(message)
    logs.get_logger().error("bad")
    out = terminal.getvalue().splitlines()
    assert out[0].startswith(logs.NEON_BLUE) and out[0].endswith(logs.RESET)
    assert f"{logs.RESET}{logs.NEON_BLUE} and more" in out[0]  # back to the level colour after the message's
    assert out[1].startswith(logs.NEON_RED)

    monkeypatch.setenv("NO_COLOR", "1")
    no_color = FakeTerminal()
    logs.setup_logging(file_section(tmp_path), stream=no_color)
    logs.get_logger().info("x")
    assert ANSI not in no_color.getvalue()
    logs.setup_logging(file_section(tmp_path), stream=plain, color=True)
    logs.get_logger().debug("dim")
    logs.shutdown_logging()
    assert ANSI not in (tmp_path / "logs" / "bot.log").read_text(encoding="utf-8")


def test_use_colour(monkeypatch):
    assert logs.use_colour(FakeTerminal()) is True and logs.use_colour(io.StringIO()) is False
    assert logs.use_colour(io.StringIO(), True) is True and logs.use_colour(FakeTerminal(), False) is False
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert logs.use_colour(io.StringIO()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert logs.use_colour(FakeTerminal()) is False


def test_level_colours():
    assert logs.LEVEL_COLORS[logging.DEBUG] == Style.DIM
    assert logs.LEVEL_COLORS[logging.INFO] == logs.NEON_BLUE
    assert logs.LEVEL_COLORS[logging.WARNING] == logs.NEON_YELLOW
    assert logs.LEVEL_COLORS[logging.ERROR] == logs.NEON_RED
    assert logs.NEON_RED in logs.LEVEL_COLORS[logging.CRITICAL]


def test_file_rotates_and_keeps_the_configured_backups(tmp_path):
    section = Logging(file=str(tmp_path / "deep" / "er" / "bot.log"), max_bytes=1024, backups=2)
    logs.setup_logging(section, console=False)
    for i in range(200):
        logs.get_logger().info("line %03d %s", i, "x" * 40)
    logs.shutdown_logging()
    names = sorted(p.name for p in (tmp_path / "deep" / "er").iterdir())
    assert names == ["bot.log", "bot.log.1", "bot.log.2"]
    assert all(p.stat().st_size <= 1024 for p in (tmp_path / "deep" / "er").iterdir())


def test_unwritable_log_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BadInputError, match="logging.file"):
        logs.setup_logging(Logging(file=str(blocker / "bot.log")), console=False)


def test_secrets_are_redacted_in_every_handler(tmp_path, monkeypatch):
    key, secret, hook = "Kf83hJd02kLm", "s3cr3t-VALUE-9876543210", "https://discord.com/api/webhooks/42/TOKENabcdef"
    monkeypatch.setenv("BYBIT_API_KEY", key)
    monkeypatch.setenv("BYBIT_API_SECRET", secret)
    monkeypatch.setenv("MY_HOOK", hook)
    cfg = replace_path(replace_path(Config(), "alerts.webhook_url_env", "MY_HOOK"),
                       "logging.file", str(tmp_path / "bot.log"))
    stream = io.StringIO()
    log = logs.setup_logging(cfg, stream=stream, color=True).getChild("bybit")
    assert logs.register_secret("cli-passed-secret") is True

    log.info(f"signing with {key} and {secret}")
    log.warning("posting to %s with %r", hook, {"secret": "cli-passed-secret"})
    log.info("webhook path alone: %s", "/api/webhooks/42/TOKENabcdef")
    try:
        raise RuntimeError(f"auth failed for {key}")
    except RuntimeError:
        log.exception("request failed (%s)", secret)
    try:
        try:
            raise ValueError(secret)
        except ValueError as inner:
            raise ConnectionError("while posting to " + hook) from inner
    except ConnectionError:
        log.error("chained", exc_info=True)
    log.info("stack", stack_info=True, extra={"note": key})
    logs.shutdown_logging()

    console, file_text = stream.getvalue(), (tmp_path / "bot.log").read_text(encoding="utf-8")
    for output in (console, file_text):
        for value in (key, secret, hook, "cli-passed-secret", "TOKENabcdef"):
            assert value not in output
        assert "Traceback" in output and "RuntimeError: auth failed for ***" in output
        assert "ValueError: ***" in output and output.count("***") >= 8


def test_secrets_from_the_environment_are_read_when_logging(monkeypatch):
    stream = io.StringIO()
    logs.setup_logging(Logging(file=""), stream=stream)
    monkeypatch.setenv("WHALEBOT_WEBHOOK_URL", "https://example.org/hook/late-value")
    logs.get_logger().info("url https://example.org/hook/late-value")
    assert "late-value" not in stream.getvalue()


def test_short_values_are_not_registered():
    assert logs.register_secret("abc12") is False
    assert logs.register_secret(None) is False
    assert logs.redact("abc12 stays") == "abc12 stays"
    assert logs.register_secret("abc123") is True
    assert logs.redact("abc123 goes") == "*** goes"


def test_short_environment_values_are_not_masked(monkeypatch):
    monkeypatch.setenv("BYBIT_API_KEY", "info")
    assert logs.redact("info line") == "info line"


def test_install_redaction_on_a_foreign_handler(monkeypatch):
    monkeypatch.setenv("BYBIT_API_SECRET", "foreign-secret-1")
    stream = io.StringIO()
    handler = logs.install_redaction(logging.StreamHandler(stream))
    logs.install_redaction(handler)
    assert len(handler.filters) == 1
    logger = logging.getLogger("test_logs.foreign")
    logger.addHandler(handler)
    try:
        logger.warning("value %s", "foreign-secret-1")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "value ***\n"


def test_bad_log_arguments_still_produce_a_redacted_line(monkeypatch):
    monkeypatch.setenv("BYBIT_API_KEY", "argkey-123456")
    stream = io.StringIO()
    logs.setup_logging(Logging(file=""), stream=stream)
    logs.get_logger().info("two %s %s", "argkey-123456")
    assert "argkey-123456" not in stream.getvalue() and "did not fit" in stream.getvalue()


def test_file_only_lines_reach_the_file_but_not_the_console(tmp_path):
    """The full display goes to whalebot.log on every candle; the console gets it only when asked
    (issue 11 item 4): a record marked FILE_ONLY skips the console handler, CONSOLE_ONLY the file."""
    console = io.StringIO()
    log = logs.setup_logging(file_section(tmp_path), stream=console, color=False)
    log.info("everywhere")
    log.info("detail for the file", extra=logs.FILE_ONLY)
    log.info("for the terminal", extra=logs.CONSOLE_ONLY)
    logs.shutdown_logging()
    shown = console.getvalue()
    stored = (tmp_path / "logs" / "bot.log").read_text()
    assert "everywhere" in shown and "everywhere" in stored
    assert "detail for the file" not in shown and "detail for the file" in stored
    assert "for the terminal" in shown and "for the terminal" not in stored
