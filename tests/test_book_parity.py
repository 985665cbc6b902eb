"""Parity on recorded books (issue 14): `demo --book DIR` (the live bot over real sockets against the
simulator serving the recording, in lockstep) repeats exactly, and `backtest --book DIR` (the same
bot on a replay venue) takes the same decisions: entries, exits, reasons, fill prices within a tick."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from tests.book_recording import density_config
from whale.backtest.book_run import run_book_backtest
from whale.bot.demo import run_demo_book
from whale.timefmt import epoch_ms

pytestmark = pytest.mark.net

TICK = Decimal("0.1")


@pytest.fixture
def recording(book_recording: Path) -> Path:
    return book_recording  # tests/conftest.py: written once per run


def _demo(recording: Path, workdir: Path, tmp: Path) -> list[dict]:
    cfg, _ = density_config(tmp, workdir / "whalebot.log")
    run_demo_book(cfg, book=recording, workdir=workdir, log=logging.getLogger("whalebot"))
    return json.loads((workdir / "trade_history.json").read_text())["trades"]


def _key(t: dict) -> tuple:
    return (t["symbol"], t["side"], t["qty"], t["entry_time"], t["entry_price"], t.get("exit_time"),
            t.get("exit_price"), t["fees"], t.get("pnl"), t.get("reason"), t.get("setup"))


def test_demo_book_repeats_and_backtest_book_agrees(recording, tmp_path):
    first = _demo(recording, tmp_path / "d1", tmp_path)
    second = _demo(recording, tmp_path / "d2", tmp_path)
    assert len(first) >= 5
    assert [_key(t) for t in first] == [_key(t) for t in second]  # repeatable, field for field

    cfg, _ = density_config(tmp_path, tmp_path / "bt.log")
    result = run_book_backtest(cfg, recording, tmp_path / "bt", logging.getLogger("whalebot"))
    closed = [t for t in first if t["status"] == "closed"]
    assert len(result.trades) == len(closed)
    for live, bt in zip(closed, result.trades, strict=True):
        assert (bt.symbol, bt.side, bt.strategy, bt.setup, bt.reason) == \
            (live["symbol"], live["side"], live["strategy"], live.get("setup"), live["reason"])
        assert bt.qty == Decimal(live["qty"])
        assert abs(bt.entry_price - Decimal(live["entry_price"])) <= TICK
        assert abs(bt.exit_price - Decimal(live["exit_price"])) <= TICK
        assert bt.density_price == (None if live.get("density_price") is None else Decimal(live["density_price"]))
        # the same moment of the recording: the demo stamps a fill when the simulator makes it
        for a, b in ((bt.entry_time, live["entry_time"]), (bt.exit_time, live["exit_time"])):
            assert abs(epoch_ms(a) - epoch_ms(str(b))) <= 1000
