"""`python whalebot.py demo` as a user runs it (in-process through the CLI): the symbol it trades
comes from the data file's name (issue 11 item 1), and what it logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.paths import DATA_DIR
from whale.backtest.runner import run_backtest
from whale.cli import main
from whale.commands.demo import DEMO_CONFIG
from whale.config import config_from_data
from whale.logs import shutdown_logging

pytestmark = pytest.mark.net

ETH = DATA_DIR / "ETHUSDT-PERP_1m.csv.gz"


@pytest.fixture(autouse=True)
def _logging_reset():
    yield
    shutdown_logging()


def signal_rows(workdir: Path) -> list[str]:
    return (workdir / "signals.csv").read_text().splitlines()[1:]


def backtest_rows(config: Path, data: Path, symbol: str) -> dict[int, str]:
    bt = run_backtest(config_from_data(json.loads(config.read_text())).config, data, symbol=symbol)
    return {int(t): f"{symbol},{int(t)},{'' if s != s else f'{s:.10f}'},{['SELL', 'HOLD', 'BUY'][g + 1]}"
            for t, s, g in zip(bt.ts, bt.scores, bt.signals, strict=True)}


def test_the_demo_trades_the_symbol_of_its_data_file(tmp_path, capsys):
    """ETH candles are served as ETHUSDT with ETH's 0.01 tick (not as BTCUSDT rounded to 0.1), so the
    demo decides exactly as the backtest of the same file; the log says the symbol differs from the
    config's, and which config the demo loaded. The demo's config without the order-book scorer,
    which a candle backtest does not have."""
    config = tmp_path / "demo-config.json"
    config.write_text(json.dumps({**json.loads(DEMO_CONFIG.read_text()), "indicators": {"orderbook_imbalance": False}}))
    workdir = tmp_path / "eth"
    code = main(["demo", "--config", str(config), "--data", str(ETH), "--candles", "6", "--workdir", str(workdir)])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    rows = signal_rows(workdir)
    assert len(rows) == 6
    expected = backtest_rows(config, ETH, "ETHUSDT")
    assert [expected.get(int(r.split(",")[1])) for r in rows] == rows
    assert "trading ETHUSDT, from the data file's name ETHUSDT-PERP_1m.csv.gz (the config's symbol is BTCUSDT)" in out
    assert f"config {config};" in out
    log = (workdir / "whalebot.log").read_text()
    assert "--- Whalebot started: ETHUSDT 15m" in log
