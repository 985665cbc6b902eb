"""Reading book recordings: one or several symbols, merged in time, within a window.

    reader = RecordingReader("recordings/", symbols=["BTCUSDT"], start_ms=..., end_ms=...)
    for ev in reader.events():          # BookEvent, TradeEvent, TickerEvent, KlineEvent, GapEvent
        ...
    for view in reader.views():         # the fast form: decoded columns, a run of one symbol
        ...

**Order.** Within a symbol, records keep the order they were written in (the order the recorder
received them). Across symbols they are merged by exchange time, a symbol's time being the running
maximum of its records' exchange timestamps (`tkey`, never decreasing); ties go to the symbol
named first (symbols sorted by name unless given), then to file order. The same recording always
replays in the same order.

**Book state.** The first book event of a symbol is always a snapshot: the file's R record (the
writer's copy of the book at the hour), or, with `start_ms` inside a file, a snapshot the reader
builds from the records before `start_ms` (and a ticker snapshot likewise). Going on from one file
to the next, the next file's R is skipped (the book is already that). After a gap (G) a delta
before the next snapshot would be an error in the file and is reported as such.

**Damage.** A file whose gzip stream stops early (a killed recorder) is read up to its last whole
record; the reader then yields a GapEvent saying so and logs a warning. A record that cannot be
decoded raises RecordingError naming the file and line.
"""

from __future__ import annotations

import heapq
import json
import json.scanner
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from whale.errors import BadInputError
from whale.recording import decode as dec
from whale.recording.format import (
    SUFFIX,
    FormatError,
    Header,
    hour_start,
    parse_file_name,
    unpack_id,
    utc_text,
)

log = logging.getLogger("whalebot")

CHUNK = 1 << 20  # compressed bytes read at a time
SKIP = 0  # a record the reader leaves out (a file's R and K r when going on from the file before)
K_SNAPSHOT = ord("S")
K_DELTA = ord("D")
K_ROTATION = ord("R")
K_TRADES = ord("T")
K_TICKER = ord("K")
K_KLINE = ord("L")
K_GAP = ord("G")


Print = tuple[int, str, float, float]  # (ts, side, size, price): the form MarketState.on_trades keeps


class RecordingError(BadInputError):
    """A recording that cannot be read: one message naming the file and line (exit 2)."""


@dataclass
class Batch:
    """Decoded records of one piece of one file (columns; see decode.py)."""

    symbol: str
    path: Path
    first_line: int
    text: bytes
    kind: np.ndarray
    ts: np.ndarray
    tkey: np.ndarray
    recv: np.ndarray
    cts: np.ndarray
    u: np.ndarray
    seq: np.ndarray
    off: np.ndarray
    nb: np.ndarray
    na: np.ndarray
    span_s: np.ndarray
    span_e: np.ndarray
    lpx: np.ndarray
    lsz: np.ndarray
    t_ts: np.ndarray
    t_side: np.ndarray
    t_px: np.ndarray
    t_sz: np.ndarray
    t_seq: np.ndarray
    id_s: np.ndarray
    id_e: np.ndarray
    _lists: dict[str, list] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def col(self, name: str) -> list:
        """A column as a Python list (cached): indexing a list is what a per-event loop wants."""
        got = self._lists.get(name)
        if got is None:
            got = self._lists[name] = getattr(self, name).tolist()
        return got

    def prints(self) -> list[Print]:
        """Each print as (ts, side, size, price) (TradeEvent.prints), cached like a column."""
        got = self._lists.get("prints")
        if got is None:
            codes = self.t_side  # the side codes -2..2 index _SIDE_NAMES (from 0); any other code is no side
            known = (codes >= -2) & (codes <= 2)
            sides = _SIDE_NAMES[np.where(known, codes + 2, 2)].tolist()  # one numpy take, not a look-up a print
            got = self._lists["prints"] = list(zip(self.col("t_ts"), sides, self.col("t_sz"), self.col("t_px"),
                                                   strict=True))
        return got

    def span(self, i: int) -> str:
        return self.text[int(self.span_s[i]):int(self.span_e[i])].decode("ascii")


class View(NamedTuple):
    """Records lo..hi-1 of a batch: the unit `RecordingReader.views` yields."""

    batch: Batch
    lo: int
    hi: int


# ----------------------------------------------------------------------------------------------
# Events (the convenient form)


class Trade(NamedTuple):
    ts: int
    side: str  # "Buy", "Sell" or "" (unknown)
    price: float
    size: float
    trade_id: str
    seq: int | None
    block: bool


