"""Writing book recordings (whale/recording/format.py, docs/recording.md).

`RecordingWriter` takes one symbol's public Bybit messages as they arrive (`write_message(msg,
recv_us)`: orderbook, publicTrade, tickers, kline) or typed calls (the Tardis import), and keeps:

- **one file per UTC hour** (by exchange time): at the hour the file is finished and the next
  one starts with the writer's copy of the book (R) and of the ticker (K r), so each file can be
  read alone; a file that exists is never overwritten (the next part number is used);
- **at most one second at risk**: the compressor is sync-flushed and the file flushed to the OS
  once a second (on a write, or on `tick()`, which a recorder calls when the stream is quiet),
  so a killed process leaves a gzip stream that reads back up to its last flush; fsync at every
  file end;
- **gaps**: `gap(reason)` (a reconnect) writes a G record; deltas are then dropped (counted in
  `dropped`) until a snapshot, which Bybit sends on every subscription;
- **bounded memory**: the compressor's window, the book (one side's levels) and one ticker.
"""

from __future__ import annotations

import json
import operator
import os
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from whale import __version__
from whale.recording.format import (
    BLOCK,
    BUY,
    MISSING,
    SELL,
    SOURCES,
    TICKER_TOP,
    UNKNOWN_SIDE,
    FormatError,
    Header,
    Unit,
    file_name,
    finer,
    hour_start,
    pack_id,
    to_units,
    unit_of,
)


@dataclass(frozen=True)
class TradePrint:
    """One print of a publicTrade message: exchange time (ms), side (+1 buy / -1 sell / 0 unknown),
    price and size as decimal text, the trade id, Bybit's cross sequence, block trade flag."""

    ts: int
    side: int
    price: str
    size: str
    trade_id: str = ""
    seq: int | None = None
    block: bool = False


@dataclass
class WriterStats:
    records: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0  # compressed bytes handed to the files
    files: list[Path] = field(default_factory=list)
    dropped: int = 0  # deltas dropped while waiting for a snapshot after a gap
    top_only_tickers: int = 0  # ticker deltas of the best bid and ask alone, not written (ticker_top off)


def _num(value: Any) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def _guess_unit(texts: list[str]) -> Unit:
    """A first unit from the first values: their common divisor when there are enough of them (a
    book snapshot: the tick), else one unit of their last significant decimal."""
    if len(texts) >= 20:
        return unit_of(texts)
    return Unit(1, max((len(t.partition(".")[2].rstrip("0")) for t in texts), default=0))


_MEMO_LIMIT = 1 << 13  # texts a _Converter remembers before it starts over (~1 MB; more did not pay)


class _Converter:
    """Decimal texts into one unit's integers, remembered: a book repeats the same few thousand
    price and size texts all day, so nearly every value is one dict look-up instead of a parse."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.memo: dict[str, int] = {}

    def convert(self, texts: list[str]) -> list[int] | None:
        """The values of `texts` in the unit (to_units), or None when one of them is not a whole
        number of units (or not a number): the caller then takes the plain path, which says why."""
        memo = self.memo
        out = list(map(memo.get, texts))
        i = -1
        while None in out:  # the misses, usually none or one or two
            i = out.index(None, i + 1)
            t = texts[i]
            v = to_units(t, self.unit)
            if v is None:
                return None
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[t] = out[i] = v
        return out  # type: ignore[return-value]  # no None left


def _descending(levels: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Levels best bid first: Bybit's order, so mostly a check (the sort is stable: equal prices keep
    their order either way)."""
    prices = [p for p, _ in levels]
    if all(map(operator.ge, prices, prices[1:])):
        return levels
    return sorted(levels, key=lambda x: -x[0])


