"""The book recording format: writer -> files -> reader (docs/recording.md)."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.paths import BYBIT_EXAMPLES, REPO_ROOT
from whale.recording.format import HOUR_MS, Unit, file_name, to_units
from whale.recording.reader import (
    BookEvent,
    GapEvent,
    KlineEvent,
    RecordingError,
    RecordingReader,
    TickerEvent,
    TradeEvent,
    event_at,
)
from whale.recording.writer import RecordingWriter, TradePrint

HOUR = 1_748_736_000_000  # 2025-06-01 00:00 UTC
EXAMPLES = BYBIT_EXAMPLES


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def book(kind: str, ts: int, bids, asks, u: int, seq: int, symbol: str = "BTCUSDT", cts: int | None = None) -> dict:
    msg = {"topic": f"orderbook.200.{symbol}", "type": kind, "ts": ts,
           "data": {"s": symbol, "b": bids, "a": asks, "u": u, "seq": seq}}
    if cts is not None:
        msg["cts"] = cts
    return msg


SNAP_B = [["95000.1", "1.5"], ["95000.0", "0.25"], ["94999.5", "3"]]
SNAP_A = [["95000.2", "0.7"], ["95000.4", "12.001"], ["95001", "0.002"]]


def write_sample(root: Path, clock: Clock | None = None, **options) -> RecordingWriter:
    """A snapshot, deltas, trades, a ticker snapshot and delta, a kline, a gap and the snapshot after it."""
    w = RecordingWriter(root, "BTCUSDT", depth=200, price_unit="0.1", size_unit="0.001", clock=clock or Clock(),
                        **options)
    w.write_message(book("snapshot", HOUR + 1000, SNAP_B, SNAP_A, 100, 5000, cts=HOUR + 998), (HOUR + 1000) * 1000 + 17)
    w.write_message(book("delta", HOUR + 1100, [["95000.0", "0"], ["95000.3", "2.5"]], [["95000.4", "11"]], 101, 5009,
                         cts=HOUR + 1099), (HOUR + 1100) * 1000 + 20_250)
    trade = json.loads((EXAMPLES / "ws_public_trade.json").read_text())
    trade["ts"] = HOUR + 1150
    trade["topic"] = "publicTrade.BTCUSDT"
    trade["data"] = [dict(trade["data"][0], T=HOUR + 1149, p="95000.2", v="0.010"),
                     {"T": HOUR + 1149, "s": "BTCUSDT", "S": "Sell", "v": "1.2", "p": "95000.1", "i": "",
                      "BT": True, "seq": 1783284620},
                     {"T": HOUR + 1150, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "95000.3", "i": "T-42"}]
    w.write_message(trade, (HOUR + 1150) * 1000 + 3)
    w.write_message({"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": HOUR + 1200, "cs": 77,
                     "data": {"symbol": "BTCUSDT", "lastPrice": "95000.2", "markPrice": "95000.15",
                              "fundingRate": "-0.0001"}}, (HOUR + 1200) * 1000)
    w.write_message({"topic": "tickers.BTCUSDT", "type": "delta", "ts": HOUR + 1300, "cs": 78,
                     "data": {"symbol": "BTCUSDT", "lastPrice": "95000.3"}}, (HOUR + 1300) * 1000)
    kline = json.loads((EXAMPLES / "ws_kline.json").read_text())
    kline["topic"] = "kline.1.BTCUSDT"
    kline["ts"] = HOUR + 1400
    w.write_message(kline, (HOUR + 1400) * 1000)
    w.gap("reconnect after a dropped connection", HOUR + 1500, (HOUR + 1500) * 1000)
    w.write_message(book("delta", HOUR + 1600, [["95000.2", "1"]], [], 102, 5010), (HOUR + 1600) * 1000)
    w.write_message(book("snapshot", HOUR + 1700, [["95000.0", "4"]], [["95000.5", "5"]], 1, 5020),
                    (HOUR + 1700) * 1000)
    return w


def test_every_record_reads_back_as_written(tmp_path: Path) -> None:
    w = write_sample(tmp_path, trade_ids=True, ticker_top=True)
    w.close()
    assert w.stats.dropped == 1  # the delta after the gap, before the snapshot
    events = list(RecordingReader(tmp_path).events())
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["GapEvent", "BookEvent", "BookEvent", "TradeEvent", "TickerEvent", "TickerEvent", "KlineEvent",
                     "GapEvent", "BookEvent"]
    started, snap, delta, trades, tick_s, tick_d, kline, gap, after = events
    assert isinstance(started, GapEvent) and started.reason == "recording started"
    assert isinstance(snap, BookEvent) and snap.snapshot and not snap.synthetic
    assert snap.bids == [(95000.1, 1.5), (95000.0, 0.25), (94999.5, 3.0)]
    assert snap.asks == [(95000.2, 0.7), (95000.4, 12.001), (95001.0, 0.002)]
    assert (snap.ts, snap.recv_us, snap.u, snap.seq, snap.cts) == (HOUR + 1000, (HOUR + 1000) * 1000 + 17, 100, 5000,
                                                                   HOUR + 998)
    assert isinstance(delta, BookEvent) and not delta.snapshot
    assert delta.bids == [(95000.3, 2.5), (95000.0, 0.0)] and delta.asks == [(95000.4, 11.0)]
    assert (delta.u, delta.seq, delta.cts, delta.recv_us) == (101, 5009, HOUR + 1099, (HOUR + 1100) * 1000 + 20_250)
    assert isinstance(trades, TradeEvent)
    t1, t2, t3 = trades.trades
    assert (t1.ts, t1.side, t1.price, t1.size, t1.trade_id, t1.seq, t1.block) == (
        HOUR + 1149, "Buy", 95000.2, 0.01, "20f43950-d8dd-5b31-9112-a178eb6023af", 1783284617, False)
    assert (t2.side, t2.trade_id, t2.seq, t2.block) == ("Sell", "", 1783284620, True)
    assert (t3.trade_id, t3.seq) == ("T-42", None)
    assert isinstance(tick_s, TickerEvent) and tick_s.snapshot and tick_s.cs == 77
    assert tick_s.data == {"lastPrice": "95000.2", "markPrice": "95000.15", "fundingRate": "-0.0001"}
    assert isinstance(tick_d, TickerEvent) and not tick_d.snapshot and tick_d.data == {"lastPrice": "95000.3"}
    assert isinstance(kline, KlineEvent) and kline.candles[0]["close"] == "16677"
    assert isinstance(gap, GapEvent) and gap.reason == "reconnect after a dropped connection"
    assert isinstance(after, BookEvent) and after.snapshot and after.u == 1 and after.bids == [(95000.0, 4.0)]


def test_events_give_back_bybit_messages(tmp_path: Path) -> None:
    write_sample(tmp_path, trade_ids=True).close()
    events = list(RecordingReader(tmp_path).events())
    msg = events[2].to_message(200)
    assert msg["topic"] == "orderbook.200.BTCUSDT" and msg["type"] == "delta" and msg["data"]["u"] == 101
    assert [[float(p), float(q)] for p, q in msg["data"]["b"]] == [[95000.3, 2.5], [95000.0, 0.0]]
    trade = events[3].to_message()
    assert trade["data"][0]["i"] == "20f43950-d8dd-5b31-9112-a178eb6023af" and trade["data"][0]["S"] == "Buy"
    assert events[5].to_message()["data"] == {"symbol": "BTCUSDT", "lastPrice": "95000.3"}


def test_prices_and_sizes_decode_to_the_floats_of_their_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    w = RecordingWriter(tmp_path, "XRPUSDT", depth=50, price_unit="0.0001", size_unit="0.1")
    bids = [[f"{2.5 - k * 0.0001 - rng.integers(0, 3) * 0.0001:.4f}", f"{rng.integers(1, 10**7) / 10:.1f}"]
            for k in range(40)]
    bids = [list(x) for x in dict((p, (p, s)) for p, s in bids).values()]
    asks = [[f"{2.5 + (k + 1) * 0.0001:.4f}", f"{rng.integers(1, 10**7) / 10:.1f}"] for k in range(40)]
    w.write_message(book("snapshot", HOUR + 5, bids, asks, 1, 1, symbol="XRPUSDT"), (HOUR + 5) * 1000)
    w.close()
    ev = [e for e in RecordingReader(tmp_path).events() if isinstance(e, BookEvent)][0]
    assert ev.bids == sorted(((float(p), float(s)) for p, s in bids), reverse=True)
    assert ev.asks == [(float(p), float(s)) for p, s in asks]


def test_a_value_finer_than_the_unit_changes_the_unit_and_reads_back(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path, "BTCUSDT", depth=200, price_unit="0.5", size_unit="0.001")
    w.write_message(book("snapshot", HOUR + 1, [["100.5", "1"], ["100", "2"]], [["101", "1"]], 1, 1), HOUR * 1000)
    w.write_message(book("delta", HOUR + 2, [["100.7", "0.0005"]], [["101.5", "3"]], 2, 2), HOUR * 1000)
    w.close()
    assert w.stats.records["U"] == 1 and w.price_unit == Unit(1, 1) and w.size_unit == Unit(5, 4)
    evs = [e for e in RecordingReader(tmp_path).events() if isinstance(e, BookEvent)]
    assert evs[1].bids == [(100.7, 0.0005)] and evs[1].asks == [(101.5, 3.0)]
    assert to_units("100.70", Unit(1, 1)) == 1007 and to_units("100.75", Unit(1, 1)) is None


def test_a_killed_writer_loses_at_most_the_last_second(tmp_path: Path) -> None:
    """No close(): what was sync-flushed a second ago reads back; the reader says the file ends early."""
    clock = Clock()
    rec = tmp_path / "rec"
    w = RecordingWriter(rec, "BTCUSDT", depth=200, price_unit="0.1", size_unit="0.001", clock=clock)
    w.write_message(book("snapshot", HOUR + 1000, SNAP_B, SNAP_A, 1, 1), 0)
    for i in range(1, 30):
        clock.t = i * 0.1  # the stream's own pace; a flush happens once a second
        w.write_message(book("delta", HOUR + 1000 + i * 100, [["95000.0", str(i)]], [], 1 + i, 1 + i), 0)
    flushed_u = 1 + 20  # the write at t = 2.0 s flushed; the ones after it sit in the compressor
    path = w.path
    assert path is not None
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copytree(path.parent, killed / "BTCUSDT")  # the file as a kill would leave it
    events = list(RecordingReader(killed).events())
    deltas = [e for e in events if isinstance(e, BookEvent) and not e.snapshot]
    assert deltas[-1].u == flushed_u and deltas[-1].bids == [(95000.0, 20.0)]
    assert isinstance(events[-1], GapEvent) and "ends early" in events[-1].reason
    w.tick()  # nothing due yet (0.9 s since the last flush)
    clock.t = 3.1
    w.tick()  # a quiet stream is flushed by tick()
    events = list(RecordingReader(rec).events())
    assert [e for e in events if isinstance(e, BookEvent)][-1].u == 30
    w.close()


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9, 0.999])
def test_a_truncated_file_reads_up_to_its_last_whole_record(tmp_path: Path, cut: float,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "src"
    w = RecordingWriter(src, "BTCUSDT", depth=200, price_unit="0.1", size_unit="0.001", flush_interval_s=0.0)
    w.write_message(book("snapshot", HOUR + 1000, SNAP_B, SNAP_A, 1, 1), 0)
    for i in range(1, 400):
        w.write_message(book("delta", HOUR + 1000 + i * 100, [["95000.0", str(i)]], [["95000.2", str(i)]], 1 + i,
                             1 + i), 0)
    w.close()
    path = w.stats.files[0]
    data = path.read_bytes()
    dst = tmp_path / "dst" / "BTCUSDT"
    dst.mkdir(parents=True)
    (dst / path.name).write_bytes(data[:int(len(data) * cut)])
    whole = zlib.decompressobj(wbits=31).decompress(data[:int(len(data) * cut)]).decode()
    complete = whole[:whole.rfind("\n") + 1].count("\nD ")
    with caplog.at_level(logging.WARNING, logger="whalebot"):
        reader = RecordingReader(tmp_path / "dst")
        events = list(reader.events())
    deltas = [e for e in events if isinstance(e, BookEvent) and not e.snapshot]
    assert len(deltas) == complete > 0
    assert [d.u for d in deltas] == list(range(2, 2 + complete))
    assert isinstance(events[-1], GapEvent) and "ends early" in events[-1].reason
    assert reader.truncated == [dst / path.name]
    assert "stops early" in caplog.text and path.name in caplog.text


def test_rotation_at_the_hour_and_each_file_readable_alone(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path, "BTCUSDT", depth=200, price_unit="0.1", size_unit="0.001")
    w.write_message(book("snapshot", HOUR + HOUR_MS - 200, SNAP_B, SNAP_A, 1, 1), 0)
    w.write_message({"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": HOUR + HOUR_MS - 150,
                     "data": {"symbol": "BTCUSDT", "lastPrice": "1", "markPrice": "2"}}, 0)
    w.write_message(book("delta", HOUR + HOUR_MS - 100, [["95000.0", "9"]], [], 2, 2), 0)
    w.write_message({"topic": "tickers.BTCUSDT", "type": "delta", "ts": HOUR + HOUR_MS - 50,
                     "data": {"symbol": "BTCUSDT", "lastPrice": "3"}}, 0)
    w.write_message(book("delta", HOUR + HOUR_MS + 100, [["95000.1", "0"]], [], 3, 3), 0)
    w.close()
    names = [p.name for p in w.stats.files]
    assert names == [file_name("BTCUSDT", HOUR), file_name("BTCUSDT", HOUR + HOUR_MS)]
    assert names[1] == "BTCUSDT-2025-06-01T01.wbr.gz"
    second = gzip.open(w.stats.files[1], "rt").read().splitlines()
    assert second[1].startswith("R ") and second[2].startswith("K 0 0 r ")
    # read through: the second file's R and K r are the state already known, left out
    kinds = [type(e).__name__ for e in RecordingReader(tmp_path).events()]
    assert kinds == ["GapEvent", "BookEvent", "TickerEvent", "BookEvent", "TickerEvent", "BookEvent"]
    # the second hour alone starts from the writer's copy of the book and ticker
    evs = list(RecordingReader(tmp_path, start_ms=HOUR + HOUR_MS).events())
    r, t, d = evs
    assert isinstance(r, BookEvent) and r.snapshot and r.synthetic and r.ts == HOUR + HOUR_MS
    assert r.bids == [(95000.1, 1.5), (95000.0, 9.0), (94999.5, 3.0)] and r.u == 2
    assert isinstance(t, TickerEvent) and t.synthetic and t.data == {"lastPrice": "3", "markPrice": "2"}
    assert isinstance(d, BookEvent) and d.bids == [(95000.1, 0.0)]


def test_a_window_starts_with_the_book_as_it_stood_and_stops_at_its_end(tmp_path: Path) -> None:
    write_sample(tmp_path).close()
    evs = list(RecordingReader(tmp_path, start_ms=HOUR + 1150, end_ms=HOUR + 1400).events())
    first = evs[0]
    assert isinstance(first, BookEvent) and first.synthetic and first.snapshot
    assert first.bids == [(95000.3, 2.5), (95000.1, 1.5), (94999.5, 3.0)]
    assert first.asks == [(95000.2, 0.7), (95000.4, 11.0), (95001.0, 0.002)] and first.u == 101
    assert [type(e).__name__ for e in evs[1:]] == ["TradeEvent", "TickerEvent", "TickerEvent"]
    assert max(e.ts for e in evs) < HOUR + 1400
    with pytest.raises(RecordingError, match="not before its end"):
        RecordingReader(tmp_path, start_ms=HOUR + 2000, end_ms=HOUR + 1000)


def test_symbols_merge_by_exchange_time_ties_to_the_first_symbol(tmp_path: Path) -> None:
    ws = {s: RecordingWriter(tmp_path, s, depth=50, price_unit="0.1", size_unit="0.001")
          for s in ("ETHUSDT", "BTCUSDT")}
    for s, w in ws.items():
        w.write_message(book("snapshot", HOUR + 10, [["10", "1"]], [["11", "1"]], 1, 1, symbol=s), 0)
    stream = [("BTCUSDT", 20), ("ETHUSDT", 20), ("ETHUSDT", 25), ("BTCUSDT", 30), ("BTCUSDT", 28),  # 28: late
              ("ETHUSDT", 29), ("ETHUSDT", 31), ("BTCUSDT", 31)]
    for u, (s, ts) in enumerate(stream, start=2):
        ws[s].write_message(book("delta", HOUR + ts, [["10", str(u)]], [], u, u, symbol=s), 0)
    for w in ws.values():
        w.close()
    got = [(e.symbol, e.ts - HOUR) for e in RecordingReader(tmp_path).events() if isinstance(e, BookEvent)]
    # BTCUSDT's 28 came after its 30: it keeps its place (time 30 for the merge), ETHUSDT's 29 goes first
    assert got == [("BTCUSDT", 10), ("ETHUSDT", 10), ("BTCUSDT", 20), ("ETHUSDT", 20), ("ETHUSDT", 25),
                   ("ETHUSDT", 29), ("BTCUSDT", 30), ("BTCUSDT", 28), ("BTCUSDT", 31), ("ETHUSDT", 31)]
    only = [e.symbol for e in RecordingReader(tmp_path, symbols=["ethusdt"]).events()]
    assert set(only) == {"ETHUSDT"}
    with pytest.raises(RecordingError, match="no recording of SOLUSDT"):
        RecordingReader(tmp_path, symbols=["SOLUSDT"])


def test_a_second_writer_in_the_same_hour_adds_a_part(tmp_path: Path) -> None:
    for start in (0, 1):
        w = RecordingWriter(tmp_path, "BTCUSDT", depth=50, price_unit="0.1", size_unit="0.001")
        w.write_message(book("snapshot", HOUR + 100 + start * 100, [["10", "1"]], [["11", str(start + 1)]], 1, 1), 0)
        w.close()
    names = sorted(p.name for p in (tmp_path / "BTCUSDT").iterdir())
    assert names == ["BTCUSDT-2025-06-01T00.1.wbr.gz", "BTCUSDT-2025-06-01T00.wbr.gz"]
    evs = list(RecordingReader(tmp_path).events())
    assert [type(e).__name__ for e in evs] == ["GapEvent", "BookEvent", "GapEvent", "BookEvent"]
    assert [e.asks for e in evs if isinstance(e, BookEvent)] == [[(11.0, 1.0)], [(11.0, 2.0)]]


def _hand_made(root: Path, lines: list[str]) -> Path:
    d = root / "BTCUSDT"
    d.mkdir(parents=True, exist_ok=True)
    head = ('#WBR 1 {"version":1,"symbol":"BTCUSDT","depth":50,"source":"bybit","price_unit":"0.1",'
            f'"size_unit":"0.001","start_ms":{HOUR},"part":0}}\n')
    path = d / file_name("BTCUSDT", HOUR)
    with gzip.open(path, "wt") as f:
        f.write(head + "".join(line + "\n" for line in lines))
    return path


def test_a_delta_after_a_gap_before_a_snapshot_is_refused(tmp_path: Path) -> None:
    path = _hand_made(tmp_path, ["S 5 0 x 1 1 1 1 100 1 101 1", "G 1 0 reconnect", "D 1 0 x 1 1 1 0 0 2"])
    with pytest.raises(RecordingError, match=rf"{path.name}, line 4: a book delta with no snapshot since the gap"):
        list(RecordingReader(tmp_path).events())
    shutil.rmtree(tmp_path / "BTCUSDT")
    path = _hand_made(tmp_path, ["D 1 0 x 1 1 1 0 100 2"])
    with pytest.raises(RecordingError, match=rf"{path.name}, line 2: a book delta with no snapshot since the start"):
        list(RecordingReader(tmp_path).events())


@pytest.mark.parametrize(("line", "what"), [("D 1 0 x 1 1 2 0 100", "malformed record"),
                                             ("S 5 0 x 1 1 1 1 100 1 101 1 extra", "malformed record"),
                                             ("Q 1 2 3", "unknown record kind")])
def test_a_damaged_record_names_the_file_and_line(tmp_path: Path, line: str, what: str) -> None:
    path = _hand_made(tmp_path, ["S 5 0 x 1 1 1 1 100 1 101 1", line])
    with pytest.raises(RecordingError, match=rf"{path.name}, line 3: {what}"):
        list(RecordingReader(tmp_path).events())


@pytest.mark.parametrize(("line", "what"), [("K 1 0 s x {\"lastPrice\":", "a ticker record is damaged"),
                                             ("K 1 0 s", "a ticker record is damaged"),
                                             ("K 1 0 s 12z {}", "a ticker record is damaged")])
def test_a_damaged_ticker_names_the_file_and_line(tmp_path: Path, line: str, what: str) -> None:
    path = _hand_made(tmp_path, ["S 5 0 x 1 1 1 1 100 1 101 1", line])
    for read in (lambda: list(RecordingReader(tmp_path).events()),
                 lambda: [event_at(b, i) for b, lo, hi in RecordingReader(tmp_path).views() for i in range(lo, hi)]):
        with pytest.raises(RecordingError, match=rf"{path.name}, line 3: {what}"):
            read()


def test_a_damaged_kline_names_the_file_and_line_when_read(tmp_path: Path) -> None:
    path = _hand_made(tmp_path, ["S 5 0 x 1 1 1 1 100 1 101 1", 'L 1 0 [{"start":1,'])
    kline = list(RecordingReader(tmp_path).events())[-1]  # its JSON is parsed on first read
    assert isinstance(kline, KlineEvent)
    with pytest.raises(RecordingError, match=rf"{path.name}, line 3: a kline record's JSON is damaged"):
        _ = kline.candles
    b, lo, _hi = next(iter(RecordingReader(tmp_path).views()))
    with pytest.raises(RecordingError, match=rf"{path.name}, line 3: a kline record's JSON is damaged"):
        event_at(b, lo + 1)


def test_not_a_recording(tmp_path: Path) -> None:
    d = tmp_path / "BTCUSDT"
    d.mkdir()
    with gzip.open(d / file_name("BTCUSDT", HOUR), "wt") as f:
        f.write("timestamp_ms,open,high,low,close,volume\n")
    with pytest.raises(RecordingError, match="not a Whalebot book recording"):
        list(RecordingReader(tmp_path).events())
    (d / file_name("BTCUSDT", HOUR)).write_bytes(b"not gzip at all")
    with pytest.raises(RecordingError, match="not a readable gzip stream"):
        list(RecordingReader(tmp_path).events())
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingError, match="no recording files"):
        RecordingReader(tmp_path / "empty")
    with pytest.raises(RecordingError, match="no such directory"):
        RecordingReader(tmp_path / "missing")


def test_small_read_chunks_give_the_same_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records cut across reads and many batches per file: the decoder's state carries over, and the
    merge of two symbols is the same."""
    rng = np.random.default_rng(5)
    for symbol, offset in (("BTCUSDT", 0), ("ETHUSDT", 3)):
        w = RecordingWriter(tmp_path, symbol, depth=50, price_unit="0.1", size_unit="0.001")
        w.write_message(book("snapshot", HOUR + offset, SNAP_B, SNAP_A, 1, 1, symbol=symbol), 0)
        for i in range(1, 300):
            ts = HOUR + offset + i * 7 + int(rng.integers(0, 3))
            w.write_message(book("delta", ts, [[f"{95000 - int(rng.integers(0, 9)) / 10:.1f}",
                                               str(int(rng.integers(0, 5)))]], [], 1 + i, 1 + i, symbol=symbol),
                            ts * 1000 + int(rng.integers(0, 99)))
            if i % 7 == 0:
                w.trades(ts, ts * 1000, [TradePrint(ts, 1, "95000.2", "0.01", f"id-{i}", i)])
        w.close()
    whole = [(type(e).__name__, e.symbol, e.ts, getattr(e, "bids", None), getattr(e, "trades", None))
             for e in RecordingReader(tmp_path).events()]
    monkeypatch.setattr("whale.recording.reader.CHUNK", 97)
    pieces = [(type(e).__name__, e.symbol, e.ts, getattr(e, "bids", None), getattr(e, "trades", None))
              for e in RecordingReader(tmp_path).events()]
    assert pieces == whole and len(whole) > 600


