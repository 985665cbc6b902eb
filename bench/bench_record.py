#!/usr/bin/env python3
"""The `record` command's cost: CPU, memory and disk of recording two symbols at depth 200 from a
stream at Bybit's rates.

    python bench/bench_record.py [--seconds 60] [--depth 200]

Starts `python whalebot.py sim --stream-rates bybit` on the bundled BTCUSDT and ETHUSDT 1m files
(orderbook.200 every 100 ms with levels churning near the touch, tickers every 100 ms, trade bursts
every 100 ms, kline.1 with the replay at real time) in one process, and
`python whalebot.py record --symbols BTCUSDT,ETHUSDT --depth 200 --hours H` in another, configured
with `exchange.network: custom` and the simulator's URLs. Reports for the recorder process:

- its CPU in % of one core while recording (from /proc, from its first written bytes to its end,
  start-up left out) and over its whole life (start-up included);
- its peak RSS (the kernel's ru_maxrss when it exits);
- per symbol the bytes of its files, per hour and per day, and the events a second (its summary);
- the machine's load average (`uptime`) before and after, since other processes share the cores.

Targets (issue 14): under 5 % of one core and under 200 MB of RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
sys.path.insert(0, str(ROOT))

from bench.sim_process import start_stream_rate_sim  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def size(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*.wbr.gz"))


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0, help="recording time (default 60)")
    ap.add_argument("--depth", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wbr-bench-"))
    out = work / "rec"
    print(f"before: {load()}")
    sim, urls = start_stream_rate_sim(SYMBOLS)
    try:
        cfg = work / "config.json"
        cfg.write_text(json.dumps({"exchange": {"network": "custom", "rest_url": urls["rest"],
                                                "public_ws_url": urls["public_ws"],
                                                "private_ws_url": urls["private_ws"]},
                                   "logging": {"file": ""}}))
        cmd = [sys.executable, str(ROOT / "whalebot.py"), "record", "--config", str(cfg), "--symbols",
               ",".join(SYMBOLS), "--depth", str(args.depth), "--out", str(out),
               "--hours", f"{args.seconds / 3600:.6f}"]
        t0 = time.monotonic()
        rec = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while size(out) == 0:  # start-up: imports, the instruments, the connection
            if time.monotonic() - t0 > 60:
                rec.kill()
                raise SystemExit(f"the recorder did not start: {rec.communicate()[0]}")
            time.sleep(0.05)
        t1, c1 = time.monotonic(), cpu_seconds(rec.pid)
        last = (t1, c1)
        while True:  # sample until it exits (the last sample before the exit counts); wait4 reaps it
            pid, status, usage = os.wait4(rec.pid, os.WNOHANG)
            if pid:
                break
            try:
                last = (time.monotonic(), cpu_seconds(rec.pid))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
            time.sleep(0.2)
        rec.returncode = os.waitstatus_to_exitcode(status)
        text = rec.stdout.read() if rec.stdout else ""
        wall = time.monotonic() - t0
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    if rec.returncode != 0:
        raise SystemExit(f"record exited {rec.returncode}:\n{text}")
    steady = (last[1] - c1) / (last[0] - t1) * 100.0
    whole = (usage.ru_utime + usage.ru_stime) / wall * 100.0
    span = last[0] - t1
    print(f"record of {', '.join(SYMBOLS)} at depth {args.depth} from `sim --stream-rates bybit`, {span:.0f} s "
          f"recording ({wall:.0f} s with start-up)")
    print(f"recorder CPU: {steady:.2f} % of one core while recording; {whole:.2f} % over its life "
          f"({usage.ru_utime + usage.ru_stime:.1f} s, start-up included); peak RSS {usage.ru_maxrss / 1024:.0f} MB")
    total = 0
    for sym in SYMBOLS:
        b = size(out / sym)
        total += b
        print(f"{sym}: {b / 1e6:.3f} MB -> {b * 3600 / span / 1e6:.2f} MB an hour, "
              f"{b * 86400 / span / 1e6:.1f} MB a day")
    print(f"both: {total * 3600 / span / 1e6:.2f} MB an hour, {total * 86400 / span / 1e6:.1f} MB a day")
    print("the recorder's summary:")
    for line in text.splitlines():
        message = line.split(" - ", 2)[-1]
        if message.startswith("recorded ") or message.strip().split(":")[0] in SYMBOLS:
            print("  " + message)
    print(f"after: {load()}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
