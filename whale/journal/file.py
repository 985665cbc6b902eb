"""The journal file on disk: the exclusive lock, loading (migrating older formats, moving corrupt
files aside), and atomic saves (docs/journal.md).

- Every save rewrites the file atomically (temporary file in the same directory, write, flush,
  fsync, `os.replace`, fsync of the directory): after a crash the file holds either the old or
  the new content, never a mix.
- The lock is an exclusive, non-blocking `flock` on `<journal>.lock`, so two bots never share a
  journal. The OS drops it when the process dies, so `kill -9` leaves no stale lock.
- A corrupt file is moved aside to `<journal>.corrupt-<UTC stamp>`, never overwritten; a file of
  an older format is migrated with its original kept as `<journal>.v<N>.bak`; a newer format is
  refused (JournalError).
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whale.errors import WhaleError
from whale.journal import migrations
from whale.journal.document import JournalData, JournalText

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl on Windows: the lock uses msvcrt
    import msvcrt


LIVE_JOURNAL = "trade_history.json"
PAPER_JOURNAL = "trade_history.paper.json"


def journal_filename(dry_run: bool) -> str:
    """`trade_history.paper.json` for paper trading (dry run), `trade_history.json` otherwise."""
    return PAPER_JOURNAL if dry_run else LIVE_JOURNAL


class JournalError(WhaleError):
    """The journal cannot be used (locked by another bot, unreadable, unwritable): exit code 1."""


class SystemClock:
    """Epoch milliseconds from the system clock (the default; tests inject their own)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass
class LoadResult:
    """What `JournalFile.load` found. `data` is None when there was no usable file (none yet, or a
    corrupt one, then moved to `corrupt_path`); `warnings` are for the caller to log loudly."""

    data: JournalData | None
    warnings: list[str] = field(default_factory=list)
    corrupt_path: Path | None = None
    notices: list[str] = field(default_factory=list)  # for the log at INFO (a migration, ...)
    backup_path: Path | None = None  # the original of a migrated file


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

    def __init__(self, path: str | os.PathLike, *, clock: Any = None, durable: bool = True) -> None:
        """`durable`: each save is fsynced (the file and its directory) before it counts as done; a backtest's
        journal, a report that a rerun rebuilds, does without (the saves stay atomic)."""
        self.path = Path(path)
        self.durable = durable
        self.lock_path = Path(f"{self.path}.lock")
        self.clock = clock or SystemClock()
        self._lock_fd: int | None = None
        self._text = JournalText()  # the trades' texts of the last save

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
            raise JournalError(f"cannot create the journal lock {self.lock_path}: {exc.strerror or exc}") from exc
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
                               "local file system that supports file locks") from exc
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
            raise JournalError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return self._corrupt(f"it is not UTF-8 text (byte {exc.start})")
        except json.JSONDecodeError as exc:
            problem = ("it is empty" if not raw.strip()
                       else f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
            return self._corrupt(problem)
        version = doc.get("version") if isinstance(doc, dict) else None
        current = migrations.FORMAT_VERSION  # looked up per load, so a test can raise it
        if isinstance(version, int) and not isinstance(version, bool) and version > current:
            raise JournalError(f"{self.path} was written by a newer Whalebot (format version {version}; this one "
                               f"reads {current}); upgrade Whalebot, or move the file away to start afresh")
        known = (*migrations.MIGRATIONS, current)
        if not isinstance(version, int) or isinstance(version, bool) or version not in known:
            found = "it has no format version" if version is None else f"its format version is {version!r}"
            return self._corrupt(f"{found}, expected {current}")
        try:
            data = JournalData.from_json(migrations.migrate(doc) if version < current else doc)
        except ValueError as exc:
            return self._corrupt(str(exc))
        if version == current:
            return LoadResult(data)
        backup = self._keep_original(raw, version)
        self.save(data)
        return LoadResult(data, backup_path=backup, notices=[
            f"{self.path.name} migrated from format version {version} to {current}; the original is kept as "
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
                               f"({exc.strerror or exc}); move it away by hand") from exc
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
            text = self._text(data)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"cannot encode the journal: {exc}") from exc
        self.write_atomic(text.encode("utf-8"))

    def write_atomic(self, payload: bytes) -> None:
        write_atomic(self.path, payload, durable=self.durable)

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


def write_atomic(path: Path, payload: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `payload`: a temporary file in the same directory, written, flushed and
    fsynced, renamed over it, then the directory fsynced (no fsync unless `durable`). JournalError
    when it fails (the old content then stays)."""
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise JournalError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            if durable:
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
    if durable:
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
