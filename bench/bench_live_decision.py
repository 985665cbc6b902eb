"""Latency of one live decision: a closed candle in, score + signal + breakdown out.

    python bench/bench_live_decision.py [--candles 5000]

The Analyzer is loaded with history as the live bot does at start (its history_needed()), then
fed real 1-minute BTC candles one at a time with interval "1", every candle-based scorer on (the
extended set too), the order-book scorer fed an imbalance, and MTF on 60 and 240 — the
higher-timeframe candle is added, as in the live loop, right before the primary candle that closes
with it, and that time is counted in the decision. Prints the median, p90, p99 and max.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.paths import DATA_DIR  # noqa: E402
from whale.candle_file import load_candle_file  # noqa: E402
from whale.config.model import Config, replace_path  # noqa: E402
from whale.market.intervals import bucket_end  # noqa: E402
from whale.market.resample import resample  # noqa: E402
from whale.strategy.analyzer import Analyzer, warm_up_jit  # noqa: E402


def config() -> Config:
    cfg = replace_path(Config(), "interval", "1")
    for name in ("kaufman_ama", "relative_volume", "market_structure", "dema", "keltner_channels", "roc",
                 "candlestick_patterns", "fibonacci_pivot_points"):
        cfg = replace_path(cfg, f"indicators.{name}", True)
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=5000)
    args = ap.parse_args()
    cfg = config()
    warm_up_jit(cfg)
    src = load_candle_file(DATA_DIR / "BTCUSDT-PERP_1m.csv.gz").candles
    a = Analyzer(cfg, "1", live=True)
    history = a.history_needed()
    htf = {k: resample(src, k) for k in a.mtf_intervals}
    closes = {k: bucket_end(h.ts, k) for k, h in htf.items()}
    fed = {k: 0 for k in htf}

    def feed(t_ms: int) -> None:
        for k, h in htf.items():
            upto = int(np.searchsorted(closes[k], t_ms, side="right"))
            if upto > fed[k]:
                a.add_htf_candles(k, h.slice(fed[k], upto))
                fed[k] = upto

    feed(int(bucket_end(src.ts[history - 1: history], src.interval)[0]))
    n0 = np.zeros(history)
    a.process(src.slice(0, history), scores=n0, ready=np.zeros(history, bool), signals=np.zeros(history, np.int8),
              cooled=np.zeros(history, bool))
    end = min(len(src), history + args.candles)
    lat = []
    ready = 0
    closes_primary = bucket_end(src.ts, src.interval)
    for i in range(history, end):
        t0 = time.perf_counter()
        feed(int(closes_primary[i]))
        d = a.on_closed_candle(int(src.ts[i]), src.open[i], src.high[i], src.low[i], src.close[i], src.volume[i],
                               book_imbalance=0.1)
        lat.append(time.perf_counter() - t0)
        ready += d.ready
    us = np.array(lat) * 1e6
    print(f"history {history} candles, {len(us)} decisions ({ready} ready), {int(a.enabled.sum())} scorers on")
    print(f"latency per decision: median {np.median(us):.0f} us, p90 {np.percentile(us, 90):.0f} us, "
          f"p99 {np.percentile(us, 99):.0f} us, max {us.max():.0f} us")


if __name__ == "__main__":
    main()
