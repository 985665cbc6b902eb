#!/usr/bin/env python3
"""`sim --book` at maximum speed: recorded events replayed and delivered to a websocket-client.

    python bench/bench_sim_book.py [--minutes 20]

Writes `--minutes` of the day-like stream of bench/book_stream.py for BTCUSDT and an ETHUSDT-like
symbol (orderbook.200 every 100 ms with ~30 level changes a message, trade bursts, tickers,
kline.1) into a temporary recording, serves it with the simulator in this process
(`SimConfig(book=...)`, speed max), and subscribes from another process, one websocket-client
connection, to orderbook.200, orderbook.50, publicTrade, tickers and kline.1 of both symbols,
json-parsing every message. Reports the recorded events the replay played per second and the
messages the client received per second, from the start of the replay to the last message.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.book_stream import StreamModel, messages  # noqa: E402
from whale.recording.writer import RecordingWriter  # noqa: E402
from whale.sim import SimConfig, Simulator  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT")
KINDS = ("orderbook.200", "orderbook.50", "publicTrade", "tickers", "kline.1")


def write(root: Path, minutes: float) -> int:
    n = 0
    for model in (StreamModel(seed=1), StreamModel(seed=2, symbol="ETHUSDT", price=1800.0, tick=0.01, step=0.01)):
        w = RecordingWriter(root, model.symbol, depth=model.depth, price_unit=str(model.tick),
                            size_unit=str(model.step))
        for msg, recv in messages(model, minutes / 60):
            w.write_message(msg, recv)
            n += 1
        w.close()
    return n


def client(url: str, ready, report) -> None:
    import websocket

    ws = websocket.create_connection(url, timeout=30, skip_utf8_validation=True)
    try:
        ws.send(json.dumps({"op": "subscribe", "args": [f"{k}.{s}" for s in SYMBOLS for k in KINDS]}))
        json.loads(ws.recv())
        ready.send(True)
        count = 0
        last = time.monotonic()
        ws.settimeout(2.0)
        while True:
            try:
                json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            count += 1
            last = time.monotonic()
        report.send((count, last))
    finally:
        ws.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wbr-book-"))
    try:
        written = write(root, args.minutes)
        with Simulator(SimConfig(book=root, speed=0, lockstep=True, enforce_rate_limits=False)) as sim:
            ready_r, ready_w = mp.Pipe(duplex=False)
            report_r, report_w = mp.Pipe(duplex=False)
            proc = mp.Process(target=client, args=(sim.public_ws_url, ready_w, report_w))
            proc.start()
            ready_r.recv()
            t0 = time.monotonic()
            sim.set_lockstep(False)
            sim.core.replay.finished.wait(600)
            count, last = report_r.recv()
            proc.join(30)
            played = sim.core.replay.events_played
        wall = last - t0
        print(f"{args.minutes:g} min of {', '.join(SYMBOLS)}: {written:,} recorded messages, {played:,} events played")
        print(f"replay to the last message received: {wall:.1f} s -> {played / wall:,.0f} events/s; "
              f"{count:,} messages received -> {count / wall:,.0f}/s")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
