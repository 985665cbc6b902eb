"""backtest --book: the live bot replayed over a recording (whale.backtest.book_replay), its report
directory, its determinism, and the fill rule on recorded books in the paper Execution."""

from __future__ import annotations

import csv
import json
import logging
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tests.book_recording import density_config
from whale.backtest.book_run import DENSITY_COLUMNS, run_book_backtest, write_outputs
from whale.cli import main
from whale.config.model import Fees
from whale.market.instruments import instrument_for
from whale.venue.paper import PaperExecution
from whale.venue.types import Side


@pytest.fixture
def recording(book_recording: Path) -> Path:
    return book_recording  # tests/conftest.py: written once per run


def _run(recording: Path, out: Path, tmp: Path) -> dict:
    cfg, _ = density_config(tmp, out.parent / f"{out.name}.log")
    log = logging.getLogger("whalebot")
    result = run_book_backtest(cfg, recording, out, log)
    return write_outputs(result, out, recording)


def test_book_backtest_trades_densities_and_repeats_exactly(recording, tmp_path):
    a = _run(recording, tmp_path / "a", tmp_path)
    b = _run(recording, tmp_path / "b", tmp_path)
    # the live density strategy traded on the recorded books, with its advanced exits and the exchange's target
    assert a["trades"] >= 5
    assert "density_erosion" in a["exit_reasons"]
    assert a["density_events"].get("appeared", 0) > 20 and a["density_events"].get("vanished", 0) > 0
    rows = list(csv.DictReader((tmp_path / "a" / "trades.csv").open()))
    assert {r["strategy"] for r in rows} == {"density"} and {r["setup"] for r in rows} <= {"bounce", "breakout"}
    dens = list(csv.reader((tmp_path / "a" / "densities.csv").open()))
    assert tuple(dens[0]) == DENSITY_COLUMNS and dens[1][3] == "appeared" and dens[1][2] == "BTCUSDT"
    for name in ("trades.csv", "densities.csv", "signals.csv"):  # deterministic: byte for byte
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "equity.png").stat().st_size > 0
    a.pop("timing"), b.pop("timing")
    assert a == b
    # fills on the recorded book: every price on the 0.1 tick, no slippage floor (the walk alone)
    for r in rows:
        assert Decimal(r["entry_price"]) % Decimal("0.1") == 0
    # the report's journal, written once when the bot stops (not after every change), holds every trade
    journal = json.loads((tmp_path / "a" / "trade_history.paper.json").read_text())
    closed = [t for t in journal["trades"] if t["status"] == "closed"]
    assert [(t["entry_price"], t["exit_price"]) for t in closed] == [(r["entry_price"], r["exit_price"]) for r in rows]


