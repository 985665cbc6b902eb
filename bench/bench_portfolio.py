"""Portfolio backtest speed and memory: 10 symbols x one year of 1-minute candles (5,256,000 candles).

    python bench/bench_portfolio.py [--runs 2] [--symbols 10] [--keep DIR]

Derives the symbols from the stitched year (bench/stitched.py) with whale.market.synthetic: weights
of the real returns from 0.95 down to 0 (pairwise correlations from about 0.86 down to 0, so the
correlation rule has groups to act on), start prices spread from 2 to 60,000 (inferred instrument
rules differ). Writes one CSV per symbol, then runs `python whalebot.py backtest --data ... x10` as a
child process with bench_backtest.py's config (interval "1", every candle-based scorer on, MTF 60 +
240); the first run may compile numba's cache, the last is reported. Prints candles/s over the
kernels (indicators_s + simulate_s from report.json) and per second of the process's CPU time in
them (what the wall figure would be on an idle machine, about), the whole command's wall time, the
child's peak RSS (the largest child so far) and the machine's load average (it is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backtest_process import run_backtest_process  # noqa: E402
from bench.bench_backtest import bench_config  # noqa: E402
from bench.stitched import YEAR_1M, stitched_1m  # noqa: E402
from whale.candle_file import write_candle_csv  # noqa: E402
from whale.market.candles import Candles  # noqa: E402
from whale.market.synthetic import derive_symbols  # noqa: E402

SEED = 12


def symbol_files(work: Path, count: int) -> list[Path]:
    paths = [work / f"S{k:02d}USDT_1m.csv" for k in range(1, count + 1)]
    if all(p.exists() for p in paths):
        return paths
    t = time.perf_counter()
    d = stitched_1m(YEAR_1M)
    base = Candles.from_arrays(d["timestamp_ms"], d["open"], d["high"], d["low"], d["close"], d["volume"], "1")
    weights = np.linspace(0.95, 0.0, count).tolist()
    prices = np.exp(np.random.default_rng(SEED).uniform(np.log(2.0), np.log(60_000.0), count)).tolist()
    for path, candles in zip(paths, derive_symbols(base, weights, seed=SEED, start_prices=prices), strict=True):
        write_candle_csv(path, candles)
    print(f"built {count} symbols x {YEAR_1M:,} candles in {time.perf_counter() - t:.1f} s "
          f"(weights {', '.join(f'{w:.2f}' for w in weights)})")
    return paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--keep", help="directory for the data files and reports (default: a temp dir)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="whalebot-bench-portfolio-"))
    work.mkdir(parents=True, exist_ok=True)
    paths = symbol_files(work, args.symbols)
    cfg_path = work / "bench-config.json"
    cfg_path.write_text(json.dumps(bench_config(), indent=2))
    data = [a for p in paths for a in ("--data", str(p))]
    for run in range(1, args.runs + 1):
        report = work / f"report-{run}"
        load_before = os.getloadavg()
        r, wall, rss_mb = run_backtest_process(data, cfg_path, report, timeout=1800)
        tm = r["timing"]
        hot = tm["indicators_s"] + tm["simulate_s"]
        hot_cpu = tm["indicators_cpu_s"] + tm["simulate_cpu_s"]
        load_after = os.getloadavg()
        print(f"run {run}: {len(paths)} symbols, candles {r['candles']:,}  trades {r['trades']} "
              f"(skipped {sum(r['skipped_entries'].values())}, shrunk {sum(r['shrunk_entries'].values())})  "
              f"indicators_s {tm['indicators_s']:.3f}  simulate_s {tm['simulate_s']:.3f}  "
              f"-> {r['candles'] / hot:,.0f} candles/s (CPU time {hot_cpu:.3f} s: {r['candles'] / hot_cpu:,.0f} "
              f"candles per CPU second)  |  outputs_s {tm['outputs_s']:.2f}  load_s {tm['load_s']:.2f}  "
              f"jit_s {tm['jit_s']:.2f}  "
              f"total_s {tm['total_s']:.2f}  wall {wall:.2f} s  peak RSS {rss_mb:.0f} MB  |  load average "
              f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"data and reports in {work}")


if __name__ == "__main__":
    main()