@dataclass(slots=True, init=False)
class BookEvent:
    symbol: str
    ts: int
    recv_us: int
    snapshot: bool
    # Best first; size 0 removes (deltas). The reader passes None and gives `columns`: the lists are then built
    # on their first read (a replay hands the columns to the book and never reads them).
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    u: int | None
    seq: int | None
    cts: int | None
    synthetic: bool = False  # built by the writer (a file's start) or the reader (a window's start)
    # The same levels as the reader decoded them: (prices, sizes, start, nb, na), float64 arrays with the nb
    # bids from start, then the na asks (OrderBook.apply_levels takes them as they are); None when built otherwise.
    columns: tuple[np.ndarray, np.ndarray, int, int, int] | None = field(default=None, compare=False, repr=False)

    def __init__(self, symbol: str, ts: int, recv_us: int, snapshot: bool, bids: list[tuple[float, float]] | None,
                 asks: list[tuple[float, float]] | None, u: int | None, seq: int | None, cts: int | None,
                 synthetic: bool = False, columns: tuple[np.ndarray, np.ndarray, int, int, int] | None = None) -> None:
        self.symbol, self.ts, self.recv_us, self.snapshot = symbol, ts, recv_us, snapshot
        self.u, self.seq, self.cts, self.synthetic, self.columns = u, seq, cts, synthetic, columns
        if bids is not None or columns is None:
            self.bids = bids or []
        if asks is not None or columns is None:
            self.asks = asks or []

    def __getattr__(self, name: str) -> list[tuple[float, float]]:
        """`bids` and `asks` not built yet (only then is this called): made from `columns`."""
        columns = self.columns if name in ("bids", "asks") else None
        if columns is None:
            raise AttributeError(f"'BookEvent' object has no attribute {name!r}")
        px, sz, o, nb, na = columns
        m = o + nb
        self.bids = list(zip(px[o:m].tolist(), sz[o:m].tolist(), strict=True))
        self.asks = list(zip(px[m:m + na].tolist(), sz[m:m + na].tolist(), strict=True))
        return self.bids if name == "bids" else self.asks

    def to_message(self, depth: int) -> dict[str, Any]:
        """The Bybit WebSocket message this event stands for."""
        data: dict[str, Any] = {"s": self.symbol, "b": [[_txt(p), _txt(s)] for p, s in self.bids],
                                "a": [[_txt(p), _txt(s)] for p, s in self.asks], "u": self.u or 0, "seq": self.seq or 0}
        msg: dict[str, Any] = {"topic": f"orderbook.{depth}.{self.symbol}", "type": "snapshot" if self.snapshot
                               else "delta", "ts": self.ts, "data": data}
        if self.cts is not None:
            msg["cts"] = self.cts
        return msg


@dataclass(slots=True, init=False)
class TradeEvent:
    symbol: str
    ts: int
    recv_us: int
    # The reader passes None and gives `columns` (its batch, the first print, their number): the list is then
    # built on its first read (a replay reads `prints` and never builds it, nor decodes a trade id).
    trades: list[Trade]
    # The prints as (ts, side, size, price), what MarketState.on_trades keeps: the reader's, or made from `trades`.
    prints: list[Print] = field(compare=False, repr=False)
    columns: tuple[Batch, int, int] | None = field(default=None, compare=False, repr=False)

    def __init__(self, symbol: str, ts: int, recv_us: int, trades: list[Trade] | None,
                 columns: tuple[Batch, int, int] | None = None, prints: list[Print] | None = None) -> None:
        self.symbol, self.ts, self.recv_us, self.columns = symbol, ts, recv_us, columns
        if trades is not None or columns is None:
            self.trades = trades or []
        self.prints = prints if prints is not None else [(t.ts, t.side, t.size, t.price) for t in self.trades]

    def __getattr__(self, name: str) -> list[Trade]:
        """`trades` not built yet (only then is this called): made from `columns`."""
        columns = self.columns if name == "trades" else None
        if columns is None:
            raise AttributeError(f"'TradeEvent' object has no attribute {name!r}")
        self.trades = _trades(*columns)
        return self.trades

    def to_message(self) -> dict[str, Any]:
        data = []
        for t in self.trades:
            item: dict[str, Any] = {"T": t.ts, "s": self.symbol, "S": t.side, "v": _txt(t.size), "p": _txt(t.price),
                                    "i": t.trade_id, "BT": t.block}
            if t.seq is not None:
                item["seq"] = t.seq
            data.append(item)
        return {"topic": f"publicTrade.{self.symbol}", "type": "snapshot", "ts": self.ts, "data": data}


