"""End-to-end optimiser speed over one year of 15-minute candles (35,040), the default space.

    python bench/bench_optimize.py [--trials 5000] [--jobs 2] [--compare-jobs 1] [--baseline 20] [--keep DIR]

Writes the stitched 15-minute year (bench/stitched.py) to a temporary file, then runs
`python whalebot.py optimize --jobs N --trials T` (NSGA-II, in-memory study checkpointed to its
journal) as a child process and reads summary.json: trials/s from the first trial to the last, and
the sampler's share of that time, and each process's CPU, evaluating and waiting time (the
CPU use holds on a loaded machine, where trials/s drop). --compare-jobs runs the same study with another --jobs for the
ratio. Side by side, a plain loop calls run_backtest once per trial (in-process, each trial's
config from the same space) for --baseline trials, and one plain `backtest` process is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stitched import temp_csv_15m  # noqa: E402
from whale.config.model import Config, replace_path, to_dict  # noqa: E402


def bench_config(work: Path) -> Path:
    cfg = replace_path(Config(), "logging.file", "")
    path = work / "bench-config.json"
    path.write_text(json.dumps(to_dict(cfg), indent=2))
    return path


def optimize_summary(data: Path, cfg: Path, work: Path, out: Path, *args: str) -> tuple[dict, float]:
    """Run `whalebot.py optimize` on the file with these options; (its summary.json, wall seconds)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "optimize", "--data", str(data), "--config",
                           str(cfg), *args, "--report", str(out), "--no-progress"], cwd=work, capture_output=True,
                          text=True, timeout=3600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        raise SystemExit(f"optimize failed with exit code {proc.returncode}")
    return json.loads((out / "summary.json").read_text()), wall


def run_optimize(data: Path, cfg: Path, work: Path, trials: int, jobs: int, seed: int) -> dict:
    out = work / f"optimize-j{jobs}-{trials}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    s, wall = optimize_summary(data, cfg, work, out, "--trials", str(trials), "--jobs", str(jobs), "--seed", str(seed))
    tm = s["timing"]
    print(f"optimize --jobs {jobs} --trials {trials:,}: {tm['trials_per_s']:,.0f} trials/s first trial to last "
          f"({tm['wall_s']:.1f} s), sampler {tm['sampler_share'] * 100:.1f}% of that time "
          f"({tm['sampler_s'] / max(trials, 1) * 1e3:.2f} ms per trial); whole command {wall:.1f} s")
    print(f"  CPU use {tm['cpu_utilisation'] * 100:.0f}% of {tm['processes']} process(es) x wall; the sampler "
          f"{tm['sampler_cpu_s'] / max(trials, 1) * 1e3:.2f} ms CPU per trial")
    for i, p in enumerate(tm["per_process"]):
        who = "calling process" if i == 0 else f"worker {i}"
        print(f"  {who}: {p['trials']:,} trials, CPU {p['cpu_s']:.2f} s ({p['evaluating_cpu_s']:.2f} s evaluating, "
              f"{p['evaluating_cpu_s'] / max(p['trials'], 1) * 1e3:.2f} ms a trial), waited {p['waiting_s']:.2f} s "
              f"for work or results, {p['cache_misses']:,} rows computed")
    cpu = sum(p["cpu_s"] for p in tm["per_process"])
    print(f"  CPU of all processes {cpu / max(trials, 1) * 1e3:.2f} ms per trial")
    return s


def plain_loop(data: Path, n: int, seed: int) -> float:
    """run_backtest once per trial, in-process (numba warm), configs drawn from the default space."""
    from whale.backtest.runner import run_backtest
    from whale.config.loader import config_from_data
    from whale.optimize.evaluate import apply_params
    from whale.optimize.space import load_space

    base = replace_path(Config(), "logging.file", "")
    space = load_space(None, base)
    rng = random.Random(seed)
    run_backtest(base, data)  # compile / load numba's cache first
    t = time.perf_counter()
    for _ in range(n):
        cfg = config_from_data(apply_params(to_dict(base), space.draw(rng))).config
        run_backtest(cfg, data)
    rate = n / (time.perf_counter() - t)
    print(f"plain loop, run_backtest once per trial: {rate:,.1f} trials/s ({1e3 / rate:.0f} ms per trial, "
          f"{n} trials)")
    return rate


def plain_process(data: Path, cfg: Path, work: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "backtest", "--data", str(data), "--config",
                           str(cfg), "--report", str(work / "bt"), "--no-progress"], cwd=work, capture_output=True,
                          text=True, timeout=600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    print(f"one plain `backtest` process: {wall:.2f} s")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--compare-jobs", type=int, default=1, help="also run with this --jobs (0: skip)")
    ap.add_argument("--baseline", type=int, default=20, help="trials of the plain run_backtest loop (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="work directory (default: a temp dir)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="whalebot-bench-opt-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: figures drop when others run)")
    data = work / "BTCUSDT-stitched_15m.csv"
    if not data.exists():
        temp_csv_15m(work)
    cfg = bench_config(work)
    main_run = run_optimize(data, cfg, work, args.trials, args.jobs, args.seed)
    if args.compare_jobs:
        other = run_optimize(data, cfg, work, args.trials, args.compare_jobs, args.seed)
        ratio = main_run["timing"]["trials_per_s"] / other["timing"]["trials_per_s"]
        print(f"--jobs {args.jobs} / --jobs {args.compare_jobs}: {ratio:.2f}x")
    if args.baseline:
        rate = plain_loop(data, args.baseline, args.seed)
        print(f"optimize --jobs {args.jobs} is {main_run['timing']['trials_per_s'] / rate:,.0f}x the plain loop")
        plain_process(data, cfg, work)
    print(f"load average {os.getloadavg()[0]:.2f}; work directory {work}")


if __name__ == "__main__":
    main()
