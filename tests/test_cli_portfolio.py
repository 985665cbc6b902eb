"""`python whalebot.py backtest --data A --data B`: several symbols on one account, as a user runs it.
The report's per-symbol sections and totals, the symbol columns of trades.csv and signals.csv,
equity.png, the summary, and the inputs it refuses (exit 2, one message naming the file)."""

import json
import re
import shutil

import pytest

from tests.paths import BUNDLED, DATA_DIR
from tests.test_cli_backtest import whalebot, write_config
from tests.test_portfolio_run import portfolio_files
from whale.config.model import Config

pytestmark = pytest.mark.net  # runs whalebot.py in a subprocess


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return portfolio_files(tmp_path_factory.mktemp("portfolio"))


@pytest.fixture(scope="module")
def two_file_run(files):
    tmp, btc, eth = files
    cfg = write_config(tmp / "config.json", Config(), signal_score_threshold=1.0)
    proc = whalebot("backtest", "--data", str(btc), "--data", str(eth), "--config", str(cfg), "--no-progress",
                    cwd=tmp)
    return tmp, proc


def test_two_files_one_account_every_output(two_file_run):
    tmp, proc = two_file_run
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"report\s+(reports/BTCUSDT-ETHUSDT-15m-\d{8}T\d{6}Z)/", proc.stdout)
    assert m, proc.stdout
    out = tmp / m.group(1)
    r = json.loads((out / "report.json").read_text())
    assert r["symbols"] == ["BTCUSDT", "ETHUSDT"] and list(r["per_symbol"]) == ["BTCUSDT", "ETHUSDT"]
    btc, eth = r["per_symbol"]["BTCUSDT"], r["per_symbol"]["ETHUSDT"]
    assert btc["trades"] > 0 and eth["trades"] > 0
    assert btc["trades"] + eth["trades"] == r["trades"]
    assert btc["total_pnl"] + eth["total_pnl"] == pytest.approx(r["total_pnl"], abs=1e-6)
    assert btc["fees"] + eth["fees"] == pytest.approx(r["fees"], abs=1e-6)
    assert r["end_balance"] == pytest.approx(r["start_balance"] + r["total_pnl"], abs=1e-6)
    assert eth["start"] > btc["start"] and eth["end"] < btc["end"]  # joined late, left early
    assert r["start"] == btc["start"] and r["end"] == btc["end"]
    for x in (btc, eth):
        assert {"win_rate", "exposure_time", "skipped_entries", "shrunk_entries", "sizing_notes", "exit_reasons",
                "signals", "return_pct"} <= set(x)
    assert any("one account for every symbol" in a for a in r["assumptions"])
    trades = (out / "trades.csv").read_text().splitlines()
    assert trades[0].startswith("symbol,trade,side,")
    rows = [line.split(",") for line in trades[1:]]
    assert len(rows) == r["trades"] and {x[0] for x in rows} == {"BTCUSDT", "ETHUSDT"}
    assert [int(x[1]) for x in rows] == list(range(1, len(rows) + 1))
    assert sum(float(x[13]) for x in rows if x[0] == "ETHUSDT") == pytest.approx(eth["total_pnl"], abs=1e-4)
    signals = (out / "signals.csv").read_text().splitlines()
    assert signals[0] == "symbol,timestamp_ms,score,signal"
    body = [line.split(",") for line in signals[1:]]
    assert len(body) == btc["bars"] + eth["bars"]
    assert sum(x[0] == "ETHUSDT" for x in body) == eth["bars"]
    stamps = [int(x[1]) for x in body]
    assert stamps == sorted(stamps)
    first_eth = next(i for i, x in enumerate(body) if x[0] == "ETHUSDT")
    assert body[first_eth - 1][1] == body[first_eth][1] and body[first_eth - 1][0] == "BTCUSDT"  # BTC first
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = proc.stdout.splitlines()
    assert any(re.match(r"BTCUSDT\s+\d+ trades, win rate", x) for x in lines)
    assert any(re.match(r"ETHUSDT\s+\d+ trades, win rate", x) for x in lines)
    assert any("--- account (2 symbols, one balance) ---" in x for x in lines)


@pytest.mark.parametrize("case", ["same_symbol", "symbol_flag", "no_symbol_in_name", "not_multiple"])
def test_bad_portfolio_input_exits_2_naming_the_file(files, tmp_path, case):
    _, btc, eth = files
    cfg = write_config(tmp_path / "c.json", Config())
    data = [str(btc), str(eth)]
    extra: list[str] = []
    if case == "same_symbol":
        again = tmp_path / "BTCUSDT_copy_1m.csv.gz"
        shutil.copy(BUNDLED, again)
        data.append(str(again))
        expect = f"{again}: BTCUSDT again (also {btc}); each symbol can be backtested once per run"
    elif case == "symbol_flag":
        extra = ["--symbol", "SOLUSDT"]
        expect = "--symbol names the symbol of one file"
    elif case == "no_symbol_in_name":
        odd = tmp_path / "candles.csv"
        shutil.copy(eth, odd)
        data.append(str(odd))
        expect = f"{odd}: the file name does not start with a symbol"
    else:
        cfg = write_config(tmp_path / "c.json", Config(), interval="3", mtf_analysis__enabled=False)
        data = [str(btc), str(DATA_DIR / "ETHUSDT_5m.csv.gz")]
        expect = f"{DATA_DIR / 'ETHUSDT_5m.csv.gz'}: the file's candles are 5m; the config's interval '3'"
    args = [a for d in data for a in ("--data", d)]
    proc = whalebot("backtest", *args, "--config", str(cfg), "--report", str(tmp_path / "r"), "--no-progress",
                    *extra)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert expect in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "r").exists()