def test_after_a_cut_off_file_the_next_files_book_is_used(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path, "BTCUSDT", depth=200, price_unit="0.1", size_unit="0.001", flush_interval_s=0.0)
    w.write_message(book("snapshot", HOUR + 1000, SNAP_B, SNAP_A, 1, 1), 0)
    for i in range(1, 200):
        w.write_message(book("delta", HOUR + 1000 + i * 100, [["95000.0", str(i)]], [], 1 + i, 1 + i), 0)
    w.write_message(book("delta", HOUR + HOUR_MS + 5, [["95000.1", "7"]], [], 300, 300), 0)
    w.close()
    first = w.stats.files[0]
    first.write_bytes(first.read_bytes()[:-400])  # the first hour's end is lost
    evs = [e for e in RecordingReader(tmp_path).events() if e.ts >= HOUR + HOUR_MS - 1 or isinstance(e, GapEvent)]
    gap, r, d = evs[-3:]
    assert isinstance(gap, GapEvent) and "ends early" in gap.reason
    assert isinstance(r, BookEvent) and r.synthetic and r.bids[1] == (95000.0, 199.0)
    assert isinstance(d, BookEvent) and d.bids == [(95000.1, 7.0)]


def test_a_message_of_the_wrong_shape_is_refused_and_nothing_written(tmp_path: Path) -> None:
    from whale.recording.format import FormatError

    w = RecordingWriter(tmp_path, "BTCUSDT", depth=50, price_unit="0.1", size_unit="0.001")
    w.write_message(book("snapshot", HOUR + 1, SNAP_B, SNAP_A, 1, 1), 0)
    bad = [{"topic": "publicTrade.BTCUSDT", "ts": HOUR + 2, "data": [{"S": "Buy", "v": "1"}]},
           {"topic": "orderbook.200.BTCUSDT", "ts": HOUR + 3, "type": "delta", "data": [1, 2]},
           book("delta", HOUR + 4, [["NaN", "1"]], [], 2, 2),
           {"topic": "liquidation.BTCUSDT", "ts": HOUR + 5, "data": {}}]
    for msg in bad:
        with pytest.raises(FormatError, match=msg["topic"].split(".")[0]):
            w.write_message(msg, 0)
    w.close()
    assert [type(e).__name__ for e in RecordingReader(tmp_path).events()] == ["GapEvent", "BookEvent"]


