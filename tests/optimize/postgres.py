"""A throwaway PostgreSQL for the tests: initdb in a temporary directory owned by the `postgres`
user (initdb refuses root, and CI runs as root), started with pg_ctl through `runuser`, its socket
in that directory, listening on 127.0.0.1 on a free port; always stopped and removed.

Where the binaries are missing the tests skip with that reason, but fail when CI=true."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def missing() -> str | None:
    """Why a throwaway PostgreSQL cannot start here, or None."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL 15 binaries not found ({PG_BIN / tool} is missing)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no '{USER}' user to run PostgreSQL as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != USER:
        return "starting PostgreSQL as the postgres user needs root (runuser)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(reason)


PORT_ATTEMPTS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout)


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yields a postgresql:// URL (user postgres, password-less over 127.0.0.1 with trust auth)."""
    root = Path(tempfile.mkdtemp(prefix="whalebot-pg-"))
    data = root / "data"
    uid = pwd.getpwnam(USER).pw_uid
    gid = pwd.getpwnam(USER).pw_gid
    os.chown(root, uid, gid)
    started = False
    try:
        r = _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                         "--no-sync")
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        for attempt in range(PORT_ATTEMPTS):
            # The free port is only free until someone takes it (another test worker between our probe and
            # the server's bind): a start that cannot bind tries again on another port.
            port = _free_port()
            opts = f"-k {root} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            log_file = root / f"server-{attempt}.log"
            r = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log_file),
                             "-w", "-t", "60", "start")
            if r.returncode == 0:
                break
            log = log_file.read_text() if log_file.exists() else ""
            if "could not bind" not in log or attempt == PORT_ATTEMPTS - 1:
                raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log[-2000:]}")
        started = True
        r = _as_postgres(str(PG_BIN.parent / "bin" / "psql") if (PG_BIN / "psql").exists() else "psql",
                         "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-c", "CREATE DATABASE whalebot_test")
        if r.returncode != 0:
            raise RuntimeError(f"creating the test database failed: {r.stderr.strip()}")
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/whalebot_test"
    finally:
        if started:
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop")
        shutil.rmtree(root, ignore_errors=True)
