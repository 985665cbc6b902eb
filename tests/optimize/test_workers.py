"""The worker pool shares its work: the calling process never idles while trials are queued, a
trial's result does not depend on which process evaluated it, and a worker's death is an error,
not a hang."""

import os
import random
import signal
import threading
import time

import pytest

from tests.optimize.helpers import BTC_5M, base_config, default_space, random_params
from whale.optimize.evaluate import Evaluator, evaluate_many
from whale.optimize.market import load_markets
from whale.optimize.workers import CHUNK, DEPTH, WORKER_DIED, Pool

pytestmark = pytest.mark.net  # forks worker processes


@pytest.fixture(scope="module")
def evaluator():
    cfg = base_config()
    ev = Evaluator(cfg, load_markets(cfg, [str(BTC_5M)], None, None))
    ev.evaluate(cfg)
    return ev


def tasks(first: int, n: int, seed: int) -> list:
    space, rng = default_space(), random.Random(seed)
    return [(first + i, random_params(space, rng)) for i in range(n)]


def dead(pid: int) -> bool:
    """Gone or a zombie: its end of the pipe is closed."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def wait_until(ready, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_calling_process_evaluates_the_next_batch_while_a_worker_holds_the_current_ones(evaluator):
    """The worker is stopped holding every chunk of batch A: waiting for A, the calling process
    evaluates all of batch B (queued after A) instead of blocking, and both batches' results equal
    evaluating them in one process."""
    a, b = tasks(0, DEPTH * CHUNK, 1), tasks(DEPTH * CHUNK, 3 * DEPTH * CHUNK, 2)
    pool = Pool(evaluator, 2)
    [pid] = pool.worker_pids
    os.kill(pid, signal.SIGSTOP)
    resumed = threading.Event()

    def resume_when_b_is_done() -> None:
        wait_until(lambda: pool.here.trials >= len(b), 30)
        os.kill(pid, signal.SIGCONT)
        resumed.set()

    waker = threading.Thread(target=resume_when_b_is_done, daemon=True)
    try:
        pool.submit(a)
        pool.submit(b)
        waker.start()
        got_a = pool.collect([n for n, _ in a])
        evaluated_here = pool.here.trials
        got_b = pool.collect([n for n, _ in b])
    finally:
        os.kill(pid, signal.SIGCONT)
        waker.join(40)
        pool.close()
    assert evaluated_here == len(b), "the calling process blocked instead of evaluating the queued batch"
    assert [p.trials for p in pool.times()] == [len(b), len(a)]
    assert got_a == dict(evaluate_many(evaluator, a))
    assert got_b == dict(evaluate_many(evaluator, b))


def test_two_processes_give_each_trial_the_result_of_one(evaluator):
    batches = [tasks(64 * k, 64, 10 + k) for k in range(3)]
    pool = Pool(evaluator, 2)
    try:
        for batch in batches[:2]:
            pool.submit(batch)
        got = {}
        for k, batch in enumerate(batches):
            got.update(pool.collect([n for n, _ in batch]))
            if k + 2 < len(batches):
                pool.submit(batches[k + 2])
        here, worker = pool.times()
    finally:
        pool.close()
    assert here.trials > 0 and worker.trials > 0 and here.trials + worker.trials == 192
    assert worker.cpu_s > 0 and worker.eval_cpu_s > 0
    assert got == dict(evaluate_many(evaluator, [t for batch in batches for t in batch]))


@pytest.mark.parametrize("when", ["before the trials are submitted", "while it evaluates"])
def test_a_killed_worker_is_an_error_not_a_hang(evaluator, when):
    pool = Pool(evaluator, 2)
    [pid] = pool.worker_pids
    outcome: list[BaseException | None] = []

    def collect() -> None:
        try:
            pool.collect([n for n, _ in batch])
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    batch = tasks(0, 400, 3)
    try:
        if when == "before the trials are submitted":
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: dead(pid), 30)
            pool.submit(batch)
        else:
            pool.submit(batch)
            wait_until(lambda: pool.times()[1].trials > 0, 60)
            os.kill(pid, signal.SIGKILL)
        t = threading.Thread(target=collect, daemon=True)
        t.start()
        t.join(120)
        assert not t.is_alive(), "collect() hangs after the worker's death"
    finally:
        pool.close()
    [exc] = outcome
    assert isinstance(exc, RuntimeError) and str(exc) == WORKER_DIED