def test_by_default_neither_trade_ids_nor_the_tickers_best_prices_are_kept(tmp_path: Path) -> None:
    """Random UUID trade ids (~25 MB a day) serve no decision, and the book holds the best bid and ask;
    a ticker delta of nothing else is not written at all."""
    w = write_sample(tmp_path)
    top = {"bid1Price": "95000.1", "bid1Size": "1.5", "ask1Price": "95000.2", "ask1Size": "0.7"}
    w.write_message({"topic": "tickers.BTCUSDT", "type": "delta", "ts": HOUR + 1800, "cs": 79,
                     "data": {"symbol": "BTCUSDT", "ask1Price": "95000.3", "ask1Size": "2"}}, (HOUR + 1800) * 1000)
    w.write_message({"topic": "tickers.BTCUSDT", "type": "delta", "ts": HOUR + 1900, "cs": 80,
                     "data": {"symbol": "BTCUSDT", **top, "markPrice": "95000.2"}}, (HOUR + 1900) * 1000)
    w.write_message(book("delta", HOUR_MS + HOUR + 5, [["95000.0", "5"]], [], 2, 5021), (HOUR_MS + HOUR + 5) * 1000)
    w.close()
    assert w.stats.top_only_tickers == 1
    with gzip.open(w.stats.files[0], "rt") as f:
        header = json.loads(f.readline().split(" ", 2)[2])
    assert header["version"] == 2 and header["trade_ids"] is False and header["ticker_top"] is False
    events = list(RecordingReader(tmp_path).events())
    trades = next(e for e in events if isinstance(e, TradeEvent))
    assert [t.trade_id for t in trades.trades] == ["", "", ""]
    assert [(t.price, t.size, t.seq) for t in trades.trades] == [
        (95000.2, 0.01, 1783284617), (95000.1, 1.2, 1783284620), (95000.3, 0.001, None)]
    tickers = [e.data for e in events if isinstance(e, TickerEvent)]
    assert tickers == [{"lastPrice": "95000.2", "markPrice": "95000.15", "fundingRate": "-0.0001"},
                       {"lastPrice": "95000.3"}, {"markPrice": "95000.2"}]
    # the next hour's file starts with the merged ticker, without the best prices either
    second = list(RecordingReader(tmp_path, start_ms=HOUR + HOUR_MS).events())
    assert [e.data for e in second if isinstance(e, TickerEvent)] == [
        {"lastPrice": "95000.3", "markPrice": "95000.2", "fundingRate": "-0.0001"}]