@dataclass(slots=True)
class TickerEvent:
    symbol: str
    ts: int
    recv_us: int
    snapshot: bool
    data: dict[str, Any]
    cs: int | None
    synthetic: bool = False

    def to_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"topic": f"tickers.{self.symbol}", "type": "snapshot" if self.snapshot else "delta",
                               "data": {"symbol": self.symbol, **self.data}, "ts": self.ts}
        if self.cs is not None:
            msg["cs"] = self.cs
        return msg


@dataclass(slots=True, init=False)
class KlineEvent:
    symbol: str
    ts: int
    recv_us: int
    candles: list[dict[str, Any]]  # the reader passes None and gives `text`: parsed on the first read
    text: str | None = field(default=None, compare=False, repr=False)  # the record's JSON
    # (file, line) of the record, named if `text` is damaged: formatted only then (a replay never reads candles)
    where: tuple[Path, int] | None = field(default=None, compare=False, repr=False)

    def __init__(self, symbol: str, ts: int, recv_us: int, candles: list[dict[str, Any]] | None,
                 text: str | None = None, where: tuple[Path, int] | None = None) -> None:
        self.symbol, self.ts, self.recv_us, self.text, self.where = symbol, ts, recv_us, text, where
        if candles is not None or text is None:
            self.candles = candles or []

    def __getattr__(self, name: str) -> list[dict[str, Any]]:
        """`candles` not parsed yet (only then is this called): parsed from `text` (a replay never reads them)."""
        text = self.text if name == "candles" else None
        if text is None:
            raise AttributeError(f"'KlineEvent' object has no attribute {name!r}")
        where = f"{self.where[0]}, line {self.where[1]}" if self.where else ""
        self.candles = _record_json(text, where, "a kline")
        return self.candles

    def to_message(self) -> dict[str, Any]:
        return {"topic": f"kline.1.{self.symbol}", "data": self.candles, "ts": self.ts, "type": "snapshot"}


@dataclass(slots=True)
class GapEvent:
    symbol: str
    ts: int
    recv_us: int
    reason: str


Event = BookEvent | TradeEvent | TickerEvent | KlineEvent | GapEvent
_SIDES = {1: ("Buy", False), -1: ("Sell", False), 0: ("", False), 2: ("Buy", True), -2: ("Sell", True)}
_NO_SIDE = ("", False)
_SIDE_NAMES = np.array([_SIDES[code][0] for code in range(-2, 3)], dtype=object)  # by code + 2; 0 (index 2): ""


_decoder = json.JSONDecoder()
_json = _decoder.decode  # json.loads of a str without its checks of options
_scan = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]  # typeshed's stub wants a scanner


def _record_json(text: str, where: str, what: str, parse: Callable[[str], Any] = _json) -> Any:
    """A ticker's or kline's JSON body; a damaged one is a RecordingError naming the file and line."""
    try:
        return parse(text)
    except ValueError as exc:
        raise RecordingError(f"{where or 'a recording'}: {what} record's JSON is damaged ({exc})") from exc


def _where(b: Batch, i: int) -> str:
    """Record i of a batch (its offset from the batch's first record) as "file, line N"."""
    return f"{b.path}, line {b.first_line + i}"


def _ticker(b: Batch, i: int, sym: str, ts: int, recv: int, span: str,
            parse: Callable[[str], Any] = _json) -> TickerEvent:
    """A `K` record; a damaged one is a RecordingError naming the file and line (built only then)."""
    try:
        kind, cs, body = span.split(" ", 2)
        return TickerEvent(sym, ts, recv, kind != "d", parse(body), None if cs == "x" else int(cs), kind == "r")
    except ValueError as exc:
        raise RecordingError(f"{_where(b, i)}: a ticker record is damaged ({exc}): {span[:80]!r}") from exc


