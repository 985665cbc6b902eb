"""Where a study lives, written off the evaluation's path by a background thread.

The sampler always works on an in-memory Optuna study (an ask and a tell cost about a millisecond
there). What is made durable, and where:

- `JournalCheckpoint` (no --storage): every few seconds the trials asked or finished since the last
  checkpoint are appended to an Optuna journal file (`study.journal` in the report directory), a
  file Optuna itself can open. `--resume` loads it; trials still RUNNING in it (asked, not finished
  when the run was killed) are marked FAIL and asked again. A kill loses at most the last few
  seconds.
- `RdbSync` (--storage postgresql://...): finished trials are written to Optuna's RDB storage in
  batches, one transaction per batch; the other processes' finished trials are read back from it
  by a background thread and added to the local study, so every process samples from the whole
  study. The write and a COUNT happen once more, in the calling thread, just before each ask
  (`finished_now`): the stop rule then counts every trial any process has told, whatever the
  background thread's lag, so a shared study overshoots `--trials` by at most what is in flight.
  No round trip waits in the evaluation itself: the pool works on its queued batch meanwhile.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._storage import JournalOperation
from optuna.trial import FrozenTrial, TrialState

from whale.errors import BadInputError, WhaleError

log = logging.getLogger("whalebot")
WORKER_ATTR = "whalebot:worker"  # which process evaluated a trial (host:pid:local number), in RDB studies
CHECKPOINT_S = 2.0


class JournalCheckpoint:
    """In-memory study -> journal file, every `interval` seconds and at close.

    The journal is Optuna's JournalStorage file format (Optuna can open it), written as batches of
    its log lines straight to the file backend: one append per checkpoint, instead of a locked
    append (and a replay of the log) per trial. One report directory has one writer, so trial ids
    in the file are the trials' numbers.
    """

    def __init__(self, path: Path, study_name: str, directions: list[str], interval: float = CHECKPOINT_S) -> None:
        self.path = path
        self.storage = JournalStorage(JournalFileBackend(str(path)))
        self.study_id = self._study_id(study_name, directions)
        self.backend = JournalFileBackend(str(path))
        self.worker = f"whalebot-{os.getpid()}"
        self.interval = interval
        self._asked: dict[int, Any] = {}  # number -> optuna.Trial, asked, not finished yet
        self._finished: dict[int, FrozenTrial] = {}
        self._created: set[int] = set()
        self._running: set[int] = set()  # created as RUNNING, not yet finished in the file
        self._dist_json: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="optimize-checkpoint", daemon=True)
        self._thread.start()

    def _study_id(self, name: str, directions: list[str]) -> int:
        try:
            return self.storage.get_study_id_from_name(name)
        except KeyError:
            dirs = [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else optuna.study.StudyDirection.MINIMIZE
                    for d in directions]
            return self.storage.create_new_study(dirs, name)

    def adopt(self, trials: list[FrozenTrial]) -> None:
        """Trials already in the journal (a resumed study)."""
        for t in trials:
            if t._trial_id != t.number:
                raise WhaleError(f"{self.path}: trial {t.number} has id {t._trial_id}; the journal was written by "
                                 "something else than one optimize run")
            self._created.add(t.number)

    def asked(self, trials: list[Any]) -> None:
        """Trials just asked (optuna.Trial): written as RUNNING if a checkpoint finds them unfinished."""
        with self._lock:
            for t in trials:
                self._asked[t.number] = t

    def record(self, trials: list[FrozenTrial]) -> None:
        """Finished trials."""
        with self._lock:
            for t in trials:
                self._finished[t.number] = t
                self._asked.pop(t.number, None)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            finished, self._finished = self._finished, {}
            asked = {n: t for n, t in self._asked.items() if n not in self._created}
        try:
            logs: list[dict[str, Any]] = []
            for number in sorted(finished.keys() | asked.keys()):
                if number in finished:
                    logs.extend(self._finished_logs(finished[number]))
                else:
                    logs.append(self._running_log(asked[number]))
            if logs:
                self.backend.append_logs(logs)
        except BaseException as exc:  # noqa: BLE001 - reported by close(), the run must not die silently
            self._error = exc

    def _dists(self, distributions: dict[str, Any]) -> dict[str, str]:
        from optuna.distributions import distribution_to_json

        out = {}
        for k, d in distributions.items():
            if k not in self._dist_json:
                self._dist_json[k] = distribution_to_json(d)
            out[k] = self._dist_json[k]
        return out

    def _create_log(self, number: int, state: TrialState, values: Any, start: Any, complete: Any,
                    params: dict[str, Any], distributions: dict[str, Any], user_attrs: dict[str, Any],
                    system_attrs: dict[str, Any]) -> dict[str, Any]:
        self._created.add(number)
        many = values is not None and len(values) > 1
        log: dict[str, Any] = {
            "op_code": JournalOperation.CREATE_TRIAL, "worker_id": self.worker, "study_id": self.study_id,
            "state": int(state), "value": None if many or values is None else values[0],
            "values": list(values) if many else None, "datetime_start": _iso(start),
            "distributions": self._dists(distributions),
            "params": {k: distributions[k].to_internal_repr(v) for k, v in params.items()},
            "user_attrs": user_attrs, "system_attrs": system_attrs, "intermediate_values": {}}
        if complete is not None:
            log["datetime_complete"] = _iso(complete)
        return log

    def _running_log(self, trial: Any) -> dict[str, Any]:
        self._running.add(trial.number)
        system_attrs = trial.study._storage.get_trial_system_attrs(trial._trial_id)
        return self._create_log(trial.number, TrialState.RUNNING, None, trial.datetime_start, None, trial.params,
                                trial.distributions, {}, system_attrs)

    def _finished_logs(self, t: FrozenTrial) -> list[dict[str, Any]]:
        if t.number not in self._created:
            return [self._create_log(t.number, t.state, t.values, t.datetime_start, t.datetime_complete, t.params,
                                     t.distributions, t.user_attrs, t.system_attrs)]
        if t.number not in self._running:
            return []
        self._running.discard(t.number)
        tid = t.number
        logs = [{"op_code": JournalOperation.SET_TRIAL_USER_ATTR, "worker_id": self.worker, "trial_id": tid,
                 "user_attr": {k: v}} for k, v in t.user_attrs.items()]
        logs += [{"op_code": JournalOperation.SET_TRIAL_SYSTEM_ATTR, "worker_id": self.worker, "trial_id": tid,
                  "system_attr": {k: v}} for k, v in t.system_attrs.items()]
        logs.append({"op_code": JournalOperation.SET_TRIAL_STATE_VALUES, "worker_id": self.worker, "trial_id": tid,
                     "state": int(t.state), "values": list(t.values) if t.values is not None else None,
                     "datetime_complete": _iso(t.datetime_complete)})
        return logs

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()
        if self._error is not None:
            raise WhaleError(f"writing the checkpoint {self.path} failed: {self._error}") from self._error


def _iso(when: Any) -> str | None:
    from datetime import UTC

    return when.astimezone(UTC).isoformat(timespec="microseconds") if when is not None else None


def load_journal(path: Path, study_name: str) -> tuple[list[FrozenTrial], list[str]]:
    """(trials in number order, directions) of a checkpointed study, for --resume."""
    if not path.exists():
        raise BadInputError(f"--resume: {path} does not exist; pass the --report directory of the run to resume")
    repair_after_kill(path)
    storage = JournalStorage(JournalFileBackend(str(path)))
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as exc:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise BadInputError(f"--resume: {path} holds no study {study_name!r} (it holds {', '.join(names)}); "
                            "pass the same --study") from exc
    dirs = ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]
    return study.get_trials(deepcopy=True), dirs


def repair_after_kill(path: Path) -> None:
    """A run killed during a checkpoint leaves the journal's lock file behind (Optuna would wait for
    it forever) and perhaps half a line; one report directory has one writer, so both are cleared."""
    lock = Path(str(path) + ".lock")
    if lock.exists() or lock.is_symlink():
        log.warning(f"removing {lock}, left behind by the stopped run")
        lock.unlink()
    with path.open("rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning(f"{path}: dropping a half-written last line ({len(data) - keep} bytes) left by the stop")
            fh.truncate(keep)


class RdbSync:
    """The local study <-> Optuna's RDB storage (PostgreSQL), from a background thread."""

    def __init__(self, url: str, study_name: str, directions: list[Any], interval: float = 0.25) -> None:
        self.url = url
        for attempt in range(3):
            try:
                self.rdb = optuna.storages.RDBStorage(driver_url(url), engine_kwargs={
                    "pool_pre_ping": True, "connect_args": _connect_args(url)})
                self.storage = optuna.storages.get_storage(self.rdb)
                study = optuna.create_study(storage=self.storage, study_name=study_name, directions=list(directions),
                                            load_if_exists=True)
                break
            except ImportError as exc:
                raise BadInputError(f"--storage {_safe(url)}: the database driver is not installed ({exc}); "
                                    "pip install -r requirements.txt") from exc
            except ValueError as exc:
                raise BadInputError(f"--storage {_safe(url)}: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - SQLAlchemy's connection errors have many types
                text = str(exc)
                if attempt < 2 and ("already exists" in text or "duplicate key" in text):
                    time.sleep(0.5 + attempt)  # another process is creating Optuna's tables right now
                    continue
                raise WhaleError(f"--storage {_safe(url)}: cannot reach the database: "
                                 f"{text.splitlines()[0]}") from exc
        got = ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]
        if got != directions:
            raise BadInputError(f"--study {study_name!r} in {_safe(url)} has directions {got}, but --objective "
                                f"asks for {directions}; use the study's objectives or another --study name")
        self.study_id = study._study_id
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        self.interval = interval
        self._out: queue.Queue[FrozenTrial] = queue.Queue()
        self.inbox: queue.Queue[FrozenTrial] = queue.Queue()
        self._seen: set[int] = set()  # RDB trial ids already known here
        self.written = 0
        self.in_study = 0  # finished trials in the database at the last sync, every process's
        self._write_lock = threading.Lock()  # the calling thread's flush and the background sync's
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="optimize-rdb", daemon=True)
        self._thread.start()

    def finished_now(self, told_here: int) -> int:
        """Finished trials in the study now, every process's: this process's told trials are written
        first, then counted with the others' in one COUNT. The stop rule asks this before each batch;
        with every process doing the same, what it misses is only the others' batches in flight."""
        if self._error is not None:
            raise self._write_failed(self._error) from self._error
        try:
            self._write_and_count()
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors have many types
            raise self._write_failed(exc) from exc
        return self.in_study + max(0, told_here - self.written)

    def _write_failed(self, exc: BaseException) -> WhaleError:
        return WhaleError(f"--storage {_safe(self.url)}: writing trials failed: {exc}")

    def existing(self) -> list[FrozenTrial]:
        """Finished trials already in the study (other processes', earlier runs')."""
        trials = self.storage.get_all_trials(self.study_id, deepcopy=False,
                                             states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED))
        for t in trials:
            self._seen.add(t._trial_id)
        return list(trials)

    def record(self, trials: list[FrozenTrial]) -> None:
        for t in trials:
            if t.state.is_finished():
                self._out.put(t)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sync()

    def _write_and_count(self) -> None:
        with self._write_lock:
            batch = []
            while True:
                try:
                    batch.append(self._out.get_nowait())
                except queue.Empty:
                    break
            batch = [_with_system_attr(t, WORKER_ATTR, f"{self.me}:{t.number}") for t in batch]
            if batch:
                self._seen.update(insert_finished_trials(self.rdb, self.study_id, batch))
                self.written += len(batch)
            self.in_study = count_trials(self.rdb, self.study_id)

    def _sync(self) -> None:
        try:
            self._write_and_count()
            mine = f"{self.me}:"
            for t in self.storage.get_all_trials(self.study_id, deepcopy=False, states=(TrialState.COMPLETE,)):
                # Own trials are skipped by their worker tag too: the calling thread may have written
                # them after this read began and before their ids reached _seen.
                if t._trial_id not in self._seen and not str(t.system_attrs.get(WORKER_ATTR, "")).startswith(mine):
                    self._seen.add(t._trial_id)
                    self.inbox.put(t)
        except BaseException as exc:  # noqa: BLE001 - reported by close()
            self._error = exc
            self._stop.set()

    def all_trials(self) -> list[FrozenTrial]:
        return list(self.storage.get_all_trials(self.study_id, deepcopy=True))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is None:
            self._sync()
        if self._error is not None:
            raise self._write_failed(self._error) from self._error


