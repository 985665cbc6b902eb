"""Long-lived worker processes that evaluate batches of parameter sets.

The workers are forked from the main process after its Evaluator is built and warmed up, so they
inherit the candles, the caches filled so far and numba's compiled code, read-only and shared
copy-on-write: nothing but a trial's parameters (a small dict) goes to a worker, and nothing but
its figures come back. The main process evaluates too, between its sampler calls, so `--jobs N`
means N processes evaluating.

Work sharing: submitted trials wait in one queue, in chunks, and every process takes the next chunk
when it is free. A worker holds at most DEPTH chunks (the one it evaluates and the next, already in
its pipe); a feeding thread in the main process answers each worker's results with its next chunk,
so the workers keep going while the main process runs the sampler. While the main process waits
for a batch's last chunks, it evaluates whatever is queued, the next batch included, instead of
blocking. Who evaluates a trial changes nothing in its result.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from whale.optimize.evaluate import Evaluator, evaluate_many

Task = tuple[int, dict[str, Any]]  # (trial number, config key path -> value)
CHUNK = 4  # trials per message: small enough to balance, large enough to amortise a round trip
DEPTH = 4  # chunks a worker holds (about 40 ms of work): it goes on while the main process holds the GIL
WORKER_DIED = "an optimiser worker process died"


@dataclass
class WorkerTimes:
    """One process's time, cumulative (a worker's as of its last chunk). idle_s is wall time spent
    waiting: a worker for its next chunk, the calling process for a worker's results with nothing
    left to evaluate. CPU figures hold on a loaded machine; wall figures stretch with it."""

    trials: int = 0
    eval_cpu_s: float = 0.0  # CPU seconds evaluating trials
    idle_s: float = 0.0
    cpu_s: float = 0.0  # the process's CPU time (workers: since the fork)
    cache_misses: int = 0  # indicator and unit rows computed (each process fills its own caches)


def _worker_main(evaluator: Evaluator, conn: Connection, inherited: list[Connection]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    for c in inherited:  # the main process's ends of the pipes, copied by fork: closed, so its death is an EOF
        c.close()
    parent = os.getppid()
    trials = 0
    inherited_misses = evaluator.cache_misses  # the rows the fork brought along
    busy = idle = 0.0  # CPU seconds evaluating; wall seconds waiting for work
    last: float | None = None  # when the previous chunk's results went back: idle counts from the first chunk
    while True:
        try:
            if not conn.poll(1.0):
                if os.getppid() != parent:  # the main process was killed: stop too
                    return
                continue
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        now = time.perf_counter()
        if last is not None:
            idle += now - last
        c0 = time.process_time()
        results = evaluate_many(evaluator, batch)
        busy += time.process_time() - c0
        trials += len(batch)
        last = time.perf_counter()
        try:
            conn.send((results, WorkerTimes(trials, busy, idle, time.process_time(),
                                            evaluator.cache_misses - inherited_misses)))
        except (BrokenPipeError, OSError):
            return


class Pool:
    """jobs - 1 worker processes plus the calling process, sharing one queue of chunks."""

    def __init__(self, evaluator: Evaluator, jobs: int) -> None:
        self.evaluator = evaluator
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        # The objects alive now (modules, candles, caches) live as long as the run: out of the
        # collector's sight, a full collection in the main process holds the GIL for tens of
        # milliseconds, not a tenth of a second (the feeding thread waits for it), and the workers
        # do not copy the pages it would write to. close() gives them back to the collector.
        gc.freeze()
        ctx = mp.get_context("fork")
        for _ in range(max(0, jobs - 1)):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker_main, args=(evaluator, child, [*self._conns, parent]), daemon=True)
            p.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(p)
        # Everything below is shared with the feeding thread, under _cond.
        self._cond = threading.Condition()
        self._queue: deque[list[Task]] = deque()
        self._held: dict[Connection, int] = {c: 0 for c in self._conns}  # chunks sent, results not back yet
        self._done: dict[int, Any] = {}
        self._error: BaseException | None = None
        self._closing = False
        self.here = WorkerTimes()  # the calling process
        self.workers = {c: WorkerTimes() for c in self._conns}  # as each worker last reported
        self._feeder: threading.Thread | None = None
        if self._conns:  # started after the forks: no thread is copied into a worker
            self._feeder = threading.Thread(target=self._feed, name="optimize-feeder", daemon=True)
            self._feeder.start()

    @property
    def size(self) -> int:
        return len(self._conns) + 1

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue trials; workers with room start on them at once."""
        with self._cond:
            for i in range(0, len(tasks), CHUNK):
                self._queue.append(list(tasks[i:i + CHUNK]))
            self._top_up()

    def collect(self, numbers: Sequence[int]) -> dict[int, Any]:
        """Results of these trial numbers (submitted before). Meanwhile this process evaluates queued
        chunks, oldest first, whichever batch they belong to."""
        want = set(numbers)
        while True:
            with self._cond:
                if self._error is not None:
                    raise self._error
                if want <= self._done.keys():
                    return {n: self._done.pop(n) for n in numbers}
                if not self._queue:  # every chunk left is at a worker
                    t0 = time.perf_counter()
                    self._cond.wait(timeout=1.0)
                    self.here.idle_s += time.perf_counter() - t0
                    continue
                chunk = self._queue.popleft()
            c0 = time.thread_time()
            results = evaluate_many(self.evaluator, chunk)
            self.here.eval_cpu_s += time.thread_time() - c0
            self.here.trials += len(chunk)
            with self._cond:
                self._done.update(results)

    def _top_up(self) -> None:
        """Send queued chunks to the workers with room (called holding _cond)."""
        if self._error is not None:
            return
        for conn in self._conns:
            while self._held[conn] < DEPTH and self._queue:
                chunk = self._queue.popleft()
                try:
                    conn.send(chunk)
                except OSError as exc:  # BrokenPipeError: the worker is gone, with what it held
                    self._fail(RuntimeError(WORKER_DIED), exc)
                    return
                self._held[conn] += 1

    def _fail(self, error: BaseException, cause: BaseException | None) -> None:
        """Hand an error to the calling process (called holding _cond): collect() raises it."""
        if self._error is None:
            error.__cause__ = cause
            self._error = error
        self._cond.notify_all()

    def _feed(self) -> None:
        """The feeding thread: each worker's results in, its next chunk out."""
        live = list(self._conns)
        try:
            while live:
                for conn in wait(live, timeout=1.0):
                    assert isinstance(conn, Connection)
                    try:
                        results, times = conn.recv()
                    except (EOFError, OSError) as exc:
                        live.remove(conn)
                        if self._closing:
                            continue
                        with self._cond:
                            self._fail(RuntimeError(WORKER_DIED), exc)
                        return
                    with self._cond:
                        self.workers[conn] = times
                        self._held[conn] -= 1
                        self._done.update(results)
                        if not self._closing:
                            self._top_up()
                        self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling process, which raises it
            with self._cond:
                self._fail(RuntimeError(f"the optimiser's feeding thread failed: {exc!r}"), exc)

    def times(self) -> list[WorkerTimes]:
        """The calling process first (its CPU time now), then each worker as it last reported."""
        with self._cond:
            here = WorkerTimes(self.here.trials, self.here.eval_cpu_s, self.here.idle_s, time.process_time(),
                               self.evaluator.cache_misses)
            return [here, *self.workers.values()]

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._queue.clear()
            for conn in self._conns:
                try:
                    conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join(timeout=5)
        if self._feeder is not None:
            self._feeder.join(timeout=5)
            self._feeder = None
        for conn in self._conns:
            conn.close()
        self._conns.clear()
        self._procs.clear()
        gc.unfreeze()
