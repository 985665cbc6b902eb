"""`optimize --resume` after a kill -9: the checkpointed trials are kept, trials the kill left
RUNNING are marked FAIL and asked again, and the study reaches --trials."""

import csv
import json
import os
import signal
import time

import pytest

from tests.optimize.cli import start, whalebot, write_config
from tests.optimize.helpers import BTC_5M

pytestmark = pytest.mark.net


def lines(journal) -> list[str]:
    if not journal.exists():
        return []
    return [line.replace(" ", "") for line in journal.read_text().split("\n")[:-1]]  # not a half-written line


def checkpointed(journal) -> int:
    """Trials created in the journal (Optuna's op code 4)."""
    return sum(1 for line in lines(journal) if '"op_code":4' in line)


def running(journal) -> int:
    """Trials created in the RUNNING state (0): asked, not finished at that checkpoint."""
    return sum(1 for line in lines(journal) if '"op_code":4' in line and '"state":0' in line)


def start_study(tmp_path, seed: int):
    """A 5,000-trial study in the background: (its options, the process, its journal)."""
    write_config(tmp_path)
    args = ["optimize", "--data", str(BTC_5M), "--jobs", "2", "--seed", str(seed), "--min-trades", "5", "--report",
            "out", "--no-progress"]
    return args, start(*args, "--trials", "5000", cwd=tmp_path), tmp_path / "out" / "study.journal"


def wait_for(proc, ready, seconds: float = 180) -> None:
    """Until ready() holds, the process ends or the time is up."""
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)


def test_resume_after_kill_9(tmp_path):
    args, proc, journal = start_study(tmp_path, 5)
    try:
        wait_for(proc, lambda: checkpointed(journal) >= 150 and running(journal))
        assert proc.poll() is None, proc.communicate()[1]
        assert checkpointed(journal) >= 150 and running(journal), "no checkpoint with RUNNING trials within 180 s"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    kept, left_running = checkpointed(journal), running(journal)
    r = whalebot(*args, "--trials", str(kept + 20), "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    want = max(kept + 20, kept + left_running)  # every interrupted trial is asked again
    assert len(rows) == want
    assert [int(x["number"]) for x in rows] == list(range(want))
    assert all(x["state"] in ("COMPLETE", "FAIL") for x in rows)
    interrupted = [x for x in rows if x["state"] == "FAIL" and x["error"].startswith("interrupted")]
    assert interrupted, "the kill left no RUNNING trial in the checkpoint"
    later = rows[kept:]
    keys = json.loads((tmp_path / "out" / "summary.json").read_text())["space"]
    for x in interrupted:
        assert int(x["number"]) < kept
        again = [y for y in later if all(y[k] == x[k] for k in keys)]
        assert again and again[0]["state"] == "COMPLETE", f"trial {x['number']} was not asked again"
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["trials"]["total"] == want


def test_sigterm_stops_with_a_report_and_resume_goes_on(tmp_path):
    args, proc, journal = start_study(tmp_path, 6)
    try:
        wait_for(proc, lambda: checkpointed(journal) >= 100)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["interrupted"] and summary["trials"]["this_run"] > 0
    assert "stopped by Ctrl-C" in out
    done = summary["trials"]["total"]  # finished ones and those in flight at the stop
    in_flight = done - summary["trials"]["complete"] - summary["trials"]["failed"]
    r = whalebot(*args, "--trials", str(done + 50), "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    after = json.loads((tmp_path / "out" / "summary.json").read_text())["trials"]
    want = max(done + 50, done + in_flight)  # the trials in flight at the stop are all asked again
    assert after["total"] == want and after["complete"] + after["failed"] == want
