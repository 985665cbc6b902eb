"""Read `config.json`, fill in the defaults, validate every key, and return a frozen `Config`.

Rules (docs/config.md):
- A missing file is created once from the model's defaults; an existing file is never written.
- Keys the file omits take their defaults. Every problem is collected and reported at once, one
  line each, naming the dotted key path; any problem raises `ConfigError` (exit 2).
- Legacy keys of the original load with one warning each (`whale.config.legacy`); so do the
  one-symbol keys (`symbol`, `network`, ...) that moved to `symbols` and `exchange`.
- `overrides` are checked like the top level, each symbol's effective config too (the rules
  between keys, the leverage its instrument allows); their problems are named
  `overrides.SYMBOL.<key>`.
- Secrets never belong in the file: a key that looks like one is an error telling the user to
  move it to `.env`. Messages never echo such a value.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import typing
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from whale.config import legacy
from whale.config.model import (
    ACCOUNT_WIDE,
    BYBIT_INTERVALS,
    LOG_LEVELS,
    ActiveWeights,
    Config,
    IndicatorToggles,
    Overrides,
    replace_path,
    to_dict,
)
from whale.errors import BadInputError
from whale.market.instruments import KNOWN

SECRET_ENV_VARS = ("BYBIT_API_KEY", "BYBIT_API_SECRET")
_SHOW_MAX = 60


class ConfigError(BadInputError):
    """The config cannot be used. The message has the file name on top and one problem per line."""

    def __init__(self, source: str, problems: Iterable[str], warnings: Iterable[str] = (),
                 *, file_level: bool = False) -> None:
        self.source = source
        self.problems = list(problems)
        self.warnings = list(warnings)
        if file_level:  # about the file as a whole (missing, unreadable, not JSON)
            message = "\n".join(f"{source}: {p}" for p in self.problems)
        else:
            count = len(self.problems)
            head = f"{source} has {count} problem{'' if count == 1 else 's'}:"
            message = "\n".join([head] + [f"  {p}" for p in self.problems])
        super().__init__(message)


@dataclass
class LoadedConfig:
    """The result of `load_config`: the config, the deprecation warnings, and whether the file was created."""

    config: Config
    warnings: list[str] = field(default_factory=list)
    created: bool = False
    path: str = ""

    def log_to(self, logger: Any) -> None:
        """Tell the user what loading did: the file was created, or which legacy keys it has."""
        if self.created:
            logger.warning("%s did not exist: created it with the defaults (dry_run is true); "
                           "edit it to taste", self.path)
        for warning in self.warnings:
            logger.warning("%s: %s", self.path or "config", warning)


def default_config_text() -> str:
    """The text of a new `config.json`: the model's defaults, indent 4."""
    return json.dumps(to_dict(Config()), indent=4) + "\n"


def load_config(path: str | os.PathLike[str], *, create_if_missing: bool = True,
                log_level: str | None = None) -> LoadedConfig:
    """Load and validate the config file at `path`.

    A missing file is created from the defaults when `create_if_missing` (the result says
    `created=True`; the caller logs it), else it is an error. `log_level` (from `--log-level`)
    overrides `logging.level`. Raises `ConfigError` listing every problem.
    """
    source = str(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except FileNotFoundError:
        if not create_if_missing:
            raise ConfigError(source, ["the file does not exist"], file_level=True) from None
        created = _create_default(path, source)
        if created:
            loaded = LoadedConfig(Config(), [], True, source)
            return _with_override(loaded, log_level)
        return load_config(path, create_if_missing=False, log_level=log_level)  # lost a race: read it
    except IsADirectoryError:
        raise ConfigError(source, ["is a directory, not a config file"], file_level=True) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"is not UTF-8 text (bad byte at offset {exc.start})"],
                          file_level=True) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot be read: {exc.strerror or exc}"], file_level=True) from None
    data = parse_json(text, source)
    return _with_override(config_from_data(data, source=source), log_level)


