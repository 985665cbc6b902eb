"""A minimal recorder for tests and benchmarks: one websocket-client connection to a simulator's
public stream, every message of the subscribed topics into a RecordingWriter per symbol.

The `record` command (whale/recording/recorder.py) does the same through the bot's WebSocket manager
(reconnects, gap markers, resynchronised books); this helper only needs a connection that stays up,
bounded in time and messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import websocket

from whale.market.instruments import instrument_for
from whale.recording.writer import RecordingWriter

TOPICS = ("orderbook.{depth}", "publicTrade", "tickers", "kline.1")


def record(url: str, symbols: Sequence[str], out: Path, *, seconds: float, depth: int = 200, source: str = "sim",
           until: Callable[[], bool] | None = None, max_messages: int = 10_000_000,
           writer_options: dict[str, Any] | None = None, counts: dict[str, int] | None = None,
           ) -> dict[str, RecordingWriter]:
    """Record `symbols` from the public WebSocket at `url` into `out` for `seconds` (or until `until()`
    says so, checked ten times a second). `counts` (if given) counts the messages per topic as they
    are written. Returns the closed writers (their stats)."""
    writers = {}
    for sym in symbols:
        rules = instrument_for(sym)
        writers[sym] = RecordingWriter(out, sym, depth=depth, source=source, price_unit=str(rules.tick_size),
                                       size_unit=str(rules.qty_step), **(writer_options or {}))
    ws = websocket.create_connection(url, timeout=10, skip_utf8_validation=True)
    try:
        args = [t.format(depth=depth) + f".{sym}" for sym in symbols for t in TOPICS]
        for j in range(0, len(args), 10):
            ws.send(json.dumps({"op": "subscribe", "req_id": f"rec{j}", "args": args[j:j + 10]}))
        ws.settimeout(0.2)
        deadline = time.monotonic() + seconds
        next_tick = time.monotonic() + 0.1
        for _ in range(max_messages):
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_tick:
                next_tick = now + 0.1
                for w in writers.values():
                    w.tick()
                if until is not None and until():
                    break
            try:
                text = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            recv_us = time.time_ns() // 1000
            msg = json.loads(text)
            topic = msg.get("topic")
            if not topic:
                continue  # acks and pongs
            writers[topic.rsplit(".", 1)[1]].write_message(msg, recv_us)
            if counts is not None:
                counts[topic] = counts.get(topic, 0) + 1
    finally:
        ws.close()
        for w in writers.values():
            w.close()
    return writers