def _json_text(text: str) -> Any:
    """`_json(text)`, by the decoder's scanner when the text is one JSON value and nothing else (a recorder's
    compact JSON: a ticker record's): the same value without decode's two whitespace matches and two calls.
    Anything else goes to `_json` (its whitespace rules, its errors)."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # no value at 0 (whitespace first, or nothing)
        end = -1
    return value if end == len(text) else _json(text)


def _trades(b: Batch, o: int, n: int) -> list[Trade]:
    """Prints o..o+n-1 of a batch as Trades."""
    t_ts, t_side, t_px, t_sz, t_seq, id_s, id_e = (b.col(c) for c in ("t_ts", "t_side", "t_px", "t_sz", "t_seq",
                                                                      "id_s", "id_e"))
    trades = []
    for j in range(o, o + n):
        side, block = _SIDES.get(t_side[j], _NO_SIDE)
        q = t_seq[j]
        tid = "" if id_s[j] == id_e[j] else unpack_id(b.text[id_s[j]:id_e[j]].decode("ascii"))
        trades.append(Trade(t_ts[j], side, t_px[j], t_sz[j], tid, None if q == dec.MISS else q, block))
    return trades


def _txt(x: float) -> str:
    return repr(x) if x != int(x) else str(int(x))


def _opt(v: int) -> int | None:
    return None if v == dec.MISS else v


def event_at(b: Batch, i: int) -> Event | None:
    """Record i of a batch as an event (None for a record the reader leaves out)."""
    k = b.col("kind")[i]
    sym = b.symbol
    ts = b.col("ts")[i]
    recv = b.col("recv")[i]
    if k in (K_SNAPSHOT, K_DELTA, K_ROTATION):
        return BookEvent(sym, ts, recv, k != K_DELTA, None, None, _opt(b.col("u")[i]), _opt(b.col("seq")[i]),
                         _opt(b.col("cts")[i]), k == K_ROTATION, (b.lpx, b.lsz, b.col("off")[i], b.col("nb")[i],
                                                                  b.col("na")[i]))
    if k == K_TRADES:
        return TradeEvent(sym, ts, recv, _trades(b, b.col("off")[i], b.col("nb")[i]))
    if k == K_TICKER:
        return _ticker(b, i, sym, ts, recv, b.span(i), json.loads)
    if k == K_KLINE:
        return KlineEvent(sym, ts, recv, _record_json(b.span(i), _where(b, i), "a kline", json.loads))
    if k == K_GAP:
        return GapEvent(sym, ts, recv, b.span(i))
    return None


# ----------------------------------------------------------------------------------------------
# One file


def _empty_batch(symbol: str, path: Path, line: int) -> Batch:
    z = np.zeros(0, dtype=np.int64)
    f = np.zeros(0)
    return Batch(symbol, path, line, b"", z, z, z, z, z, z, z, z, z, z, z, z, f, f, z, z, f, f, z, z, z)


def _text_batch(symbol: str, path: Path, line: int, kind: int, ts: int, tkey: int, text: str) -> Batch:
    """A batch of one record whose payload is text (a gap the reader adds, a ticker it rebuilds)."""
    b = _empty_batch(symbol, path, line)
    raw = text.encode("ascii")
    b.text = raw
    b.kind = np.array([kind], dtype=np.int64)
    b.ts = np.array([ts], dtype=np.int64)
    b.tkey = np.array([tkey], dtype=np.int64)
    b.recv = np.array([ts * 1000], dtype=np.int64)
    b.cts = np.array([dec.MISS], dtype=np.int64)
    b.u = b.cts.copy()
    b.seq = b.cts.copy()
    b.off = np.zeros(1, dtype=np.int64)
    b.nb = b.off.copy()
    b.na = b.off.copy()
    b.span_s = b.off.copy()
    b.span_e = np.array([len(raw)], dtype=np.int64)
    return b


def _book_batch(symbol: str, path: Path, line: int, ts: int, tkey: int, bids: dict[float, float],
                asks: dict[float, float], u: int, seq: int) -> Batch:
    """A batch of one R record: a book snapshot the reader built."""
    b = _empty_batch(symbol, path, line)
    bp = sorted(bids, reverse=True)
    ap = sorted(asks)
    b.kind = np.array([K_ROTATION], dtype=np.int64)
    b.ts = np.array([ts], dtype=np.int64)
    b.tkey = np.array([tkey], dtype=np.int64)
    b.recv = np.array([ts * 1000], dtype=np.int64)
    b.cts = np.array([dec.MISS], dtype=np.int64)
    b.u = np.array([u], dtype=np.int64)
    b.seq = np.array([seq], dtype=np.int64)
    b.off = np.zeros(1, dtype=np.int64)
    b.nb = np.array([len(bp)], dtype=np.int64)
    b.na = np.array([len(ap)], dtype=np.int64)
    b.span_s = b.span_e = np.zeros(1, dtype=np.int64)
    b.lpx = np.array(bp + ap, dtype=np.float64)
    b.lsz = np.array([bids[p] for p in bp] + [asks[p] for p in ap], dtype=np.float64)
    return b


class FileReader:
    """Batches of one recording file, in order; `truncated` once the end was read."""

    def __init__(self, path: Path, tkey: int = 0) -> None:
        self.path = path
        self.tkey = tkey
        self.truncated = False
        self.header: Header | None = None
        self.last_ts = tkey
        self.lines = 0  # whole lines read, the header included

    def batches(self) -> Iterator[Batch]:
        z = zlib.decompressobj(wbits=47)  # gzip or zlib, the header told apart by zlib
        rest = b""
        state: np.ndarray | None = None
        symbol = ""
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed in finally
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot read it ({exc.strerror or exc})") from exc
        try:
            while True:
                raw = f.read(CHUNK)
                if not raw:
                    break
                try:
                    data = rest + z.decompress(raw)
                except zlib.error as exc:
                    raise RecordingError(f"{self.path}: not a readable gzip stream after line {self.lines} "
                                         f"({exc})") from exc
                if z.eof and z.unused_data:
                    raise RecordingError(f"{self.path}: data after the end of the gzip stream (line {self.lines})")
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                data = data[:cut]
                if state is None and data:
                    nl = data.find(b"\n")
                    try:
                        self.header = Header.parse(data[:nl + 1].decode("ascii", "replace"), str(self.path))
                    except FormatError as exc:
                        raise RecordingError(str(exc)) from exc
                    h = self.header
                    symbol = h.symbol
                    state = dec.new_state(h.start_ms, h.price_unit.k, h.price_unit.d, h.size_unit.k, h.size_unit.d,
                                          max(self.tkey, h.start_ms), h.trade_ids)
                    data = data[nl + 1:]
                    self.lines = 1
                if data:
                    yield self._decode(data, state, symbol)
            if not z.eof:
                self.truncated = True
        finally:
            f.close()
        if state is None:
            raise RecordingError(f"{self.path}: empty, or not a Whalebot book recording")

    def _decode(self, data: bytes, state: Any, symbol: str) -> Batch:
        buf = np.frombuffer(data, dtype=np.uint8)
        lines = int(np.count_nonzero(buf == 10))
        size = len(data)
        i8 = np.int64
        recs = [np.empty(lines, dtype=i8) for _ in range(12)]
        lpx = np.empty(size // 4 + 1)
        lsz = np.empty(size // 4 + 1)
        tn = size // 10 + 1
        tr = [np.empty(tn, dtype=i8), np.empty(tn, dtype=i8), np.empty(tn), np.empty(tn), np.empty(tn, dtype=i8),
              np.empty(tn, dtype=i8), np.empty(tn, dtype=i8)]
        r, nl, nt, err, at = dec.decode(buf, state, recs[0], recs[1], recs[2], recs[3], recs[4], recs[5], recs[6],
                                        recs[7], recs[8], recs[9], recs[10], recs[11], lpx, lsz, tr[0], tr[1], tr[2],
                                        tr[3], tr[4], tr[5], tr[6])
        if err != dec.E_OK:
            line = self.lines + data.count(b"\n", 0, at) + 1
            text = data[at:data.find(b"\n", at)].decode("ascii", "replace")[:80]
            what = "unknown record kind" if err == dec.E_KIND else "malformed record"
            raise RecordingError(f"{self.path}, line {line}: {what}: {text!r}")
        first = self.lines + 1
        self.lines += lines
        kind, ts, tkey, recv, cts, u, seq, off, nb, na, span_s, span_e = recs[:12]
        if r:
            self.last_ts = int(ts[r - 1])
            self.tkey = int(tkey[r - 1])
        return Batch(symbol, self.path, first, data, kind[:r], ts[:r], tkey[:r], recv[:r], cts[:r], u[:r], seq[:r],
                     off[:r], nb[:r], na[:r], span_s[:r], span_e[:r], lpx[:nl], lsz[:nl], tr[0][:nt], tr[1][:nt],
                     tr[2][:nt], tr[3][:nt], tr[4][:nt], tr[5][:nt], tr[6][:nt])


# ----------------------------------------------------------------------------------------------
# One symbol


class _Warmup:
    """The book and ticker built from the records before a window's start."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.book = False
        self.u = dec.MISS
        self.seq = dec.MISS
        self.ticker: dict[str, Any] = {}

    def feed(self, b: Batch, lo: int, hi: int) -> None:
        kind = b.col("kind")
        for i in range(lo, hi):
            k = kind[i]
            if k in (K_SNAPSHOT, K_ROTATION, K_DELTA):
                if k != K_DELTA:
                    self.bids.clear()
                    self.asks.clear()
                    self.book = True
                o, nb, na = b.col("off")[i], b.col("nb")[i], b.col("na")[i]
                px, sz = b.lpx[o:o + nb + na].tolist(), b.lsz[o:o + nb + na].tolist()  # not the whole batch's
                for side, lo_, hi_ in ((self.bids, 0, nb), (self.asks, nb, nb + na)):
                    for j in range(lo_, hi_):
                        if sz[j] > 0.0:
                            side[px[j]] = sz[j]
                        else:
                            side.pop(px[j], None)
                if b.col("u")[i] != dec.MISS:
                    self.u = b.col("u")[i]
                if b.col("seq")[i] != dec.MISS:
                    self.seq = b.col("seq")[i]
            elif k == K_GAP:
                self.bids.clear()
                self.asks.clear()
                self.book = False
            elif k == K_TICKER:
                kind_t, _, body = b.span(i).split(" ", 2)
                fields = json.loads(body)
                if kind_t == "d":
                    self.ticker.update(fields)
                else:
                    self.ticker = fields

    def batches(self, b: Batch, ts: int, tkey: int) -> list[Batch]:
        out = []
        if self.book:
            out.append(_book_batch(b.symbol, b.path, b.first_line, ts, tkey, self.bids, self.asks, self.u, self.seq))
        if self.ticker:
            out.append(_text_batch(b.symbol, b.path, b.first_line, K_TICKER, ts, tkey,
                                   "r x " + json.dumps(self.ticker, separators=(",", ":"))))
        return out


