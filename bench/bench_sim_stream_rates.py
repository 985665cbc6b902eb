#!/usr/bin/env python3
"""The simulator's stream-rate mode with 20 symbols at Bybit's push rates, measured end to end.

The simulator runs in its own process (one asyncio thread, as `python whalebot.py sim` runs it)
with `stream_rates="bybit"`: orderbook.50 every 20 ms, tickers every 100 ms, publicTrade bursts
every 100 ms (and orderbook.1/200/1000 for whoever subscribes), on 20 symbols made from the
bundled BTC and ETH 1m series (each a copy scaled to its own price level, so the instruments
differ). A websocket-client subscriber in a third process subscribes to orderbook.50, tickers,
publicTrade and kline.1 of every symbol on one connection (requests of 10 topics, as the bot sends
them), json-parses every message and counts them per stream. Reported over the measuring window:
messages/s the simulator sent and the subscriber received, per stream and symbol, the pacer's
wakes per second, and the CPU the simulator's process used (100 % = one core).

    python bench/bench_sim_stream_rates.py [--symbols 20] [--seconds 10] [--speed 1] [--book200]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("orderbook.50", "tickers", "publicTrade", "kline.1")
SCALES = (1.0, 0.1, 0.01, 0.001, 2.0)  # price levels of the copies: BTC-, ETH- and small-coin-like


def symbol_files(n: int, folder: Path) -> list[Path]:
    """`n` candle files S01USDT..: copies of the bundled BTC and ETH 1m series, each scaled to a price level."""
    sys.path.insert(0, str(ROOT))
    from whale.candle_file import load_candle_file, write_candle_csv
    from whale.market.candles import Candles

    bases = [load_candle_file(ROOT / "data" / f).candles.slice(0, 6000)
             for f in ("BTCUSDT-PERP_1m.csv.gz", "ETHUSDT-PERP_1m.csv.gz")]
    paths = []
    for k in range(n):
        base = bases[k % 2]
        scale = SCALES[k % len(SCALES)] * (1.0 + 0.01 * k)
        copy = Candles(base.ts, base.open * scale, base.high * scale, base.low * scale, base.close * scale,
                       base.volume / scale, base.interval)
        path = folder / f"S{k + 1:02d}USDT_1m.csv.gz"
        write_candle_csv(path, copy)
        paths.append(path)
    return paths


def run_sim(files: list[str], speed: float, urls, commands) -> None:
    """The simulator's process: serve, then answer "stats" with (messages sent, CPU s, wall s, pacer wakes)."""
    sys.path.insert(0, str(ROOT))
    from whale.sim import SimConfig, Simulator

    sim = Simulator(SimConfig(data=files, speed=speed, history_candles=1000, stream_rates="bybit",
                              enforce_rate_limits=False)).start()
    try:
        urls.send(sim.public_ws_url)
        while True:
            cmd = commands.recv()
            if cmd == "stop":
                return
            pacer = sim.core.pacer
            commands.send(sim.call(lambda p=pacer: (sim.core.hub.frames_sent, time.process_time(), time.monotonic(),
                                                    p.wakes if p else 0)))
    finally:
        sim.stop()


def subscribe_and_count(url: str, topics: list[str], report, control) -> None:
    """The subscriber's process: subscribe, then count received messages per topic until told to stop."""
    import websocket

    ws = websocket.create_connection(url, timeout=30, skip_utf8_validation=True)
    try:
        for j in range(0, len(topics), 10):
            ws.send(json.dumps({"op": "subscribe", "req_id": f"b{j}", "args": topics[j:j + 10]}))
        counts: dict[str, int] = {}
        report.put("subscribed")
        ws.settimeout(0.2)
        marks = []
        while True:
            if control.poll():
                cmd = control.recv()
                if cmd == "stop":
                    break
                marks.append((time.monotonic(), dict(counts)))
                control.send("marked")
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            msg = json.loads(raw)
            topic = msg.get("topic")
            if topic:
                counts[topic] = counts.get(topic, 0) + 1
        report.put(marks)
    finally:
        ws.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window (default 10)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before the window (default 3)")
    ap.add_argument("--speed", type=float, default=1.0, help="replay speed (default 1: candles in real time)")
    ap.add_argument("--book200", action="store_true", help="also subscribe to orderbook.200 (every 100 ms)")
    args = ap.parse_args(argv)

    ctx = mp.get_context("spawn")
    kinds = KINDS + (("orderbook.200",) if args.book200 else ())
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in symbol_files(args.symbols, Path(tmp))]
        symbols = [Path(f).name.split("_")[0] for f in files]
        topics = [f"{kind}.{sym}" for sym in symbols for kind in kinds]
        url_rx, url_tx = ctx.Pipe(duplex=False)
        cmd_here, cmd_sim = ctx.Pipe()
        sim_proc = ctx.Process(target=run_sim, args=(files, args.speed, url_tx, cmd_sim), daemon=True)
        sim_proc.start()
        try:
            if not url_rx.poll(300):
                print("the simulator did not start within 300 s", file=sys.stderr)
                return 1
            url = url_rx.recv()
            report = ctx.Queue()
            ctl_here, ctl_sub = ctx.Pipe()
            sub = ctx.Process(target=subscribe_and_count, args=(url, topics, report, ctl_sub), daemon=True)
            sub.start()
            report.get(timeout=60)
            time.sleep(args.warmup)

            def mark():
                cmd_here.send("stats")
                ctl_here.send("mark")
                ctl_here.recv()
                return cmd_here.recv()

            sent0, cpu0, wall0, wakes0 = mark()
            time.sleep(args.seconds)
            sent1, cpu1, wall1, wakes1 = mark()
            ctl_here.send("stop")
            marks = report.get(timeout=60)
            sub.join(30)
            cmd_here.send("stop")
            sim_proc.join(60)
        finally:
            for proc in (sim_proc,):
                if proc.is_alive():
                    proc.terminate()
    (t0, c0), (t1, c1) = marks
    window = wall1 - wall0
    received = {t: c1.get(t, 0) - c0.get(t, 0) for t in topics}
    total_rx = sum(received.values()) / (t1 - t0)
    print(f"sim stream-rate mode, {args.symbols} symbols at Bybit's rates (speed {args.speed:g}), "
          f"simulator in its own process, one websocket-client subscriber in another:")
    print(f"  sent     {(sent1 - sent0) / window:8,.0f} messages/s")
    print(f"  received {total_rx:8,.0f} messages/s ({len(topics)} topics on one connection)")
    for kind in kinds:
        per = [received[f"{kind}.{s}"] / (t1 - t0) for s in symbols]
        print(f"    {kind:<14} {sum(per):7,.0f}/s in all, {min(per):5.1f}..{max(per):5.1f}/s per symbol")
    print(f"  pacer    {(wakes1 - wakes0) / window:8,.1f} wakes/s (orderbook.1's 10 ms period: 100)")
    print(f"  CPU      {100 * (cpu1 - cpu0) / window:8,.0f} % of one core for the simulator's process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
