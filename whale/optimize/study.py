"""One optimisation: a study, its storage, the workers and the loop; shared by `optimize` and by each
fold of `walkforward`."""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from whale.config.model import Config
from whale.errors import BadInputError
from whale.optimize.driver import ERROR_ATTR, TPE_WARN_AFTER, Driver, RunStats, make_sampler
from whale.optimize.evaluate import Evaluator, TrialError
from whale.optimize.objectives import Objective
from whale.optimize.report import best_trial
from whale.optimize.space import Space
from whale.optimize.storage import JournalCheckpoint, RdbSync, load_journal
from whale.optimize.workers import Pool

log = logging.getLogger("whalebot")
JOURNAL_NAME = "study.journal"


@dataclass
class StudySettings:
    space: Space
    objectives: list[Objective]
    sampler: str = "nsga2"
    trials: int = 200
    jobs: int = 1
    min_trades: int = 20
    seed: int | None = None
    study_name: str = "whalebot"
    storage: str | None = None
    resume: bool = False
    progress: bool = True


@dataclass
class StudyResult:
    trials: list[FrozenTrial]
    best: FrozenTrial | None
    stats: RunStats
    jobs: int
    written_to: str  # the journal file or the storage URL (without password)


def check_settings(s: StudySettings) -> None:
    if s.trials < 1:
        raise BadInputError(f"--trials {s.trials}: must be at least 1")
    if s.jobs < 1:
        raise BadInputError(f"--jobs {s.jobs}: must be at least 1")
    if s.min_trades < 0:
        raise BadInputError(f"--min-trades {s.min_trades}: must be 0 or more")
    if s.sampler == "tpe" and s.trials > TPE_WARN_AFTER:
        log.warning(f"--sampler tpe with {s.trials:,} trials: TPE's cost per trial grows with the study (about "
                    f"28 ms at 1,000 trials, 107 ms at 5,000); nsga2 stays near 1 ms")
    if len(s.objectives) > 1 and s.sampler == "tpe":
        log.info("TPE with several objectives: fine for small studies; nsga2 is the default for Pareto fronts")


def warm_evaluator(base: Config, evaluator: Evaluator, space: Space | None = None) -> None:
    """Evaluate the base config once (it compiles what numba has not cached yet, and turns a base
    config the data cannot run into one clear message), then each value of the space's whole-number
    and choice parameters on the base config, so the indicator groups and unit rows they need are
    cached before the workers are forked: every worker inherits them instead of computing its own."""
    try:
        evaluator.evaluate(base)
    except TrialError as exc:
        raise BadInputError(f"{evaluator.name}: the --config itself cannot run on this data: {exc}") from exc
    for p in space.params if space is not None else ():
        values = list(p.choices) if p.kind == "choice" else \
            list(range(int(p.low), int(p.high) + 1, int(p.step or 1))) if p.kind == "int" else []
        for v in values[:64]:
            try:
                evaluator.evaluate_params({p.key: v})
            except TrialError:
                pass  # the trial that needs it will say why


def run_study(base: Config, evaluator: Evaluator, s: StudySettings, report_dir: Path) -> StudyResult:
    check_settings(s)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions: list[Any] = [o.direction for o in s.objectives]
    seed = s.seed
    target = s.trials
    recorder: JournalCheckpoint | RdbSync
    if s.storage:
        rdb = RdbSync(s.storage, s.study_name, directions)
        recorder = rdb
        existing = rdb.existing()
        if seed is not None:  # processes sharing a study must not draw the same parameter sets
            seed = (seed + zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode())) % 2 ** 31
        sampler = make_sampler(s.sampler, seed, s.space.distributions())
        study = optuna.create_study(directions=directions, sampler=sampler, study_name=s.study_name)
        study.add_trials(existing)
        where = s.storage.split("@")[-1]
    else:
        path = report_dir / JOURNAL_NAME
        loaded: list[FrozenTrial] = []
        if s.resume:
            loaded, dirs = load_journal(path, s.study_name)
            if dirs != directions:
                raise BadInputError(f"--resume: the study in {path} has directions {dirs}, but --objective asks for "
                                    f"{directions}; resume with the same --objective")
            if seed is not None:
                seed += len(loaded)
        elif path.exists():
            raise BadInputError(f"--report {report_dir} already holds a study ({path}); add --resume to continue it, "
                                "or pass another --report directory")
        sampler = make_sampler(s.sampler, seed, s.space.distributions())
        study = optuna.create_study(directions=directions, sampler=sampler, study_name=s.study_name)
        cp = JournalCheckpoint(path, s.study_name, directions)
        recorder = cp
        if loaded:
            again = _resume_into(study, cp, loaded)
            target = max(target, len(loaded) + again)  # every interrupted trial is asked again
        where = str(path)
    pool = Pool(evaluator, s.jobs)
    processes = pool.size
    try:
        driver = Driver(study, s.space, s.objectives, s.min_trades, pool, record=recorder.record,
                        inbox=_drain(recorder) if isinstance(recorder, RdbSync) else None, progress=s.progress,
                        asked=None if isinstance(recorder, RdbSync) else recorder.asked,
                        shared_done=recorder.finished_now if isinstance(recorder, RdbSync) else None)
        previous = _stop_on_signals(driver.stop)
        try:
            stats = driver.run(target)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        pool.close()
        recorder.close()
    stats.mark_end(pool.times())  # the last trial is written (checkpoint or database), not just told
    trials = recorder.all_trials() if isinstance(recorder, RdbSync) else study.get_trials(deepcopy=False)
    return StudyResult(trials, best_trial(trials, s.objectives, s.min_trades), stats, processes, where)


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """Ctrl-C and SIGTERM stop a study between two batches: the trials told so far make the report,
    the ones in flight stay RUNNING in the checkpoint (so --resume asks them again). The previous
    handlers are returned to be put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame) -> None:  # noqa: ARG001
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _resume_into(study: optuna.Study, cp: JournalCheckpoint, loaded: list[FrozenTrial]) -> int:
    """Finished trials are kept; trials the kill left RUNNING are marked FAIL (in the journal too)
    and their parameters asked again."""
    again = []
    kept = []
    for t in loaded:
        if t.state.is_finished():
            kept.append(t)
            continue
        cp.storage.set_trial_user_attr(t._trial_id, ERROR_ATTR, "interrupted: the run stopped before this trial "
                                                                "finished; it was asked again")
        cp.storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        failed = optuna.trial.create_trial(state=TrialState.FAIL, params=t.params, distributions=t.distributions,
                                           user_attrs={**t.user_attrs, ERROR_ATTR: "interrupted"},
                                           system_attrs=t.system_attrs)
        kept.append(failed)
        again.append(t.params)
    study.add_trials(kept)
    cp.adopt(loaded)
    for params in again:
        study.enqueue_trial(params, skip_if_exists=False)
    log.info(f"resumed {len(loaded)} trials ({len(again)} left running by the stop are asked again)")
    return len(again)


def _drain(rdb: RdbSync):
    def take() -> list[FrozenTrial]:
        out = []
        while not rdb.inbox.empty():
            out.append(rdb.inbox.get_nowait())
        return out
    return take


def sharpe_per_period(annualised: float | None) -> float:
    return float("nan") if annualised is None else annualised / math.sqrt(365.0)
