"""The first run on a machine (issue 11 item 3): with a cold numba cache the demo says what it is
doing (compiling, first run only, which kernel group, n of m) instead of going silent, and the
compiling, done before the streams start, never trips their stale-stream check."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.net, pytest.mark.timeout(900)]


def test_a_cold_cache_says_it_is_compiling_and_the_streams_stay_connected(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    env.update(NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"), NO_COLOR="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "whalebot.py"), "demo", "--candles", "2", "--workdir",
                           str(tmp_path / "w")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=840)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "Compiling the numba kernels" in line)
    assert "first run only" in lines[first]
    groups = [m for line in lines if (m := re.search(r"Compiling kernels (\d+) of (\d+): (.+)", line))]
    total = int(groups[0].group(2))
    assert [int(m.group(1)) for m in groups] == list(range(1, total + 1)) and total >= 4
    assert all(m.group(3) for m in groups)  # each names its group
    streams = next(i for i, line in enumerate(lines) if "public stream connected" in line)
    last_group = max(i for i, line in enumerate(lines) if "Compiling kernels" in line)
    assert first < last_group < streams
    assert "no data for" not in out and "reconnecting" not in out, out
    assert "Demo finished" in out
