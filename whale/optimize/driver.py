"""The ask / evaluate / tell loop (Optuna's ask-and-tell interface), in batches.

The order of the sampler's calls is fixed: ask batch 0, ask batch 1, then for each batch k: its
results are collected, batch k is told, batch k+2 is asked. The sampler therefore always sees the
same history at each ask, however fast each process is, so a run with --seed is reproducible, and
gives the same trials with any --jobs. Each batch goes to the pool as soon as it is asked, so two
batches are always queued: the workers never wait for the sampler (while batch k is told and batch
k+2 asked, they work on batch k+1), and the main process, waiting for batch k's last trials,
evaluates batch k+1's instead of idling.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.study._tell import _tell_with_warning  # Study.tell's body (optuna is pinned: README)
from optuna.trial import FrozenTrial, TrialState

from whale.errors import BadInputError
from whale.optimize.objectives import Objective, feasible
from whale.optimize.space import Space
from whale.optimize.workers import Pool, WorkerTimes

METRICS_ATTR = "metrics"
ERROR_ATTR = "error"
TPE_WARN_AFTER = 1000
BATCH = 64  # trials per ask/tell batch; the same for any --jobs, so a seed gives the same trials


class FixedSpaceNSGAII(optuna.samplers.NSGAIISampler):
    """NSGA-II over the one space every trial of the study uses. Optuna infers the space at every ask
    as the intersection of all finished trials' spaces, deep-copying it each time (about a third of
    the sampler's cost here); with one fixed space that intersection is the space itself."""

    def __init__(self, space: dict[str, BaseDistribution], seed: int | None) -> None:
        super().__init__(seed=seed)
        self._fixed = {k: d for k, d in space.items() if not d.single()}
        self._parents: dict[tuple[int, int], list[FrozenTrial]] = {}

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self._fixed)

    def get_parent_population(self, study: optuna.Study, generation: int) -> list[FrozenTrial]:
        """A generation's parents never change once chosen (Optuna keeps their ids in the study); Optuna
        finds them again by scanning every trial at every ask, which grows with the study."""
        key = (study._study_id, generation)
        if key not in self._parents:
            self._parents = {k: v for k, v in self._parents.items() if k[1] >= generation - 1}
            self._parents[key] = super().get_parent_population(study, generation)
        return self._parents[key]


