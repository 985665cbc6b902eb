"""Logging: the original's colours on the console, a rotating plain file, secrets redacted everywhere.

    from whale.logs import setup_logging
    log = setup_logging(cfg)                 # or setup_logging(cfg.logging, log_level_override="DEBUG")
    log.getChild("positions").info("...")    # every module logs under "whalebot.<name>"

- Console (stdout by default): `time - LEVEL - message`, coloured by level as the original
  (DEBUG dim, INFO cyan, WARNING yellow, ERROR/CRITICAL red) when the stream is a terminal (or
  `color=True` / FORCE_COLOR; NO_COLOR turns colours off). Colour codes that a message carries
  (the display uses NEON_* and INDICATOR_COLORS) are stripped when colours are off.
- File (`logging.file`, rotated at `max_bytes`, `backups` kept, directory created):
  `time - name - LEVEL - message`, never any colour codes. Times are UTC ISO 8601.
- `extra=FILE_ONLY` sends a record to the file only (the full display on every candle, while the
  console shows one compact line), `extra=CONSOLE_ONLY` to the console only.
- Secrets are redacted by value: the values of BYBIT_API_KEY, BYBIT_API_SECRET and the webhook URL
  variable (`alerts.webhook_url_env`), plus anything given to `register_secret`, show as `***` in
  the message, its arguments, exception text and tracebacks. For a URL that also covers every part
  that carries a credential on its own (path, path segments, query values, a Telegram bot token
  without its `bot` prefix, user info), URL-encoded or not: the alert worker posts to a URL derived
  from the configured one, and requests' exceptions quote only the path.
- Redaction runs at three places: every handler installed here (and `install_redaction`), every
  log record of every logger while logging is set up (a record factory: handlers that other
  libraries add later, e.g. pybit's, and logging's last resort), and uncaught exceptions printed
  by `sys.excepthook` / `threading.excepthook`.
"""

from __future__ import annotations

import datetime
import functools
import logging
import logging.handlers
import os
import re
import sys
import threading
import traceback
import urllib.parse
from typing import Any, TextIO

import colorama
from colorama import Fore, Style

from whale.config.loader import SECRET_ENV_VARS
from whale.config.model import Config, Logging
from whale.errors import BadInputError

LOGGER_NAME = "whalebot"
MASK = "***"
MIN_SECRET_LENGTH = 6
DEFAULT_WEBHOOK_ENV = "WHALEBOT_WEBHOOK_URL"

# The original's palette (docs/original.md#indicator-keys-and-colours).
NEON_GREEN = Fore.LIGHTGREEN_EX
NEON_BLUE = Fore.CYAN
NEON_PURPLE = Fore.MAGENTA
NEON_YELLOW = Fore.YELLOW
NEON_RED = Fore.LIGHTRED_EX
NEON_CYAN = Fore.CYAN
RESET = Style.RESET_ALL

