"""Disk and CPU of recording one symbol's public streams at Bybit's real rates.

    python bench/bench_recording_disk.py [--hours 24] [--seed 1] [--out DIR] [--trade-ids] [--ticker-top]

Generates the day-like BTCUSDT stream of bench/book_stream.py (orderbook.200 every 100 ms with
realistic churn, trades with bursts, tickers every 100 ms, kline.1) and records it with
RecordingWriter.write_message, as the recorder does, with the writer's defaults (no trade ids, no
best bid and ask in the tickers; --trade-ids and --ticker-top keep them). Prints the MB the files
take, scaled to a day, the records, and the writer's CPU time per day (the generator's own time is
not counted).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.book_stream import StreamModel, messages  # noqa: E402
from whale.recording.writer import RecordingWriter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="keep the recording here (default: a temporary directory)")
    ap.add_argument("--trade-ids", action="store_true", help="keep the trade ids")
    ap.add_argument("--ticker-top", action="store_true", help="keep the tickers' best bid and ask")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="wbr-disk-"))
    model = StreamModel(seed=args.seed)
    writer = RecordingWriter(out, model.symbol, depth=model.depth, price_unit=str(model.tick),
                             size_unit=str(model.step), trade_ids=args.trade_ids, ticker_top=args.ticker_top)
    counts: dict[str, int] = {}
    prints = 0
    levels = 0
    spent = 0.0
    clock = time.perf_counter
    for msg, recv_us in messages(model, args.hours):
        kind = msg["topic"].split(".", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "publicTrade":
            prints += len(msg["data"])
        elif kind == "orderbook":
            levels += len(msg["data"]["b"]) + len(msg["data"]["a"])
        t0 = clock()
        writer.write_message(msg, recv_us)
        spent += clock() - t0
    t0 = clock()
    writer.close()
    spent += clock() - t0
    size = sum(p.stat().st_size for p in writer.stats.files)
    day = 24.0 / args.hours
    print(f"{args.hours:g} h of {model.symbol}: {counts} messages, {prints:,} prints, "
          f"{levels / max(1, counts.get('orderbook', 1)):.1f} levels per book message")
    print(f"files: {len(writer.stats.files)}, {size / 1e6:.1f} MB -> {size * day / 1e6:.1f} MB a day")
    print(f"records: {writer.stats.records}; ticker deltas of the best prices alone, not written: "
          f"{writer.stats.top_only_tickers:,}")
    print(f"writer CPU: {spent:.1f} s -> {spent * day / 86400 * 100:.2f} % of a core")
    if not args.out:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