def test_backtest_book_command(recording, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the command logs to the config's default logs/whalebot.log: not into the repo
    _, cfg_path = density_config(tmp_path)
    out = tmp_path / "report"
    assert main(["backtest", "--book", str(recording), "--config", str(cfg_path), "--report", str(out),
                 "--to", "2025-06-01T00:20"]) == 0
    text = capsys.readouterr().out
    assert "Backtest on books BTCUSDT" in text and "densities" in text
    rep = json.loads((out / "report.json").read_text())
    assert rep["mode"] == "book" and rep["end"] == "2025-06-01T00:20:00.000Z"
    # a second run into the same report would be reconciled with the first's paper journal: refused
    assert main(["backtest", "--book", str(recording), "--config", str(cfg_path), "--report", str(out)]) == 2
    assert "earlier run" in capsys.readouterr().err


def test_backtest_book_bad_input(recording, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, cfg_path = density_config(tmp_path)
    assert main(["backtest", "--book", str(tmp_path / "nothing"), "--config", str(cfg_path)]) == 2
    assert "--book" in capsys.readouterr().err
    assert main(["backtest", "--book", str(recording), "--data", "x.csv", "--config", str(cfg_path)]) == 2
    assert "--symbols" in capsys.readouterr().err
    assert main(["backtest", "--book", str(recording), "--symbols", "ETHUSDT", "--config", str(cfg_path),
                 "--report", str(tmp_path / "r")]) == 2
    assert "ETHUSDT" in capsys.readouterr().err


def test_density_mode_on_candles_points_at_book(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, cfg_path = density_config(tmp_path)
    assert main(["backtest", "--config", str(cfg_path), "--report", str(tmp_path / "r")]) == 2
    assert "use --book" in capsys.readouterr().err


def test_paper_market_fill_walks_the_recorded_side():
    """With a recorded book (taker_side), a market buy walks the asks as they will stand: the average
    rounded up to the tick, no slippage floor; a triggered stop asks for the side at the print."""
    asked = []

    def taker_side(symbol, buying, triggered):
        asked.append((symbol, buying, triggered))
        if buying:
            return np.array([100.0, 100.5]), np.array([0.004, 1.0])
        return np.array([99.9, 99.0]), np.array([0.01, 1.0])

    inst = instrument_for("BTCUSDT")
    paper = PaperExecution(lambda s: inst, Fees(slippage_rate=0.01), start_balance=Decimal(10_000),
                           leverage=Decimal(5), taker_side=taker_side)
    paper.on_tick("BTCUSDT", 100.0, 1)
    fill = paper.open_position("BTCUSDT", Side.Buy, Decimal("0.010"), Decimal("99.0"), None, "t1")
    # 0.004 at 100.0 + 0.006 at 100.5 = 100.3 average; a 1 % floor would have made it 101.0
    assert fill.price == Decimal("100.3")
    assert asked[-1] == ("BTCUSDT", True, False)
    paper.on_tick("BTCUSDT", 98.9, 2)  # crosses the stop: the exchange triggers it at this print
    exit_fill = paper.poll().exits[0].fill
    assert asked[-1] == ("BTCUSDT", False, True)
    assert exit_fill.price == Decimal("99.9")  # the whole 0.01 at the best bid


def test_a_trade_message_ticks_the_paper_account_as_each_of_its_prints_would():
    """ReplayMarketData.feed ticks the paper Execution once a print while a position is open (a stop triggers
    at the print that crosses it) and only at the last print when flat (nothing can trigger): the account
    ends as if every print had ticked it, in both cases."""
    from whale.backtest.book_replay import replay_venue
    from whale.market.state import Markets
    from whale.recording.reader import Trade, TradeEvent
    from whale.sim.recorded_replay import load_recording

    _, data, _ = replay_venue(load_recording("data/recordings/sample", ["BTCUSDT"]), 0)
    data.start_streams(Markets(["BTCUSDT"]), [], lambda s: None)
    inst = instrument_for("BTCUSDT")
    saved: dict[str, list[dict]] = {"fed": [], "ticked": []}
    fed, ticked = (PaperExecution(lambda s: inst, Fees(), start_balance=Decimal(10_000), leverage=Decimal(5),
                                  save=saved[name].append) for name in ("fed", "ticked"))
    for paper in (fed, ticked):
        paper.on_tick("BTCUSDT", 100.0, 1)
        paper.open_position("BTCUSDT", Side.Buy, Decimal("0.010"), Decimal("99.0"), None, "t1")

    def trades(ts: int, prices: list[float]) -> TradeEvent:
        return TradeEvent("BTCUSDT", ts, ts * 1000, [Trade(ts, "Sell", p, 0.5, "", None, False) for p in prices])

    for key, prices in ((1_000, [100.5, 98.9, 101.0, 97.0]), (2_000, [102.0, 103.0]), (3_000, [])):
        ev = trades(key, prices)
        data.feed(key, ev, fed)
        for p in prices:
            ticked.on_tick("BTCUSDT", p, key)
        a, b = fed.poll(), ticked.poll()
        assert [(e.cause, e.fill.price, e.fill.time_ms) for e in a.exits] == [
            (e.cause, e.fill.price, e.fill.time_ms) for e in b.exits]
        assert (fed.balance, fed.positions(), fed.last_prices, fed.funding_from_ms) == (
            ticked.balance, ticked.positions(), ticked.last_prices, ticked.funding_from_ms)
    assert saved["fed"] == saved["ticked"] and len(saved["fed"]) == 2  # the entry, and the stop at 98.9
    assert fed.last_prices["BTCUSDT"] == (103.0, 2_000)
    assert data.markets["BTCUSDT"].last_price == 103.0
