"""Tardis.dev CSV datasets for Bybit -> a book recording (docs/recording.md#tardis).

Tardis publishes its datasets as CSV (gzip allowed), one row per book level change or per trade,
timestamps in microseconds since the epoch (UTC):

- `incremental_book_L2`: exchange, symbol, timestamp (the exchange's), local_timestamp (arrival at
  Tardis's collector), is_snapshot, side (bid/ask), price, amount (the level's new size; 0 removes
  it). The rows of one exchange message share local_timestamp. A run of is_snapshot=true rows is a
  full snapshot: the book before it is discarded (a file starts with one; a later run means the
  collector reconnected or the exchange resent it). Rows before a file's first snapshot are updates
  buffered before it and are skipped; a snapshot's rows of amount 0 are no level.
- `trades`: exchange, symbol, timestamp, local_timestamp, id, side (the taker's: buy/sell/unknown),
  price, amount.

Rows are grouped into messages by local_timestamp, book and trades merged in arrival order (book
first at equal times), and written with RecordingWriter (source "tardis"): a book message becomes
an S or D record, a group of trades one T record, a snapshot after the first a gap marker and the
snapshot. Tardis keeps no u, seq or cts: those are missing in the recording. Problems stop the
import with one message naming the file and line (BadInputError, exit 2).
"""

from __future__ import annotations

import gzip
import heapq
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from whale.errors import BadInputError
from whale.recording.format import BUY, SELL, UNKNOWN_SIDE, decimal_digits
from whale.recording.writer import RecordingWriter, TradePrint

BOOK_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")
TRADE_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount")
EXCHANGES = ("bybit",)  # Tardis's id of Bybit's derivatives (USDT perpetuals among them)
_SIDES = {"buy": BUY, "sell": SELL, "unknown": UNKNOWN_SIDE}


@dataclass
class ImportStats:
    book_messages: int = 0
    snapshots: int = 0
    levels: int = 0
    trade_messages: int = 0
    prints: int = 0
    skipped_before_snapshot: int = 0
    other_symbols: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    files: list[Path] = field(default_factory=list)


@dataclass
class _Message:
    recv_us: int
    order: int  # 0 book, 1 trades: the book first at equal arrival times
    line: int
    ts_ms: int
    snapshot: bool = False
    bids: list[tuple[str, str]] = field(default_factory=list)
    asks: list[tuple[str, str]] = field(default_factory=list)
    prints: list[TradePrint] = field(default_factory=list)

    def __lt__(self, other: _Message) -> bool:
        return (self.recv_us, self.order, self.line) < (other.recv_us, other.order, other.line)


def _open_text(path: Path) -> IO[str]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", newline="")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


class _Rows:
    """A Tardis CSV's rows as dicts of the needed columns, checked as they are read."""

    def __init__(self, path: Path, columns: tuple[str, ...], kind: str, only: str | None, stats: ImportStats) -> None:
        self.path = path
        self.columns = columns
        self.kind = kind
        self.only = only  # --symbol: rows of other symbols are skipped
        self.symbol = only
        self.stats = stats
        self.last_recv = -1

    def fail(self, line: int, what: str) -> BadInputError:
        return BadInputError(f"{self.path}, line {line}: {what}")

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with _open_text(self.path) as f:
            try:
                header = f.readline()
            except (OSError, EOFError, UnicodeDecodeError) as exc:
                raise self.fail(1, f"not a readable CSV ({exc})") from exc
            names = [c.strip() for c in header.strip().split(",")]
            missing = [c for c in self.columns if c not in names]
            if missing:
                raise self.fail(1, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: a Tardis "
                                   f"{self.kind} file has {','.join(self.columns)}")
            index = [names.index(c) for c in self.columns]
            width = len(names)
            line = 1
            try:
                for text in f:
                    line += 1
                    if not text.strip():
                        continue
                    cells = text.rstrip("\r\n").split(",")
                    if len(cells) != width:
                        raise self.fail(line, f"{len(cells)} columns where the header has {width}")
                    row = [cells[i].strip() for i in index]
                    if row[0] not in EXCHANGES:
                        raise self.fail(line, f"exchange {row[0]!r} is not Bybit (Tardis calls Bybit's derivatives "
                                              f"{EXCHANGES[0]!r})")
                    if self.symbol is None:
                        self.symbol = row[1]
                    elif row[1] != self.symbol:
                        if self.only is not None:
                            self.stats.other_symbols += 1
                            continue
                        raise self.fail(line, f"symbol {row[1]} after {self.symbol}: the file holds several symbols; "
                                              f"pick one with --symbol")
                    yield line, row
            except (OSError, EOFError, UnicodeDecodeError) as exc:
                raise self.fail(line, f"cannot read further ({exc})") from exc

    def times(self, line: int, row: list[str]) -> tuple[int, int]:
        """(exchange ms, arrival us) of a row, arrival never going back."""
        try:
            ts_us = int(row[2])
            recv_us = int(row[3])
        except ValueError as exc:
            raise self.fail(line, f"timestamp {row[2]!r} / local_timestamp {row[3]!r}: expected microseconds since "
                                  f"the epoch") from exc
        if recv_us < self.last_recv:
            raise self.fail(line, f"local_timestamp {recv_us} is before the row above ({self.last_recv}): the rows "
                                  f"are not in time order")
        self.last_recv = recv_us
        return ts_us // 1000, recv_us

    def number(self, line: int, name: str, text: str, positive: bool) -> str:
        parsed = decimal_digits(text)
        if parsed is None or parsed[0] < 0 or (positive and parsed[0] == 0):
            raise self.fail(line, f"{name} {text!r} is not a {'positive' if positive else 'non-negative'} number")
        return text


