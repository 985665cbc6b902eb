"""Everything `backtest --book` decides, as text, to prove a speed change changed no result.

    python bench/replay_fingerprint.py OUT [--runs stream-density,stream-combined,sample-density] [--hours 1]
    diff before.txt after.txt   # must print nothing

Speed work on the replay path (feeding, the density tracker, the advanced exits, the loop's pass) must give
the same trades, density events, equity curve and signals.csv to the last digit. Run this on the commit
before the change and on the change, then diff the two files. The runs: `stream-density` is `--hours` of
bench/book_stream.py's BTCUSDT stream (seed 1) in density mode, `stream-combined` the same stream in
combined mode (the indicator scorers on candles built from the trades), `sample-density` the shipped
sample recording (data/recordings/sample). Each writes its replay counts, trades.csv, densities.csv, the
equity curve (repr of the floats) and signals.csv.
"""

from __future__ import annotations

import argparse
import copy
import logging
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.book_stream import write_recording  # noqa: E402
from tests.book_recording import DENSITY_CONFIG  # noqa: E402
from whale.backtest.book_run import run_book_backtest, write_densities, write_trades  # noqa: E402
from whale.config import config_from_data  # noqa: E402

RUNS = ("stream-density", "stream-combined", "sample-density")
SAMPLE = ROOT / "data" / "recordings" / "sample"


def fingerprint(name: str, root: Path, data: dict, work: Path, log: logging.Logger) -> tuple[str, str]:
    """The text of one run, and a one-line summary of it."""
    cfg = config_from_data(copy.deepcopy(data), source=f"replay_fingerprint:{name}").config
    out = work / name
    r = run_book_backtest(cfg, root, out, log)
    write_trades(out / "t.csv", r.trades)
    write_densities(out / "d.csv", r.densities)
    s = r.stats
    signals = out / "signals.csv"
    text = "".join([
        f"== {name}: events {s.events} book {s.book_events} trade {s.trade_events} passes {s.passes} "
        f"open {r.still_open} emergency {r.emergency} beyond {r.beyond_book}\n",
        (out / "t.csv").read_text(),
        (out / "d.csv").read_text(),
        "".join(f"{ms} {eq!r}\n" for ms, eq in s.equity),
        signals.read_text() if signals.exists() else "(no signals.csv)\n",
    ])
    summary = (f"{name}: {len(r.trades)} trades, {len(r.densities)} density events, {s.events} events, "
               f"{s.cpu_s:.2f} s CPU")
    return text, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the file to write")
    ap.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {','.join(RUNS)} (default: all)")
    ap.add_argument("--hours", type=float, default=1.0, help="hours of the generated stream (default 1)")
    args = ap.parse_args()
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in runs if r not in RUNS]
    if unknown or not runs:
        ap.error(f"--runs: unknown run(s) {unknown}; choose from {','.join(RUNS)}")
    log = logging.getLogger("whalebot.fingerprint")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    work = Path(tempfile.mkdtemp(prefix="replay-fingerprint-"))
    try:
        combined = copy.deepcopy(DENSITY_CONFIG)
        combined["strategy"] = {"mode": "combined"}
        stream = write_recording(work / "rec", args.hours, 1) if any(r.startswith("stream") for r in runs) else None
        plans = {"stream-density": (stream, DENSITY_CONFIG), "stream-combined": (stream, combined),
                 "sample-density": (SAMPLE, DENSITY_CONFIG)}
        parts = []
        for name in runs:
            root, data = plans[name]
            assert root is not None
            text, summary = fingerprint(name, root, data, work, log)
            parts.append(text)
            print(summary)
        args.out.write_text("".join(parts))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