def _with_system_attr(t: FrozenTrial, key: str, value: Any) -> FrozenTrial:
    """A shallow copy with one more system attribute (the study's own trial object is left alone)."""
    c = copy.copy(t)
    c._system_attrs = {**t.system_attrs, key: value}
    return c


def insert_finished_trials(rdb: optuna.storages.RDBStorage, study_id: int, trials: list[FrozenTrial]) -> list[int]:
    """Finished trials into Optuna's RDB tables in one transaction, a few multi-row INSERTs per batch
    (RDBStorage.create_new_trial takes a transaction and ~35 statements per trial, 50-90 ms here).
    As Optuna does, the study's row is locked while the trials take the next numbers, so processes
    writing at once never share a number."""
    import sqlalchemy as sa
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models  # Optuna's table definitions: the schema its RDBStorage reads

    trial_t = models.TrialModel.__table__
    study_t = models.StudyModel.__table__
    with rdb.engine.begin() as conn:
        conn.execute(sa.select(study_t.c.study_id).where(study_t.c.study_id == study_id).with_for_update())
        first = conn.execute(sa.select(sa.func.count()).select_from(trial_t)
                             .where(trial_t.c.study_id == study_id)).scalar_one()
        rows = [{"study_id": study_id, "number": first + i, "state": t.state, "datetime_start": t.datetime_start,
                 "datetime_complete": t.datetime_complete} for i, t in enumerate(trials)]
        ids = list(conn.execute(sa.insert(trial_t).returning(trial_t.c.trial_id, sort_by_parameter_order=True),
                                rows).scalars())
        params, values, user, system = [], [], [], []
        for tid, t in zip(ids, trials, strict=True):
            for k, v in t.params.items():
                d = t.distributions[k]
                params.append({"trial_id": tid, "param_name": k, "param_value": d.to_internal_repr(v),
                               "distribution_json": distribution_to_json(d)})
            for i, v in enumerate(t.values or []):
                stored, kind = models.TrialValueModel.value_to_stored_repr(v)
                values.append({"trial_id": tid, "objective": i, "value": stored, "value_type": kind})
            user += [{"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in t.user_attrs.items()]
            system += [{"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in t.system_attrs.items()]
        for model, batch in ((models.TrialParamModel, params), (models.TrialValueModel, values),
                             (models.TrialUserAttributeModel, user), (models.TrialSystemAttributeModel, system)):
            if batch:
                conn.execute(sa.insert(model.__table__), batch)
    return ids


def count_trials(rdb: optuna.storages.RDBStorage, study_id: int) -> int:
    """Finished trials in the study (every process's), one COUNT."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    trial_t = models.TrialModel.__table__
    with rdb.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(trial_t).where(
            trial_t.c.study_id == study_id, trial_t.c.state.in_(
                [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED]))).scalar_one())


def driver_url(url: str) -> str:
    """postgresql://... uses psycopg 3 (requirements.txt), not SQLAlchemy's default psycopg2."""
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def _connect_args(url: str) -> dict[str, Any]:
    return {"connect_timeout": 10} if url.startswith("postgresql") else {}


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in cred else f"{scheme}://{user}@{host}"
    return url
