"""The simulator as a separate process for the benchmarks: `python whalebot.py sim` in stream-rate mode."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_stream_rate_sim(symbols: Sequence[str]) -> tuple[subprocess.Popen, dict[str, str]]:
    """`sim --stream-rates bybit` on the bundled candles of `symbols`, on a free port; returns the
    process and the URLs of its SIM READY line (rest, public_ws, private_ws)."""
    cmd = [sys.executable, str(ROOT / "whalebot.py"), "sim", "--port", "0", "--history", "1000", "--stream-rates",
           "bybit", "--log-level", "WARNING"]
    for sym in symbols:
        cmd += ["--data", str(ROOT / "data" / f"{sym}-PERP_1m.csv.gz")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("SIM READY"):
        proc.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return proc, dict(part.split("=", 1) for part in line.split()[2:])