class SymbolStream:
    """One symbol's files in order, as batches: file joins (R skipped), truncation gaps, the window
    (warm-up before start_ms, stop at end_ms) and the snapshot-after-gap check."""

    def __init__(self, symbol: str, paths: Sequence[Path], start_ms: int | None, end_ms: int | None) -> None:
        self.symbol = symbol
        self.paths = list(paths)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.truncated: list[Path] = []
        self.need_snapshot = True

    def batches(self) -> Iterator[Batch]:
        tkey = 0
        start_ms = self.start_ms or 0
        warm = _Warmup() if self.start_ms is not None else None
        going_on = False  # a file before this one was read to its end: its state is known
        for path in self.paths:
            reader = FileReader(path, tkey)
            file_start = True
            for b in reader.batches():
                if file_start and going_on:
                    self._skip_file_start(b)
                file_start = False
                lo, hi = 0, len(b)
                if warm is not None:
                    start = int(np.searchsorted(b.tkey, start_ms, side="left"))
                    warm.feed(b, 0, start)
                    if start >= hi:
                        continue
                    for extra in warm.batches(b, int(b.ts[start]), int(b.tkey[start])):
                        self._check(extra, 0, 1)
                        yield extra
                    warm = None
                    lo = start
                if self.end_ms is not None:
                    hi = int(np.searchsorted(b.tkey, self.end_ms, side="left"))
                if lo < hi:
                    self._check(b, lo, hi)
                    yield b if (lo, hi) == (0, len(b)) else _slice(b, lo, hi)
                if hi < len(b):
                    return
            tkey = reader.tkey
            going_on = not reader.truncated
            if reader.truncated:
                self.truncated.append(path)
                log.warning(f"{path}: the gzip stream stops early (a recorder killed while writing?): read up to its "
                            f"last whole record, line {reader.lines}")
                gap = _text_batch(self.symbol, path, reader.lines + 1, K_GAP, reader.last_ts, tkey,
                                  f"{path.name} ends early after line {reader.lines}: the rest was lost")
                if warm is None and (self.end_ms is None or tkey < self.end_ms):
                    self._check(gap, 0, 1)
                    yield gap
                elif warm is not None:
                    warm.feed(gap, 0, 1)

    @staticmethod
    def _skip_file_start(b: Batch) -> None:
        """Going on from the file before: its R and K r (the state the reader already has) are left out."""
        kind = b.kind
        for i in range(min(len(b), 4)):
            k = int(kind[i])
            if k == K_ROTATION or (k == K_TICKER and b.text[int(b.span_s[i]):int(b.span_s[i]) + 2] == b"r "):
                kind[i] = SKIP
            elif k != K_GAP:
                break

    def _check(self, b: Batch, lo: int, hi: int) -> None:
        """No delta between a gap (or the start) and the next snapshot."""
        kind = b.kind[lo:hi]
        if not kind.size:
            return
        marks = np.where((kind == K_GAP) | (kind == K_SNAPSHOT) | (kind == K_ROTATION), np.arange(kind.size), -1)
        last = np.maximum.accumulate(marks)
        deltas = np.flatnonzero(kind == K_DELTA)
        if deltas.size:
            m = last[deltas]
            bad = np.where(m < 0, self.need_snapshot, kind[np.maximum(m, 0)] == K_GAP)
            if bad.any():
                first = int(np.argmax(bad))
                since = "the gap before it" if m[first] >= 0 or not self.need_snapshot else "the start"
                raise RecordingError(f"{b.path}, line {b.first_line + int(deltas[first])}: a book delta with no "
                                     f"snapshot since {since}")
        if last[-1] >= 0:
            self.need_snapshot = int(kind[last[-1]]) == K_GAP


