"""`python whalebot.py backtest` as a child process for the benchmarks: its report, wall time and peak RSS."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_backtest_process(data_args: list[str], cfg_path: Path, report: Path,
                         timeout: float) -> tuple[dict, float, float]:
    """(report.json, wall seconds, peak RSS of the children so far in MB); exits when the backtest fails."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "backtest", *data_args, "--config",
                           str(cfg_path), "--report", str(report), "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        raise SystemExit(f"backtest failed with exit code {proc.returncode}")
    return json.loads((report / "report.json").read_text()), wall, rss_mb