def test_version_1_files_still_read() -> None:
    """A file written by the version 1 writer (tests/fixtures/recording_v1: trade ids and the tickers'
    best prices kept) reads as it did."""
    root = REPO_ROOT / "tests" / "fixtures" / "recording_v1"
    want = json.loads((root / "events.json").read_text())
    got = []
    for ev in RecordingReader(root).events():
        d = {"kind": type(ev).__name__}
        for k in ev.__slots__:
            if k in ("columns", "prints", "text", "where"):
                # the levels, prints or candles again in another form, or the record's file and line: not compared,
                # not part of the event
                continue
            v = getattr(ev, k)
            if k == "trades":
                v = [list(t) for t in v]
            elif k in ("bids", "asks"):
                v = [list(x) for x in v]
            d[k] = v
        got.append(d)
    assert got == want
    assert any(t[4] == "20f43950-d8dd-5b31-9112-a178eb6023af" for e in got if e["kind"] == "TradeEvent"
               for t in e["trades"])


@pytest.mark.parametrize("ids", [False, True])
def test_events_built_from_the_columns_are_event_at_s(tmp_path: Path, ids: bool) -> None:
    """RecordingReader.events() builds book and trade events from a run's columns (the replay's fast
    path): the same events, field for field, as event_at record by record."""
    from bench.book_stream import StreamModel, messages
    from whale.recording.reader import event_at

    model = StreamModel(seed=3)
    w = RecordingWriter(tmp_path, model.symbol, depth=model.depth, price_unit=str(model.tick),
                        size_unit=str(model.step), trade_ids=ids, ticker_top=ids)
    for msg, recv in messages(model, 0.02):
        w.write_message(msg, recv)
    w.close()
    slow = [e for b, lo, hi in RecordingReader(tmp_path).views() for i in range(lo, hi)
            if (e := event_at(b, i)) is not None]
    fast = list(RecordingReader(tmp_path).events())
    assert fast == slow
    kinds = {type(e).__name__ for e in fast}
    assert {"BookEvent", "TradeEvent", "TickerEvent"} <= kinds
    assert any(t.trade_id for e in fast if isinstance(e, TradeEvent) for t in e.trades) == ids


