"""A study in a real, throwaway PostgreSQL (tests/optimize/postgres.py): two `optimize` processes work
on one study at once; every trial either evaluated lands in the database exactly once."""

import collections
import json

import optuna
import pytest

from tests.optimize.cli import start, write_config
from tests.optimize.helpers import BTC_5M
from whale.optimize.storage import WORKER_ATTR, driver_url

pytestmark = pytest.mark.net


def test_two_processes_on_one_study_lose_no_trial_and_evaluate_none_twice(postgres_url, tmp_path):
    write_config(tmp_path)
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")  # what a user types
    procs = []
    for k in (1, 2):
        procs.append(start("optimize", "--data", str(BTC_5M), "--trials", "1000", "--jobs", "1", "--seed", "7",
                           "--min-trades", "5", "--storage", url, "--study", "together", "--report", f"out{k}",
                           "--no-progress", cwd=tmp_path))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=280)
        assert p.returncode == 0, err
        outs.append(out)
    study = optuna.load_study(study_name="together", storage=driver_url(url))
    trials = study.get_trials(deepcopy=False)
    # Each stops asking once the database holds --trials (counted every quarter second): the study
    # overshoots by what is in flight (two batches of 64 a process), never by a second run.
    assert 1000 <= len(trials) <= 1000 + 2 * (2 * 64) + 64, "the processes did not stop together"
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    by_worker = collections.Counter(t.system_attrs[WORKER_ATTR].rsplit(":", 1)[0] for t in trials)
    assert len(by_worker) == 2, by_worker
    evaluated = [t.system_attrs[WORKER_ATTR] for t in trials]
    assert len(set(evaluated)) == len(evaluated), "a trial was written twice"
    ran = []
    for k in (1, 2):
        summary = json.loads((tmp_path / f"out{k}" / "summary.json").read_text())
        ran.append(summary["trials"]["this_run"])
        assert summary["trials"]["total"] == len(trials) or summary["trials"]["total"] <= len(trials)
    assert sum(ran) == len(trials), f"processes ran {ran}, the study holds {len(trials)}"
    assert sorted(by_worker.values()) == sorted(ran)
    first = collections.defaultdict(set)  # the random first generation of each process: different seeds
    for t in trials:
        worker, local = t.system_attrs[WORKER_ATTR].rsplit(":", 1)
        if int(local) < 30:
            first[worker].add(tuple(sorted(t.params.items())))
    a, b = first.values()
    assert a and b and not a & b, "two processes drew the same parameter sets"
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in trials)
    assert any("metrics" in t.user_attrs for t in trials)