INDICATOR_COLORS: dict[str, str] = {
    "SMA_10": Fore.LIGHTBLUE_EX, "SMA_Long": Fore.BLUE,
    "EMA_Short": Fore.LIGHTMAGENTA_EX, "EMA_Long": Fore.MAGENTA,
    "ATR": Fore.YELLOW, "RSI": Fore.GREEN,
    "StochRSI_K": Fore.CYAN, "StochRSI_D": Fore.LIGHTCYAN_EX,
    "BB_Upper": Fore.RED, "BB_Middle": Fore.WHITE, "BB_Lower": Fore.RED,
    "CCI": Fore.LIGHTGREEN_EX, "WR": Fore.LIGHTRED_EX, "MFI": Fore.GREEN,
    "OBV": Fore.BLUE, "OBV_EMA": Fore.LIGHTBLUE_EX, "CMF": Fore.MAGENTA,
    "Tenkan_Sen": Fore.CYAN, "Kijun_Sen": Fore.LIGHTCYAN_EX,
    "Senkou_Span_A": Fore.GREEN, "Senkou_Span_B": Fore.RED, "Chikou_Span": Fore.YELLOW,
    "PSAR_Val": Fore.MAGENTA, "PSAR_Dir": Fore.LIGHTMAGENTA_EX, "VWAP": Fore.WHITE,
    "ST_Fast_Dir": Fore.BLUE, "ST_Fast_Val": Fore.LIGHTBLUE_EX,
    "ST_Slow_Dir": Fore.MAGENTA, "ST_Slow_Val": Fore.LIGHTMAGENTA_EX,
    "MACD_Line": Fore.GREEN, "MACD_Signal": Fore.LIGHTGREEN_EX, "MACD_Hist": Fore.YELLOW,
    "ADX": Fore.CYAN, "PlusDI": Fore.LIGHTCYAN_EX, "MinusDI": Fore.RED,
    "Volatility_Index": Fore.YELLOW, "Volume_Delta": Fore.LIGHTCYAN_EX, "VWMA": Fore.WHITE,
}
"""Colour of each indicator in the display; anything else is NEON_YELLOW (`indicator_color`)."""

# Where a record goes: log.info(text, extra=FILE_ONLY) keeps the detail (the full display every
# candle) out of the terminal; CONSOLE_ONLY keeps a line out of the file.
DESTINATION = "whalebot_destination"
FILE_ONLY = {DESTINATION: "file"}
CONSOLE_ONLY = {DESTINATION: "console"}

LEVEL_COLORS: dict[int, str] = {
    logging.DEBUG: Style.DIM,
    logging.INFO: NEON_BLUE,
    logging.WARNING: NEON_YELLOW,
    logging.ERROR: NEON_RED,
    logging.CRITICAL: Style.BRIGHT + NEON_RED,
}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def indicator_color(name: str) -> str:
    return INDICATOR_COLORS.get(name, NEON_YELLOW)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


# ----------------------------------------------------------------------------------------------
# Secrets


