"""Replay speed of a book recording through the density and exit logic, on one core.

    python bench/bench_book_replay.py [--hours 2] [--seed 1] [--recording DIR]

Records `--hours` of the day-like BTCUSDT stream of bench/book_stream.py (orderbook.200 every
100 ms with realistic churn, trades with bursts, tickers, kline.1; not timed), then times the
replay end to end:

- RecordingReader: gzip, the numba decoder, the batches;
- the book: DensityTracker.apply_levels keeps the tracker's copy of the book from each snapshot or
  delta, and updates densities incrementally;
- on every book and trade event, as the live loop's order-book pass does: AdvancedExits.update
  (the price is the last trade, the book imbalance from the tracker, the new prints), then flat:
  DensityStrategy.entry_signal (a signal opens a position at the price), in a position:
  DensityStrategy.manage (break-even, bounce erosion exit) and AdvancedExits.check (an exit closes
  it).

Prints book and trade events per second of wall time and of CPU time (tickers and klines are
decoded and skipped, their time counted); the CPU figure is what one core does on a machine that
other processes share.
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

from bench.book_stream import write_recording  # noqa: E402
from whale.config.model import Density, Fees, TakeProfit  # noqa: E402
from whale.recording.reader import K_DELTA, K_ROTATION, K_SNAPSHOT, K_TRADES, RecordingReader  # noqa: E402
from whale.strategy.advanced_exits import AdvancedExits, ManagedPosition  # noqa: E402
from whale.strategy.density import DensityTracker  # noqa: E402
from whale.strategy.density_strategy import DensityStrategy, density_position  # noqa: E402


def replay(root: Path, density: Density, take_profit: TakeProfit) -> dict[str, float]:
    tracker = DensityTracker(density)
    exits = AdvancedExits(take_profit, density, Fees())
    strategy = DensityStrategy(density, tick=0.1)
    position: ManagedPosition | None = None
    price = 0.0
    n_book = n_trades = entries = exits_taken = density_events = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for b, lo, hi in RecordingReader(root).views():
        kind = b.col("kind")
        ts = b.col("ts")
        off = b.col("off")
        nb = b.col("nb")
        na = b.col("na")
        for i in range(lo, hi):
            k = kind[i]
            now = ts[i]
            trades = None
            if k == K_DELTA or k == K_SNAPSHOT or k == K_ROTATION:
                n_book += 1
                density_events += len(tracker.apply_levels(now, k != K_DELTA, b.lpx, b.lsz, off[i], nb[i], na[i]))
                if price <= 0.0:
                    price = tracker.mid
            elif k == K_TRADES:
                n_trades += 1
                o, n = off[i], nb[i]
                t_ts, t_side, t_px, t_sz = b.col("t_ts"), b.col("t_side"), b.col("t_px"), b.col("t_sz")
                trades = [(t_ts[j], t_side[j], t_sz[j], t_px[j]) for j in range(o, o + n)]
                price = t_px[o + n - 1]
            else:
                continue
            exits.update(now, price, trades, None, tracker)
            if position is None:
                entry = strategy.entry_signal(now, price, tracker)
                if entry is not None:
                    entries += 1
                    position = density_position(entry, price, 0.01, now, exits.extrema.extreme(entry.side),
                                                strategy.stop_for(entry.kind, entry.side, price, entry.density_price))
            else:
                decision = strategy.manage(position, price, tracker, now)
                if decision is not None and hasattr(decision, "new_stop"):
                    position.stop, position.breakeven_done = decision.new_stop, True
                    decision = None
                if decision is None:
                    decision = exits.check(position, now)
                stopped = (price - position.stop) * position.side <= 0.0
                if decision is not None or stopped:
                    exits_taken += 1
                    position = None
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "cpu": time.process_time() - c0,
            "book": n_book, "trades": n_trades, "entries": entries, "exits": exits_taken,
            "density_events": density_events}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--recording", default=None, help="replay this recording instead of generating one")
    ap.add_argument("--repeat", type=int, default=3, help="replays; the fastest is reported (shared machine)")
    args = ap.parse_args()
    density = Density()  # the default config
    take_profit = TakeProfit()
    tmp = None
    if args.recording:
        root = Path(args.recording)
    else:
        tmp = root = Path(tempfile.mkdtemp(prefix="wbr-replay-"))
        print(f"recording {args.hours:g} h of the generated stream ...", flush=True)
        write_recording(root, args.hours, args.seed)
    try:
        replay(root, density, take_profit)  # compile and warm the caches
        runs = [replay(root, density, take_profit) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        events = best["book"] + best["trades"]
        times = ", ".join(f"{r['seconds']:.2f} s" for r in runs)
        print(f"{events:,} events ({best['book']:,} book, {best['trades']:,} trade messages) in "
              f"{best['seconds']:.2f} s: {events / best['seconds']:,.0f} events/s "
              f"({best['seconds'] / events * 1e6:.1f} us an event; runs: "
              f"{times})")
        print(f"CPU time of that run: {best['cpu']:.2f} s: {events / best['cpu']:,.0f} events per CPU second (what one "
              f"core does when the machine is not shared)")
        print(f"density events {best['density_events']:,}, entries {best['entries']}, exits {best['exits']}")
        day = best["seconds"] * 24.0 / args.hours if not args.recording else None
        if day is not None:
            print(f"a day of this stream: {day:.0f} s")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
