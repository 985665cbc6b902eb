"""The trade journal: `trade_history.json` (live) / `trade_history.paper.json` (paper), and the
PerformanceTracker that owns it.

The exchange is the truth about positions; the journal is the audit log (docs/architecture.md,
principle 3): every trade, open and closed, with the metadata a restart needs to restore its
management (initial stop, break-even flag, density price, ...).

    tracker = PerformanceTracker(workdir / journal_filename(cfg.dry_run), network="testnet",
                                 mode="paper", symbol="BTCUSDT", start_balance=1000)
    for warning in tracker.warnings:          # corrupt file moved aside, other network, ...
        log.warning(warning)
    tracker.open_trade(TradeRecord(id=link_id, symbol=..., side="Buy", qty=Decimal("0.01"), ...))
    tracker.update_trade(link_id, stop_loss=Decimal("64950.5"), stop_kind=STOP_BREAKEVEN)
    tracker.close_trade(link_id, exit_price, exit_time, fees, funding, None, "take_profit", [exit_link_id])
    tracker.close()                           # releases the lock

- Every mutation rewrites the file atomically (temporary file in the same directory, write,
  flush, fsync, `os.replace`, fsync of the directory): after a crash the file holds either the
  old or the new content, never a mix.
- The tracker holds an exclusive, non-blocking lock (`flock`) on `<journal>.lock` for its
  lifetime, so two bots never share a journal. The OS drops the lock when the process dies, so
  `kill -9` leaves no stale lock.
- A corrupt file (bad JSON, wrong shape, undecodable amount) is moved aside to
  `<journal>.corrupt-<UTC stamp>` and reported in `tracker.warnings`; the tracker starts empty and
  reconciliation rebuilds the view of open positions from the exchange. It is never overwritten.
- A file of an older format is migrated on load, one step per version (`MIGRATIONS`); the original
  is kept as `<journal>.v<N>.bak` and the migrated file is written atomically. A newer format is
  refused (JournalError), never moved.
- An entry is journaled BEFORE its order is sent (status `pending`, `add_pending`); the fill makes
  it an open trade (`confirm_entry`), a refusal removes it (`drop_pending`).
- The safety monitor's state (day-start equity, peak, halts) is kept in the file (`safety`), so a
  restart does not clear a daily-loss halt.
- Amounts are `Decimal` in memory and JSON strings in the file (never floats), read back exactly.

File format and decisions: docs/journal.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from whale.backtest.metrics import max_drawdown, trade_stats
from whale.errors import WhaleError
from whale.logs import NEON_CYAN, NEON_GREEN, NEON_RED, NEON_YELLOW, RESET
from whale.strategy.stops import EXIT_REASONS, STOP_BREAKEVEN, STOP_INITIAL, STOP_TRAILING

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl on Windows: the lock uses msvcrt
    import msvcrt

FORMAT_VERSION = 2
LIVE_JOURNAL = "trade_history.json"
PAPER_JOURNAL = "trade_history.paper.json"

SIDES = ("Buy", "Sell")
STATUSES = ("pending", "open", "closed")  # pending: journaled, order sent, fill not confirmed yet
NETWORKS = ("mainnet", "testnet", "demo-trading", "custom")
MODES = ("live", "paper", "demo")
STRATEGIES = ("indicators", "density", "combined")
SETUPS = ("indicators", "breakout", "bounce")  # what opened a trade: its exits and stop rules depend on it
STOP_KIND_NAMES = {STOP_INITIAL: "initial", STOP_BREAKEVEN: "break-even", STOP_TRAILING: "trailing"}

_DECIMAL_FIELDS = ("qty", "entry_price", "exit_price", "fees", "funding", "pnl", "initial_stop", "stop_loss",
                   "take_profit", "density_price")
_OPTIONAL_DECIMALS = frozenset(("exit_price", "pnl", "initial_stop", "stop_loss", "take_profit", "density_price"))
# What update_trade may not change: identity (id, market, mode) and the status, which only
# open_trade / close_trade set.
_FIXED_FIELDS = frozenset(("id", "symbol", "network", "mode", "status"))
_DOC_KEYS = ("version", "symbol", "network", "mode", "updated", "trades", "paper_state", "safety")


def journal_filename(dry_run: bool) -> str:
    """`trade_history.paper.json` for paper trading (dry run), `trade_history.json` otherwise."""
    return PAPER_JOURNAL if dry_run else LIVE_JOURNAL


class JournalError(WhaleError):
    """The journal cannot be used (locked by another bot, unreadable, unwritable): exit code 1."""


# ----------------------------------------------------------------------------------------------
# Values


class _SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


def iso_utc(value: Any) -> str:
    """A UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, from epoch milliseconds (int), an aware datetime
    or an ISO 8601 string with an offset (or `Z`). Naive times are refused: their zone is a guess."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, np.integer)):
        when = datetime.datetime.fromtimestamp(int(value) / 1000, datetime.UTC)
    elif isinstance(value, datetime.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    else:
        raise ValueError(f"not a time: {value!r}")
    if when.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r} (give UTC, e.g. '2025-01-01T00:00:00Z')")
    when = when.astimezone(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def epoch_ms(iso: str) -> int:
    """The inverse of iso_utc: milliseconds since the epoch."""
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def to_decimal(value: Any, name: str = "value") -> Decimal:
    """An exact, finite Decimal from a Decimal, an int or a string; a float goes through its
    shortest repr (`Decimal(str(x))`), so 0.1 stays 0.1."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name}: not an amount: {value!r}")
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, (int, np.integer)):
        out = Decimal(int(value))
    elif isinstance(value, (float, np.floating)):
        out = Decimal(repr(float(value)))
    elif isinstance(value, str):
        try:
            out = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name}: not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"{name}: not an amount: {value!r}")
    if not out.is_finite():
        raise ValueError(f"{name}: not a finite amount: {value!r}")
    return out


def decimal_text(value: Decimal) -> str:
    """Plain notation, exact (no exponent): Decimal('1E-7') -> '0.0000001'."""
    return format(value, "f")


# ----------------------------------------------------------------------------------------------
# The record


@dataclass(frozen=True, kw_only=True)
class TradeRecord:
    """One trade: pending (journaled before its order was sent; `entry_price` is then the pre-trade
    price it was sized at, `entry_time` when it was decided), open or closed. Immutable: change it
    through the tracker, which persists.

    Amounts are Decimal (floats given here go through their shortest repr); times are UTC ISO
    strings (epoch ms and aware datetimes are accepted and converted). `pnl` is net of fees and
    funding; `fees` and `funding` are what the trade paid (a rebate or received funding is
    negative). Lists are kept as tuples.
    """

    id: str
    symbol: str
    side: str
    qty: Decimal
    network: str
    mode: str
    strategy: str
    entry_time: str
    entry_price: Decimal
    status: str = "open"
    entry_order_link_id: str | None = None
    exit_order_link_ids: tuple[str, ...] = ()
    exit_time: str | None = None
    exit_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    pnl: Decimal | None = None
    reason: str | None = None
    initial_stop: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    stop_kind: int = STOP_INITIAL
    breakeven_done: bool = False
    density_price: Decimal | None = None
    adopted: bool = False
    entry_atr: float | None = None
    setup: str | None = None  # one of SETUPS; None in journals written before it existed (see setup_kind)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        put = object.__setattr__
        for name in ("id", "symbol"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}: a non-empty string is needed, got {value!r}")
        _choice(self, "side", SIDES)
        _choice(self, "status", STATUSES)
        _choice(self, "network", NETWORKS)
        _choice(self, "mode", MODES)
        _choice(self, "strategy", STRATEGIES)
        if self.setup is not None:
            _choice(self, "setup", SETUPS)
        for name in _DECIMAL_FIELDS:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL_DECIMALS:
                continue
            put(self, name, to_decimal(value, name))
        if self.qty <= 0:
            raise ValueError(f"qty: must be positive, got {self.qty}")
        if self.entry_price <= 0:
            raise ValueError(f"entry_price: must be positive, got {self.entry_price}")
        put(self, "entry_time", iso_utc(self.entry_time))
        if self.exit_time is not None:
            put(self, "exit_time", iso_utc(self.exit_time))
        if self.entry_order_link_id is not None and not isinstance(self.entry_order_link_id, str):
            raise ValueError(f"entry_order_link_id: a string is needed, got {self.entry_order_link_id!r}")
        put(self, "exit_order_link_ids", _strings(self.exit_order_link_ids, "exit_order_link_ids"))
        put(self, "notes", _strings(self.notes, "notes"))
        if self.reason is not None and self.reason not in EXIT_REASONS:
            raise ValueError(f"reason: {self.reason!r} is not one of {', '.join(EXIT_REASONS)}")
        if isinstance(self.stop_kind, bool) or self.stop_kind not in STOP_KIND_NAMES:
            raise ValueError(f"stop_kind: must be 0 (initial), 1 (break-even) or 2 (trailing), got {self.stop_kind!r}")
        put(self, "stop_kind", int(self.stop_kind))
        for name in ("breakeven_done", "adopted"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: true or false is needed, got {getattr(self, name)!r}")
        if self.entry_atr is not None:
            if isinstance(self.entry_atr, bool) or not isinstance(self.entry_atr, (int, float, np.floating)):
                raise ValueError(f"entry_atr: a number is needed, got {self.entry_atr!r}")
            atr = float(self.entry_atr)
            put(self, "entry_atr", atr if math.isfinite(atr) else None)
        if self.status == "closed":
            missing = [n for n in ("exit_time", "exit_price", "pnl", "reason") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"a closed trade needs {', '.join(missing)}")

    @property
    def direction(self) -> int:
        """+1 for Buy (long), -1 for Sell (short)."""
        return 1 if self.side == "Buy" else -1

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    def setup_kind(self) -> str:
        """The setup that opened the trade. Old journals lack `setup`: without a density price it was
        an indicator entry; with one, a wall ahead of the entry (above a long's, below a short's) was
        broken through (breakout), one behind it was bounced off (bounce)."""
        if self.setup is not None:
            return self.setup
        if self.density_price is None:
            return "indicators"
        ahead = (self.density_price - self.entry_price) * self.direction > 0
        return "breakout" if ahead else "bounce"

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = decimal_text(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Any) -> TradeRecord:
        """The record from its JSON object; ValueError naming the problem when it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"a trade must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:  # a required field is missing
            raise ValueError(str(exc).replace("TradeRecord.__init__() ", "")) from None


def _choice(record: TradeRecord, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(record, name)
    if value not in choices:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _strings(values: Any, name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{name}: a list of strings is needed, got {values!r}")
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name}: a list of strings is needed, got {values!r}")
    return tuple(values)


# ----------------------------------------------------------------------------------------------
# The file


@dataclass
class JournalData:
    """The whole file. `symbol` / `network` / `mode` / `updated` describe its last writer (each
    trade carries its own); `paper_state` belongs to the paper broker, `safety` to the safety
    monitor (whale.risk.safety; it names the network and mode it belongs to)."""

    symbol: str | None = None
    network: str | None = None
    mode: str | None = None
    updated: str | None = None
    trades: list[TradeRecord] = field(default_factory=list)
    paper_state: dict = field(default_factory=dict)
    safety: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"version": FORMAT_VERSION, "symbol": self.symbol, "network": self.network, "mode": self.mode,
                "updated": self.updated, "trades": [t.to_json() for t in self.trades],
                "paper_state": self.paper_state, "safety": self.safety}

    @classmethod
    def from_json(cls, doc: Any) -> JournalData:
        if not isinstance(doc, dict):
            raise ValueError(f"the file must hold a JSON object, not {type(doc).__name__}")
        unknown = sorted(set(doc) - set(_DOC_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}")
        for key in ("symbol", "network", "mode", "updated"):
            if doc.get(key) is not None and not isinstance(doc[key], str):
                raise ValueError(f"{key}: a string is needed, got {doc[key]!r}")
        trades = doc.get("trades", [])
        if not isinstance(trades, list):
            raise ValueError("trades: a list is needed")
        records, seen = [], set()
        for n, raw in enumerate(trades):
            try:
                record = TradeRecord.from_json(raw)
            except ValueError as exc:
                label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
                raise ValueError(f"trades[{n}]" + (f" ({label})" if label else "") + f": {exc}") from None
            if record.id in seen:
                raise ValueError(f"trades[{n}]: the id {record.id!r} is used twice")
            seen.add(record.id)
            records.append(record)
        paper_state = doc.get("paper_state", {})
        if paper_state is None:
            paper_state = {}
        if not isinstance(paper_state, dict):
            raise ValueError("paper_state: a JSON object is needed")
        safety = doc.get("safety") or {}
        if not isinstance(safety, dict):
            raise ValueError("safety: a JSON object is needed")
        return cls(doc.get("symbol"), doc.get("network"), doc.get("mode"), doc.get("updated"), records, paper_state,
                   safety)


# ----------------------------------------------------------------------------------------------
# Migrations: one function per format step, applied in order on load. A new format version adds
# FORMAT_VERSION + 1, one function `_vN_to_vN1(doc) -> doc` and its entry in MIGRATIONS, and a
# fixture written by the release before it (tests/fixtures/journal/vN/).


def _v1_to_v2(doc: dict) -> dict:
    """v2 adds pending entries (status `pending`: journaled before the order is sent) and the safety
    monitor's state (`safety`). A v1 file has neither: its trades stay exactly as they were."""
    out = dict(doc)
    out["version"] = 2
    out.setdefault("safety", {})
    return out


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


def migrate(doc: dict) -> dict:
    """The document brought from its version up to FORMAT_VERSION, one step at a time."""
    version = doc["version"]
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ValueError(f"no migration from format version {version}")
        doc = step(doc)
        if doc.get("version") != version + 1:
            raise AssertionError(f"the migration from version {version} must produce version {version + 1}")
        version += 1
    return doc


@dataclass
class LoadResult:
    """What `JournalFile.load` found. `data` is None when there was no usable file (none yet, or a
    corrupt one, then moved to `corrupt_path`); `warnings` are for the caller to log loudly."""

    data: JournalData | None
    warnings: list[str] = field(default_factory=list)
    corrupt_path: Path | None = None
    notices: list[str] = field(default_factory=list)  # for the log at INFO (a migration, ...)
    backup_path: Path | None = None  # the original of a migrated file


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return decimal_text(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be stored in the journal: {value!r}")


def encode(doc: Any) -> str:
    """JSON text of the journal (Decimals as strings, no NaN or infinity)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # not supported here (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_holder(path: str | os.PathLike) -> int | None:
    """PID of the process holding the journal at `path` (0 when its PID is unknown), None when
    no one holds it. For commands (e.g. close-all) that want to say whether a bot runs."""
    probe = JournalFile(path)
    try:
        probe.acquire()
    except JournalError:
        return probe.holder_pid_from_file()
    probe.release()
    return None


class JournalFile:
    """The journal file at `path`: lock, load, atomic save, corrupt files moved aside.

    `load` and `save` need the lock (`acquire`), so only the lock holder ever moves or writes it.
    """

    def __init__(self, path: str | os.PathLike, *, clock: Any = None) -> None:
        self.path = Path(path)
        self.lock_path = Path(f"{self.path}.lock")
        self.clock = clock or _SystemClock()
        self._lock_fd: int | None = None

    # ---- the lock -------------------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def acquire(self) -> None:
        """Take the exclusive lock or raise JournalError (exit 1) naming the bot that holds it."""
        if self._lock_fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot create the journal lock {self.lock_path}: {exc.strerror or exc}") from None
        try:
            _try_lock(fd)
        except BlockingIOError:
            os.close(fd)
            pid = self.holder_pid_from_file()
            who = f"pid {pid}" if pid else "pid unknown"
            raise JournalError(f"another Whalebot ({who}) is using {self.path} — stop it first, "
                               "or give this bot its own --workdir/journal") from None
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot lock {self.lock_path} ({exc.strerror or exc}); the journal needs a "
                               "local file system that supports file locks") from None
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            os.fsync(fd)
        except OSError:  # the PID is a courtesy for the message; the lock is what matters
            pass
        self._lock_fd = fd

    def release(self) -> None:
        """Drop the lock (the lock file stays: removing it could let two bots lock two files)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def holder_pid_from_file(self) -> int:
        """The PID written in the lock file (0 when absent or unreadable)."""
        try:
            return int(self.lock_path.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError, UnicodeDecodeError):
            return 0

    def __enter__(self) -> JournalFile:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _need_lock(self, what: str) -> None:
        if self._lock_fd is None:
            raise JournalError(f"{what} {self.path} without holding its lock (call acquire() first)")

    # ---- reading ---------------------------------------------------------------------------------
    def load(self) -> LoadResult:
        """The journal's content. No file: `data` None, no warning (a first start). A corrupt file:
        moved aside, `data` None and a warning saying where it went. A file of a newer format or one
        that cannot be read (permissions): JournalError, nothing moved."""
        self._need_lock("cannot load")
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return LoadResult(None)
        except OSError as exc:
            raise JournalError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return self._corrupt(f"it is not UTF-8 text (byte {exc.start})")
        except json.JSONDecodeError as exc:
            problem = ("it is empty" if not raw.strip()
                       else f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
            return self._corrupt(problem)
        version = doc.get("version") if isinstance(doc, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise JournalError(f"{self.path} was written by a newer Whalebot (format version {version}; this one "
                               f"reads {FORMAT_VERSION}); upgrade Whalebot, or move the file away to start afresh")
        if not isinstance(version, int) or isinstance(version, bool) or version not in (*MIGRATIONS, FORMAT_VERSION):
            found = "it has no format version" if version is None else f"its format version is {version!r}"
            return self._corrupt(f"{found}, expected {FORMAT_VERSION}")
        try:
            data = JournalData.from_json(migrate(doc) if version < FORMAT_VERSION else doc)
        except ValueError as exc:
            return self._corrupt(str(exc))
        if version == FORMAT_VERSION:
            return LoadResult(data)
        backup = self._keep_original(raw, version)
        self.save(data)
        return LoadResult(data, backup_path=backup, notices=[
            f"{self.path.name} migrated from format version {version} to {FORMAT_VERSION}; the original is kept as "
            f"{backup.name}"])

    def _keep_original(self, raw: bytes, version: int) -> Path:
        """Write the pre-migration bytes to `<journal>.v<version>.bak` (atomically). An existing backup
        with other content is never overwritten: the next free `-2`, `-3` ... name is used."""
        base = f"{self.path}.v{version}.bak"
        target, n = Path(base), 1
        while target.exists():
            try:
                if target.read_bytes() == raw:
                    return target  # a migration that stopped before writing the new file
            except OSError:
                pass
            n += 1
            target = Path(f"{base}-{n}")
        write_atomic(target, raw)
        return target

    def _corrupt(self, problem: str) -> LoadResult:
        stamp = datetime.datetime.fromtimestamp(self.clock.now_ms() / 1000, datetime.UTC)
        base = f"{self.path}.corrupt-{stamp.strftime('%Y%m%dT%H%M%SZ')}"
        target, n = Path(base), 1
        while target.exists():
            n += 1
            target = Path(f"{base}-{n}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise JournalError(f"{self.path} is corrupt ({problem}) and cannot be moved aside "
                               f"({exc.strerror or exc}); move it away by hand") from None
        _fsync_dir(self.path.parent)
        message = (f"{self.path} is corrupt ({problem}); it was moved to {target} and is kept there. "
                   "Starting with an empty journal: the bot rebuilds its view of open positions from the "
                   "exchange (they are adopted).")
        return LoadResult(None, [message], target)

    # ---- writing ---------------------------------------------------------------------------------
    def save(self, data: JournalData) -> None:
        """Replace the file atomically with `data` (JournalError when that fails; the old content
        then stays in place)."""
        self._need_lock("cannot save")
        try:
            text = encode(data.to_json())
        except (TypeError, ValueError) as exc:
            raise JournalError(f"cannot encode the journal: {exc}") from None
        self.write_atomic(text.encode("utf-8"))

    def write_atomic(self, payload: bytes) -> None:
        write_atomic(self.path, payload)

    def remove_stale_temps(self) -> list[Path]:
        """Delete temporary files a killed writer left behind (only while holding the lock)."""
        self._need_lock("cannot clean up after")
        removed = []
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            try:
                leftover.unlink()
                removed.append(leftover)
            except OSError:
                pass
        return removed


def write_atomic(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload`: a temporary file in the same directory, written, flushed and
    fsynced, renamed over it, then the directory fsynced. JournalError when it fails (the old
    content then stays)."""
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise JournalError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o777)
        except OSError:
            pass  # no old file: mkstemp's 0600 (trade data is private)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise JournalError(f"cannot write {path}: {exc.strerror or exc}; its previous content is "
                           "unchanged") from exc
    _fsync_dir(directory)


def _try_lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows: lock one byte far past the PID text
        os.lseek(fd, 1 << 20, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            raise BlockingIOError from None


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 1 << 20, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


# ----------------------------------------------------------------------------------------------
# The tracker


class PerformanceTracker:
    """This bot's trades, persisted to the journal at every change, and their statistics.

    `network`, `mode` and `symbol` say which bot this is: `open_trades()` / `closed_trades()` /
    `summary()` cover its own trades; trades of another network, mode or symbol found in the file
    are kept (and reported in `warnings`) but left alone. One writer: the main thread (the methods
    are also safe to call from another thread). Raises JournalError when another bot holds the
    journal. Use as a context manager, or call `close()`.
    """

    def __init__(self, journal_path: str | os.PathLike, *, network: str, mode: str, symbol: str,
                 clock: Any = None, start_balance: Decimal | float | int | None = None) -> None:
        if network not in NETWORKS:
            raise ValueError(f"network {network!r} is not one of {', '.join(NETWORKS)}")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self.network, self.mode, self.symbol = network, mode, symbol
        self.start_balance = None if start_balance is None else to_decimal(start_balance, "start_balance")
        self.clock = clock or _SystemClock()
        self.file = JournalFile(journal_path, clock=self.clock)
        self.path = self.file.path
        self._lock = threading.RLock()
        self._trades: dict[str, TradeRecord] = {}
        self._paper_state: dict = {}
        self._safety: dict = {}
        self.file.acquire()
        try:
            self.file.remove_stale_temps()
            result = self.file.load()
        except BaseException:
            self.file.release()
            raise
        self.corrupt_path = result.corrupt_path
        self.backup_path = result.backup_path
        self.warnings: list[str] = list(result.warnings)
        self.notices: list[str] = list(result.notices)  # for the log at INFO: a migration
        if result.corrupt_path is not None and mode == "paper":
            self.warnings.append("The paper wallet and its positions restart from trade_management.account_balance "
                                 f"(the old paper state is in {result.corrupt_path}).")
        if result.data is not None:
            self._trades = {t.id: t for t in result.data.trades}
            self._paper_state = result.data.paper_state
            self._safety = result.data.safety
            self.warnings.extend(self._mismatch_warnings(result.data))

    # ---- loading ---------------------------------------------------------------------------------
    def _mine(self, t: TradeRecord) -> bool:
        return t.network == self.network and t.mode == self.mode and t.symbol == self.symbol

    def _mismatch_warnings(self, data: JournalData) -> list[str]:
        out = []
        me = f"{self.network}/{self.mode}/{self.symbol}"
        header = f"{data.network}/{data.mode}/{data.symbol}"
        if data.network and data.network != self.network:
            out.append(f"{self.path} was last written by a bot on {data.network}, this one trades on "
                       f"{self.network}: that is suspicious — a journal per network (own --workdir) is safer.")
        elif (data.mode and data.mode != self.mode) or (data.symbol and data.symbol != self.symbol):
            out.append(f"{self.path} was last written by a {header} bot; this one is {me}.")
        foreign = [t for t in self._trades.values() if not self._mine(t)]
        if foreign:
            groups = sorted({f"{t.network}/{t.mode}/{t.symbol}" for t in foreign})
            still_open = sum(t.is_open for t in foreign)
            out.append(f"{len(foreign)} trade(s) in {self.path} ({still_open} open) belong to {', '.join(groups)}: "
                       f"kept in the file, but this {me} bot neither manages nor counts them.")
        return out

    # ---- reading ---------------------------------------------------------------------------------
    def get(self, trade_id: str) -> TradeRecord | None:
        with self._lock:
            return self._trades.get(trade_id)

    def open_trades(self) -> list[TradeRecord]:
        """This bot's open trades, oldest first."""
        with self._lock:
            return [t for t in self._trades.values() if t.is_open and self._mine(t)]

    def pending_trades(self) -> list[TradeRecord]:
        """This bot's entries journaled before sending whose fill is not confirmed yet, oldest first."""
        with self._lock:
            return [t for t in self._trades.values() if t.is_pending and self._mine(t)]

    def closed_trades(self) -> list[TradeRecord]:
        """This bot's closed trades, in the order they closed."""
        with self._lock:
            closed = [t for t in self._trades.values() if t.status == "closed" and self._mine(t)]
        return sorted(closed, key=lambda t: t.exit_time or "")

    def all_trades(self) -> list[TradeRecord]:
        """Every trade in the file, this bot's or not, in file order."""
        with self._lock:
            return list(self._trades.values())

    def paper_state(self) -> dict:
        """The paper broker's saved state, as JSON decodes it (Decimals come back as strings)."""
        with self._lock:
            return json.loads(encode(self._paper_state))

    def safety_state(self) -> dict:
        """The safety monitor's saved state when this bot's network and mode wrote it, else {}."""
        with self._lock:
            state = json.loads(encode(self._safety))
        if state.get("network") != self.network or state.get("mode") != self.mode:
            return {}
        return state

    # ---- mutations (each persists at once) -------------------------------------------------------
    def open_trade(self, record: TradeRecord) -> TradeRecord:
        """Record a new open trade (a fill of this bot, or an adopted exchange position)."""
        if not isinstance(record, TradeRecord):
            raise TypeError("open_trade takes a TradeRecord")
        if not record.is_open:
            raise ValueError(f"trade {record.id}: open_trade needs status 'open', not {record.status!r}")
        return self._add(record)

    def _add(self, record: TradeRecord) -> TradeRecord:
        if not self._mine(record):
            raise ValueError(f"trade {record.id} is for {record.network}/{record.mode}/{record.symbol}, "
                             f"this journal's bot is {self.network}/{self.mode}/{self.symbol}")
        with self._lock:
            self._check_open()
            if record.id in self._trades:
                raise ValueError(f"trade id {record.id!r} is already in the journal")
            self._trades[record.id] = record
            self._persist()
        return record

    def add_pending(self, record: TradeRecord) -> TradeRecord:
        """Journal an entry before its order is sent (status `pending`): a crash between sending and
        reading the fill leaves its orderLinkId here, so the next start can look the order up."""
        if not isinstance(record, TradeRecord):
            raise TypeError("add_pending takes a TradeRecord")
        if not record.is_pending:
            raise ValueError(f"trade {record.id}: add_pending needs status 'pending', not {record.status!r}")
        if not record.entry_order_link_id:
            raise ValueError(f"trade {record.id}: a pending entry needs its entry_order_link_id")
        return self._add(record)

    def confirm_entry(self, trade_id: str, *, entry_price: Any, entry_time: Any, qty: Any, fees: Any,
                      note: str = "", **changes: Any) -> TradeRecord:
        """The pending entry's order filled: it becomes an open trade with the real fill price, time,
        quantity and fee (and any other `changes`, e.g. the stops set from the fill)."""
        with self._lock:
            self._check_open()
            record = self._require(trade_id)
            if not record.is_pending:
                raise ValueError(f"trade {trade_id} is not pending (status {record.status!r})")
            opened = dataclasses.replace(record, status="open", entry_price=to_decimal(entry_price, "entry_price"),
                                         entry_time=entry_time, qty=to_decimal(qty, "qty"),
                                         fees=to_decimal(fees, "fees"), notes=record.notes + ((note,) if note else ()),
                                         **changes)
            self._trades[trade_id] = opened
            self._persist()
        return opened

    def drop_pending(self, trade_id: str) -> TradeRecord:
        """Remove a pending entry whose order never executed (refused, or never reached the exchange)."""
        with self._lock:
            self._check_open()
            record = self._require(trade_id)
            if not record.is_pending:
                raise ValueError(f"trade {trade_id} is not pending (status {record.status!r}); only a pending entry "
                                 "can be dropped")
            del self._trades[trade_id]
            self._persist()
        return record

    def update_trade(self, trade_id: str, **changes: Any) -> TradeRecord:
        """Change fields of a trade (stop moved, break-even done, real fill price, fees so far, ...).
        `id`, `symbol`, `network`, `mode` and `status` cannot change here."""
        fixed = sorted(_FIXED_FIELDS & set(changes))
        if fixed:
            raise ValueError(f"update_trade cannot change {', '.join(fixed)} (close with close_trade)")
        with self._lock:
            self._check_open()
            record = dataclasses.replace(self._require(trade_id), **changes)
            self._trades[trade_id] = record
            self._persist()
        return record

    def add_note(self, trade_id: str, note: str) -> TradeRecord:
        with self._lock:
            return self.update_trade(trade_id, notes=self._require(trade_id).notes + (str(note),))

    def close_trade(self, trade_id: str, exit_price: Any, exit_time: Any, fees: Any, funding: Any, pnl: Any,
                    reason: str, exit_order_link_ids: Iterable[str] = (), note: str = "") -> TradeRecord:
        """Close an open trade with its real exit. `fees` and `funding` are the trade's totals
        (entry and exit; None keeps the recorded value); `pnl` is net of both, None computes it as
        (exit - entry) x qty x direction - fees - funding. `exit_order_link_ids` are added to those
        already recorded. `note` (why, with the numbers) is added to the trade's notes in the same
        write."""
        if reason not in EXIT_REASONS:
            raise ValueError(f"reason {reason!r} is not one of {', '.join(EXIT_REASONS)}")
        with self._lock:
            self._check_open()
            record = self._require(trade_id)
            if record.is_pending:
                raise ValueError(f"trade {trade_id} is pending: confirm_entry records its fill before it can close")
            if not record.is_open:
                raise ValueError(f"trade {trade_id} is already closed ({record.reason} at {record.exit_time})")
            exit_price = to_decimal(exit_price, "exit_price")
            fees = record.fees if fees is None else to_decimal(fees, "fees")
            funding = record.funding if funding is None else to_decimal(funding, "funding")
            if pnl is None:
                pnl = (exit_price - record.entry_price) * record.qty * record.direction - fees - funding
            if isinstance(exit_order_link_ids, str):
                exit_order_link_ids = (exit_order_link_ids,)
            links = record.exit_order_link_ids + tuple(x for x in exit_order_link_ids
                                                       if x not in record.exit_order_link_ids)
            closed = dataclasses.replace(record, status="closed", exit_price=exit_price, exit_time=exit_time,
                                         fees=fees, funding=funding, pnl=pnl, reason=reason,
                                         exit_order_link_ids=links, notes=record.notes + ((note,) if note else ()))
            self._trades[trade_id] = closed
            self._persist()
        return closed

    def set_paper_state(self, state: Mapping) -> None:
        """Save the paper broker's state (JSON-able; Decimals are stored as strings). Paper mode only."""
        if self.mode != "paper":
            raise ValueError(f"paper_state belongs in the paper journal; this tracker's mode is {self.mode!r}")
        if not isinstance(state, Mapping):
            raise TypeError("set_paper_state takes a dict")
        try:
            copy = json.loads(encode(dict(state)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"paper state cannot be stored as JSON: {exc}") from None
        with self._lock:
            self._check_open()
            self._paper_state = copy
            self._persist()

    def set_safety_state(self, state: Mapping) -> None:
        """Save the safety monitor's state (JSON-able), stamped with this bot's network and mode."""
        try:
            copy = json.loads(encode(dict(state, network=self.network, mode=self.mode)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"safety state cannot be stored as JSON: {exc}") from exc
        with self._lock:
            self._check_open()
            if copy == self._safety:
                return
            self._safety = copy
            self._persist()

    def _require(self, trade_id: str) -> TradeRecord:
        try:
            return self._trades[trade_id]
        except KeyError:
            raise KeyError(f"no trade {trade_id!r} in the journal") from None

    def _check_open(self) -> None:
        if not self.file.locked:
            raise JournalError(f"the journal {self.path} is closed")

    def _persist(self) -> None:
        data = JournalData(self.symbol, self.network, self.mode, iso_utc(int(self.clock.now_ms())),
                           list(self._trades.values()), self._paper_state, self._safety)
        self.file.save(data)

    # ---- statistics ------------------------------------------------------------------------------
    def summary(self, start_balance: Decimal | float | int | None = None) -> dict:
        """Statistics of this bot's closed trades (backtest's formulas, whale.backtest.metrics).

        max_drawdown is a fraction of the peak of the closed-trade equity curve that starts at
        `start_balance` (default: the tracker's); without a start balance it is None and only
        max_drawdown_usdt (over cumulative PnL) is given. A zero PnL is neither win nor loss.
        """
        closed = self.closed_trades()
        # A closed trade always has its pnl (TradeRecord checks it); the filter only tells mypy so.
        net = np.array([float(t.pnl) for t in closed if t.pnl is not None], dtype=np.float64)
        out = trade_stats(net)
        start = self.start_balance if start_balance is None else to_decimal(start_balance, "start_balance")
        curve = np.concatenate([[0.0], np.cumsum(net)])
        if start is None:
            out["max_drawdown"], out["max_drawdown_usdt"] = None, max_drawdown(curve)[1]
        else:
            out["max_drawdown"], out["max_drawdown_usdt"] = max_drawdown(curve + float(start))
        out["fees"] = float(sum((t.fees for t in closed), Decimal(0)))
        out["funding"] = float(sum((t.funding for t in closed), Decimal(0)))
        out["open"] = len(self.open_trades())
        out["start_balance"] = None if start is None else float(start)
        return out

    def summary_lines(self, colour: bool = True, start_balance: Decimal | float | int | None = None,
                      money_places: int = 2) -> list[str]:
        title = f"Performance Summary ({self.symbol}, {self.network}, {self.mode})"
        return format_summary_lines(self.summary(start_balance), colour=colour, title=title,
                                    money_places=money_places)

    # ---- life ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the lock (idempotent). Every change is already on disk."""
        self.file.release()

    def __enter__(self) -> PerformanceTracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------
# Text


def _paint(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{RESET}" if on else text


def format_summary_lines(summary: Mapping, *, colour: bool = True, title: str = "Performance Summary",
                         money_places: int = 2) -> list[str]:
    """The console summary in the original's cyan/yellow look (the display uses it too). The PnL line
    is green in profit, red at a loss; fees and funding have `money_places` decimals (the
    instrument's price scale, so BTCUSDT's fees read 3.23, not 3.23041796)."""
    pf = summary.get("profit_factor")
    trades = int(summary.get("trades", 0))
    pf_text = f"{pf:.2f}" if pf is not None else ("n/a (no losses)" if trades else "n/a")
    dd = summary.get("max_drawdown")
    dd_usdt = float(summary.get("max_drawdown_usdt", 0.0))
    dd_text = f"{dd * 100:.2f}% ({dd_usdt:.2f} USDT)" if dd is not None else f"{dd_usdt:.2f} USDT"
    total = float(summary.get("total_pnl", 0.0))
    fees, funding, m = float(summary.get("fees", 0.0)), float(summary.get("funding", 0.0)), money_places
    rows = [
        (f"--- {title} ---", NEON_YELLOW),
        (f"Trades: {trades} (open: {int(summary.get('open', 0))}) | Wins: {summary.get('wins', 0)} | "
         f"Losses: {summary.get('losses', 0)} | Win rate: {float(summary.get('win_rate', 0.0)) * 100:.2f}%", NEON_CYAN),
        (f"Total PnL: {total:+.2f} USDT | Avg PnL: {float(summary.get('avg_pnl', 0.0)):+.2f} USDT",
         pnl_colour(round(total, 2))),
        (f"Fees: {fees:.{m}f} USDT | Funding: {funding:.{m}f} USDT", NEON_CYAN),
        (f"Profit factor: {pf_text} | Max drawdown: {dd_text}", NEON_YELLOW),
    ]
    return [_paint(text, c, colour) for text, c in rows]


def pnl_colour(value: float) -> str:
    """Green for a profit, red for a loss, yellow for zero: every summary colours PnL the same way."""
    return NEON_GREEN if value > 0 else NEON_RED if value < 0 else NEON_YELLOW


def describe_trade(record: TradeRecord, money_places: int = 2) -> str:
    """One line for logs and alerts: 'BTCUSDT Buy 0.01 @ 65000.5 -> 65500 (take_profit), PnL +4.49 USDT
    (fees 0.65, funding 0.00)', amounts with `money_places` decimals (the instrument's price scale)."""
    head = f"{record.symbol} {record.side} {decimal_text(record.qty)} @ {decimal_text(record.entry_price)}"
    if record.is_pending:
        return f"{head} (pending: sent as {record.entry_order_link_id}, fill not confirmed)"
    if record.is_open:
        sl = decimal_text(record.stop_loss) if record.stop_loss is not None else "none"
        tp = decimal_text(record.take_profit) if record.take_profit is not None else "none"
        extra = " (adopted)" if record.adopted else ""
        return f"{head}, SL {sl} ({STOP_KIND_NAMES[record.stop_kind]}), TP {tp}{extra}"
    exit_price = decimal_text(record.exit_price) if record.exit_price is not None else "none"
    return (f"{head} -> {exit_price} ({record.reason}), "
            f"PnL {record.pnl:+.2f} USDT (fees {record.fees:.{money_places}f}, "
            f"funding {record.funding:.{money_places}f})")