class _Secrets:
    """Values to mask: registered ones and the current values of watched environment variables."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        self._env_names: tuple[str, ...] = SECRET_ENV_VARS + (DEFAULT_WEBHOOK_ENV,)

    def register(self, value: Any) -> bool:
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
            return False
        with self._lock:
            self._registered.update(_variants(value.strip()))
        return True

    def watch_env(self, name: str) -> None:
        with self._lock:
            if name and name not in self._env_names:
                self._env_names += (name,)

    def reset(self) -> None:
        with self._lock:
            self._registered.clear()
            self._env_names = SECRET_ENV_VARS + (DEFAULT_WEBHOOK_ENV,)

    def values(self) -> list[str]:
        with self._lock:
            found = set(self._registered)
            names = self._env_names
        for name in names:
            value = os.environ.get(name, "").strip()
            if len(value) >= MIN_SECRET_LENGTH:
                found.update(_variants(value))
        return sorted(found, key=len, reverse=True)  # longest first: a secret inside another


_PLAIN_WORD = re.compile(r"^[A-Za-z._~-]{1,15}$")  # "webhooks", "sendMessage": names, not credentials
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _credential_like(text: str) -> bool:
    """A URL part that may be (or hold) a credential: long enough and not a plain word."""
    return len(text) >= MIN_SECRET_LENGTH and not _PLAIN_WORD.match(text)


@functools.lru_cache(maxsize=256)
def _variants(value: str) -> frozenset[str]:
    """Every form in which `value`, or a credential inside it, can reach a log line. For a URL: its
    path and query, each path segment and query value that is not a plain word, a Telegram bot
    token without its "bot" prefix, and the user info, since error messages show the URL a client
    requested (which may be derived from the configured one) or only its path. Each of these also
    URL-decoded and URL-encoded (upper and lower case hex)."""
    pieces = {value}
    if "://" in value:
        parts = urllib.parse.urlsplit(value)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        for whole in (tail, parts.path):
            if len(whole) >= 12:
                pieces.add(whole)
        for segment in parts.path.split("/"):
            pieces.add(segment)
            if segment.lower().startswith("bot"):
                pieces.add(segment[3:])  # api.telegram.org/bot<token>/...: the token alone
        pieces.update(v for _, v in urllib.parse.parse_qsl(parts.query))
        if parts.password:
            pieces.update((parts.password, f"{parts.username}:{parts.password}"))
        pieces = {value} | {p for p in pieces - {value} if _credential_like(p)}
    out: set[str] = set()
    for piece in pieces:
        plain = urllib.parse.unquote(piece)
        for form in (piece, plain, urllib.parse.quote(plain, safe=""), urllib.parse.quote(plain, safe="/")):
            if len(form) >= MIN_SECRET_LENGTH:
                out.add(form)
                out.add(_PERCENT.sub(lambda m: m.group(0).lower(), form))
    return frozenset(out)


_SECRETS = _Secrets()


def register_secret(value: Any) -> bool:
    """Mask `value` in every log line from now on. Values under 6 characters are ignored (False)."""
    return _SECRETS.register(value)


def watch_secret_env(name: str) -> None:
    """Also mask the value of environment variable `name` (read at each log line)."""
    _SECRETS.watch_env(name)


def clear_secrets() -> None:
    """Forget registered secrets and extra watched variables (for tests)."""
    _SECRETS.reset()


def redact(text: str) -> str:
    """`text` with every known secret replaced by ***."""
    for secret in _SECRETS.values():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    """Bake the message and its arguments into one redacted string, and redact exception text."""
    try:
        message = record.getMessage()
    except Exception:  # bad %-args: keep what there is, redacted, rather than lose the line
        message = f"{record.msg} (log arguments did not fit: {record.args!r})"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = RedactionFilter._exc_formatter.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class _Destination(logging.Filter):
    """A handler's filter: lets through records for every destination and those marked for its own."""

    def __init__(self, destination: str) -> None:
        super().__init__()
        self.destination = destination

    def filter(self, record: logging.LogRecord) -> bool:
        marked = getattr(record, DESTINATION, None)
        return marked is None or marked == self.destination


class RedactionFilter(logging.Filter):
    """Handler filter: bakes message and arguments into one redacted string, redacts exception text."""

    _exc_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


class _RedactingHooks:
    """While logging is set up: every LogRecord is created redacted (so a handler some library adds
    later, and logging's last resort, never see a secret), and uncaught exceptions are printed
    redacted. `remove()` puts the previous factory and hooks back."""

    def __init__(self) -> None:
        self.installed = False
        self._factory: Any = None
        self._excepthook: Any = None
        self._thread_hook: Any = None

    def install(self) -> None:
        if self.installed:
            return
        self.installed = True
        self._factory = previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        self._excepthook, self._thread_hook = sys.excepthook, threading.excepthook
        sys.excepthook = _print_redacted
        threading.excepthook = _print_redacted_thread

    def remove(self) -> None:
        if not self.installed:
            return
        self.installed = False
        logging.setLogRecordFactory(self._factory)
        sys.excepthook, threading.excepthook = self._excepthook, self._thread_hook


def _print_redacted(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(redact(text))


def _print_redacted_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))


_HOOKS = _RedactingHooks()


# ----------------------------------------------------------------------------------------------
# Formatters


class _UtcFormatter(logging.Formatter):
    """UTC ISO 8601 times; the final text is redacted once more (whatever a subclass adds)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class ConsoleFormatter(_UtcFormatter):
    """`time - LEVEL - message`, in the level's colour when `color`, else without any colour code."""

    def __init__(self, color: bool) -> None:
        super().__init__("%(asctime)s - %(levelname)s - %(message)s")
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if not self.color:
            return strip_ansi(text)
        colour = LEVEL_COLORS.get(record.levelno, "")
        # A message's own colours end in RESET; return to the level's colour after each.
        return colour + text.replace(RESET, RESET + colour) + RESET