def _slice(b: Batch, lo: int, hi: int) -> Batch:
    """Records lo..hi-1 of b as a batch (the levels and prints arrays are shared)."""
    return Batch(b.symbol, b.path, b.first_line + lo, b.text, b.kind[lo:hi], b.ts[lo:hi], b.tkey[lo:hi],
                 b.recv[lo:hi], b.cts[lo:hi], b.u[lo:hi], b.seq[lo:hi], b.off[lo:hi], b.nb[lo:hi], b.na[lo:hi],
                 b.span_s[lo:hi], b.span_e[lo:hi], b.lpx, b.lsz, b.t_ts, b.t_side, b.t_px, b.t_sz, b.t_seq,
                 b.id_s, b.id_e)


# ----------------------------------------------------------------------------------------------
# Several symbols


def find_files(root: Path) -> dict[str, list[Path]]:
    """Recording files under root (root/<SYMBOL>/..., or root itself holding them), by symbol, in
    time order (hour, then part)."""
    if not root.exists():
        raise RecordingError(f"{root}: no such directory")
    found: dict[str, list[tuple[int, int, Path]]] = {}
    candidates = [root] if root.is_file() else sorted(root.rglob(f"*{SUFFIX}"))
    for path in candidates:
        parsed = parse_file_name(path)
        if parsed is None:
            continue
        symbol, start, part = parsed
        found.setdefault(symbol, []).append((start, part, path))
    return {s: [p for _, _, p in sorted(v)] for s, v in sorted(found.items())}