def test_iterating_the_lookahead_is_peek_and_pop(tmp_path: Path) -> None:
    """Lookahead iteration (a replay's loop) gives the events of peek/pop, each once and in order, with reads
    ahead (read_through) and events put back in between; what it reads ahead (book_updates) is the same."""
    from bench.book_stream import StreamModel, messages
    from whale.recording.lookahead import Lookahead

    model = StreamModel(seed=5)
    w = RecordingWriter(tmp_path, model.symbol, depth=model.depth, price_unit=str(model.tick),
                        size_unit=str(model.step))
    for msg, recv in messages(model, 0.01):
        w.write_message(msg, recv)
    w.close()
    slow = Lookahead(RecordingReader(tmp_path).timed_events())
    want = []
    while slow.peek() is not None:
        want.append(slow.pop())
    assert len(want) > 100
    fast = Lookahead(RecordingReader(tmp_path).timed_events())
    got = []
    for n, (key, ev) in enumerate(fast):
        if n % 7 == 3:  # put back, read ahead meanwhile (a candle close's pass), taken again
            fast.put_back(key, ev)
            fast.read_through(key + 500)
            first = next(fast.book_updates(model.symbol))
            if isinstance(ev, BookEvent):  # it is still to come: the book read ahead starts with it
                assert (first.ts, first.bids, first.asks) == (key, ev.bids, ev.asks)
            assert fast.pop() == (key, ev)
        elif n % 5 == 1:
            fast.read_through(key + 300)  # a market order's fill reads ahead
        got.append((key, ev))
    assert got == want and fast.done