class FileFormatter(_UtcFormatter):
    """`time - name - LEVEL - message`, plain text."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s - %(name)s - %(levelname)s - %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return strip_ansi(super().format(record))


# ----------------------------------------------------------------------------------------------
# Set-up


_setup_lock = threading.Lock()
_installed: list[logging.Handler] = []


def use_colour(stream: Any, color: bool | None = None) -> bool:
    """Whether text for `stream` gets colour codes: `color` if given, else NO_COLOR / FORCE_COLOR,
    else whether the stream is a terminal. The display and summaries use it for their own output."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


use_color = use_colour


def _level(name: str) -> int:
    value = logging.getLevelName(str(name).upper())
    if not isinstance(value, int):
        raise BadInputError(f"log level {name!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return value


def install_redaction(handler: logging.Handler) -> logging.Handler:
    """Add secret redaction to a handler created elsewhere (e.g. an alert handler)."""
    if not any(isinstance(f, RedactionFilter) for f in handler.filters):
        handler.addFilter(RedactionFilter())
    return handler


def _file_handler(section: Logging) -> logging.Handler:
    path = section.file
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=section.max_bytes,
                                                       backupCount=section.backups, encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"logging.file {path!r} cannot be opened: {exc.strerror or exc}") from None
    handler.setFormatter(FileFormatter())
    handler.addFilter(_Destination("file"))
    return handler


def setup_logging(section: Logging | Config | None = None, *, console: bool = True,
                  log_level_override: str | None = None, stream: TextIO | None = None,
                  color: bool | None = None, webhook_url_env: str | None = None) -> logging.Logger:
    """Configure the `whalebot` logger from a config's `logging` section (or a whole `Config`).

    Idempotent: a second call replaces the handlers of the first. `stream` defaults to the
    current sys.stdout; `color` None means "if the stream is a terminal". `webhook_url_env` (or
    the Config's `alerts.webhook_url_env`) names the webhook variable whose value is redacted.
    """
    if isinstance(section, Config):
        webhook_url_env = webhook_url_env or section.alerts.webhook_url_env
        section = section.logging
    section = section if section is not None else Logging()
    level = _level(log_level_override or section.level)
    logger = logging.getLogger(LOGGER_NAME)
    with _setup_lock:
        _remove_installed(logger)
        watch_secret_env(webhook_url_env or DEFAULT_WEBHOOK_ENV)
        handlers: list[logging.Handler] = []
        if section.file:
            handlers.append(_file_handler(section))
        if console:
            out = sys.stdout if stream is None else stream
            coloured = use_colour(out, color)
            if coloured:
                colorama.just_fix_windows_console()
            console_handler = logging.StreamHandler(out)
            console_handler.setFormatter(ConsoleFormatter(coloured))
            console_handler.addFilter(_Destination("console"))
            handlers.insert(0, console_handler)
        for handler in handlers:
            install_redaction(handler)
            logger.addHandler(handler)
            _installed.append(handler)
        logger.setLevel(level)
        logger.propagate = False  # our handlers only: no unredacted copy through the root logger
        _HOOKS.install()
    return logger


def _remove_installed(logger: logging.Logger) -> None:
    while _installed:
        handler = _installed.pop()
        logger.removeHandler(handler)
        try:
            handler.close()
        except Exception:  # closing a handler on a closed stream must not stop the shutdown
            pass


def shutdown_logging() -> None:
    """Remove and close the handlers `setup_logging` installed; the logger propagates again, and the
    record factory and exception hooks are the previous ones again."""
    logger = logging.getLogger(LOGGER_NAME)
    with _setup_lock:
        _remove_installed(logger)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
        _HOOKS.remove()


def get_logger(name: str | None = None) -> logging.Logger:
    """The `whalebot` logger, or its child `whalebot.<name>`."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