def _ascending(levels: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Levels best ask first (see _descending)."""
    prices = [p for p, _ in levels]
    if all(map(operator.le, prices, prices[1:])):
        return levels
    return sorted(levels, key=lambda x: x[0])


class _Encoder:
    """The running state of one file's records (differences are taken against it)."""

    def __init__(self, start_ms: int, price_unit: Unit, size_unit: Unit) -> None:
        self.ts = start_ms
        self.u = 0
        self.seq = 0
        self.anchor = [0, 0]
        self.trade_price = 0
        self.trade_seq = 0
        self.price_unit = price_unit
        self.size_unit = size_unit

    def head(self, kind: str, ts: int, recv_us: int) -> list[str]:
        out = [kind, str(ts - self.ts), str(recv_us - ts * 1000)]
        self.ts = ts
        return out

    def units(self, price_unit: Unit, size_unit: Unit) -> str:
        self.price_unit, self.size_unit = price_unit, size_unit
        self.anchor = [0, 0]
        self.trade_price = 0
        return f"U {price_unit.k} {price_unit.d} {size_unit.k} {size_unit.d}\n"

    def book(self, kind: str, ts: int, recv_us: int, cts: int | None, u: int | None, seq: int | None,
             bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]) -> str:
        out = self.head(kind, ts, recv_us)
        out.append(MISSING if cts is None else str(cts - ts))
        if u is None:
            out.append(MISSING)
        else:
            out.append(str(u - self.u))
            self.u = u
        if seq is None:
            out.append(MISSING)
        else:
            out.append(str(seq - self.seq))
            self.seq = seq
        out.append(str(len(bids)))
        out.append(str(len(asks)))
        for side, levels in ((0, bids), (1, asks)):
            if not levels:
                continue
            prices = [p for p, _ in levels]
            fields: list[int] = [0] * (2 * len(levels))
            fields[0] = prices[0] - self.anchor[side]
            # the distances from the level before, in the side's direction (down for bids)
            fields[2::2] = map(operator.sub, prices, prices[1:]) if side == 0 else map(operator.sub, prices[1:], prices)
            fields[1::2] = [s for _, s in levels]
            self.anchor[side] = prices[0]
            out.extend(map(str, fields))
        return " ".join(out) + "\n"

    def trades(self, ts: int, recv_us: int, prints: Sequence[tuple[int, int, int, int, int | None, str]],
               ids: bool) -> str:
        out = self.head("T", ts, recv_us)
        out.append(str(len(prints)))
        for t, side, price, size, seq, _ in prints:
            out.append(str(t - ts))
            out.append(str(side))
            out.append(str(price - self.trade_price))
            self.trade_price = price
            out.append(str(size))
            if seq is None:
                out.append(MISSING)
            else:
                out.append(str(seq - self.trade_seq))
                self.trade_seq = seq
        if ids:
            out.extend(p[5] for p in prints)
        return " ".join(out) + "\n"


