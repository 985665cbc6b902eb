"""The optimiser with its study in PostgreSQL: `optimize --storage postgresql://... --jobs 2` over one
year of 15-minute candles, against a throwaway PostgreSQL 15 started for the run (the tests' fixture,
tests/optimize/postgres.py: needs /usr/lib/postgresql/15/bin and root or the postgres user).

    python bench/bench_optimize_postgres.py [--trials 3000] [--jobs 2]

Also times Optuna's own per-trial path against the same server (ask with the default space's 30
parameters + tell, one trial at a time), which is what a plain RDB study pays per trial.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_optimize import bench_config, optimize_summary  # noqa: E402
from bench.stitched import temp_csv_15m  # noqa: E402
from tests.optimize.postgres import missing, throwaway_postgres  # noqa: E402


def optuna_round_trip(url: str, n: int = 50) -> float:
    import optuna

    from whale.config.model import Config
    from whale.optimize.space import load_space
    from whale.optimize.storage import driver_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = load_space(None, Config()).distributions()
    study = optuna.create_study(storage=driver_url(url), study_name="round-trip")
    t = time.perf_counter()
    for _ in range(n):
        trial = study.ask(dists)
        study.tell(trial, 1.0)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(reason)
    work = Path(tempfile.mkdtemp(prefix="whalebot-bench-pg-"))
    data = temp_csv_15m(work)
    cfg = bench_config(work)
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: figures drop when others run)")
    with throwaway_postgres() as url:
        url = url.replace("postgresql+psycopg://", "postgresql://")
        per = optuna_round_trip(url)
        print(f"Optuna's own ask + tell on this server: {per * 1e3:.0f} ms per trial ({1 / per:.0f} trials/s at most "
              "from one process)")
        out = work / "out"
        s, wall = optimize_summary(data, cfg, work, out, "--trials", str(args.trials), "--jobs", str(args.jobs),
                                   "--seed", "1", "--storage", url, "--study", "bench")
        tm = s["timing"]
        print(f"optimize --storage postgresql:// --jobs {args.jobs} --trials {args.trials:,}: "
              f"{tm['trials_per_s']:,.0f} trials/s first trial to last ({tm['wall_s']:.1f} s), sampler "
              f"{tm['sampler_share'] * 100:.1f}% of that time; {s['trials']['total']:,} trials in the database; "
              f"whole command {wall:.1f} s")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
