"""`python whalebot.py backtest` as a user runs it: outputs, report contents, clear failures."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.paths import BUNDLED, DATA_DIR
from tests.paths import REPO_ROOT as ROOT
from whale.config.model import Config, replace_path, to_dict

REPORT_KEYS = {"bars", "trades", "wins", "losses", "win_rate", "total_pnl", "fees", "profit_factor", "max_drawdown",
               "max_drawdown_usdt", "sharpe", "exposure_time", "start", "end", "timing"}


def whalebot(*args, cwd=ROOT, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    return subprocess.run([sys.executable, str(ROOT / "whalebot.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def write_config(path: Path, cfg: Config, **overrides) -> Path:
    for key, value in overrides.items():
        cfg = replace_path(cfg, key.replace("__", "."), value)
    data = to_dict(cfg)
    data["logging"]["file"] = str(path.parent / "whalebot.log")
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bt")
    cfg = write_config(tmp / "config.json", Config(), signal_score_threshold=1.0)
    proc = whalebot("backtest", "--data", str(BUNDLED), "--config", str(cfg), "--no-progress", cwd=tmp)
    return tmp, proc


def test_default_report_dir_and_every_output(default_run):
    tmp, proc = default_run
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"report\s+(reports/BTCUSDT-15m-\d{8}T\d{6}Z)/", proc.stdout)
    assert m, proc.stdout
    out = tmp / m.group(1)
    report = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert {"load_s", "indicators_s", "simulate_s", "total_s"} <= set(report["timing"])
    assert report["trades"] > 0 and report["trades"] >= report["wins"] + report["losses"]
    assert 0.0 <= report["max_drawdown"] < 1.0 and 0.0 <= report["exposure_time"] <= 1.0
    assert any("Orderbook_Imbalance" in x for x in report["off_in_backtest"])
    trades = (out / "trades.csv").read_text().splitlines()
    assert trades[0].startswith("symbol,trade,side,entry_time,exit_time,entry_price,exit_price,qty")
    assert len(trades) == report["trades"] + 1
    assert {line.split(",")[0] for line in trades[1:]} == {"BTCUSDT"}
    net = sum(float(line.split(",")[13]) for line in trades[1:])
    assert net == pytest.approx(report["total_pnl"], abs=1e-4)
    signals = (out / "signals.csv").read_text().splitlines()
    assert signals[0] == "symbol,timestamp_ms,score,signal" and len(signals) == report["bars"] + 1
    assert {line.split(",")[0] for line in signals[1:]} == {"BTCUSDT"}
    assert {line.rsplit(",", 1)[1] for line in signals[1:]} <= {"BUY", "SELL", "HOLD"}
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.net  # runs whalebot.py in a subprocess
def test_from_to_limit_the_traded_range(tmp_path):
    cfg = write_config(tmp_path / "c.json", Config())
    proc = whalebot("backtest", "--data", str(BUNDLED), "--config", str(cfg), "--report", str(tmp_path / "r"),
                    "--from", "2025-05-20", "--to", "2025-05-27T12:00", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r" / "report.json").read_text())
    assert r["start"] == "2025-05-20T00:00:00Z" and r["end"] == "2025-05-27T11:45:00Z"


def _bad(tmp_path, rows):
    p = tmp_path / "bad.csv"
    p.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize("case", ["unsorted", "density", "not_multiple", "from_after_to", "few_candles",
                                  "bad_date", "missing_file", "bad_config"])
@pytest.mark.net  # runs whalebot.py in a subprocess
def test_bad_input_exits_2_with_one_clear_message(tmp_path, case):
    cfg = write_config(tmp_path / "c.json", Config())
    data = str(BUNDLED)
    extra = []
    expect = ""
    if case == "unsorted":
        rows = [f"{1_700_000_040_000 + 60_000 * i},1,2,0.5,1.5,3" for i in range(10)]
        rows[4], rows[5] = rows[5], rows[4]
        data, expect = str(_bad(tmp_path, rows)), "line 7: rows are not sorted"
    elif case == "density":
        cfg = write_config(tmp_path / "c.json", Config(), strategy__mode="density")
        expect = "density"
    elif case == "not_multiple":
        data, expect = str(DATA_DIR / "BTCUSDT_5m.csv.gz"), "not a multiple"
        cfg = write_config(tmp_path / "c.json", Config(), interval="3", mtf_analysis__enabled=False)
    elif case == "from_after_to":
        extra, expect = ["--from", "2025-05-30", "--to", "2025-05-20"], "is not before --to"
    elif case == "few_candles":
        rows = [f"{1_700_000_100_000 - 1_700_000_100_000 % 900_000 + 900_000 * i},1,2,0.5,1.5,3" for i in range(50)]
        data, expect = str(_bad(tmp_path, rows)), "warm-up"
    elif case == "bad_date":
        extra, expect = ["--from", "20/05/2025"], "expected a UTC date"
    elif case == "missing_file":
        data, expect = str(tmp_path / "nope.csv"), "no such candle file"
    elif case == "bad_config":
        (tmp_path / "c.json").write_text('{"interval": 15, "trade_management": {"risk_per_trade_percent": 500}}')
        expect = "risk_per_trade_percent"
    proc = whalebot("backtest", "--data", data, "--config", str(cfg), "--report", str(tmp_path / "r"),
                    "--no-progress", *extra)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert expect in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_report_numbers_are_consistent_with_equity(default_run):
    tmp, proc = default_run
    out = tmp / re.search(r"report\s+(\S+)/", proc.stdout).group(1)
    r = json.loads((out / "report.json").read_text())
    assert r["end_balance"] == pytest.approx(r["start_balance"] + r["total_pnl"], abs=1e-6)
    assert np.isfinite(r["sharpe"])