class RecordingReader:
    """Merged, time-ordered reading of a recording directory (see the module doc)."""

    def __init__(self, root: Path | str, symbols: Sequence[str] | None = None, start_ms: int | None = None,
                 end_ms: int | None = None) -> None:
        self.root = Path(root)
        files = find_files(self.root)
        if not files:
            raise RecordingError(f"{self.root}: no recording files (*{SUFFIX}) in it")
        if symbols is None:
            self.symbols = list(files)
        else:
            self.symbols = [s.strip().upper() for s in symbols]
            missing = [s for s in self.symbols if s not in files]
            if missing:
                raise RecordingError(f"{self.root}: no recording of {', '.join(missing)} (it holds "
                                     f"{', '.join(files)})")
        if start_ms is not None and end_ms is not None and start_ms >= end_ms:
            raise RecordingError(f"the window start {utc_text(start_ms)} is not before its end {utc_text(end_ms)}")
        self.start_ms = start_ms
        self.end_ms = end_ms
        first = hour_start(start_ms) if start_ms is not None else None
        self.streams = []
        for s in self.symbols:
            paths = [p for p in files[s] if (first is None or (parse_file_name(p) or ("", 0, 0))[1] >= first)
                     and (end_ms is None or (parse_file_name(p) or ("", 0, 0))[1] < end_ms)]
            self.streams.append(SymbolStream(s, paths, start_ms, end_ms))

    @property
    def truncated(self) -> list[Path]:
        return [p for s in self.streams for p in s.truncated]

    def views(self) -> Iterator[View]:
        """Runs of records in merged order (see the module doc)."""
        if len(self.streams) == 1:
            for b in self.streams[0].batches():
                yield View(b, 0, len(b))
            return
        iters = [s.batches() for s in self.streams]
        current: list[tuple[Batch, int] | None] = [None] * len(iters)

        def advance(i: int) -> None:
            for b in iters[i]:
                if len(b):
                    current[i] = (b, 0)
                    return
            current[i] = None

        for i in range(len(iters)):
            advance(i)
        heap = [(int(c[0].tkey[0]), i) for i, c in enumerate(current) if c is not None]
        heapq.heapify(heap)
        while heap:
            key, i = heapq.heappop(heap)
            cur = current[i]
            assert cur is not None
            b, pos = cur
            hi = len(b)
            if heap:
                other_key, j = heap[0]
                hi = int(np.searchsorted(b.tkey, other_key, side="right" if i < j else "left"))
                hi = max(hi, pos + 1)
                hi = min(hi, len(b))
            yield View(b, pos, hi)
            if hi < len(b):
                current[i] = (b, hi)
                heapq.heappush(heap, (int(b.tkey[hi]), i))
            else:
                advance(i)
                nxt = current[i]
                if nxt is not None:
                    heapq.heappush(heap, (int(nxt[0].tkey[0]), i))

    def events(self) -> Iterator[Event]:
        """Every record as an event object, in merged order (event_at's events)."""
        for _, ev in self.timed_events():
            yield ev

    def timed_events(self) -> Iterator[tuple[int, Event]]:
        """`(key, event)` for every record, in merged order: `key` is the recording's clock at the event, the
        newest exchange time of its symbol so far (the running maximum of its events' `ts`, from 0), which a
        replay plays it at (whale.recording.lookahead). The events are event_at's, built here from the batch's
        columns read once per run: the book and trade records, most of a recording, and the tickers."""
        miss = dec.MISS
        clock: dict[str, int] = {}
        for b, lo, hi in self.views():
            sym = b.symbol
            key = clock.get(sym, 0)
            text = b.text
            kinds, tss, recvs, offs, nbs, nas = (b.col(c) for c in ("kind", "ts", "recv", "off", "nb", "na"))
            lpx, lsz = b.lpx, b.lsz
            us, seqs, ctss, span_s, span_e = (b.col(c) for c in ("u", "seq", "cts", "span_s", "span_e"))
            prints = b.prints()
            for i in range(lo, hi):
                k = kinds[i]
                ts = tss[i]
                ev: Event | None
                if k == K_DELTA or k == K_SNAPSHOT or k == K_ROTATION:
                    o = offs[i]
                    m = o + nbs[i]
                    e = m + nas[i]
                    u, seq, cts = us[i], seqs[i], ctss[i]
                    ev = BookEvent(sym, ts, recvs[i], k != K_DELTA, None, None, None if u == miss else u,
                                   None if seq == miss else seq, None if cts == miss else cts, k == K_ROTATION,
                                   (lpx, lsz, o, m - o, e - m))
                elif k == K_TRADES:
                    o = offs[i]
                    e = o + nbs[i]
                    ev = TradeEvent(sym, ts, recvs[i], None, (b, o, e - o), prints[o:e])
                elif k == K_TICKER:
                    ev = _ticker(b, i, sym, ts, recvs[i], text[span_s[i]:span_e[i]].decode("ascii"), _json_text)
                elif k == K_KLINE:
                    ev = KlineEvent(sym, ts, recvs[i], None, text[span_s[i]:span_e[i]].decode("ascii"),
                                    (b.path, b.first_line + i))
                else:
                    ev = event_at(b, i) if k != SKIP else None
                    if ev is None:
                        continue
                if ts > key:
                    key = ts
                yield key, ev
            clock[sym] = key


