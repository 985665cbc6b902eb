"""The demo's work directory: one run per directory (a second run there is refused rather than
appended to), and the closing line lists only the files the run actually wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from whale.bot.demo import check_fresh_workdir, files_in, run_demo
from whale.candle_file import BUNDLED_DATA
from whale.config.model import Config, replace_path
from whale.errors import BadInputError
from whale.logs import setup_logging, shutdown_logging

ROOT = Path(__file__).resolve().parents[1]


def test_a_work_dir_with_a_demos_journal_or_signals_is_refused(tmp_path):
    check_fresh_workdir(tmp_path)  # empty: fine
    (tmp_path / "whalebot.log").write_text("old log\n")
    check_fresh_workdir(tmp_path)  # a log alone is appended to, as the bot always does
    (tmp_path / "signals.csv").write_text("timestamp_ms,score,signal\n")
    with pytest.raises(BadInputError) as info:
        check_fresh_workdir(tmp_path)
    text = str(info.value)
    assert f"work dir {tmp_path} already holds signals.csv" in text and "new --workdir" in text
    assert "delete that file" in text
    (tmp_path / "trade_history.json").write_text("{}")
    with pytest.raises(BadInputError) as info:
        check_fresh_workdir(tmp_path)
    assert "trade_history.json and signals.csv" in str(info.value) and "delete those files" in str(info.value)


def test_files_in_lists_only_what_exists(tmp_path):
    assert files_in(tmp_path) == ()
    (tmp_path / "signals.csv").write_text("x")
    (tmp_path / "whalebot.log").write_text("x")
    assert files_in(tmp_path) == ("signals.csv", "whalebot.log")


@pytest.mark.net  # runs whalebot.py in a subprocess
def test_demo_command_refuses_a_used_work_dir_with_exit_2(tmp_path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    (workdir / "signals.csv").write_text("timestamp_ms,score,signal\n1,0.5,HOLD\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "demo", "--workdir", str(workdir)],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "already holds signals.csv" in proc.stderr and "Traceback" not in proc.stderr
    assert (workdir / "signals.csv").read_text().count("\n") == 2  # untouched


@pytest.mark.net  # runs whalebot.py in a subprocess
def test_a_second_run_in_the_same_work_dir_is_refused_and_files_are_reported(tmp_path):
    workdir = tmp_path / "w"
    cfg = replace_path(Config(), "logging.file", str(workdir / "whalebot.log"))
    cfg = replace_path(cfg, "trade_management.enabled", False)  # no orders: no journal entry is written
    log = setup_logging(cfg, console=False)
    try:
        result = run_demo(cfg, data=BUNDLED_DATA, candles=4, workdir=workdir, log=log)
        assert result.candles == 4
        assert result.files == files_in(workdir) and "signals.csv" in result.files
        assert ("trade_history.json" in result.files) == (workdir / "trade_history.json").exists()
        rows = (workdir / "signals.csv").read_text()
        with pytest.raises(BadInputError):
            run_demo(cfg, data=BUNDLED_DATA, candles=4, workdir=workdir, log=log)
        assert (workdir / "signals.csv").read_text() == rows
    finally:
        shutdown_logging()