def _book_messages(rows: _Rows) -> Iterator[_Message]:
    stats = rows.stats
    msg: _Message | None = None
    seen_snapshot = False
    first_skipped: int | None = None
    for line, row in rows:
        ts_ms, recv_us = rows.times(line, row)
        flag = row[4].lower()
        if flag not in ("true", "false"):
            raise rows.fail(line, f"is_snapshot {row[4]!r}: expected true or false")
        snapshot = flag == "true"
        side = row[5].lower()
        if side not in ("bid", "ask"):
            raise rows.fail(line, f"side {row[5]!r}: expected bid or ask")
        price = rows.number(line, "price", row[6], True)
        amount = rows.number(line, "amount", row[7], False)
        if not snapshot and not seen_snapshot:
            stats.skipped_before_snapshot += 1
            first_skipped = first_skipped or line
            continue
        same = msg is not None and (msg.snapshot == snapshot) and (snapshot or msg.recv_us == recv_us)
        if not same:
            if msg is not None:
                yield msg
            msg = _Message(recv_us, 0, line, ts_ms, snapshot)
            seen_snapshot = seen_snapshot or snapshot
        assert msg is not None
        msg.ts_ms = max(msg.ts_ms, ts_ms)
        (msg.bids if side == "bid" else msg.asks).append((price, amount))
    if msg is not None:
        yield msg
    if not seen_snapshot and first_skipped is not None:
        raise rows.fail(first_skipped, "a book update before any snapshot, and no snapshot (is_snapshot=true rows) in "
                                       "the whole file: the book cannot be rebuilt")


def _trade_messages(rows: _Rows) -> Iterator[_Message]:
    msg: _Message | None = None
    for line, row in rows:
        ts_ms, recv_us = rows.times(line, row)
        side = _SIDES.get(row[5].lower())
        if side is None:
            raise rows.fail(line, f"side {row[5]!r}: expected buy, sell or unknown")
        price = rows.number(line, "price", row[6], True)
        amount = rows.number(line, "amount", row[7], True)
        if msg is None or msg.recv_us != recv_us:
            if msg is not None:
                yield msg
            msg = _Message(recv_us, 1, line, ts_ms)
        msg.ts_ms = max(msg.ts_ms, ts_ms)
        msg.prints.append(TradePrint(ts_ms, side, price, amount, row[4]))
    if msg is not None:
        yield msg


def import_tardis(book: Path | None, trades: Path | None, out: Path, symbol: str | None = None,
                  depth: int | None = None, trade_ids: bool = False) -> ImportStats:
    """Convert Tardis CSV files of one Bybit symbol into a recording under `out` (`trade_ids`: keep
    the prints' ids, which the writer leaves out by default)."""
    if book is None and trades is None:
        raise BadInputError("give --book, --trades or both")
    stats = ImportStats()
    want = symbol.strip().upper() if symbol else None
    streams = []
    readers = []
    for path, columns, kind, make in ((book, BOOK_COLUMNS, "incremental_book_L2", _book_messages),
                                      (trades, TRADE_COLUMNS, "trades", _trade_messages)):
        if path is None:
            continue
        rows = _Rows(path, columns, kind, want, stats)
        readers.append(rows)
        streams.append(make(rows))
    writer: RecordingWriter | None = None
    first_snapshot = True
    try:
        for msg in heapq.merge(*streams):
            if len(readers) == 2 and readers[0].symbol and readers[1].symbol and readers[0].symbol != readers[1].symbol:
                raise BadInputError(f"{readers[1].path}: symbol {readers[1].symbol}, while {readers[0].path} holds "
                                    f"{readers[0].symbol}")
            sym = next(r.symbol for r in readers if r.symbol)
            if writer is None:
                levels = max(len(_zero_free(msg.bids, msg.snapshot)), len(_zero_free(msg.asks, msg.snapshot)))
                writer = RecordingWriter(out, sym, depth=depth or max(levels, 1), source="tardis",
                                         trade_ids=trade_ids)
            stats.first_ms = msg.ts_ms if stats.first_ms is None else stats.first_ms
            stats.last_ms = msg.ts_ms
            if msg.order == 0:
                if msg.snapshot and not first_snapshot:
                    writer.gap(f"a new snapshot in the Tardis data at line {msg.line} (the collector reconnected, or "
                               f"the exchange resent the book)", msg.ts_ms, msg.recv_us)
                if msg.snapshot:
                    first_snapshot = False
                    stats.snapshots += 1
                writer.book(msg.snapshot, msg.ts_ms, msg.recv_us, _zero_free(msg.bids, msg.snapshot),
                            _zero_free(msg.asks, msg.snapshot))
                stats.book_messages += 1
                stats.levels += len(msg.bids) + len(msg.asks)
            else:
                writer.trades(msg.ts_ms, msg.recv_us, msg.prints)
                stats.trade_messages += 1
                stats.prints += len(msg.prints)
    finally:
        if writer is not None:
            writer.close()
            stats.files = list(writer.stats.files)
    if writer is None:
        raise BadInputError(f"{(book or trades)}: no rows{f' of {want}' if want else ''} to import")
    return stats


def _zero_free(levels: list[tuple[str, str]], snapshot: bool) -> list[tuple[str, str]]:
    """A snapshot's levels without the amount-0 rows (Tardis: those are no level)."""
    if not snapshot:
        return levels
    return [(p, a) for p, a in levels if (decimal_digits(a) or (0, 0))[0] != 0]
