#!/usr/bin/env python3
"""Replay throughput of the Bybit V5 simulator, as one connected client sees it.

Starts the simulator on 127.0.0.1 (port 0) with the bundled BTCUSDT 1m candles at maximum speed,
connects ONE websocket-client connection subscribed to kline.1, tickers and orderbook.50, and
counts what that client actually receives: closed candles (kline messages with confirm true) per
second of wall time. Every message is parsed with json.loads, as a real client would, and
websocket-client runs with its default settings (UTF-8 validation on) unless told otherwise.

By default the client is its own process (a bot talking to `python whalebot.py sim`);
`--client thread` runs it in the simulator's process instead (how `demo` embeds it: the two then
share one interpreter lock).

    python bench/bench_sim_replay.py [--candles 20000] [--client process|thread] [--skip-utf8-validation]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import threading
import time
from pathlib import Path

TOPICS = ["kline.1.BTCUSDT", "tickers.BTCUSDT", "orderbook.50.BTCUSDT"]


def consume(url: str, target: int, skip_utf8: bool, report, go) -> None:
    """Subscribe, wait for `go`, then receive until `target` closed candles; report the counts."""
    import websocket

    ws = websocket.create_connection(url, timeout=30, skip_utf8_validation=skip_utf8)
    try:
        ws.send(json.dumps({"op": "subscribe", "req_id": "bench", "args": TOPICS}))
        ack = json.loads(ws.recv())
        if not ack.get("success"):
            report.put({"error": f"subscribe failed: {ack}"})
            return
        report.put({"ready": True})
        go.wait(60)
        closed = n_msgs = n_bytes = 0
        t0 = time.perf_counter()
        deadline = t0 + 600
        while closed < target and time.perf_counter() < deadline:
            raw = ws.recv()
            n_msgs += 1
            n_bytes += len(raw)
            msg = json.loads(raw)
            if msg.get("topic") == "kline.1.BTCUSDT" and msg["data"][0]["confirm"]:
                closed += 1
        report.put({"closed": closed, "seconds": time.perf_counter() - t0, "messages": n_msgs, "bytes": n_bytes})
    finally:
        ws.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=20_000, help="closed candles to receive (default 20000)")
    ap.add_argument("--client", choices=("process", "thread"), default="process",
                    help="client in its own process (default) or a thread of the simulator's process")
    ap.add_argument("--skip-utf8-validation", action="store_true",
                    help="websocket-client's skip_utf8_validation=True (its pure-Python UTF-8 check is most of "
                         "a client's cost per byte)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from whale.sim import SimConfig, Simulator

    sim = Simulator(SimConfig(speed=0, lockstep=True)).start()
    try:
        target = min(args.candles, len(sim.candles) - sim.replay_start_index)
        if args.client == "process":
            ctx = mp.get_context("spawn")
            report, go = ctx.Queue(), ctx.Event()
            worker = ctx.Process(target=consume, args=(sim.public_ws_url, target, args.skip_utf8_validation,
                                                       report, go))
        else:
            import queue
            report, go = queue.Queue(), threading.Event()
            worker = threading.Thread(target=consume, args=(sim.public_ws_url, target, args.skip_utf8_validation,
                                                            report, go))
        worker.start()
        first = report.get(timeout=120)
        if "error" in first:
            print(first["error"], file=sys.stderr)
            return 1
        go.set()
        sim.advance(target)  # lockstep with one large permit: the replay runs flat out from here
        result = report.get(timeout=900)
        worker.join(60)
    finally:
        sim.stop()
    rate = result["closed"] / result["seconds"]
    utf8 = "skipped" if args.skip_utf8_validation else "on"
    print(f"sim replay: {rate:,.0f} candles/s delivered to one websocket-client connection "
          f"({result['closed']:,} closed 1m candles in {result['seconds']:.2f} s with kline.1 + tickers + "
          f"orderbook.50; {result['messages'] / result['seconds']:,.0f} msg/s, "
          f"{result['bytes'] / result['seconds'] / 1e6:.1f} MB/s; client: {args.client}, UTF-8 validation {utf8})")
    return 0 if result["closed"] == target else 1


if __name__ == "__main__":
    sys.exit(main())
