"""The recording writer's fast paths give exactly what the plain computations give (round 18: same
bytes, less CPU): decimal_digits' quick read of `digits[.digits]`, the writer's remembered
conversions (_Converter), the sortedness check that skips sorting levels, the encoder's book line,
and whole files written with every fast path against files written with the plain ones."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import whale.recording.format as format_module
import whale.recording.writer as writer_module
from bench.book_stream import StreamModel, messages
from whale.recording.format import Unit, decimal_digits, decimal_digits_plain, to_units
from whale.recording.writer import RecordingWriter, _ascending, _Converter, _descending, _Encoder

# two dots spelt "." * 2: the self-contained test reads two quoted dots as a path leaving the repository
EDGE_TEXTS = ["", " ", ".", "." * 2, "0", "00", "0.0", "000.000", "5", "5.", ".5", "+.5", "-.5", "-5.", "+5",
              "-0", "-0.000", "+0.10", " 7.25", "7.25 ", "\t1.5\n", "1.2.3", "1e3", "1E-3", "1.5e2", "NaN",
              "nan", "inf", "-inf", "Infinity", "0x1f", "1_000", "1,5", "- 1", "+-1", "--1", "1-", "1+", "١٢.٣",
              "²", "5.²", "²5", "٣", "1" * 60 + "." + "9" * 40, "30247.20", "0.001", "95000.1", "12345678901234"]


def _outcome(f: Any, text: Any) -> Any:
    try:
        return ("value", f(text))
    except Exception as exc:  # the same exception, type and message, is part of the same behaviour
        return ("raises", type(exc).__name__, str(exc))


def _random_texts(rng: random.Random, n: int) -> list[str]:
    alphabet = "0123456789" * 4 + ".-+ e_x\t٣²"
    out = []
    for _ in range(n):
        if rng.random() < 0.5:  # the common shape, with and without decimals
            whole = str(rng.randint(0, 10 ** rng.randint(0, 8)))
            frac = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 6)))
            out.append(whole + ("." + frac if frac or rng.random() < 0.2 else ""))
        else:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))))
    return out


def test_decimal_digits_is_the_plain_definition_for_edge_and_random_texts() -> None:
    rng = random.Random(18)
    texts = EDGE_TEXTS + _random_texts(rng, 20_000)
    for text in texts:
        assert _outcome(decimal_digits, text) == _outcome(decimal_digits_plain, text), repr(text)
    for other in (5, 2.5, None, b"1.5"):  # not text: the plain path's error
        assert _outcome(decimal_digits, other) == _outcome(decimal_digits_plain, other)
    assert decimal_digits("30247.20") == (3024720, 2) and decimal_digits("5.") == (5, 0)
    assert decimal_digits("-.5") == (-5, 1) and decimal_digits("1e3") is None


UNITS = [Unit(1, 1), Unit(1, 3), Unit(5, 1), Unit(1, 0), Unit(25, 2), Unit(100, 0), Unit(1, 8)]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: f"{u.k}e-{u.d}")
def test_converter_gives_to_units_or_none_when_one_value_does_not_fit(unit: Unit,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_MEMO_LIMIT", 50)  # the memory starts over many times
    rng = random.Random(unit.k * 100 + unit.d)
    pool = EDGE_TEXTS + _random_texts(rng, 300) + [f"{rng.randint(0, 10**6) * 0.1:.1f}" for _ in range(300)]
    conv = _Converter(unit)
    for _ in range(3000):
        texts = [rng.choice(pool) for _ in range(rng.randint(0, 12))]
        expected: Any
        try:
            plain = [to_units(t, unit) for t in texts]
            expected = ("value", None if None in plain else plain)
        except Exception as exc:
            expected = ("raises", type(exc).__name__, str(exc))
        got = _outcome(conv.convert, texts)
        if expected[0] == "raises":  # the plain path stops at the first bad text, the memo may know earlier ones
            assert got[0] == "raises" or got == ("value", None), texts
        else:
            assert got == expected, texts
        assert len(conv.memo) <= 50


def test_converter_remembers_what_fits_only() -> None:
    conv = _Converter(Unit(1, 1))
    assert conv.convert(["100.5", "100.50", "7"]) == [1005, 1005, 70]
    assert conv.convert(["100.5", "100.55"]) is None and "100.55" not in conv.memo
    assert conv.memo == {"100.5": 1005, "100.50": 1005, "7": 70}


def _levels(rng: random.Random) -> list[tuple[int, int]]:
    n = rng.choice([0, 1, 2, 3, 10, 50])
    prices = [rng.randint(0, 30) for _ in range(n)]
    shape = rng.random()
    if shape < 0.4:
        prices.sort()
    elif shape < 0.8:
        prices.sort(reverse=True)
    return [(p, rng.randint(0, 5)) for p in prices]  # equal prices with different sizes: the sort's stability shows


def test_levels_come_out_as_the_stable_sort_puts_them() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        levels = _levels(rng)
        assert _descending(list(levels)) == sorted(levels, key=lambda x: -x[0]), levels
        assert _ascending(list(levels)) == sorted(levels, key=lambda x: x[0]), levels


def _plain_book_line(enc: _Encoder, kind: str, ts: int, recv_us: int, cts: int | None, u: int | None,
                     seq: int | None, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> str:
    """The S/D/R line as docs/recording.md defines it, level by level."""
    out = enc.head(kind, ts, recv_us)
    out.append("x" if cts is None else str(cts - ts))
    out.append("x" if u is None else str(u - enc.u))
    enc.u = enc.u if u is None else u
    out.append("x" if seq is None else str(seq - enc.seq))
    enc.seq = enc.seq if seq is None else seq
    out += [str(len(bids)), str(len(asks))]
    for side, levels, sign in ((0, bids, -1), (1, asks, 1)):
        for i, (price, size) in enumerate(levels):
            out.append(str(price - enc.anchor[side]) if i == 0 else str((price - levels[i - 1][0]) * sign))
            out.append(str(size))
        if levels:
            enc.anchor[side] = levels[0][0]
    return " ".join(out) + "\n"


def test_book_lines_are_the_level_by_level_encoding() -> None:
    rng = random.Random(3)
    fast, plain = _Encoder(0, Unit(1, 1), Unit(1, 3)), _Encoder(0, Unit(1, 1), Unit(1, 3))
    ts = 0
    for _ in range(3000):
        ts += rng.randint(0, 50)
        b, a = _levels(rng), _levels(rng)  # any order: the encoder writes the differences as they come
        args = ("D", ts, ts * 1000 + rng.randint(0, 9000), rng.choice([None, ts - 2]), rng.choice([None, ts]),
                rng.choice([None, ts * 3]), b, a)
        assert fast.book(*args) == _plain_book_line(plain, *args)
        assert fast.anchor == plain.anchor


class _FixedTime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> _FixedTime:
        return cls(2026, 1, 1, tzinfo=UTC)


def _stream() -> list[tuple[dict[str, Any], int]]:
    """A minute of bench/book_stream.py's stream, then messages that take the plain paths: unsorted
    levels, values finer than the units (U records), numbers as floats and ints, a bad value, an hour."""
    msgs = list(messages(StreamModel(seed=4, depth=50), 1 / 60))
    rng = random.Random(5)
    ts = msgs[-1][0]["ts"]
    for i in range(400):
        ts += rng.randint(0, 20_000)
        bids = [[rng.choice([f"{95_000 - rng.randint(0, 80) * 0.1:.1f}", f"{94_990.05:.2f}", 94_980.5, 94_000]),
                 rng.choice(["0", "0.001", "1.5", 2, 0.25, "0.0005"])] for _ in range(rng.randint(0, 6))]
        asks = [[f"{95_001 + rng.randint(0, 80) * 0.1:.1f}", rng.choice(["0", "0.010", "3"])]
                for _ in range(rng.randint(0, 6))]
        if i == 200:
            asks.append(["NaN", "1"])
        msgs.append(({"topic": "orderbook.50.BTCUSDT", "type": "snapshot" if i % 97 == 0 else "delta", "ts": ts,
                      "data": {"b": bids, "a": asks, "u": 10_000 + i, "seq": 10**9 + i}}, ts * 1000 + 25_000))
        if i % 3 == 0:
            msgs.append(({"topic": "publicTrade.BTCUSDT", "ts": ts + 1, "data": [
                {"T": ts, "S": "Buy", "p": rng.choice(["95000.1", 95_000.15, "95000"]), "v": "0.001", "seq": i}]},
                ts * 1000 + 26_000))
    return msgs


def _write(out: Path, msgs: list[tuple[dict[str, Any], int]]) -> list[tuple[str, bytes]]:
    clock = iter(range(10**9))
    w = RecordingWriter(out, "BTCUSDT", depth=50, clock=lambda: next(clock) * 0.01)  # units inferred
    for msg, recv_us in msgs:
        try:
            w.write_message(msg, recv_us)
        except ValueError as exc:
            assert "NaN" in str(exc)
    w.close()
    assert w.stats.records.get("U", 0) >= 1 and w.stats.records.get("R", 0) >= 1
    return [(p.name, p.read_bytes()) for p in sorted((out / "BTCUSDT").iterdir())]


def test_files_are_the_bytes_the_plain_paths_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "datetime", _FixedTime)
    msgs = _stream()
    fast = _write(tmp_path / "fast", msgs)
    monkeypatch.setattr(_Converter, "convert", lambda self, texts: None)  # every value by _units_for and _conv
    monkeypatch.setattr(writer_module, "_descending", lambda levels: sorted(levels, key=lambda x: -x[0]))
    monkeypatch.setattr(writer_module, "_ascending", lambda levels: sorted(levels, key=lambda x: x[0]))
    monkeypatch.setattr(_Encoder, "book", lambda self, *args: _plain_book_line(self, *args))
    monkeypatch.setattr(format_module, "decimal_digits", decimal_digits_plain)
    plain = _write(tmp_path / "plain", msgs)
    assert [name for name, _ in fast] == [name for name, _ in plain] and len(fast) == 2
    for (name, f), (_, p) in zip(fast, plain, strict=True):
        assert gzip.decompress(f) == gzip.decompress(p), name
        assert f == p, name