# ----------------------------------------------------------------------------------------------
# What a recording holds


def file_header(path: Path) -> Header:
    """The header of one recording file (only its first line is decompressed)."""
    z = zlib.decompressobj(wbits=47)
    data = b""
    try:
        with open(path, "rb") as f:
            while b"\n" not in data:
                raw = f.read(4096)
                if not raw:
                    break
                data += z.decompress(raw)
    except (OSError, zlib.error) as exc:
        raise RecordingError(f"{path}: cannot read its header ({exc})") from exc
    try:
        return Header.parse(data.split(b"\n", 1)[0].decode("ascii", "replace") + "\n", str(path))
    except FormatError as exc:
        raise RecordingError(str(exc)) from exc


@dataclass
class SymbolPrints:
    """One symbol's trade prints in the recording's order (exchange times in ms, prices, sizes), and
    the recording's clock at its first and last event."""

    ts: np.ndarray
    price: np.ndarray
    size: np.ndarray
    first_ms: int
    last_ms: int


def recorded_prints(reader: RecordingReader) -> dict[str, SymbolPrints]:
    """Every symbol's prints, in one pass over the decoded columns (no event objects): what candles
    built from trades (whale.market.trade_candles) start from."""
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {s: [] for s in reader.symbols}
    span: dict[str, list[int]] = {}
    for b, lo, hi in reader.views():
        if lo >= hi:
            continue
        sym = b.symbol
        first, last = int(b.tkey[lo]), int(b.tkey[hi - 1])
        if sym in span:
            span[sym][1] = last
        else:
            span[sym] = [first, last]
        trades = np.flatnonzero(b.kind[lo:hi] == K_TRADES) + lo
        if trades.size:
            s = int(b.off[trades[0]])
            e = int(b.off[trades[-1]] + b.nb[trades[-1]])
            parts[sym].append((b.t_ts[s:e].copy(), b.t_px[s:e].copy(), b.t_sz[s:e].copy()))
    out = {}
    for sym in reader.symbols:
        got = parts[sym]
        cols = [np.concatenate([p[k] for p in got]) if got else np.zeros(0) for k in range(3)]
        first, last = span.get(sym, [0, -1])
        out[sym] = SymbolPrints(cols[0].astype(np.int64), cols[1], cols[2], first, last)
    return out