@pytest.mark.parametrize("window", [False, True])
def test_timed_events_keep_each_symbols_newest_time(tmp_path: Path, window: bool) -> None:
    """timed_events' key is the running maximum of each symbol's event times from 0 (the clock a replay plays
    the events at): on two symbols of the bench stream (whose times sometimes go back), from its start and from
    a window inside it."""
    from bench.book_stream import StreamModel, messages

    for symbol, seed in (("BTCUSDT", 5), ("ETHUSDT", 3)):
        model = StreamModel(seed=seed, symbol=symbol)
        w = RecordingWriter(tmp_path, symbol, depth=model.depth, price_unit=str(model.tick),
                            size_unit=str(model.step))
        for msg, recv in messages(model, 0.02):
            w.write_message(msg, recv)
        w.close()
    first = next(RecordingReader(tmp_path).events()).ts
    start_ms = first + 30_000 if window else None
    want: list[tuple[int, object]] = []
    clock: dict[str, int] = {}
    back = 0
    for ev in RecordingReader(tmp_path, start_ms=start_ms).events():
        back += ev.ts < clock.get(ev.symbol, 0)
        clock[ev.symbol] = max(clock.get(ev.symbol, 0), ev.ts)
        want.append((clock[ev.symbol], ev))
    got = list(RecordingReader(tmp_path, start_ms=start_ms).timed_events())
    assert [k for k, _ in got] == [k for k, _ in want] and [e for _, e in got] == [e for _, e in want]
    assert set(clock) == {"BTCUSDT", "ETHUSDT"} and back > 0  # times that go back are in it
