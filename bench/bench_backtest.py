"""Backtest speed and memory over one year of 1-minute candles (525,600).

    python bench/bench_backtest.py [--runs 2] [--keep DIR]

Builds the stitched year (bench/stitched.py), writes a config with interval "1", every
candle-based scorer on (the extended set too), MTF on 60 and 240, volume confirmation and the
trailing stop, then runs `python whalebot.py backtest` as a child process (the first run may
compile numba's cache; the last run is reported). Prints candles/s for indicators_s +
simulate_s from report.json and the child's peak RSS (the largest child so far).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backtest_process import run_backtest_process  # noqa: E402
from bench.stitched import YEAR_1M, write_csv  # noqa: E402
from whale.config.model import Config, replace_path, to_dict  # noqa: E402


def bench_config() -> dict:
    cfg = Config()
    cfg = replace_path(cfg, "interval", "1")
    cfg = replace_path(cfg, "mtf_analysis.higher_timeframes", ["60", "240"])
    for name in ("kaufman_ama", "relative_volume", "market_structure", "dema", "keltner_channels", "roc",
                 "candlestick_patterns", "fibonacci_pivot_points"):
        cfg = replace_path(cfg, f"indicators.{name}", True)
    cfg = replace_path(cfg, "logging.file", str(Path(tempfile.gettempdir()) / "whalebot-bench.log"))
    return to_dict(cfg)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", help="directory for the data file and reports (default: a temp dir)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="whalebot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "BTCUSDT-stitched_1m.csv"
    if not data.exists():
        t = time.perf_counter()
        write_csv(data)
        print(f"built {data} ({YEAR_1M:,} candles) in {time.perf_counter() - t:.1f} s")
    cfg_path = work / "bench-config.json"
    cfg_path.write_text(json.dumps(bench_config(), indent=2))
    for run in range(1, args.runs + 1):
        report = work / f"report-{run}"
        r, wall, rss_mb = run_backtest_process(["--data", str(data)], cfg_path, report, timeout=900)
        tm = r["timing"]
        hot = tm["indicators_s"] + tm["simulate_s"]
        print(f"run {run}: bars {r['bars'] + r['warmup_bars']:,}  trades {r['trades']}  "
              f"indicators_s {tm['indicators_s']:.3f}  simulate_s {tm['simulate_s']:.3f}  "
              f"-> {(r['bars'] + r['warmup_bars']) / hot:,.0f} candles/s  |  load_s {tm['load_s']:.2f}  "
              f"jit_s {tm['jit_s']:.2f}  total_s {tm['total_s']:.2f}  wall {wall:.2f} s  "
              f"peak RSS {rss_mb:.0f} MB")
    print(f"data and reports in {work}")


if __name__ == "__main__":
    main()