def config_from_data(data: Any, *, source: str = "config") -> LoadedConfig:
    """Validate already-parsed JSON data (a dict as in `config.json`) into a `LoadedConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(source, [f"the top level must be a JSON object {{...}} of settings, got "
                                   f"{_kind(data)}"], file_level=True)
    checker = _Checker()
    checker.scan_duplicates(data, "")
    checker.scan_secrets(data, "")
    plain = {k: v for k, v in _plain(data).items() if k not in checker.secret_paths}  # reported already
    legacy.migrate(plain, checker.origins, checker.warn, checker.problem)
    raw_overrides = plain.pop("overrides", {})
    values = checker.section(Config, plain, "")
    config = _build(Config, values)
    checker.cross_checks(config)
    config = checker.effective(config)
    config = checker.overrides(raw_overrides, config)
    if checker.problems:
        raise ConfigError(source, checker.problems, checker.warnings)
    return LoadedConfig(config, checker.warnings, False, source)


def config_with_changes(base: Config, changes: dict[str, Any], *, source: str = "config") -> Config:
    """`base` (a valid config) with dotted keys set, each new value checked by its key's rules and the
    result by the rules between keys: what `config_from_data` gives for base's data with these
    changes, without re-reading every key (the optimiser builds one config per trial). Raises
    ConfigError like `config_from_data`."""
    checker = _Checker()
    tree: dict[str, Any] = {}  # the checked values, nested by section, applied once per section
    for path, value in changes.items():
        cls: type = Config
        *parents, leaf = path.split(".")
        fields = _fields(cls)
        for part in parents:
            tp = _hints(cls).get(part)
            if part not in fields or not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
                fields = {}
                break
            cls = tp
            fields = _fields(cls)
        f = fields.get(leaf)
        if f is None:
            checker.unknown(cls, leaf, path, list(fields))
            continue
        ok, checked = checker.value(f, _hints(cls)[leaf], _plain(value), path)
        if ok and cls is ActiveWeights and checked < 0:
            checker.problem(path, f"{_show(value)} is out of range: a weight must be >= 0 (0 switches the scorer off)")
            continue
        if ok:
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = checked
    cfg = _replace_tree(base, tree)
    if not checker.problems:
        checker.cross_checks(cfg)
    if checker.problems:
        raise ConfigError(source, checker.problems, checker.warnings)
    return checker.effective(cfg)


def _replace_tree(obj: Any, tree: dict[str, Any]) -> Any:
    return dataclasses.replace(obj, **{k: _replace_tree(getattr(obj, k), v) if isinstance(v, dict) else v
                                       for k, v in tree.items()}) if tree else obj


def with_log_level(config: Config, level: str | None) -> Config:
    """`config` with `logging.level` replaced by a `--log-level` value (None: unchanged)."""
    if level is None:
        return config
    upper = level.upper()
    if upper not in LOG_LEVELS:
        raise BadInputError(f"--log-level {level!r} is not one of {', '.join(LOG_LEVELS)}")
    return replace_path(config, "logging.level", upper)


def _with_override(loaded: LoadedConfig, log_level: str | None) -> LoadedConfig:
    loaded.config = with_log_level(loaded.config, log_level)
    return loaded


def _create_default(path: str | os.PathLike[str], source: str) -> bool:
    """Write the defaults to a new file; False if someone else created it meanwhile."""
    try:
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(default_config_text())
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(source, [f"does not exist and cannot be created: {exc.strerror or exc}"],
                          file_level=True) from None
    return True


# ----------------------------------------------------------------------------------------------
# JSON parsing with useful syntax errors


class _JsonObject(dict):
    """A parsed JSON object that remembers keys written twice (json keeps only the last)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    seen: list[str] = []
    for key, value in pairs:
        if key in obj and key not in seen:
            seen.append(key)
        obj[key] = value
    if seen:
        obj.duplicates = tuple(seen)
    return obj


def parse_json(text: str, source: str) -> Any:
    """Parse config text; a syntax error names line and column and shows the offending line."""
    try:
        return json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise ConfigError(source, [_syntax_message(text, exc)], file_level=True) from None
    except RecursionError:
        raise ConfigError(source, ["is nested too deeply to be a config file"], file_level=True) from None


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    lines = text.splitlines() or [""]
    lineno, colno = exc.lineno, exc.colno
    out = [f"JSON syntax error at line {lineno}, column {colno}: {exc.msg}"]
    width = len(str(min(lineno, len(lines))))
    if 1 < lineno <= len(lines) + 1:
        out.append(f"  {lineno - 1:>{width}} | {_clip(lines[lineno - 2], 0)[0]}")
    if lineno - 1 < len(lines):
        shown, col = _clip(lines[lineno - 1], colno - 1)
        out.append(f"  {lineno:>{width}} | {shown}")
        pad = "".join(c if c == "\t" else " " for c in shown[:col])
        out.append(f"  {' ' * width} | {pad}^")
    hint = _syntax_hint(text, exc)
    if hint:
        out.append(f"  hint: {hint}")
    return "\n".join(out)


