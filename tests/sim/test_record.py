"""`record` against the simulator over real sockets: what it writes reads back as what the simulator
sent, a dropped stream leaves a gap marker and then a snapshot, and the command as a process stops
cleanly on SIGTERM and --hours and loses at most about the last second to kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sim_helpers import WsClient

from tests.paths import REPO_ROOT
from whale.bybit.endpoints import custom_endpoints
from whale.market.instruments import instrument_for
from whale.recording.reader import BookEvent, GapEvent, RecordingReader, TradeEvent
from whale.recording.recorder import Recorder

pytestmark = pytest.mark.net

BTC = "BTCUSDT"
TOPICS = ("orderbook.200", "publicTrade", "tickers", "kline.1")
TOP = 25  # book levels a side compared


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _recorder(sim, out: Path, **kw) -> Recorder:
    return Recorder(custom_endpoints(sim.rest_url), [BTC], out, depth=200, source="sim",
                    instruments={BTC: instrument_for(BTC)}, manager_options={"backoff": (0.1, 1.0)}, **kw)


def _apply(book: dict[str, dict[float, float]], snapshot: bool, bids, asks) -> None:
    if snapshot:
        book["b"].clear()
        book["a"].clear()
    for side, levels in (("b", bids), ("a", asks)):
        for price, size in levels:
            if float(size) == 0:
                book[side].pop(float(price), None)
            else:
                book[side][float(price)] = float(size)


def _top(book: dict[str, dict[float, float]]) -> tuple[list, list]:
    return (sorted(book["b"].items(), reverse=True)[:TOP], sorted(book["a"].items())[:TOP])


def test_a_recording_of_the_simulator_reads_back_as_what_it_sent(make_sim, tmp_path):
    sim = make_sim()  # lockstep: nothing moves until the candles are stepped, after both clients subscribed
    rec = _recorder(sim, tmp_path).start()
    sent_book: dict[str, dict[float, float]] = {"b": {}, "a": {}}
    sent_trades: list[tuple] = []
    try:
        assert rec.wait_ready(10)
        with WsClient(sim.public_ws_url) as ws:
            assert ws.subscribe(*(f"{t}.{BTC}" for t in TOPICS))["success"] is True
            sim.step(5)
            closes = 0
            for _ in range(100_000):
                m = ws.recv(5.0)
                topic = m.get("topic", "")
                if topic.startswith("orderbook."):
                    _apply(sent_book, m["type"] == "snapshot", m["data"]["b"], m["data"]["a"])
                elif topic.startswith("publicTrade."):
                    sent_trades += [(t["T"], t["S"], float(t["p"]), float(t["v"])) for t in m["data"]]
                elif topic.startswith("kline.") and any(k["confirm"] for k in m["data"]):
                    closes += 1
                    if closes == 5:
                        break
        # the recorder has had everything the observer had (the last kline is the last message of a candle)
        _wait(lambda: rec.counts[BTC].last_ts >= m["ts"], 10, "the recorder fell behind")
        time.sleep(0.3)
    finally:
        summary = rec.stop()
    assert summary.counts[BTC].gaps == 0 and summary.dropped[BTC] == 0 and summary.counts[BTC].skipped == 0
    book: dict[str, dict[float, float]] = {"b": {}, "a": {}}
    trades: list[tuple] = []
    for ev in RecordingReader(tmp_path).events():
        if isinstance(ev, BookEvent):
            _apply(book, ev.snapshot, ev.bids, ev.asks)
        elif isinstance(ev, TradeEvent):
            trades += [(t.ts, t.side, t.price, t.size) for t in ev.trades]
    assert len(sent_trades) >= 5 * 16  # 16 ticks a candle
    assert trades[-len(sent_trades):] == sent_trades  # the recorder subscribed first: it may hold more
    assert len(book["b"]) >= TOP and _top(book) == _top(sent_book)


def test_a_dropped_stream_gives_a_gap_marker_then_a_fresh_snapshot(make_sim, tmp_path):
    sim = make_sim(lockstep=False, speed=60, stream_rates="book200=50ms,tickers=50ms,trades=50ms")
    rec = _recorder(sim, tmp_path).start()
    try:
        assert rec.wait_ready(10)
        _wait(lambda: rec.counts[BTC].messages > 20, 10, "no data recorded")
        assert sim.faults.drop_connections("public") >= 1
        _wait(lambda: rec.counts[BTC].gaps == 1, 10, "no gap marked after the drop")
        before = rec.counts[BTC].messages
        _wait(lambda: rec.counts[BTC].messages > before + 20, 10, "no data after the reconnect")
    finally:
        summary = rec.stop()
    assert summary.reconnects == 1
    events = [ev for ev in RecordingReader(tmp_path).events() if isinstance(ev, (BookEvent, GapEvent))]
    gaps = [i for i, ev in enumerate(events) if isinstance(ev, GapEvent) and ev.reason.startswith("reconnect")]
    assert len(gaps) == 1
    after = events[gaps[0] + 1]
    assert isinstance(after, BookEvent) and after.snapshot and not after.synthetic and len(after.bids) >= 100
    assert isinstance(events[gaps[0] - 1], BookEvent)  # the book was being recorded up to the drop


# ---------------------------------------------------------------- the command as a process

def _config(sim, tmp_path: Path) -> Path:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"exchange": {"network": "custom", "rest_url": sim.rest_url,
                                            "public_ws_url": sim.public_ws_url,
                                            "private_ws_url": sim.private_ws_url},
                               "logging": {"file": ""}}))
    return cfg


def _record(sim, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "rec"
    cmd = [sys.executable, str(REPO_ROOT / "whalebot.py"), "record", "--config", str(_config(sim, tmp_path)),
           "--symbols", BTC, "--out", str(out), *extra]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, out


def _streaming_sim(make_sim):
    return make_sim(lockstep=False, speed=1, stream_rates="book200=100ms,tickers=100ms,trades=100ms")


def _size(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*.wbr.gz"))


def test_sigterm_stops_with_the_summary_and_whole_files(make_sim, tmp_path):
    sim = _streaming_sim(make_sim)
    proc, out = _record(sim, tmp_path)
    try:
        _wait(lambda: _size(out) > 5000, 30, "nothing recorded")
        proc.send_signal(signal.SIGTERM)
        text, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, text
    assert "recorded " in text and " events (" in text, text
    assert f"{BTC}: " in text and "MB/h" in text, text
    events = list(RecordingReader(out).events())
    assert not any(isinstance(ev, GapEvent) and "early" in ev.reason for ev in events)  # finished files
    assert sum(isinstance(ev, BookEvent) for ev in events) > 5


def test_kill_9_loses_at_most_about_the_last_second(make_sim, tmp_path):
    sim = _streaming_sim(make_sim)
    proc, out = _record(sim, tmp_path)
    try:
        _wait(lambda: _size(out) > 5000, 30, "nothing recorded")
        time.sleep(2.5)
        killed_us = time.time_ns() // 1000
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    events = list(RecordingReader(out).events())
    assert isinstance(events[-1], GapEvent) and "ends early" in events[-1].reason
    last = max(ev.recv_us for ev in events if isinstance(ev, BookEvent))
    # flushed once a second: what was received more than ~1 s before the kill is on disk (0.5 s of slack)
    assert killed_us - last < 1_500_000, (killed_us - last) / 1e6


def test_hours_bounds_the_recording(make_sim, tmp_path):
    sim = _streaming_sim(make_sim)
    proc, out = _record(sim, tmp_path, "--hours", "0.001")  # 3.6 s
    t0 = time.monotonic()
    try:
        text, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, text
    assert "--hours 0.001 reached" in text and "recorded " in text, text
    assert time.monotonic() - t0 < 40
    assert any(isinstance(ev, BookEvent) for ev in RecordingReader(out).events())


def test_a_resynchronised_book_gives_a_gap_marker_then_its_snapshot(make_sim, tmp_path):
    sim = make_sim(lockstep=False, speed=60, stream_rates="book200=50ms,tickers=50ms,trades=50ms")
    rec = _recorder(sim, tmp_path).start()
    try:
        assert rec.wait_ready(10)
        _wait(lambda: rec.counts[BTC].messages > 20, 10, "no data recorded")
        assert rec.manager.resync_book(BTC, "a test")  # what a gap in `u` or a crossed book does
        _wait(lambda: rec.counts[BTC].gaps == 1, 10, "no gap marked")
        _wait(lambda: rec.manager.ready() and rec.markets[BTC].book_ready(), 10, "no snapshot after the resync")
        time.sleep(0.3)
    finally:
        rec.stop()
    events = [ev for ev in RecordingReader(tmp_path).events() if isinstance(ev, (BookEvent, GapEvent))]
    at = next(i for i, ev in enumerate(events) if isinstance(ev, GapEvent) and ev.reason == "resync (a test)")
    after = events[at + 1]
    assert isinstance(after, BookEvent) and after.snapshot and not after.synthetic


def test_a_symbol_the_exchange_does_not_trade_exits_2_naming_it(make_sim, tmp_path):
    sim = make_sim()
    out = tmp_path / "rec"
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "whalebot.py"), "record", "--config",
                           str(_config(sim, tmp_path)), "--symbols", "BTCUSDT,NOPEUSDT", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "--symbols NOPEUSDT: not traded as a linear contract on 127.0.0.1:" in proc.stderr
    assert not list(out.rglob("*.wbr.gz"))
