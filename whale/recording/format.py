"""The book recording format, version 2 (docs/recording.md is the full description; version 1
files are read as they are).

One gzip file per symbol and UTC hour, `<SYMBOL>/<SYMBOL>-<YYYY-MM-DD>T<HH>[.<part>].wbr.gz`, of
text lines (`zcat` shows them). Line 1 is the header `#WBR 1 {json}`; every other line is one
record: a kind letter, then space-separated fields. Numbers are integers: prices in price units
and sizes in size units (the header's `price_unit` / `size_unit`, e.g. 0.1 and 0.001, changed by a
`U` record), times as differences, so a record is short text that gzip packs well and a numba
kernel parses at hundreds of MB/s (whale/recording/decode.py). `x` is a missing number.

    S|D|R dts drecv dcts du dseq nb na  <nb bid levels> <na ask levels>
    T     dts drecv n  <n x: dT side dprice size dseq>  <n ids>
    K     dts drecv type cs json
    L     dts drecv json
    G     dts drecv reason...
    U     price_k price_d size_k size_d

- dts: exchange time (ms) minus the previous record's (the first: minus the header's start_ms);
  drecv: local receive time (us) minus ts x 1000; dcts: cts - ts; du, dseq: u and seq minus the
  previous book record's (the first: minus 0).
- levels: bids best first (descending), asks best first (ascending); a side's first price is its
  difference from the first price of the same side in the previous book record, the next ones the
  distance (in units) from the level before; then the size (0 removes the level).
- S: Bybit's snapshot; D: a delta; R: the writer's own copy of the book at the start of a file
  (so each file can be read alone; a reader going on from the previous file skips it).
- T: one publicTrade message: dT = print time - ts; side 1 buy, -1 sell, 0 unknown, x2 for a block
  trade; dprice from the previous print of the file; dseq from the previous print's seq; then the
  ids only when the header's `trade_ids` is true (always in version 1) (`-`: none; a UUID as `~` +
  its 128 bits in decimal).
- K: tickers (type s snapshot, d delta, r the writer's merged ticker at the start of a file), cs
  or x, the data as compact JSON without its symbol, and without bid1Price, bid1Size, ask1Price
  and ask1Size when the header's `ticker_top` is false (the book has them; a delta of nothing else
  is not written). L: kline.1, the data list as compact JSON.
- G: a gap: the stream was interrupted (a reconnect, a resync, a recorder start); the book is
  unknown until the next S, and a reader says so.
- U: new units from here on: price unit = price_k x 10^-price_d, size unit likewise; the running
  prices (level anchors, the last print) restart from 0.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

MAGIC = "#WBR"
VERSION = 2
READS = (1, 2)  # the versions this reader reads
TICKER_TOP = ("bid1Price", "bid1Size", "ask1Price", "ask1Size")  # ticker fields the book repeats
SUFFIX = ".wbr.gz"
HOUR_MS = 3_600_000
MISSING = "x"
NO_ID = "-"
SOURCES = ("bybit", "sim", "tardis")

BUY = 1
SELL = -1
UNKNOWN_SIDE = 0
BLOCK = 2  # side x BLOCK for a block trade

_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?P<day>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2})(?:\.(?P<part>\d+))?\.wbr\.gz$")


class FormatError(ValueError):
    """A value the format cannot hold, or a file that is not a recording."""


@dataclass(frozen=True)
class Unit:
    """k x 10^-d: a value v is stored as the integer v / unit. Decoding divides by 10^d, which
    gives exactly the float Python's float() gives for the decimal text."""

    k: int
    d: int

    @property
    def text(self) -> str:
        return format(Decimal(self.k).scaleb(-self.d), "f")

    @staticmethod
    def parse(text: str) -> Unit:
        try:
            value = Decimal(str(text).strip())
        except InvalidOperation as exc:
            raise FormatError(f"unit {text!r} is not a number") from exc
        if not value.is_finite() or value <= 0:
            raise FormatError(f"unit {text!r} must be a positive number")
        sign, digits, exp = value.normalize().as_tuple()
        k = int("".join(map(str, digits)))
        e = int(exp)
        return Unit(k * 10 ** e, 0) if e >= 0 else Unit(k, -e)

    def to_float(self, units: int) -> float:
        return units * self.k / 10 ** self.d


def decimal_digits(text: str) -> tuple[int, int] | None:
    """'30247.20' -> (3024720, 2): the value as an integer and its number of decimals; None for text
    that is not a plain decimal number (an exponent, NaN, empty). The writer parses millions of
    values an hour, nearly all of the shape `digits[.digits]`: that shape is read at once, anything
    else (a sign, spaces, '.5', an exponent) by `decimal_digits_plain`."""
    if type(text) is str:
        whole, _, frac = text.partition(".")
        if whole.isdigit() and (not frac or frac.isdigit()):  # then strip, sign and int are the plain path's
            return int(whole + frac), len(frac)
    return decimal_digits_plain(text)


