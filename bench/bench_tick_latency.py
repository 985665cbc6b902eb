"""Tick-to-exit-decision latency of the live loop, against the simulator.

    python bench/bench_tick_latency.py [--seconds 30] [--speed 60]

The simulator replays the bundled 1m candles (16 ticks per candle along the bar path) with
orderbook.50, tickers and publicTrade streaming; the bot runs its real loop in paper mode (exits
are decided locally on every tick) with wide stops so a position stays open. For every pass of
the main loop while a position is open, the latency is the time from the arrival of the newest
public WebSocket message (stamped by the WebSocket thread) to the end of the exit decision on it.
Prints the median, p90, p99 and the number of decisions.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whale.bot.loop import Bot, BotOptions  # noqa: E402
from whale.config.model import Config, replace_path  # noqa: E402
from whale.sim import SimConfig, Simulator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=60.0, help="replay ms per wall ms (60: a 1m candle per second)")
    args = ap.parse_args()
    logging.getLogger("whalebot").setLevel(logging.WARNING)
    cfg = Config()
    for key, value in (("interval", "1"), ("mtf_analysis.enabled", False), ("signal_score_threshold", 0.3),
                       ("orderbook_limit", 50), ("trade_management.stop_loss_atr_multiple", 50.0),
                       ("trade_management.take_profit_atr_multiple", 50.0), ("trade_management.leverage", 50.0),
                       ("trade_management.risk_per_trade_percent", 5.0),
                       ("trade_management.enable_trailing_stop", False),
                       ("trade_management.move_to_breakeven_atr_trigger", 0.0), ("dry_run", True)):
        cfg = replace_path(cfg, key, value)
    with tempfile.TemporaryDirectory() as tmp, Simulator(SimConfig(port=0, speed=args.speed)) as sim:
        for key, value in (("logging.file", str(Path(tmp) / "whalebot.log")), ("exchange.network", "custom"),
                           ("exchange.rest_url", sim.rest_url), ("exchange.public_ws_url", sim.public_ws_url),
                           ("exchange.private_ws_url", sim.private_ws_url)):
            cfg = replace_path(cfg, key, value)
        log = logging.getLogger("whalebot.bench")
        bot = Bot(cfg, BotOptions(mode="paper", workdir=Path(tmp)), log)
        stop = threading.Event()
        t = threading.Thread(target=bot.run, args=(stop,), daemon=True)
        t.start()
        time.sleep(args.seconds)
        stop.set()
        t.join(timeout=30)
        lat = np.array(bot.tick_latencies) * 1000.0
    if lat.size == 0:
        raise SystemExit("no exit decisions were timed: the bot never held a position")
    print(f"tick-to-exit-decision latency over {lat.size} decisions with a position open "
          f"(orderbook.50 + tickers + publicTrade streaming, speed {args.speed:g}): median {np.median(lat):.2f} ms, "
          f"p90 {np.percentile(lat, 90):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms")


if __name__ == "__main__":
    main()
