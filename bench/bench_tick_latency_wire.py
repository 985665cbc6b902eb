"""Wire-level tick latency: how long BybitWebSocketManager takes from a public message's arrival to
a thread waiting on `MarketState.wake` seeing it (JSON parse + book/ticker/trade/kline update +
event), against the embedded simulator streaming a 50- (or 200-) level book.

    python bench/bench_tick_latency_wire.py [--candles 300] [--depth 50] [--speed 600]

Prints the per-message handler time and the arrival-to-wake latency (median, p90, p99). The loop-level
tick-to-exit-decision bench is the lead's (bench/bench_live_decision.py and its live counterpart).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whale.bybit.endpoints import custom_endpoints  # noqa: E402
from whale.bybit.ws import PUBLIC, BybitWebSocketManager  # noqa: E402
from whale.candle_file import BUNDLED_DATA, load_candle_file  # noqa: E402
from whale.market.state import Markets  # noqa: E402
from whale.sim import SimConfig, Simulator  # noqa: E402
from whale.venue.protocols import SymbolStreams  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=300)
    ap.add_argument("--depth", type=int, default=50, choices=(1, 50, 200, 1000))
    ap.add_argument("--speed", type=float, default=600.0, help="replay ms per wall ms (600: a 1m candle in 0.1 s)")
    args = ap.parse_args()
    candles = load_candle_file(BUNDLED_DATA).candles.slice(0, 1000 + args.candles + 5)
    handler_s: list[float] = []
    wake_s: list[float] = []
    arrived = [0.0]
    stop = threading.Event()
    with Simulator(SimConfig(data=candles, speed=args.speed, lockstep=True, history_candles=1000,
                             enforce_rate_limits=False)) as sim:
        market = Markets(["BTCUSDT"])
        ws = BybitWebSocketManager(custom_endpoints(sim.rest_url), market,
                                   [SymbolStreams("BTCUSDT", ("1", "5", "15"), args.depth)])
        stream = ws.streams[PUBLIC]
        original = stream._on_message

        def timed(app, raw):
            t0 = time.perf_counter()
            arrived[0] = t0
            original(app, raw)
            handler_s.append(time.perf_counter() - t0)

        stream._on_message = timed

        def consumer():
            while not stop.is_set():
                if market.wake.wait(0.2):
                    seen = time.perf_counter()
                    market.wake.clear()
                    if arrived[0]:
                        wake_s.append(seen - arrived[0])

        t = threading.Thread(target=consumer, name="bench-consumer", daemon=True)
        t.start()
        ws.start()
        if not ws.wait_ready(10):
            print("the stream did not come up", file=sys.stderr)
            return 1
        sim.step(args.candles, timeout=600)
        time.sleep(0.3)
        stop.set()
        t.join(2)
        ws.stop(5)
    ms = 1000.0
    print(f"book depth {args.depth}, {args.candles} candles, {len(handler_s)} public messages")
    print(f"handler per message: median {statistics.median(handler_s) * ms:.3f} ms, p90 "
          f"{pct(handler_s, 0.9) * ms:.3f} ms, p99 {pct(handler_s, 0.99) * ms:.3f} ms")
    print(f"arrival -> wake:     median {statistics.median(wake_s) * ms:.3f} ms, p90 {pct(wake_s, 0.9) * ms:.3f} ms,"
          f" p99 {pct(wake_s, 0.99) * ms:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