def decimal_digits_plain(text: str) -> tuple[int, int] | None:
    """decimal_digits for any text: the definition (tests/test_recording_writer_fast.py holds the
    fast path to it)."""
    t = text.strip()
    neg = t.startswith("-")
    if neg or t.startswith("+"):
        t = t[1:]
    whole, dot, frac = t.partition(".")
    if not (whole.isdigit() or (whole == "" and frac.isdigit())) or (frac and not frac.isdigit()):
        return None
    n = int((whole or "0") + frac)
    return (-n if neg else n), len(frac)


def to_units(text: str, unit: Unit) -> int | None:
    """The value of the decimal `text` in `unit`s, or None when it is not a whole number of them."""
    parsed = decimal_digits(text)
    if parsed is None:
        return None
    n, dec = parsed
    # n x 10^-dec = m x k x 10^-d  <=>  m = n x 10^(d - dec) / k
    if unit.d >= dec:
        scaled = n * 10 ** (unit.d - dec)
    else:
        div = 10 ** (dec - unit.d)
        if n % div:
            return None
        scaled = n // div
    if scaled % unit.k:
        return None
    return scaled // unit.k


def unit_of(texts: list[str]) -> Unit:
    """The coarsest unit that holds every value of `texts` (their greatest common divisor)."""
    dec = 0
    values = []
    for t in texts:
        parsed = decimal_digits(t)
        if parsed is None:
            raise FormatError(f"{t!r} is not a decimal number")
        values.append(parsed)
        dec = max(dec, parsed[1])
    g = 0
    for n, d in values:
        g = math.gcd(g, abs(n) * 10 ** (dec - d))
    if g == 0:
        return Unit(1, dec)
    while dec > 0 and g % 10 == 0:
        g //= 10
        dec -= 1
    return Unit(g, dec)


def finer(unit: Unit, text: str) -> Unit:
    """A unit that holds both every multiple of `unit` and the value `text`."""
    return unit_of([unit.text, text])


@dataclass(frozen=True)
class Header:
    symbol: str
    depth: int
    source: str
    price_unit: Unit
    size_unit: Unit
    start_ms: int  # the file's UTC hour
    part: int = 0
    created: str = ""
    trade_ids: bool = True  # T records end with the prints' ids (version 1: always)
    ticker_top: bool = True  # K records keep the best bid and ask (version 1: always)
    version: int = VERSION

    def line(self) -> str:
        body = {"version": self.version, "symbol": self.symbol, "depth": self.depth, "source": self.source,
                "price_unit": self.price_unit.text, "size_unit": self.size_unit.text, "start_ms": self.start_ms,
                "part": self.part, "created": self.created}
        if self.version >= 2:
            body.update(trade_ids=self.trade_ids, ticker_top=self.ticker_top)
        return f"{MAGIC} {self.version} {json.dumps(body, separators=(',', ':'))}\n"

    @staticmethod
    def parse(line: str, where: str) -> Header:
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) < 3 or parts[0] != MAGIC:
            raise FormatError(f"{where}: not a Whalebot book recording (no {MAGIC} header on line 1)")
        if parts[1] not in {str(v) for v in READS}:
            raise FormatError(f"{where}: recording format version {parts[1]}; this Whalebot reads versions "
                              f"{', '.join(map(str, READS))}")
        version = int(parts[1])
        try:
            body: dict[str, Any] = json.loads(parts[2])
            v2 = version >= 2
            return Header(str(body["symbol"]), int(body["depth"]), str(body["source"]),
                          Unit.parse(body["price_unit"]), Unit.parse(body["size_unit"]), int(body["start_ms"]),
                          int(body.get("part", 0)), str(body.get("created", "")),
                          bool(body["trade_ids"]) if v2 else True, bool(body["ticker_top"]) if v2 else True, version)
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"{where}: bad header ({exc})") from exc


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def pack_id(trade_id: str) -> str:
    """A trade id as a T record writes it: `-` for none, a lowercase UUID (Bybit's ids) as `~` and
    its 128 bits as a decimal number (random ids do not compress; in a stream of digits gzip codes
    a digit in ~3.4 bits, so 39 digits take ~16.5 bytes where the 36 characters took ~25), anything
    else as it is (spaces made `_`)."""
    if not trade_id:
        return NO_ID
    if _UUID.match(trade_id):
        return f"~{uuid.UUID(trade_id).int}"
    return trade_id.replace(" ", "_")


def unpack_id(text: str) -> str:
    if text == NO_ID:
        return ""
    if text.startswith("~") and text[1:].isdigit():
        return str(uuid.UUID(int=int(text[1:])))
    return text


def hour_start(ms: int) -> int:
    return ms - ms % HOUR_MS


def file_name(symbol: str, start_ms: int, part: int = 0) -> str:
    stamp = datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y-%m-%dT%H")
    return f"{symbol}-{stamp}{f'.{part}' if part else ''}{SUFFIX}"


def parse_file_name(path: Path) -> tuple[str, int, int] | None:
    """(symbol, hour start ms, part) from a recording file's name, or None."""
    m = _NAME.match(path.name)
    if m is None:
        return None
    start = datetime.strptime(f"{m['day']}T{m['hour']}", "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return m["symbol"], int(start.timestamp() * 1000), int(m["part"] or 0)


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
