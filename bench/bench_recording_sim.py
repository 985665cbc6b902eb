#!/usr/bin/env python3
"""Disk and CPU of recording two symbols from the simulator's stream-rate mode, end to end.

    python bench/bench_recording_sim.py [--seconds 300] [--depth 200] [--trade-ids] [--ticker-top]
                                        [--compression gzip|xz]

Starts `python whalebot.py sim --stream-rates bybit` on the bundled BTCUSDT and ETHUSDT 1m files
(orderbook.200 every 100 ms with levels churning near the touch, tickers every 100 ms, trade
bursts every 100 ms, kline.1 with the replay at real time) in its own process, and records
orderbook.200, publicTrade, tickers and kline.1 of both symbols in this process: one
websocket-client connection, every message json-parsed and handed to a RecordingWriter per symbol
(tests/ws_recorder.py). Reports per symbol the messages, the bytes of the files and that scaled to
a day, and for this process (the recorder: socket, JSON, writer) its CPU in % of one core and its
peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sim_process import start_stream_rate_sim  # noqa: E402
from tests.ws_recorder import record  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--depth", type=int, default=200)
    ap.add_argument("--trade-ids", action="store_true", help="keep the trade ids (the writer's default: not)")
    ap.add_argument("--ticker-top", action="store_true",
                    help="keep the tickers' best bid and ask (the writer's default: not, the book has them)")
    ap.add_argument("--compression", default=None, help="the writer's compression (default: its default)")
    ap.add_argument("--out", default=None, help="keep the recording here (default: a temporary directory)")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="wbr-sim-"))
    options: dict = {}
    if args.trade_ids:
        options["trade_ids"] = True
    if args.ticker_top:
        options["ticker_top"] = True
    if args.compression:
        options["compression"] = args.compression
    proc, urls = start_stream_rate_sim(SYMBOLS)
    url = urls["public_ws"]
    try:
        cpu0 = time.process_time()
        t0 = time.monotonic()
        writers = record(url, SYMBOLS, out, seconds=args.seconds, depth=args.depth, writer_options=options)
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    day = 86_400.0 / wall
    print(f"recorded {wall:.0f} s of {', '.join(SYMBOLS)} at depth {args.depth}, writer options {options or 'default'}")
    for sym, w in writers.items():
        size = sum(p.stat().st_size for p in w.stats.files)
        print(f"{sym}: records {w.stats.records}; {size / 1e6:.2f} MB -> {size * day / 1e6:.1f} MB a day")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"recorder process: CPU {cpu:.1f} s = {cpu / wall * 100:.2f} % of one core; peak RSS {rss:.0f} MB")
    if not args.out:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
