"""`python whalebot.py import-tardis`: Tardis.dev's CSV files (Bybit) into a book recording."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from whale.cli import main
from whale.recording.reader import BookEvent, GapEvent, RecordingReader, TradeEvent

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "tardis"
BOOK = FIXTURES / "bybit_incremental_book_L2_2024-06-01_BTCUSDT.csv"
TRADES = FIXTURES / "bybit_trades_2024-06-01_BTCUSDT.csv.gz"
T0 = 1_717_200_000_000  # 2024-06-01 00:00 UTC, ms
BOOK_HEAD = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
TRADE_HEAD = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def test_the_sample_imports_into_the_recording_it_describes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rec"
    assert main(["import-tardis", "--book", str(BOOK), "--trades", str(TRADES), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "imported 6 book messages (2 snapshots, 16 level changes) and 3 trade messages (4 prints)" in printed
    assert "skipped 1 book rows before the first snapshot" in printed and "wrote 2 files" in printed
    assert sorted(p.name for p in (out / "BTCUSDT").iterdir()) == ["BTCUSDT-2024-06-01T00.wbr.gz",
                                                                  "BTCUSDT-2024-06-01T01.wbr.gz"]
    header = gzip.open(out / "BTCUSDT" / "BTCUSDT-2024-06-01T00.wbr.gz", "rt").readline()
    assert '"source":"tardis"' in header and '"depth":3' in header
    events = list(RecordingReader(out).events())
    kinds = [(type(e).__name__, getattr(e, "snapshot", None)) for e in events]
    assert kinds == [("GapEvent", None), ("BookEvent", True), ("TradeEvent", None), ("BookEvent", False),
                     ("TradeEvent", None), ("BookEvent", False), ("GapEvent", None), ("BookEvent", True),
                     ("BookEvent", False), ("TradeEvent", None), ("BookEvent", False)]
    snap = events[1]
    assert isinstance(snap, BookEvent)
    assert snap.bids == [(67500.4, 2.1), (67500.0, 0.35), (67499.9, 12.5)]
    assert snap.asks == [(67500.5, 1.2), (67500.6, 0.8), (67501.0, 3.5)]  # the amount-0 row is no level
    assert (snap.ts, snap.recv_us, snap.u, snap.seq, snap.cts) == (T0, T0 * 1000 + 2000, None, None, None)
    pair = events[2]
    assert isinstance(pair, TradeEvent) and pair.ts == T0 + 51 and pair.recv_us == T0 * 1000 + 60_000
    assert [(t.ts, t.side, t.price, t.size, t.trade_id) for t in pair.trades] == [
        (T0 + 50, "Buy", 67500.5, 0.002, ""), (T0 + 51, "Buy", 67500.5, 0.1, "")]  # ids: only with --trade-ids
    delta = events[3]
    assert isinstance(delta, BookEvent)
    assert delta.bids == [(67500.4, 1.6)] and delta.asks == [(67500.5, 0.0), (67500.7, 0.25)]
    assert isinstance(events[5], BookEvent) and events[5].bids == [(67499.9, 0.0), (67498.8, 4.0)]
    gap = events[6]
    assert isinstance(gap, GapEvent) and "a new snapshot in the Tardis data at line 15" in gap.reason
    unknown = events[9]
    assert isinstance(unknown, TradeEvent) and unknown.trades[0].side == "" and unknown.trades[0].trade_id == ""
    # the second hour read alone starts from the book as it stood
    second = list(RecordingReader(out, start_ms=T0 + 3_600_000).events())
    assert isinstance(second[0], BookEvent) and second[0].synthetic
    assert second[0].bids == [(67510.0, 1.0)] and second[0].asks == [(67510.5, 1.5)]


def test_either_file_alone(tmp_path: Path) -> None:
    assert main(["import-tardis", "--trades", str(TRADES), "--out", str(tmp_path / "t")]) == 0
    assert [type(e).__name__ for e in RecordingReader(tmp_path / "t").events()].count("TradeEvent") == 3
    assert main(["import-tardis", "--book", str(BOOK), "--out", str(tmp_path / "b")]) == 0
    assert "TradeEvent" not in {type(e).__name__ for e in RecordingReader(tmp_path / "b").events()}


def _bad(tmp_path: Path, name: str, text: str, gz: bool = False) -> Path:
    path = tmp_path / name
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


ROW = "bybit,BTCUSDT,1717200000000000,1717200000002000,true,bid,67500.4,2.1\n"


@pytest.mark.parametrize(("kind", "text", "line", "message"), [
    ("book", "exchange,symbol,timestamp,local_timestamp,side,price,amount\n", 1,
     "missing column is_snapshot: a Tardis incremental_book_L2 file has exchange,symbol,timestamp"),
    ("trades", "exchange,symbol,timestamp,id,side,price\n", 1, "missing columns local_timestamp, amount"),
    ("book", BOOK_HEAD + ROW + "bybit,BTCUSDT,1717200000100000,1717200000001000,false,bid,67500.4,1\n", 3,
     "local_timestamp 1717200000001000 is before the row above (1717200000002000): the rows are not in time order"),
    ("book", BOOK_HEAD + "bybit,BTCUSDT,1717200000100000,1717200000105000,false,bid,67500.4,1\n", 2,
     "a book update before any snapshot, and no snapshot (is_snapshot=true rows) in the whole file"),
    ("book", BOOK_HEAD + ROW.replace("bybit,", "binance-futures,"), 2,
     "exchange 'binance-futures' is not Bybit (Tardis calls Bybit's derivatives 'bybit')"),
    ("book", BOOK_HEAD + ROW + ROW.replace("BTCUSDT", "ETHUSDT"), 3,
     "symbol ETHUSDT after BTCUSDT: the file holds several symbols; pick one with --symbol"),
    ("book", BOOK_HEAD + ROW.replace("67500.4,", "abc,"), 2, "price 'abc' is not a positive number"),
    ("book", BOOK_HEAD + ROW.replace(",true,", ",yes,"), 2, "is_snapshot 'yes': expected true or false"),
    ("trades", TRADE_HEAD + "bybit,BTCUSDT,1717200000050000,1717200000060000,x,long,67500.5,0.002\n", 2,
     "side 'long': expected buy, sell or unknown"),
    ("trades", TRADE_HEAD + "bybit,BTCUSDT,17172e9,1717200000060000,x,buy,67500.5,0.002\n", 2,
     "timestamp '17172e9' / local_timestamp '1717200000060000': expected microseconds since the epoch"),
    ("trades", TRADE_HEAD + "bybit,BTCUSDT,1717200000050000,1717200000060000,x,buy,67500.5\n", 2,
     "7 columns where the header has 8"),
])
def test_bad_input_is_one_message_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture, kind: str,
                                                       text: str, line: int, message: str) -> None:
    path = _bad(tmp_path, f"{kind}.csv.gz", text, gz=True)
    out = tmp_path / "out"
    code = main(["import-tardis", f"--{kind}", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {path}, line {line}: {message}" in err
    assert err.count("\n") == 1  # one message


def test_symbol_picks_one_of_several(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    other = ROW.replace("BTCUSDT", "ETHUSDT").replace("67500.4", "3500.1")
    path = _bad(tmp_path, "book.csv", BOOK_HEAD + ROW + other + ROW.replace("bid,67500.4", "ask,67501"))
    assert main(["import-tardis", "--book", str(path), "--out", str(tmp_path / "o"), "--symbol", "ethusdt"]) == 0
    assert "skipped 2 rows of other symbols" in capsys.readouterr().out
    evs = [e for e in RecordingReader(tmp_path / "o").events() if isinstance(e, BookEvent)]
    assert evs[0].symbol == "ETHUSDT" and evs[0].bids == [(3500.1, 2.1)]


def test_files_of_two_symbols_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trades = _bad(tmp_path, "t.csv", TRADE_HEAD + "bybit,ETHUSDT,1717200000050000,1717200000060000,x,buy,3500,1\n")
    assert main(["import-tardis", "--book", str(BOOK), "--trades", str(trades), "--out", str(tmp_path / "o")]) == 2
    assert "symbol ETHUSDT, while" in capsys.readouterr().err


def test_nothing_to_import(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import-tardis", "--out", str(tmp_path / "o")]) == 2
    assert "give --book FILE, --trades FILE or both" in capsys.readouterr().err
    empty = _bad(tmp_path, "empty.csv", BOOK_HEAD)
    assert main(["import-tardis", "--book", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no rows to import" in capsys.readouterr().err
    assert main(["import-tardis", "--book", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_trade_ids_are_kept_when_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    assert main(["import-tardis", "--trades", str(TRADES), "--out", str(out), "--trade-ids"]) == 0
    trades = [e for e in RecordingReader(out).events() if isinstance(e, TradeEvent)]
    assert [t.trade_id for t in trades[0].trades] == ["6a9e4b5c-1f2d-5e3a-9b8c-7d6e5f4a3b2c",
                                                      "0b1c2d3e-4f50-5162-8374-95a6b7c8d9e0"]