def make_sampler(name: str, seed: int | None, space: dict[str, BaseDistribution]) -> optuna.samplers.BaseSampler:
    """The minimum-trades constraint reaches NSGA-II and TPE through Trial.set_constraint (Driver._tell)."""
    if name == "nsga2":
        return FixedSpaceNSGAII(space, seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise BadInputError(f"--sampler {name!r} is not one of nsga2, tpe, random")


@dataclass
class RunStats:
    started: float = 0.0  # first ask
    ended: float = 0.0  # last tell
    sampler_s: float = 0.0  # ask + tell
    sampler_cpu_s: float = 0.0  # the same, CPU seconds of the calling thread (holds on a loaded machine)
    evaluated: int = 0
    failed: int = 0
    best: float | None = None
    best_number: int | None = None
    told: list[int] = field(default_factory=list)
    interrupted: bool = False
    adopted: int = 0  # other processes' trials read back from a shared study
    times_at_start: list[WorkerTimes] = field(default_factory=list)  # Pool.times() at the first ask
    processes: list[WorkerTimes] = field(default_factory=list)  # each process's share of the run (mark_end)

    def mark_end(self, now: list[WorkerTimes]) -> None:
        """Each process's trials, CPU, evaluating and waiting seconds between the first ask and now."""
        self.ended = time.perf_counter()
        start = self.times_at_start + [WorkerTimes()] * (len(now) - len(self.times_at_start))
        self.processes = [WorkerTimes(b.trials - a.trials, b.eval_cpu_s - a.eval_cpu_s, b.idle_s - a.idle_s,
                                      b.cpu_s - a.cpu_s, b.cache_misses - a.cache_misses)
                          for a, b in zip(start, now, strict=True)]

    @property
    def cpu_utilisation(self) -> float:
        """CPU seconds of every process over (wall seconds x processes): 1.0 is every process busy
        the whole run. Unlike trials/s, other load on the machine lowers it only as far as it takes
        CPU from these processes."""
        return sum(p.cpu_s for p in self.processes) / (self.wall_s * max(len(self.processes), 1))

    @property
    def wall_s(self) -> float:
        return max(self.ended - self.started, 1e-9)

    @property
    def rate(self) -> float:
        return self.evaluated / self.wall_s


class Driver:
    def __init__(self, study: optuna.Study, space: Space, objectives: list[Objective], min_trades: int,
                 pool: Pool, record: Callable[[list[FrozenTrial]], None] | None = None,
                 inbox: Callable[[], list[FrozenTrial]] | None = None, progress: bool = True,
                 asked: Callable[[list[optuna.Trial]], None] | None = None,
                 shared_done: Callable[[int], int] | None = None) -> None:
        self.study = study
        self.space = space
        self.dists = space.distributions()
        self.objectives = objectives
        self.min_trades = min_trades
        self.pool = pool
        self.record = record or (lambda trials: None)
        self.inbox = inbox
        self.asked = asked  # the journal keeps RUNNING trials, so a resume can ask them again
        self.shared_done = shared_done  # a shared study's finished trials, counted in the database
        self.progress = progress
        self.stats = RunStats()
        self.batch = BATCH
        self.stop = threading.Event()  # set by Ctrl-C / SIGTERM (study.py): stop between two batches

    def finished_count(self) -> int:
        return len(self.study._storage.get_all_trials(self.study._study_id, deepcopy=False,
                                                      states=(TrialState.COMPLETE, TrialState.FAIL,
                                                              TrialState.PRUNED)))

    def run(self, total: int) -> RunStats:
        """Run trials until the study holds `total` finished ones (other processes' trials count,
        in a shared study)."""
        s = self.stats
        self._finished = self.finished_count()
        bar = self._bar(total, self._finished)
        s.started = time.perf_counter()
        s.times_at_start = self.pool.times()
        cur = self._ask(min(self.batch, total - self._finished))
        self.pool.submit(self._tasks(cur))
        nxt = self._ask(min(self.batch, total - self._finished - len(cur)))
        self.pool.submit(self._tasks(nxt))
        try:
            while cur:
                if self.stop.is_set():
                    s.interrupted = True
                    break
                results = self.pool.collect([t.number for t in cur])
                self._tell(cur, results)
                self._finished += len(cur)
                if bar is not None:
                    bar.update(len(cur))
                    if s.best is not None:
                        bar.set_postfix_str(f"best {self.objectives[0].name} {s.best:.4g} (#{s.best_number})")
                cur = nxt
                if self.inbox is not None:
                    adopted = self._adopt(self.inbox())
                    self._finished += adopted
                    if bar is not None and adopted:
                        bar.update(adopted)
                done = self._finished
                if self.shared_done is not None:  # every process's finished trials, counted in the database now
                    done = max(done, self.shared_done(s.evaluated + s.failed))
                nxt = self._ask(min(self.batch, total - done - len(cur)))
                self.pool.submit(self._tasks(nxt))
        except KeyboardInterrupt:
            # Ctrl-C: the trials told so far make the report; those in flight stay RUNNING (in the
            # checkpoint too, so --resume asks them again).
            s.interrupted = True
        finally:
            if bar is not None:
                bar.close()
        s.mark_end(self.pool.times())
        return s

    def _ask(self, k: int) -> list[optuna.Trial]:
        if k <= 0:
            return []
        t0, c0 = time.perf_counter(), time.thread_time()
        trials = [self.study.ask(self.dists) for _ in range(k)]
        self.stats.sampler_s += time.perf_counter() - t0
        self.stats.sampler_cpu_s += time.thread_time() - c0
        if self.asked is not None:
            self.asked(trials)
        return trials

    def _tasks(self, trials: list[optuna.Trial]) -> list[tuple[int, dict[str, Any]]]:
        return [(t.number, self.space.values(t.params)) for t in trials]

    def _tell(self, trials: list[optuna.Trial], results: dict[int, Any]) -> None:
        s = self.stats
        t0, c0 = time.perf_counter(), time.thread_time()
        told = []
        first = self.objectives[0]
        for t in trials:
            r = results[t.number]
            if isinstance(r, dict):
                t.set_user_attr(METRICS_ATTR, r)
                t.set_constraint("min_trades", float(self.min_trades - r["trades"]))
                values = [o.value(r) for o in self.objectives]
                told.append(self._tell_one(t, values, None))
                s.evaluated += 1
                if feasible(r, self.min_trades) and not math.isnan(values[0]):
                    better = s.best is None or (values[0] > s.best if first.maximize else values[0] < s.best)
                    if better:
                        s.best, s.best_number = values[0], t.number
            else:
                t.set_user_attr(ERROR_ATTR, str(r))
                told.append(self._tell_one(t, None, TrialState.FAIL))
                s.failed += 1
        s.sampler_s += time.perf_counter() - t0
        s.sampler_cpu_s += time.thread_time() - c0
        self.record(told)

    def _tell_one(self, trial: optuna.Trial, values: list[float] | None, state: TrialState | None) -> FrozenTrial:
        """Study.tell without its deep copy of the trial it returns. The in-memory storage replaces a
        trial's object on every change, so the stored one serves read-only (the recorders never change it)."""
        _tell_with_warning(study=self.study, trial=trial, value_or_values=values, state=state)
        return self.study._storage.get_trial(trial._trial_id)

    def _adopt(self, foreign: list[FrozenTrial]) -> int:
        """Other processes' finished trials into the local study, so the sampler learns from them."""
        if foreign:
            t0, c0 = time.perf_counter(), time.thread_time()
            self.study.add_trials(foreign)
            self.stats.sampler_s += time.perf_counter() - t0
            self.stats.sampler_cpu_s += time.thread_time() - c0
            self.stats.adopted += len(foreign)
        return len(foreign)

    def _bar(self, total: int, done: int):
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=done, unit="trial", desc="optimize", dynamic_ncols=True,
                    bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {rate_fmt} ETA {remaining} {postfix}")
