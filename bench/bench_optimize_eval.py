"""Evaluation alone: parameter sets given, features cached, over one year of 15-minute candles.

    python bench/bench_optimize_eval.py [--sets 3000] [--jobs 2] [--baseline 20]

Draws --sets parameter sets from the default space (seeded), evaluates them once to fill the caches
(indicator groups per period, unit rows per scorer), then times evaluating them again with --jobs
processes (the calling one and jobs - 1 forked workers, as `optimize` runs them) and with one.
No sampler is involved. Side by side: run_backtest once per parameter set, in-process.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stitched import temp_csv_15m  # noqa: E402
from whale.config.model import Config, replace_path  # noqa: E402


def draw(space, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [space.draw(rng) for _ in range(n)]


def timed(evaluator, sets: list[dict], jobs: int) -> float:
    from whale.optimize.workers import Pool

    pool = Pool(evaluator, jobs)
    try:
        tasks = list(enumerate(sets))
        t = time.perf_counter()
        pool.submit(tasks)
        pool.collect([n for n, _ in tasks])
        return len(sets) / (time.perf_counter() - t)
    finally:
        pool.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=3000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--baseline", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from whale.backtest.runner import run_backtest
    from whale.optimize.evaluate import Evaluator
    from whale.optimize.market import load_market
    from whale.optimize.space import load_space

    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: figures drop when others run)")
    data = temp_csv_15m(Path(tempfile.mkdtemp(prefix="whalebot-bench-eval-")))
    base = replace_path(Config(), "logging.file", "")
    space = load_space(None, base)
    sets = draw(space, args.sets, args.seed)
    ev = Evaluator(base, load_market(base, data))
    t = time.perf_counter()
    for p in sets:
        ev.evaluate_params(p)
    print(f"first pass (filling the caches): {len(sets) / (time.perf_counter() - t):,.0f} sets/s; "
          f"{sum(len(p.groups) for p in ev.parts)} indicator entries, "
          f"{sum(p.units.used_bytes for p in ev.parts) / 2**20:,.0f} MB of unit rows, "
          f"{sum(p.units.hits for p in ev.parts):,} unit hits / {sum(p.units.misses for p in ev.parts):,} misses")
    one = timed(ev, sets, 1)
    many = timed(ev, sets, args.jobs)
    print(f"cached, 1 process: {one:,.0f} parameter sets/s")
    print(f"cached, {args.jobs} processes: {many:,.0f} parameter sets/s ({many / one:.2f}x)")
    if args.baseline:
        cfgs = [ev.config_for(p) for p in sets[: args.baseline]]
        run_backtest(base, data)
        t = time.perf_counter()
        for c in cfgs:
            run_backtest(c, data)
        rate = args.baseline / (time.perf_counter() - t)
        print(f"plain loop, run_backtest once per set: {rate:,.1f} sets/s; cached evaluation with {args.jobs} "
              f"processes is {many / rate:,.0f}x")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
