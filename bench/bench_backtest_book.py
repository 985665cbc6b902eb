"""backtest --book end to end: book and trade events per second through the LIVE bot on one core.

    python bench/bench_backtest_book.py [--hours 1] [--seed 1] [--topics orderbook,publicTrade] [--profile]

Records `--hours` of the day-like BTCUSDT stream of bench/book_stream.py (orderbook.200 every 100 ms
with realistic churn and walls, trades with bursts, tickers every 100 ms, kline.1; not timed), then
runs whale.backtest.book_run.run_book_backtest on it in density mode (1-minute candles built from the
trades, the advanced exits on) and times the replay: every recorded event goes into the Markets and
the bot runs one pass of its loop (Trader.book_pass: densities, advanced exits, density entries; the
Account's safety pass; candle closes), paper fills on the recorded book. Prints events per second of
wall and of CPU time (all events; and book + trade events alone, the issue's measure), and with
--profile the functions where the time goes. `--topics` keeps only some streams: `orderbook,publicTrade` is the
issue's "orderbook.200 plus trades" (and what a Tardis.dev import holds), without the recorder's tickers and
klines.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.book_stream import ALL_TOPICS, write_recording  # noqa: E402
from tests.book_recording import density_config  # noqa: E402
from whale.backtest.book_run import run_book_backtest  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--topics", default=",".join(ALL_TOPICS),
                    help=f"the streams to record, comma-separated (default: all of {','.join(ALL_TOPICS)})")
    ap.add_argument("--profile", action="store_true", help="also print where the time goes (cProfile, slower)")
    args = ap.parse_args()
    topics = tuple(t.strip() for t in args.topics.split(",") if t.strip())
    unknown = set(topics) - set(ALL_TOPICS)
    if unknown or not topics:
        ap.error(f"--topics: unknown stream(s) {sorted(unknown)}; choose from {','.join(ALL_TOPICS)}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-backtest-book-"))
    try:
        rec = write_recording(tmp / "rec", args.hours, args.seed, topics)
        log = logging.getLogger("whalebot.bench")
        log.addHandler(logging.NullHandler())
        log.propagate = False
        cfg, _ = density_config(tmp)
        run_book_backtest(cfg, rec, tmp / "warm", log, to_ms=None if args.hours <= 0.05 else
                          1_748_736_000_000 + 120_000)  # compile the kernels first (not timed)
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        r = run_book_backtest(cfg, rec, tmp / "out", log)
        if prof:
            prof.disable()
        s = r.stats
        bt = s.book_events + s.trade_events
        print(f"recording: {args.hours:g} h of BTCUSDT {' + '.join(topics)} (bench/book_stream.py)")
        print(f"events: {s.events:,} ({s.book_events:,} book, {s.trade_events:,} trade, "
              f"{s.events - bt:,} ticker/kline/gap), {s.passes:,} loop passes")
        print(f"replay: {s.wall_s:.2f} s wall, {s.cpu_s:.2f} s CPU")
        print(f"all events/s:          {s.events / s.wall_s:,.0f} wall, {s.events / s.cpu_s:,.0f} CPU")
        print(f"book+trade events/s:   {bt / s.wall_s:,.0f} wall, {bt / s.cpu_s:,.0f} CPU "
              f"(a day of this stream: {86_400 / (args.hours * 3600) * s.cpu_s:,.0f} s of CPU)")
        print(f"trades closed: {len(r.trades)}, density events: {len(r.densities)}")
        if prof:
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
