"""The demo is repeatable (issue 11 item 2): the simulator publishes each step of a candle (ticks, book
deltas, trades, private events) only after the bot has processed the previous one, and every time
the exit rules read is market time, so the same demo gives the same trades every run: symbol, side,
qty, entry and exit times and prices, fees, PnL and reason, to the cent (ids differ)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.scenarios.test_scenarios import run_scenario
from whale.bot.demo import run_demo
from whale.candle_file import BUNDLED_DATA
from whale.commands.demo import DEMO_CONFIG
from whale.config import config_from_data
from whale.config.model import replace_path
from whale.logs import setup_logging, shutdown_logging

pytestmark = pytest.mark.net

FIELDS = ("symbol", "side", "qty", "entry_time", "entry_price", "exit_time", "exit_price", "reason", "status")
CENT = Decimal("0.01")


def trades(workdir: Path) -> list[dict]:
    """The journal's trades on the fields that must repeat; money to the cent."""
    out = []
    for t in json.loads((workdir / "trade_history.json").read_text())["trades"]:
        row = {k: t.get(k) for k in FIELDS}
        for k in ("fees", "pnl", "funding"):
            row[k] = None if t.get(k) is None else str(Decimal(t[k]).quantize(CENT))
        out.append(row)
    return out


def demo(tmp_path: Path, name: str) -> list[dict]:
    workdir = tmp_path / name
    cfg = config_from_data(json.loads(DEMO_CONFIG.read_text())).config
    cfg = replace_path(cfg, "logging.file", str(workdir / "whalebot.log"))
    log = setup_logging(cfg, console=False)
    try:
        run_demo(cfg, data=BUNDLED_DATA, candles=192, workdir=workdir, log=log)
    finally:
        shutdown_logging()
    return trades(workdir)


def test_the_same_demo_gives_the_same_trades(tmp_path):
    first, second = demo(tmp_path, "a"), demo(tmp_path, "b")
    assert len(first) >= 5 and any(t["reason"] == "aggressive_reversal" for t in first)
    assert first == second


def test_an_advanced_exit_inside_a_candle_repeats(tmp_path):
    """A scenario on a paced replay: the taker sells that close the long arrive inside a minute, tick by
    tick; both runs close it on the same tick, at the same price and time."""
    runs = []
    for name in ("one", "two"):
        scenario, _result, workdir = run_scenario("taker-flow-reversal", tmp_path / name)
        assert scenario.check(_result, workdir) == []
        runs.append(trades(workdir))
    assert runs[0][0]["reason"] == "aggressive_reversal" and not runs[0][0]["exit_time"].endswith(":59.999Z")
    assert runs[0] == runs[1]
