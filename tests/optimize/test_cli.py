"""`optimize` and `walkforward` as a user runs them: outputs, reproduction with `backtest`,
determinism, and bad input."""

import csv
import json

import pytest

from tests.optimize.cli import whalebot, write_config
from tests.optimize.helpers import BTC_5M, ETH_5M
from tests.optimize.test_parity import FIGURES

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One two-objective study of 160 trials (NSGA-II's first generation is 50), with two processes."""
    d = tmp_path_factory.mktemp("optimize")
    write_config(d)
    r = whalebot("optimize", "--data", str(BTC_5M), "--trials", "160", "--jobs", "2", "--seed", "3",
                 "--objective", "net_profit,max_drawdown", "--min-trades", "5", "--report", "out", cwd=d)
    assert r.returncode == 0, r.stderr
    return d, r


def test_the_report_holds_every_output(run_dir):
    d, r = run_dir
    out = d / "out"
    for name in ("trials.csv", "best-config.json", "pareto.csv", "pareto.png", "history.png", "importance.png",
                 "slices.png", "summary.json", "study.journal"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 160 and [int(x["number"]) for x in rows] == list(range(160))
    assert all(x["state"] in ("COMPLETE", "FAIL") for x in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"]["total"] == 160
    assert 0 < summary["timing"]["sampler_share"] < 1
    per_process = summary["timing"]["per_process"]  # the calling process, then the worker: both evaluated
    assert len(per_process) == 2 and all(p["trials"] > 0 and p["cpu_s"] > 0 for p in per_process)
    assert sum(p["trials"] for p in per_process) == 160 and 0 < summary["timing"]["cpu_utilisation"] <= 1.1
    of = summary["overfitting"]
    assert of["deflated_sharpe"]["n_trials"] >= 140 and of["trade_order_monte_carlo"]["shuffles"] == 1000
    if of["deflated_sharpe"]["probability"] is None or of["deflated_sharpe"]["probability"] < 0.95:
        assert "not better than chance" in r.stdout
    front = list(csv.DictReader((out / "pareto.csv").open()))
    assert front and {int(x["number"]) for x in front} == set(summary["pareto_front"])
    assert "best trial" in r.stdout and "reproduce" in r.stdout


def test_the_best_config_reproduces_with_backtest_bit_for_bit(run_dir):
    d, _ = run_dir
    summary = json.loads((d / "out" / "summary.json").read_text())
    r = whalebot("backtest", "--config", "out/best-config.json", "--data", str(BTC_5M), "--report", "bt", cwd=d)
    assert r.returncode == 0, r.stderr
    report = json.loads((d / "bt" / "report.json").read_text())
    best = summary["best"]["metrics"]
    for k in FIGURES:
        assert report[k] == best[k], k


def test_same_seed_same_trials_with_one_or_two_processes(run_dir, tmp_path):
    d, _ = run_dir
    write_config(tmp_path)
    r = whalebot("optimize", "--data", str(BTC_5M), "--trials", "160", "--jobs", "1", "--seed", "3",
                 "--objective", "net_profit,max_drawdown", "--min-trades", "5", "--report", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "trials.csv").read_text() == (d / "out" / "trials.csv").read_text()


@pytest.mark.parametrize("args,message", [
    (["--data", str(BTC_5M), "--data", str(BTC_5M)], "BTCUSDT again"),
    (["--data", str(BTC_5M), "--space", "empty.json"], "the space is empty"),
    (["--data", str(BTC_5M), "--space", "upside.json"], "upside down"),
    (["--data", str(BTC_5M), "--space", "typo.json"], "did you mean 'rsi_period'"),
    (["--data", str(BTC_5M), "--objective", "sharp"], "did you mean 'sharpe'"),
    (["--data", str(BTC_5M), "--resume"], "study.journal does not exist"),
    (["--data", str(BTC_5M), "--trials", "0"], "--trials 0"),
])
def test_bad_input_is_one_message_and_exit_2(tmp_path, args, message):
    write_config(tmp_path)
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "upside.json").write_text('{"signal_score_threshold": [4, 1]}')
    (tmp_path / "typo.json").write_text('{"indicator_settings.rsi_perod": {"int": [7, 28]}}')
    r = whalebot("optimize", *args, "--report", "out", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_walkforward_with_too_few_candles_for_a_fold_is_exit_2(tmp_path):
    write_config(tmp_path)
    r = whalebot("walkforward", "--data", str(BTC_5M), "--train", "250d", "--test", "30d", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "too few candles for a fold" in r.stderr and "Traceback" not in r.stderr


def test_an_unreachable_storage_is_exit_1(tmp_path):
    write_config(tmp_path)
    r = whalebot("optimize", "--data", str(BTC_5M), "--trials", "5", "--storage",
                 "postgresql://whale:secret@127.0.0.1:1/nowhere", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "cannot reach the database" in r.stderr and "secret" not in r.stderr and "Traceback" not in r.stderr


def test_the_readme_walkforward_example_runs_on_shipped_data(tmp_path):
    write_config(tmp_path)
    r = whalebot("walkforward", "--data", str(BTC_5M), "--train", "60d", "--test", "20d", "--trials", "30",
                 "--min-trades", "5", "--seed", "1", "--report", "wf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "wf" / "walkforward.csv").open()))
    assert len(rows) >= 9
    assert (tmp_path / "wf" / "walkforward.png").is_file()
    summary = json.loads((tmp_path / "wf" / "walkforward.json").read_text())
    assert "efficiency" in summary and summary["oos_trade_order_monte_carlo"]["shuffles"] == 1000
    assert "walk-forward efficiency" in r.stdout


def test_two_data_files_optimise_one_account_and_the_best_reproduces_with_backtest(tmp_path):
    """Several --data files are one portfolio: the default report directory carries both symbols, and
    `backtest` with best-config.json and the same two files gives the best trial's figures."""
    write_config(tmp_path)
    r = whalebot("optimize", "--data", str(ETH_5M), "--data", str(BTC_5M), "--trials", "60", "--jobs", "2", "--seed",
                 "4", "--min-trades", "5", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [out] = (tmp_path / "reports").glob("optimize-*")
    assert out.name.startswith("optimize-BTCUSDT-ETHUSDT-")
    summary = json.loads((out / "summary.json").read_text())
    # In the account's order (the config's symbols first), whatever the order of the options.
    assert summary["symbol"] == "BTCUSDT,ETHUSDT" and summary["data"] == [str(BTC_5M), str(ETH_5M)]
    assert f"--data {BTC_5M} --data {ETH_5M}" in r.stdout
    r = whalebot("backtest", "--config", str(out / "best-config.json"), "--data", str(ETH_5M), "--data", str(BTC_5M),
                 "--report", "bt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "bt" / "report.json").read_text())
    assert report["symbol"] == "BTCUSDT,ETHUSDT"
    best = summary["best"]["metrics"]
    assert best["trades"] >= 5
    for k in FIGURES:
        assert report[k] == best[k], k
