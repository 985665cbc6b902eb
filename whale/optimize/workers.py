"""Long-lived worker processes that evaluate batches of parameter sets.

The workers are forked from the main process after its Evaluator is built and warmed up, so they
inherit the candles, the caches filled so far and numba's compiled code, read-only and shared
copy-on-write: nothing but a trial's parameters (a small dict) goes to a worker, and nothing but
its figures come back. The main process evaluates too, between its sampler calls, so `--jobs N`
means N processes evaluating.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from whale.optimize.evaluate import Evaluator, evaluate_many

Task = tuple[int, dict[str, Any]]  # (trial number, config key path -> value)
CHUNK = 4  # trials per message: small enough to balance, large enough to amortise a round trip
DEPTH = 6  # chunks queued per worker, so it keeps working while the main process runs the sampler


def _worker_main(evaluator: Evaluator, conn: Connection, inherited: list[Connection]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    for c in inherited:  # the main process's ends of the pipes, copied by fork: closed, so its death is an EOF
        c.close()
    parent = os.getppid()
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
        conn.send(evaluate_many(evaluator, batch))


class Pool:
    """jobs - 1 worker processes plus the calling process."""

    def __init__(self, evaluator: Evaluator, jobs: int) -> None:
        self.evaluator = evaluator
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        ctx = mp.get_context("fork")
        for _ in range(max(0, jobs - 1)):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker_main, args=(evaluator, child, [*self._conns, parent]), daemon=True)
            p.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(p)
        self._queue: deque[list[Task]] = deque()
        self._busy: dict[Connection, deque[list[Task]]] = {c: deque() for c in self._conns}
        self._done: dict[int, Any] = {}
        self.evaluated_here = 0

    @property
    def size(self) -> int:
        return len(self._conns) + 1

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue trials; idle workers start on them at once."""
        for i in range(0, len(tasks), CHUNK):
            self._queue.append(list(tasks[i:i + CHUNK]))
        self._dispatch()

    def collect(self, numbers: Sequence[int]) -> dict[int, Any]:
        """Results of these trial numbers (submitted before), evaluating queued chunks here meanwhile."""
        want = set(numbers)
        while not want <= self._done.keys():
            self._dispatch()
            self._receive(block=False)
            if want <= self._done.keys():
                break
            mine = self._next_chunk_for(want)
            if mine is not None:
                for number, result in evaluate_many(self.evaluator, mine):
                    self._done[number] = result
                self.evaluated_here += len(mine)
            else:
                self._receive(block=True)
        return {n: self._done.pop(n) for n in numbers}

    def _next_chunk_for(self, want: set[int]) -> list[Task] | None:
        for i, chunk in enumerate(self._queue):
            if chunk[0][0] in want:
                del self._queue[i]
                return chunk
        return None

    def _dispatch(self) -> None:
        for conn in self._conns:
            while len(self._busy[conn]) < DEPTH and self._queue:
                chunk = self._queue.popleft()
                conn.send(chunk)
                self._busy[conn].append(chunk)

    def _receive(self, block: bool) -> None:
        busy = [c for c in self._conns if self._busy[c]]
        if not busy:
            return
        ready = wait(busy, timeout=None if block else 0)
        for conn in ready:
            assert isinstance(conn, Connection)
            try:
                results = conn.recv()
            except EOFError as exc:
                raise RuntimeError("an optimiser worker process died") from exc
            self._busy[conn].popleft()
            for number, result in results:
                self._done[number] = result
        self._dispatch()

    def close(self) -> None:
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
        for conn in self._conns:
            conn.close()
        self._conns.clear()
        self._procs.clear()
