"""The shipped recording (data/recordings/sample/, its README says how it was made): what it holds, and
that the density strategy acts on it as its README says (backtest --book takes the breakout)."""

from __future__ import annotations

import csv
import gzip
import logging
import shutil
from pathlib import Path

import pytest

from tests.book_recording import density_config
from tests.paths import DATA_DIR
from whale.backtest.book_run import run_book_backtest, write_outputs
from whale.recording.reader import BookEvent, GapEvent, RecordingError, RecordingReader

SAMPLE = DATA_DIR / "recordings" / "sample"
WALL = 60240.5


def test_the_sample_holds_both_symbols_and_the_wall():
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*.wbr.gz")) < 1_000_000
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    gaps: list[GapEvent] = []
    wall_sizes = []
    for ev in RecordingReader(SAMPLE).events():
        first.setdefault(ev.symbol, ev.ts)
        last[ev.symbol] = ev.ts
        if isinstance(ev, GapEvent):
            gaps.append(ev)
        elif isinstance(ev, BookEvent) and ev.symbol == "BTCUSDT":
            wall_sizes += [size for price, size in ev.asks if price == WALL]
    assert set(first) == {"BTCUSDT", "ETHUSDT"}
    assert all(last[s] - first[s] >= 95 * 60_000 - 1 for s in first)  # 95 minutes
    assert [g.reason for g in gaps] == ["recording started"] * 2  # no interruption
    assert max(wall_sizes) == 5.0 and 3.0 in wall_sizes and wall_sizes[-1] == 0  # appears, erodes, consumed


def test_backtest_book_on_the_sample_buys_the_breakout(tmp_path: Path):
    cfg, _ = density_config(tmp_path, tmp_path / "whalebot.log")
    out = tmp_path / "report"
    write_outputs(run_book_backtest(cfg, SAMPLE, out, logging.getLogger("whalebot"), symbols=["BTCUSDT"]), out,
                  SAMPLE)
    rows = list(csv.DictReader((out / "trades.csv").open()))
    assert len(rows) == 1, rows
    t = rows[0]
    assert (t["side"], t["strategy"], t["setup"], t["exit_reason"]) == ("Buy", "density", "breakout", "take_profit")
    # bought under the eroded wall, sold higher at the target (the sample's README: 60,150.00 -> 60,203.90)
    assert float(t["density_price"]) == WALL and float(t["entry_price"]) < float(t["exit_price"]) < WALL


def test_a_damaged_ticker_stops_the_backtest_with_its_file_and_line(tmp_path: Path):
    """A damaged record in the middle of a replay is bad input naming where it is (exit 2 at the command),
    not a JSONDecodeError from deep in the loop."""
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE, copy)
    path = sorted((copy / "BTCUSDT").glob("*.wbr.gz"))[1]  # the second hour: past the first minute, history
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    lines.insert(9, 'K 0 0 s 7000000007 {"lastPrice":"60')  # cut off mid-write: line 10 of the file
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    cfg, _ = density_config(tmp_path, tmp_path / "whalebot.log")
    with pytest.raises(RecordingError, match=rf"{path.name}, line 10: a ticker record is damaged"):
        run_book_backtest(cfg, copy, tmp_path / "report", logging.getLogger("whalebot"), symbols=["BTCUSDT"])