def _clip(line: str, col: int, width: int = 120) -> tuple[str, int]:
    """A long line cut to a window around `col`, and the column inside that window."""
    if len(line) <= width:
        return line, col
    start = max(0, min(col - width // 2, len(line) - width))
    shown = ("..." if start else "") + line[start:start + width] + ("..." if start + width < len(line) else "")
    return shown, col - start + (3 if start else 0)


def _syntax_hint(text: str, exc: json.JSONDecodeError) -> str:
    pos = exc.pos
    before = text[:pos].rstrip()
    at = text[pos:pos + 2]
    if not text.strip():
        return ("the file is empty; write {} to take every key's default, or the keys you want to change "
                "(docs/config.md lists them)")
    if at.startswith(("//", "/*", "#")):
        return "JSON does not allow comments; delete them"
    if at.startswith("'"):
        return "JSON strings and keys need double quotes (\"...\")"
    if before.endswith(",") and at[:1] in ("}", "]"):
        return "JSON does not allow a comma before } or ]; delete the last comma"
    for word, fix in (("True", "true"), ("False", "false"), ("None", "null")):
        if text.startswith(word, pos):
            return f"write {fix}, not {word}"
    if exc.msg.startswith("Expecting ',' delimiter") and "\n" in text[len(before):pos]:
        return "a comma is probably missing at the end of the previous line"
    if exc.msg.startswith("Invalid \\escape"):
        return "a backslash in a string must be doubled (\\\\), or use / in paths"
    if exc.msg.startswith("Extra data"):
        return "there is text after the closing }: the file must hold one JSON object"
    if exc.msg.startswith("Unterminated string"):
        return "a closing double quote is missing"
    return ""


# ----------------------------------------------------------------------------------------------
# Validation


_SECRET_KEY_ENDINGS = ("apikey", "apisecret", "secret", "secretkey", "privatekey", "password",
                       "passphrase", "token", "webhook", "webhookurl")
_WEBHOOK_URL = re.compile(r"https?://(?:[\w-]+\.)*(?:discord(?:app)?\.com/api/webhooks|"
                          r"api\.telegram\.org/bot|hooks\.slack\.com)/", re.I)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_INTERVAL_MINUTES = {**{i: int(i) for i in BYBIT_INTERVALS if i.isdigit()}, "D": 1440, "W": 10080, "M": 43200}
_ALIAS = re.compile(r"^\s*(\d+)\s*(m|min|h|hr|d|w|mo|month)?\s*$", re.I)


@cache
def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    """A value as the user wrote it in JSON, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOW_MAX else text[:_SHOW_MAX - 3] + "..."


def _got(value: Any) -> str:
    """"got ..." text: the value, and its JSON kind where that is not plain from the value."""
    kind = _kind(value)
    return _show(value) if kind in ("null", "true/false") else f"{_show(value)} ({kind})"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(x)


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"out of range {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"out of range: must be {'>' if lo_open else '>='} {_num(lo)}"
    if hi is None:
        raise ValueError("a range needs lo or hi")  # every setting with a range has one of them
    return f"out of range: must be {'<' if hi_open else '<='} {_num(hi)}"


def _suggest(word: str, candidates: Iterable[str]) -> str | None:
    candidates = list(candidates)
    for c in candidates:
        if c.lower() == word.lower():
            return c
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
        close = [c for c in candidates if close and c.lower() == close[0]]
    return close[0] if close else None


def _interval_alias(value: Any) -> str | None:
    """"15m" -> "15", "1h" -> "60", "1d" -> "D": the Bybit spelling of a common interval spelling."""
    match = _ALIAS.match(str(value))
    if not match:
        return None
    n, unit = int(match.group(1)), (match.group(2) or "m")
    unit = "mo" if unit == "M" else unit.lower()  # 1M is a month to traders, as in Bybit's "M"
    minutes = {"m": 1, "min": 1, "h": 60, "hr": 60}.get(unit)
    if minutes is not None:
        text = str(n * minutes)
        if text in BYBIT_INTERVALS:
            return text
        return {"1440": "D", "10080": "W"}.get(text)
    return {("d", 1): "D", ("w", 1): "W", ("mo", 1): "M", ("month", 1): "M"}.get((unit, n))


def _all_paths(cls: type = Config, prefix: str = "") -> dict[str, list[str]]:
    """Leaf and section name -> every dotted path it has in the model."""
    out: dict[str, list[str]] = {}
    for f in dataclasses.fields(cls):
        path = _join(prefix, f.name)
        out.setdefault(f.name, []).append(path)
        tp = _hints(cls)[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            for name, paths in _all_paths(tp, path).items():
                out.setdefault(name, []).extend(paths)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, values: dict[str, Any]) -> Any:
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            tp = _hints(cls)[f.name]
            is_section = isinstance(tp, type) and dataclasses.is_dataclass(tp)
            kwargs[f.name] = _build(tp, values[f.name]) if is_section else values[f.name]
    return cls(**kwargs)


class _Checker:
    """Collects every problem and warning of one config, with paths as the user wrote them."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.origins = legacy.Origins()
        self.invalid: set[str] = set()  # model paths whose value was rejected (defaults stand in)
        self.secret_paths: set[str] = set()
        self.ignored_htfs: list[str] = []  # higher timeframes not longer than interval (warned, dropped)
        # Checking one symbol's effective config: the symbol and the paths its overrides set.
        self.scope: tuple[str, frozenset[str]] | None = None

    def problem(self, path: str, text: str, *, symbol_specific: bool = False) -> None:
        self.invalid.add(path)
        self.problems.append(f"{self.shown(path, symbol_specific)}: {text}" if path else text)

    def warn(self, path: str, text: str) -> None:
        self.warnings.append(f"{path}: {text}")

    def warn_at(self, path: str, text: str) -> None:
        self.warn(self.shown(path), text)

    def shown(self, path: str, symbol_specific: bool = False) -> str:
        """`path` as the user wrote it: the legacy key it came from, or, in one symbol's check, the
        override that set it (a top-level key only broken by the symbol's overrides says so)."""
        if self.scope is None:
            return self.origins.show(path)
        symbol, overridden = self.scope
        if any(path == p or path.startswith((p + ".", p + "[")) for p in overridden):
            return f"overrides.{symbol}.{path}"
        shown = self.origins.show(path)
        return shown if symbol_specific else f"{shown} (for {symbol}, with overrides.{symbol})"

    def is_bad(self, *paths: str) -> bool:
        return any(p == bad or p.startswith(bad + ".") for p in paths for bad in self.invalid)

    # -- whole-tree scans (on the data as written, before legacy keys move anything) --

    def scan_duplicates(self, value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key in getattr(value, "duplicates", ()):
                self.problem(_join(path, key), "written twice in the same object; JSON keeps only the "
                             "last one, so delete the other")
            for key, sub in value.items():
                self.scan_duplicates(sub, _join(path, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self.scan_duplicates(sub, f"{path}[{i}]")

    def scan_secrets(self, value: Any, path: str) -> None:
        webhook_env = "WHALEBOT_WEBHOOK_URL"
        alerts = value.get("alerts") if isinstance(value, dict) and not path else None
        if isinstance(alerts, dict) and isinstance(alerts.get("webhook_url_env"), str) \
                and _ENV_NAME.match(alerts["webhook_url_env"]):
            webhook_env = alerts["webhook_url_env"]
        env_values = {os.environ.get(n, "") for n in (*SECRET_ENV_VARS, webhook_env)} - {""}
        self._scan_secrets(value, path, webhook_env, {v for v in env_values if len(v) >= 6})

    def _scan_secrets(self, value: Any, path: str, webhook_env: str, env_values: set[str]) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                sub_path = _join(path, key)
                norm = re.sub(r"[^a-z0-9]", "", str(key).lower())
                if norm.endswith(_SECRET_KEY_ENDINGS):
                    if "webhook" in norm or "token" in norm:
                        env = webhook_env
                    elif "secret" in norm:
                        env = "BYBIT_API_SECRET"
                    elif "key" in norm:
                        env = "BYBIT_API_KEY"
                    else:
                        env = "an environment variable"
                    self._secret(sub_path, f"secrets do not belong in config.json (it gets shared and "
                                 f"copied); put {env}=... in .env and delete this key")
                else:
                    self._scan_secrets(sub, sub_path, webhook_env, env_values)
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self._scan_secrets(sub, f"{path}[{i}]", webhook_env, env_values)
        elif isinstance(value, str):
            if path == "alerts.webhook_url_env" and "://" in value:
                self._secret(path, "holds a URL, but it is the NAME of the environment variable that "
                             "holds the webhook URL; put WHALEBOT_WEBHOOK_URL=<the URL> in .env and set "
                             "this key back to \"WHALEBOT_WEBHOOK_URL\"")
            elif _WEBHOOK_URL.search(value):
                self._secret(path, f"holds a webhook URL, which is a secret; put {webhook_env}=<the URL> "
                             "in .env and delete it here")
            elif value in env_values:
                self._secret(path, "holds the value of an API key, secret or webhook URL from the "
                             "environment; secrets belong in .env only, delete it here")

    def _secret(self, path: str, text: str) -> None:
        self.secret_paths.add(path)
        self.problem(path, text)

    # -- the model walk --

    def section(self, cls: type, raw: dict[str, Any], path: str, *, prefix: str = "") -> dict[str, Any]:
        """The checked values of `raw`, a part of the model at `path`. With `prefix`
        ("overrides.ETHUSDT.") it is one symbol's overrides: keys are shown with the prefix and
        account-wide keys are refused."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            model_path = _join(path, key)
            key_path = prefix + model_path
            if key_path in self.secret_paths:
                continue
            f = known.get(key)
            if f is None:
                self.unknown(cls, key, model_path, list(known), prefix=prefix)
                continue
            if prefix and model_path in ACCOUNT_WIDE:
                self.problem(key_path, f"is account-wide, so it cannot differ per symbol: {ACCOUNT_WIDE[model_path]}; "
                             f"set {model_path} at the top level")
                continue
            tp = _hints(cls)[key]
            if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                if isinstance(value, dict):
                    values[key] = self.section(tp, value, model_path, prefix=prefix)
                else:
                    self.problem(key_path, f"expected an object {{...}} of settings, got {_kind(value)}")
                continue
            ok, checked = self.value(f, tp, value, key_path)
            if ok and cls is ActiveWeights and checked < 0:
                self.problem(key_path, f"{_show(value)} is out of range: a weight must be >= 0 "
                             "(0 switches the scorer off)")
                continue
            if ok:
                values[key] = checked
        return values

    def unknown(self, cls: type, key: str, model_path: str, siblings: list[str], *, prefix: str = "") -> None:
        path = prefix + model_path
        guess = _suggest(key, siblings)
        mean = f"; did you mean '{guess}'?" if guess else ""
        if cls is ActiveWeights:
            self.problem(path, f"names no scorer; scorers are: {', '.join(siblings)}{mean}")
        elif cls is IndicatorToggles:
            self.problem(path, f"is not an indicator toggle; toggles are: {', '.join(siblings)}{mean}")
        elif guess:
            self.problem(path, f"unknown key{mean}")
        else:
            paths = _all_paths()
            elsewhere = [p for p in paths.get(key, []) if p != model_path]
            if not elsewhere:  # a misspelt key of another section, e.g. "netwrok" for exchange.network
                name = _suggest(key, list(paths))
                elsewhere = [p for p in paths.get(name, []) if p != model_path] if name else []
                hint = f"; did you mean {' or '.join(prefix + p for p in elsewhere)}?" if elsewhere else ""
            elif prefix and all(_account_wide(p) for p in elsewhere):
                hint = f"; it belongs at {' or '.join(elsewhere)}, which is account-wide (set it at the top level)"
            else:
                hint = f"; it belongs at {' or '.join(prefix + p for p in elsewhere)}"
            self.problem(path, f"unknown key{hint}")

    def value(self, f: dataclasses.Field, tp: Any, value: Any, path: str) -> tuple[bool, Any]:
        meta = f.metadata
        default_hint = f"; delete the key to use the default {_show(to_dict(f.default))}" if value is None else ""
        if tp is bool:
            if isinstance(value, bool):
                return True, value
            quoted = isinstance(value, str) and value.strip().lower() in ("true", "false")
            hint = f"; write {value.strip().lower()} without quotes" if quoted else default_hint
            self.problem(path, f"expected true or false, got {_got(value)}{hint}")
            return False, None
        if tp in (int, float):
            return self.number(meta, tp, value, path, default_hint)
        if tp is str:
            return self.text(meta, value, path, default_hint)
        if typing.get_origin(tp) is tuple:
            return self.items(meta, value, path, default_hint)
        raise TypeError(f"config model type {tp!r} at {path} has no validator")  # a model bug

    def number(self, meta: Any, tp: type, value: Any, path: str, default_hint: str) -> tuple[bool, Any]:
        what = "a whole number" if tp is int else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = default_hint
            if isinstance(value, str):
                try:
                    float(value)
                    hint = f"; write {value.strip()} without quotes"
                except ValueError:
                    pass
            self.problem(path, f"expected {what}, got {_got(value)}{hint}")
            return False, None
        if not math.isfinite(value):
            self.problem(path, f"expected {what}, got {_show(value)}")
            return False, None
        written = value
        if tp is int:
            if isinstance(value, float) and not value.is_integer():
                self.problem(path, f"expected a whole number, got {_show(value)}")
                return False, None
            value = int(value)
        else:
            value = float(value)
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            self.problem(path, f"{_show(written)} is not one of {', '.join(_show(c) for c in choices)}")
            return False, None
        lo, hi = meta.get("lo"), meta.get("hi")
        lo_open, hi_open = meta.get("lo_open", False), meta.get("hi_open", False)
        below = lo is not None and (value <= lo if lo_open else value < lo)
        above = hi is not None and (value >= hi if hi_open else value > hi)
        if below or above:
            self.problem(path, f"{_show(written)} is {_range_text(lo, hi, lo_open, hi_open)}")
            return False, None
        return True, value

    def _choice_problem(self, path: str, value: Any, choices: tuple[Any, ...]) -> None:
        if choices == BYBIT_INTERVALS:
            alias = _interval_alias(value)
            hint = f'; use "{alias}"' if alias else ""
            self.problem(path, f"{_show(value)} is not a Bybit interval ({' '.join(BYBIT_INTERVALS)}){hint}")
            return
        guess = _suggest(str(value), [str(c) for c in choices])
        mean = f"; did you mean {_show(guess)}?" if guess else ""
        self.problem(path, f"{_show(value)} is not one of {', '.join(_show(c) for c in choices)}{mean}")

    def text(self, meta: Any, value: Any, path: str, default_hint: str,
             choices: tuple[Any, ...] | None = None) -> tuple[bool, Any]:
        choices = meta.get("choices") if choices is None else choices
        if not isinstance(value, str):
            hint = default_hint
            if isinstance(value, (int, float)) and not isinstance(value, bool) and choices \
                    and _num(value) in choices:
                hint = f'; use "{_num(value)}"'
            self.problem(path, f"expected a string (in double quotes), got {_got(value)}{hint}")
            return False, None
        if choices is not None and value not in choices:
            self._choice_problem(path, value, choices)
            return False, None
        return True, value

    def items(self, meta: Any, value: Any, path: str, default_hint: str) -> tuple[bool, Any]:
        if not isinstance(value, list):
            hint = f"; write [{_show(value)}]" if isinstance(value, str) else default_hint
            self.problem(path, f"expected a list [...] of strings, got {_got(value)}{hint}")
            return False, None
        choices = meta.get("item_choices")
        ok, seen = True, []
        for i, item in enumerate(value):
            if f"{path}[{i}]" in self.secret_paths:  # reported already, never echoed
                ok = False
                continue
            good, checked = self.text({}, item, f"{path}[{i}]", "", choices)
            if not good:
                ok = False
            elif checked in seen:
                self.problem(f"{path}[{i}]", f"{_show(checked)} is listed twice")
                ok = False
            else:
                seen.append(checked)
        if not ok:
            self.invalid.add(path)
            return False, None
        return True, tuple(seen)

    def effective(self, cfg: Config) -> Config:
        """`cfg` without the higher timeframes the checks ignored (warned about already). The
        original accepted e.g. "60" over interval "60", so such a file must still load; if none
        remains, multi-timeframe analysis is switched off rather than left with an empty list."""
        if not self.ignored_htfs:
            return cfg
        kept = tuple(h for h in cfg.mtf_analysis.higher_timeframes if h not in self.ignored_htfs)
        cfg = replace_path(cfg, "mtf_analysis.higher_timeframes", kept)
        if not kept:
            self.warn_at("mtf_analysis.enabled", f'no higher timeframe is longer than interval "{cfg.interval}", '
                      "so multi-timeframe analysis (MTF_Trend_Confluence) is off")
            cfg = replace_path(cfg, "mtf_analysis.enabled", False)
        return cfg

    # -- rules between keys --

    def rule(self, paths: tuple[str, ...], broken: bool, text: str, *, warning: bool = False) -> None:
        """Report `text` at `paths[0]` if `broken`, unless one of `paths` is wrong already."""
        if broken and not self.is_bad(*paths):
            if warning:
                self.warn_at(paths[0], text)
            else:
                self.problem(paths[0], text)
                for p in paths[1:]:
                    self.invalid.add(p)

    def order(self, section: str, low: str, high: str, obj: Any, *, strict: bool = True) -> None:
        a, b = getattr(obj, low), getattr(obj, high)
        broken = a >= b if strict else a > b
        relation = "below" if strict else "at most"
        self.rule((f"{section}.{low}", f"{section}.{high}"), broken,
                  f"{_num(a)} must be {relation} {high} ({_num(b)})")

    def cross_checks(self, cfg: Config) -> None:
        """The rules between keys of the top level (each symbol's own: `overrides`)."""
        self._check_symbols(cfg)
        self._check_network(cfg)
        self.symbol_rules(cfg)
        self.account_rules(cfg)

    def symbol_rules(self, cfg: Config) -> None:
        """Rules between keys that may differ per symbol: run on the top level and on each
        symbol's effective config."""
        ind = cfg.indicator_settings
        order = self.order
        self._check_mtf(cfg)
        order("indicator_settings", "ADX_WEAK_TREND_THRESHOLD", "ADX_STRONG_TREND_THRESHOLD", ind, strict=False)
        for name in ("rsi", "stoch_rsi", "cci", "williams_r", "mfi", "roc"):
            order("indicator_settings", f"{name}_oversold", f"{name}_overbought", ind)
        order("indicator_settings", "macd_fast_period", "macd_slow_period", ind)
        order("indicator_settings", "ema_short_period", "ema_long_period", ind)
        order("indicator_settings", "kama_fast_period", "kama_slow_period", ind)
        order("indicator_settings", "psar_acceleration", "psar_max_acceleration", ind, strict=False)
        order("indicator_settings", "ehlers_fast_period", "ehlers_slow_period", ind, strict=False)
        self.rule(("indicator_settings.ehlers_fast_multiplier", "indicator_settings.ehlers_fast_period",
                   "indicator_settings.ehlers_slow_period", "indicator_settings.ehlers_slow_multiplier"),
                  ind.ehlers_fast_period == ind.ehlers_slow_period
                  and ind.ehlers_fast_multiplier >= ind.ehlers_slow_multiplier,
                  f"{_num(ind.ehlers_fast_multiplier)} must be below ehlers_slow_multiplier "
                  f"({_num(ind.ehlers_slow_multiplier)}) when the fast and slow periods are equal, or the "
                  "fast SuperTrend is no faster than the slow one")
        order("indicator_settings", "ichimoku_tenkan_period", "ichimoku_kijun_period", ind, strict=False)
        order("indicator_settings", "ichimoku_kijun_period", "ichimoku_senkou_span_b_period", ind, strict=False)
        order("take_profit", "velocity_short_window_sec", "velocity_long_window_sec", cfg.take_profit)
        tm = cfg.trade_management
        self.rule(("trade_management.reverse_position_on_opposite_signal",
                   "trade_management.close_on_opposite_signal"),
                  tm.reverse_position_on_opposite_signal and not tm.close_on_opposite_signal,
                  "has no effect while trade_management.close_on_opposite_signal is false", warning=True)

    def account_rules(self, cfg: Config) -> None:
        """Rules between account-wide keys (overrides cannot set them)."""
        tm, risk = cfg.trade_management, cfg.risk
        self.order("safety", "max_drawdown_soft_percent", "max_drawdown_hard_percent", cfg.safety, strict=False)
        self.rule(("trade_management.account_balance", "safety.min_balance_usdt"),
                  tm.account_balance <= cfg.safety.min_balance_usdt,
                  f"{_num(tm.account_balance)} is not above safety.min_balance_usdt "
                  f"({_num(cfg.safety.min_balance_usdt)}): paper trading and backtests would stop at the "
                  "balance floor at once", warning=True)
        self.rule(("risk.max_correlated_exposure_percent", "risk.max_total_exposure_percent"),
                  risk.max_correlated_exposure_percent > risk.max_total_exposure_percent,
                  f"{_num(risk.max_correlated_exposure_percent)} is above risk.max_total_exposure_percent "
                  f"({_num(risk.max_total_exposure_percent)}), so it never binds: the total cap is reached first",
                  warning=True)
        self.rule(("alerts.webhook_url_env",), not _ENV_NAME.match(cfg.alerts.webhook_url_env),
                  f"{_show(cfg.alerts.webhook_url_env)} is not an environment variable name "
                  "(letters, digits and _, e.g. WHALEBOT_WEBHOOK_URL)")
        log_file = cfg.logging.file
        self.rule(("logging.file",), bool(log_file) and _is_directory(log_file),
                  f"{_show(log_file)} is a directory; name a file in it, e.g. "
                  f"{_show(_posix_join(log_file, 'whalebot.log'))}")

    def _check_symbols(self, cfg: Config) -> None:
        if self.is_bad("symbols"):
            return
        if not cfg.symbols:
            self.problem("symbols", 'is empty; list at least one symbol, e.g. ["BTCUSDT"]')
            return
        for i, symbol in enumerate(cfg.symbols):
            path = f"symbols[{i}]"
            if not _SYMBOL.match(symbol):
                upper = symbol.strip().upper()
                hint = f'; did you mean "{upper}"?' if _SYMBOL.match(upper) else ""
                self.problem(path, f"{_show(symbol)} is not a Bybit symbol (capital letters and digits, "
                             f"e.g. BTCUSDT){hint}")
            elif not symbol.endswith("USDT") or symbol == "USDT":
                self.problem(path, f"{_show(symbol)} is not a USDT perpetual; Whalebot trades linear "
                             "USDT contracts such as BTCUSDT")

    def _check_instrument(self, cfg: Config) -> None:
        """What Bybit's published rules for the symbol decide offline (the symbols the backtest knows,
        whale.market.instruments.KNOWN): the leverage must be within the symbol's range and on its
        step, or Bybit refuses to set it and the bot stops at start-up. `cfg` is one symbol's."""
        inst = KNOWN.get(cfg.symbol)
        path = "trade_management.leverage"
        if inst is None or self.is_bad(path):
            return
        lev = Decimal(repr(cfg.trade_management.leverage))
        lo, hi, step = inst.min_leverage, inst.max_leverage, inst.leverage_step
        if not lo <= lev <= hi:
            self.problem(path, f"{_num(cfg.trade_management.leverage)} is outside the leverage {cfg.symbol} allows on "
                         f"Bybit: {_num(float(lo))} to {_num(float(hi))}", symbol_specific=True)
        elif (lev - lo) % step != 0:
            self.problem(path, f"{_num(cfg.trade_management.leverage)} is not a multiple of {cfg.symbol}'s leverage "
                         f"step on Bybit ({step})", symbol_specific=True)

    # -- per-symbol overrides --

    def overrides(self, raw: Any, base: Config) -> Config:
        """Check `overrides` key by key, then each symbol's effective config (the rules between
        keys it may change, and its instrument's leverage); `base` with the checked overrides."""
        if not isinstance(raw, dict):
            self.problem("overrides", f"expected an object {{...}} of symbol -> settings, got {_kind(raw)}")
            raw = {}
        symbols_ok = not self.is_bad("symbols")
        checked: dict[str, dict[str, Any]] = {}
        for symbol, settings in raw.items():
            path = f"overrides.{symbol}"
            if path in self.secret_paths:
                continue
            known = symbol in base.symbols
            if symbols_ok and not known:
                guess = next((s for s in base.symbols if s == str(symbol).strip().upper()), None)
                mean = f"; did you mean '{guess}'?" if guess else ""
                self.problem(path, f"{symbol} is not in symbols ({', '.join(base.symbols)}); add it there or "
                             f"delete this override{mean}")
            if not isinstance(settings, dict):
                self.problem(path, f"expected an object {{...}} of the settings {symbol} overrides, got "
                             f"{_kind(settings)}")
                continue
            values = self.section(Config, settings, "", prefix=path + ".")
            if known:
                checked[symbol] = values
        cfg = dataclasses.replace(base, overrides=Overrides(checked))
        if not symbols_ok:
            return cfg
        final = {}
        for i, symbol in enumerate(cfg.symbols):
            if not self.is_bad(f"symbols[{i}]"):
                final[symbol] = self._check_one_symbol(cfg, symbol)
        return dataclasses.replace(cfg, overrides=Overrides.from_paths({s: p for s, p in final.items() if p}))

    def _check_one_symbol(self, cfg: Config, symbol: str) -> tuple[tuple[str, Any], ...]:
        """Check `symbol`'s effective config; its override pairs, less the higher timeframes that
        check ignored (as the top level drops them)."""
        leaves = cfg.overrides.paths(symbol)
        prefix = f"overrides.{symbol}."
        sub = _Checker()
        sub.origins = self.origins
        sub.scope = (symbol, frozenset(p for p, _ in leaves))
        sub.invalid = ({p for p in self.invalid if not p.startswith("overrides.")}
                       | {p[len(prefix):] for p in self.invalid if p.startswith(prefix)})
        mine = cfg.for_symbol(symbol)
        if leaves:
            sub.symbol_rules(mine)
        sub._check_instrument(mine)
        kept = sub.effective(mine).mtf_analysis
        self.problems.extend(p for p in sub.problems if p not in self.problems)
        self.warnings.extend(w for w in sub.warnings if w not in self.warnings)
        if kept == mine.mtf_analysis:
            return leaves
        pairs = dict(leaves)
        pairs["mtf_analysis.higher_timeframes"] = kept.higher_timeframes
        if not kept.enabled:
            pairs["mtf_analysis.enabled"] = False
        return tuple(pairs.items())

    def _check_mtf(self, cfg: Config) -> None:
        mtf = cfg.mtf_analysis
        if not mtf.enabled or self.is_bad("mtf_analysis.enabled"):
            return
        if not self.is_bad("mtf_analysis.higher_timeframes") and not mtf.higher_timeframes:
            self.problem("mtf_analysis.higher_timeframes", "is empty while mtf_analysis.enabled is true; "
                         "list at least one interval or set enabled to false")
        if not self.is_bad("mtf_analysis.trend_indicators") and not mtf.trend_indicators:
            self.problem("mtf_analysis.trend_indicators", "is empty while mtf_analysis.enabled is true; "
                         "list at least one of sma, ema, ehlers_supertrend")
        if self.is_bad("interval", "mtf_analysis.higher_timeframes"):
            return
        base = _INTERVAL_MINUTES[cfg.interval]
        for i, htf in enumerate(mtf.higher_timeframes):
            minutes = _INTERVAL_MINUTES[htf]
            path = f"mtf_analysis.higher_timeframes[{i}]"
            if minutes <= base:
                self.warn_at(path, f'"{htf}" is not longer than interval "{cfg.interval}", so it is '
                             "ignored: a higher timeframe must be longer than the interval")
                self.ignored_htfs.append(htf)
            elif not _divides(base, htf):
                self.warn_at(path, f'"{htf}" is not a whole multiple of interval "{cfg.interval}": its '
                             "candles close out of step with the interval's (live fetches them from "
                             "Bybit, but a backtest cannot build them from interval candles)")

    def _check_network(self, cfg: Config) -> None:
        if self.is_bad("exchange.network"):
            return
        urls = (("rest_url", ("http", "https"), "http(s)"), ("public_ws_url", ("ws", "wss"), "ws(s)"),
                ("private_ws_url", ("ws", "wss"), "ws(s)"))
        for name, schemes, label in urls:
            url = getattr(cfg.exchange, name)
            key = f"exchange.{name}"
            if self.is_bad(key):
                continue
            if cfg.network != "custom":
                if url:
                    self.problem(key, f'is set, but network is "{cfg.network}"; the URLs are used only '
                                 'with network "custom" (set network to "custom" or make the URL "")')
                continue
            if not url:
                self.problem(key, f'is required with network "custom": an {label} URL')
                continue
            parts = urllib.parse.urlsplit(url)
            if parts.scheme.lower() not in schemes or not parts.netloc:
                self.problem(key, f"{_show(url)} is not an {label} URL: it must start with "
                             f"{schemes[0]}:// or {schemes[1]}:// and name a host")


def _account_wide(path: str) -> bool:
    """`path` or a section holding it is in ACCOUNT_WIDE."""
    parts = path.split(".")
    return any(".".join(parts[:n]) in ACCOUNT_WIDE for n in range(1, len(parts) + 1))


def _is_directory(path: str) -> bool:
    if path.endswith(("/", os.sep)):
        return True
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):  # e.g. a NUL byte: opening it will say what is wrong
        return False


def _divides(base_minutes: int, htf: str) -> bool:
    if htf == "M":  # months are whole days, never whole weeks
        return 1440 % base_minutes == 0
    return _INTERVAL_MINUTES[htf] % base_minutes == 0


def _posix_join(directory: str, name: str) -> str:
    return directory.rstrip("/\\") + "/" + name
