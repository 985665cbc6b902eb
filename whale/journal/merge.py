"""Merge the journals of several single-symbol work directories into one account journal
(`python whalebot.py merge-journals --out DIR DIR1 DIR2 ...`, docs/journal.md#merging-journals).

Users who ran one process per symbol have one journal per directory; one bot for many symbols keeps
one journal for the account. The sources are only read (an older format is migrated in memory, the
files stay as they are); the merged file is written to the new directory.

Refused, with a message naming the directory and what to do: a journal a running bot holds (its
lock), a file that cannot be read, a mix of networks or of modes, a trade id in two journals, open
positions of one symbol in two journals (one-way mode holds one), an output directory that already
holds a journal. Live and paper journals are merged separately (`trade_history.json`,
`trade_history.paper.json`).

- Trades: every trade of every source, in the order they were entered.
- Paper accounts: each directory was a paper wallet of its own; the merged paper account holds them
  all: its balance is the sum of theirs, its positions theirs (one symbol each).
- The safety state: real orders trade one wallet, so the newest day's state is kept (a daily-loss
  halt of that day wins); paper wallets are added up, so the merged paper account starts its safety
  state afresh at the next start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from whale.errors import BadInputError, WhaleError
from whale.journal import migrations
from whale.journal.document import JournalData
from whale.journal.file import LIVE_JOURNAL, PAPER_JOURNAL, JournalFile, lock_holder
from whale.journal.records import TradeRecord


@dataclass
class Source:
    directory: Path
    path: Path
    data: JournalData
    version: int


@dataclass
class MergeResult:
    path: Path
    data: JournalData
    lines: list[str] = field(default_factory=list)  # what was merged, in words


def read_journal(path: Path) -> tuple[JournalData, int]:
    """A journal file's content (migrated in memory when older; the file is not touched) and its
    format version. BadInputError naming the file when it cannot be used."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: not a journal ({exc}); a bot's next start moves a corrupt journal aside") \
            from exc
    version = doc.get("version") if isinstance(doc, dict) else None
    current = migrations.FORMAT_VERSION
    if not isinstance(version, int) or isinstance(version, bool) or version not in (*migrations.MIGRATIONS, current):
        if isinstance(version, int) and version > current:
            raise BadInputError(f"{path}: written by a newer Whalebot (format version {version}); upgrade first")
        raise BadInputError(f"{path}: not a journal of a known format (version {version!r})")
    try:
        return JournalData.from_json(migrations.migrate(doc) if version < current else doc), version
    except ValueError as exc:
        raise BadInputError(f"{path}: {exc}") from exc


def find_sources(directories: list[Path], name: str, locks: list[JournalFile]) -> list[Source]:
    """The journals called `name` in `directories`, each read under its lock (appended to `locks`, for
    the caller to release): a running bot holds it, and no bot can start on it while it is merged."""
    out = []
    for d in directories:
        path = d / name
        if not path.exists():
            continue
        pid = lock_holder(path)
        if pid is not None:
            raise WhaleError(f"{path} is held by a running bot (pid {pid}): stop it (Ctrl-C) and merge again")
        lock = JournalFile(path)
        lock.acquire()
        locks.append(lock)
        data, version = read_journal(path)
        out.append(Source(d, path, data, version))
    return out


def _one(values: dict[str, list[str]], what: str) -> str | None:
    """The one value every source shares; BadInputError naming who has which when they differ."""
    if len(values) > 1:
        listed = "; ".join(f"{v} in {', '.join(dirs)}" for v, dirs in sorted(values.items()))
        raise BadInputError(f"the journals mix {what}s ({listed}): one account journal is one {what}; merge "
                            f"each {what}'s directories separately")
    return next(iter(values), None)