class RecordingWriter:
    """One symbol's recording under `out_dir/<SYMBOL>/` (see the module doc)."""

    def __init__(self, out_dir: Path | str, symbol: str, *, depth: int, source: str = "bybit",
                 price_unit: str | None = None, size_unit: str | None = None, level: int = 9,
                 flush_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 trade_ids: bool = False, ticker_top: bool = False) -> None:
        """`trade_ids`: keep the prints' ids (random UUIDs on Bybit, ~25 MB a day that no decision
        uses). `ticker_top`: keep the tickers' best bid and ask (the book has them)."""
        if source not in SOURCES:
            raise FormatError(f"source {source!r}: one of {', '.join(SOURCES)}")
        self.symbol = symbol.upper()
        self.dir = Path(out_dir) / self.symbol
        self.depth = int(depth)
        self.source = source
        self.level = level
        self.trade_ids = trade_ids
        self.ticker_top = ticker_top
        self.flush_interval_s = flush_interval_s
        self.clock = clock
        self.price_unit = Unit.parse(price_unit) if price_unit else None
        self.size_unit = Unit.parse(size_unit) if size_unit else None
        self._price_conv: _Converter | None = None  # remembered conversions in the units in use
        self._size_conv: _Converter | None = None
        self.stats = WriterStats()
        self.bids: dict[int, int] = {}  # the writer's copy of the book, in units
        self.asks: dict[int, int] = {}
        self.book_u: int | None = None
        self.book_seq: int | None = None
        self.ticker: dict[str, Any] = {}
        self.awaiting_snapshot = True
        self._file: IO[bytes] | None = None
        self._z: Any = None
        self._enc: _Encoder | None = None
        self._hour: int | None = None
        self._tkey = 0
        self._pending = False
        self._last_flush = clock()
        self._started = False
        self.path: Path | None = None

    # ------------------------------------------------------------------------------------------
    # Bybit messages

    def write_message(self, msg: Mapping[str, Any], recv_us: int) -> None:
        """One public WebSocket message of this symbol, as Bybit sends it (parsed JSON). A message
        that is not of the right shape raises FormatError naming its topic (nothing is written)."""
        topic = str(msg.get("topic", "a message")) if isinstance(msg, Mapping) else "a message"
        try:
            self._write_message(msg, recv_us)
        except FormatError as exc:
            if str(exc).startswith(topic):
                raise
            raise FormatError(f"{topic}: {exc}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"{topic}: not a message the recording can keep ({type(exc).__name__}: {exc})") from exc

    def _write_message(self, msg: Mapping[str, Any], recv_us: int) -> None:
        topic = str(msg.get("topic", ""))
        kind = topic.split(".", 1)[0]
        ts = int(msg.get("ts") or 0)
        data = msg.get("data")
        if kind == "orderbook":
            if not isinstance(data, Mapping):
                raise FormatError(f"{topic}: data is not an object")
            u = data.get("u")
            snapshot = msg.get("type") == "snapshot" or u == 1
            self.book(snapshot, ts, recv_us, data.get("b") or (), data.get("a") or (),
                      None if u is None else int(u), None if data.get("seq") is None else int(data["seq"]),
                      None if msg.get("cts") is None else int(msg["cts"]))
        elif kind == "publicTrade":
            prints = [TradePrint(int(t.get("T") or ts), BUY if t.get("S") == "Buy" else SELL if t.get("S") == "Sell"
                                 else UNKNOWN_SIDE, _num(t["p"]), _num(t["v"]), str(t.get("i") or ""),
                                 None if t.get("seq") is None else int(t["seq"]), bool(t.get("BT")))
                      for t in (data or ())]
            self.trades(ts, recv_us, prints)
        elif kind == "tickers":
            if not isinstance(data, Mapping):
                raise FormatError(f"{topic}: data is not an object")
            cs = msg.get("cs")
            self.ticker_update("s" if msg.get("type") == "snapshot" else "d", ts, recv_us, data,
                               None if cs is None else int(cs))
        elif kind == "kline":
            self.kline(ts, recv_us, list(data or ()))
        else:
            raise FormatError(f"{topic or 'a message without a topic'}: not a public stream the recording keeps")

    # ------------------------------------------------------------------------------------------
    # Typed records

    def book(self, snapshot: bool, ts: int, recv_us: int, bids: Iterable[Sequence[Any]], asks: Iterable[Sequence[Any]],
             u: int | None = None, seq: int | None = None, cts: int | None = None) -> None:
        """An orderbook snapshot or delta: levels as (price, size) decimal text (size 0 removes)."""
        if not snapshot and self.awaiting_snapshot:
            self.stats.dropped += 1
            return
        bid_text = [(_num(p), _num(s)) for p, s, *_ in bids]
        ask_text = [(_num(p), _num(s)) for p, s, *_ in asks]
        prices = [p for p, _ in bid_text] + [p for p, _ in ask_text]
        sizes = [s for _, s in bid_text] + [s for _, s in ask_text]
        pv, sv = self._values(prices, sizes, ts)
        nb = len(bid_text)
        b = _descending(list(zip(pv[:nb], sv[:nb], strict=True)))
        a = _ascending(list(zip(pv[nb:], sv[nb:], strict=True)))
        if snapshot:
            self.bids = {p: s for p, s in b if s > 0}
            self.asks = {p: s for p, s in a if s > 0}
            self.awaiting_snapshot = False
        else:
            for side, levels in ((self.bids, b), (self.asks, a)):
                for p, s in levels:
                    if s > 0:
                        side[p] = s
                    else:
                        side.pop(p, None)
        if u is not None:
            self.book_u = u
        if seq is not None:
            self.book_seq = seq
        enc = self._enc
        assert enc is not None
        self._emit("S" if snapshot else "D", enc.book("S" if snapshot else "D", ts, recv_us, cts, u, seq, b, a))

    def trades(self, ts: int, recv_us: int, prints: Sequence[TradePrint]) -> None:
        """One publicTrade message."""
        if not prints:
            return
        pv, sv = self._values([p.price for p in prints], [p.size for p in prints], ts)
        rows = []
        for p, price, size in zip(prints, pv, sv, strict=True):
            tid = pack_id(p.trade_id) if self.trade_ids else ""
            side = p.side * (BLOCK if p.block else 1)
            rows.append((p.ts, side, price, size, p.seq, tid))
        enc = self._enc
        assert enc is not None
        self._emit("T", enc.trades(ts, recv_us, rows, self.trade_ids))

    def ticker_update(self, kind: str, ts: int, recv_us: int, data: Mapping[str, Any], cs: int | None = None) -> None:
        """A tickers message: kind "s" (snapshot) or "d" (delta: only the changed fields)."""
        fields = {k: v for k, v in data.items() if k != "symbol"}
        if kind == "s":
            self.ticker = dict(fields)
        else:
            self.ticker.update(fields)
        if not self.ticker_top and kind == "d" and fields and all(k in TICKER_TOP for k in fields):
            self.stats.top_only_tickers += 1
            return
        self._ready(ts)
        self._ticker_line(kind, ts, recv_us, fields, cs)

    def _ticker_line(self, kind: str, ts: int, recv_us: int, fields: Mapping[str, Any], cs: int | None) -> None:
        enc = self._enc
        assert enc is not None
        if not self.ticker_top:
            fields = {k: v for k, v in fields.items() if k not in TICKER_TOP}
        head = enc.head("K", ts, recv_us)
        body = json.dumps(fields, separators=(",", ":"), ensure_ascii=True)
        self._emit("K", " ".join(head) + f" {kind} {MISSING if cs is None else cs} {body}\n")

    def kline(self, ts: int, recv_us: int, candles: list[Any]) -> None:
        """A kline.1 message (its data list)."""
        self._ready(ts)
        enc = self._enc
        assert enc is not None
        head = enc.head("L", ts, recv_us)
        self._emit("L", " ".join(head) + " " + json.dumps(candles, separators=(",", ":"), ensure_ascii=True) + "\n")

    def gap(self, reason: str, ts: int, recv_us: int) -> None:
        """The stream was interrupted: the book is unknown until the next snapshot."""
        self._ready(ts)
        self._gap_line(reason, ts, recv_us)
        self.awaiting_snapshot = True
        self.bids.clear()
        self.asks.clear()

    def _gap_line(self, reason: str, ts: int, recv_us: int) -> None:
        enc = self._enc
        assert enc is not None
        text = " ".join(str(reason).split()) or "gap"
        self._emit("G", " ".join(enc.head("G", ts, recv_us)) + " " + text + "\n")

    # ------------------------------------------------------------------------------------------
    # Files

    def tick(self) -> None:
        """Call about twice a second: flushes what a quiet stream left in the compressor."""
        if self._pending and self.clock() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Everything written so far into the file, readable by a reader (and safe from a kill)."""
        if self._file is None or self._z is None:
            return
        self._write(self._z.flush(zlib.Z_SYNC_FLUSH))
        self._file.flush()
        self._pending = False
        self._last_flush = self.clock()

    def close(self) -> None:
        """Finish the current file (gzip trailer, fsync)."""
        if self._file is None:
            return
        self._write(self._z.flush(zlib.Z_FINISH))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = self._z = self._enc = None
        self._pending = False

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, data: bytes) -> None:
        if data and self._file is not None:
            self._file.write(data)
            self.stats.bytes_written += len(data)

    def _emit(self, kind: str, line: str) -> None:
        assert self._z is not None
        self._write(self._z.compress(line.encode("ascii")))
        self.stats.records[kind] = self.stats.records.get(kind, 0) + 1
        self._pending = True
        if self.clock() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _units(self) -> tuple[Unit, Unit]:
        assert self.price_unit is not None and self.size_unit is not None
        return self.price_unit, self.size_unit

    @staticmethod
    def _conv(text: str, unit: Unit) -> int:
        v = to_units(text, unit)
        if v is None:  # _units_for made sure every value fits
            raise FormatError(f"{text!r} is not a multiple of {unit.text}")
        return v

    def _values(self, prices: list[str], sizes: list[str], ts: int) -> tuple[list[int], list[int]]:
        """`prices` and `sizes` in units, the file for `ts` ready: when every value fits the units
        in use (nearly always) from the converters' memory, else by _units_for (which refines the
        units or says which value is not a number) and _conv."""
        pu, su = self.price_unit, self.size_unit
        if pu is not None and su is not None:
            pc, sc = self._price_conv, self._size_conv
            if pc is None or pc.unit is not pu:
                pc = self._price_conv = _Converter(pu)
            if sc is None or sc.unit is not su:
                sc = self._size_conv = _Converter(su)
            pv = pc.convert(prices)
            sv = sc.convert(sizes) if pv is not None else None
            if pv is not None and sv is not None:
                self._ready(ts)
                return pv, sv
        self._units_for(prices, sizes, ts)
        pu, su = self._units()
        return [self._conv(p, pu) for p in prices], [self._conv(s, su) for s in sizes]

    def _units_for(self, prices: list[str], sizes: list[str], ts: int) -> None:
        """Units that hold these values: inferred from the first values seen, refined (a U record)
        when a value needs a finer one."""
        pu = self.price_unit or _guess_unit(prices)
        su = self.size_unit or _guess_unit(sizes)
        for p in prices:
            if to_units(p, pu) is None:
                pu = finer(pu, p)
        for s in sizes:
            if to_units(s, su) is None:
                su = finer(su, s)
        changed = self._enc is not None and (pu != self.price_unit or su != self.size_unit)
        if changed:
            old_p, old_s = self._units()
            fp = to_units(old_p.text, pu) or 1
            fs = to_units(old_s.text, su) or 1
            self.bids = {p * fp: s * fs for p, s in self.bids.items()}
            self.asks = {p * fp: s * fs for p, s in self.asks.items()}
        self.price_unit, self.size_unit = pu, su
        self._ready(ts)
        if changed:
            assert self._enc is not None
            self._emit("U", self._enc.units(pu, su))

    def _ready(self, ts: int) -> None:
        """The file for the hour of `ts` is open (rotating at the hour)."""
        self._tkey = max(self._tkey, ts)
        hour = hour_start(self._tkey)
        if self._file is not None and hour == self._hour:
            return
        if self.price_unit is None or self.size_unit is None:
            # a ticker, kline or gap before any price: units come with the first prices
            self.price_unit = self.price_unit or Unit(1, 8)
            self.size_unit = self.size_unit or Unit(1, 8)
        self.close()
        self._open(hour)

    def _open(self, hour: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        part = 0
        while True:
            path = self.dir / file_name(self.symbol, hour, part)
            try:
                f = open(path, "xb")  # noqa: SIM115 - kept open across calls, closed by close()
                break
            except FileExistsError:
                part += 1
        pu, su = self._units()
        header = Header(self.symbol, self.depth, self.source, pu, su, hour, part,
                        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + f" whalebot {__version__}",
                        self.trade_ids, self.ticker_top)
        self._file, self.path, self._hour = f, path, hour
        self._z = zlib.compressobj(self.level, zlib.DEFLATED, 31, 9)
        self._enc = _Encoder(hour, pu, su)
        self.stats.files.append(path)
        self._emit("#", header.line())
        if not self._started:
            self._started = True
            self._gap_line("recording started", max(hour, self._tkey), max(hour, self._tkey) * 1000)
        elif self.awaiting_snapshot:
            self._gap_line("no book yet (waiting for a snapshot)", hour, hour * 1000)
        else:
            b = sorted(self.bids.items(), key=lambda x: -x[0])
            a = sorted(self.asks.items())
            self._emit("R", self._enc.book("R", hour, hour * 1000, None, self.book_u, self.book_seq, b, a))
        if self.ticker and self._started:
            self._ticker_line("r", hour, hour * 1000, self.ticker, None)