def merge(sources: list[Source], out_path: Path) -> MergeResult:
    """The merged account journal of `sources` (not written)."""
    networks: dict[str, list[str]] = {}
    modes: dict[str, list[str]] = {}
    for s in sources:
        for t in s.data.trades:
            networks.setdefault(t.network, []).append(str(s.directory))
            modes.setdefault(t.mode, []).append(str(s.directory))
        for key, seen in ((s.data.network, networks), (s.data.mode, modes)):
            if key:
                seen.setdefault(key, []).append(str(s.directory))
    for seen in (networks, modes):
        for k in seen:
            seen[k] = sorted(set(seen[k]))
    network = _one(networks, "network")
    mode = _one(modes, "mode")
    trades: dict[str, tuple[TradeRecord, Path]] = {}
    open_by_symbol: dict[str, Path] = {}
    for s in sources:
        for t in s.data.trades:
            if t.id in trades:
                raise BadInputError(f"the trade id {t.id!r} is in {trades[t.id][1]} and in {s.path}: the same trade "
                                    f"twice (a directory given twice, or a copied journal); merge each journal once")
            trades[t.id] = (t, s.path)
            if t.is_open or t.is_pending:
                other = open_by_symbol.get(t.symbol)
                if other is not None and other != s.path:
                    raise BadInputError(f"{t.symbol} has an open trade in {other} and in {s.path}: one account holds "
                                        f"one {t.symbol} position (one-way mode); close one of them first")
                open_by_symbol[t.symbol] = s.path
    ordered = sorted((t for t, _ in trades.values()), key=lambda t: t.entry_time)
    symbols = list(dict.fromkeys([*(x for s in sources for x in s.data.symbols), *(t.symbol for t in ordered)]))
    lines = []
    for s in sources:
        mine = list(s.data.trades)
        names = ", ".join(sorted({t.symbol for t in mine})) or "no trades"
        still = sum(t.is_open for t in mine)
        lines.append(f"{s.path}: {names}: {len(mine)} trade(s), {still} open" +
                     (f" (format version {s.version}, read as {migrations.FORMAT_VERSION})"
                      if s.version < migrations.FORMAT_VERSION else ""))
    paper_state, paper_lines = _merge_paper([s for s in sources if s.data.paper_state])
    lines += paper_lines
    safety, safety_line = _merge_safety(sources, paper=bool(mode == "paper"))
    lines.append(safety_line)
    updated = max((s.data.updated for s in sources if s.data.updated), default=None)
    data = JournalData(symbols, network, mode, updated, ordered, paper_state, safety)
    return MergeResult(out_path, data, lines)


def _merge_paper(sources: list[Source]) -> tuple[dict, list[str]]:
    if not sources:
        return {}, []
    balance = Decimal(0)
    parts = []
    out: dict = {"orders": 0, "positions": {}, "funding_from_ms": {}, "last_exits": [], "last_entries": []}
    for s in sources:
        st = s.data.paper_state
        b = Decimal(str(st.get("balance", "0")))
        balance += b
        parts.append(f"{b} ({s.directory})")
        out["orders"] += int(st.get("orders") or 0)
        for symbol, pos in (st.get("positions") or {}).items():
            if symbol in out["positions"]:
                raise BadInputError(f"two paper wallets hold a {symbol} position ({s.path} is one): close one first")
            out["positions"][symbol] = pos
        out["funding_from_ms"].update(st.get("funding_from_ms") or {})
        out["last_exits"] += list(st.get("last_exits") or [])
        out["last_entries"] += list(st.get("last_entries") or [])
    out["balance"] = str(balance)
    how = (f"paper balances added up: {' + '.join(parts)} = {balance} USDT (each directory was a paper wallet "
           f"of its own; the merged paper account holds them all, with {len(out['positions'])} open position(s))")
    return {"balance": out.pop("balance"), **out}, [how]


def _merge_safety(sources: list[Source], paper: bool) -> tuple[dict, str]:
    states = [(s, s.data.safety) for s in sources if s.data.safety]
    if not states:
        return {}, "safety state: none in the sources"
    if paper:
        return {}, ("safety state: starts afresh at the next start (the paper wallets were added up, so their "
                    "day-start and peak equities no longer apply)")
    newest = max(int(st.get("day") or 0) for _, st in states)
    today = [(s, st) for s, st in states if int(st.get("day") or 0) == newest]
    source, state = max(today, key=lambda x: (bool(x[1].get("daily_halt")), x[0].data.updated or ""))
    halt = " (with its daily-loss halt)" if state.get("daily_halt") else ""
    return dict(state), f"safety state: the newest day's, from {source.directory}{halt} (one wallet, one account)"


def merge_directories(directories: list[Path], out_dir: Path) -> list[MergeResult]:
    """Merge the live journals and the paper journals of `directories` into `out_dir` (written). What
    was merged, per file."""
    if not directories:
        raise BadInputError("merge-journals needs the work directories to merge")
    seen: dict[Path, Path] = {}
    for d in directories:
        if not d.is_dir():
            raise BadInputError(f"{d}: not a directory")
        real = d.resolve()
        if real in seen:
            raise BadInputError(f"{d} is given twice (also as {seen[real]})")
        seen[real] = d
    if out_dir.resolve() in seen:
        raise BadInputError(f"--out {out_dir} is one of the directories to merge: give a new directory")
    results: list[MergeResult] = []
    locks: list[JournalFile] = []
    try:
        for name in (LIVE_JOURNAL, PAPER_JOURNAL):
            sources = find_sources(directories, name, locks)
            if not sources:
                continue
            target = out_dir / name
            if target.exists():
                raise BadInputError(f"{target} exists: merge into a new --out directory (nothing was written)")
            results.append(merge(sources, target))
        if not results:
            raise BadInputError(f"no {LIVE_JOURNAL} or {PAPER_JOURNAL} in "
                                f"{', '.join(str(d) for d in directories)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        for r in results:
            with JournalFile(r.path) as f:
                f.save(r.data)
    finally:
        for lock in locks:
            lock.release()
    return results
