#!/usr/bin/env python3
"""The live bot on 20 symbols in one process, fed at Bybit's real push rates by the simulator's
stream-rate mode running in a separate process.

The symbols are derived from the bundled BTC 1m series with chosen correlations
(whale.market.synthetic, seeded), each at its own price level. The simulator serves all of them on
one account with `stream_rates="bybit"` (orderbook.50 every 20 ms, tickers and publicTrade every
100 ms: about 1,400 messages/s on the one public connection) and replays 1m candles at `--speed`.
The bot (whale.bot.loop.Bot, paper trading so every exit is decided in the bot) subscribes to every
symbol's klines (1m and its two higher timeframes), book, ticker and trades, and opens a position on
every symbol once they are warmed up (wide stops, so they stay open). Measured:

- tick-to-exit decision: for a symbol in a position, the time from the arrival of its newest tick,
  trade or book update (stamped by the WebSocket thread) to the end of its exit decisions on it (the
  stop and target, then the advanced exits and the density rules);
- a candle close on all 20 at once: the time from the arrival of the last of the 20 closed klines
  to the last of the 20 decisions (the higher-timeframe waits run for all symbols together).

    python bench/bench_live_multi.py [--symbols 20] [--closes 12] [--speed 6]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def symbol_files(n: int, folder: Path) -> list[Path]:
    """`n` candle files S01USDT..: the BTC 1m series mixed with bootstrapped returns (weights from 1 to
    0.3: correlations from 1 down to 0.1), each starting at its own price level."""
    from whale.candle_file import load_candle_file, write_candle_csv
    from whale.market.synthetic import derive_symbols

    base = load_candle_file(ROOT / "data" / "BTCUSDT-PERP_1m.csv.gz").candles.slice(0, 4000)
    weights = list(np.linspace(1.0, 0.3, n))
    prices = [float(p) for p in np.geomspace(60_000.0, 0.5, n)]
    paths = []
    for k, candles in enumerate(derive_symbols(base, weights, seed=12, start_prices=prices)):
        path = folder / f"S{k + 1:02d}USDT_1m.csv.gz"
        write_candle_csv(path, candles)
        paths.append(path)
    return paths


def run_sim(files: list[str], speed: float, urls, stop) -> None:
    """The simulator's process: serve until told to stop."""
    sys.path.insert(0, str(ROOT))
    from whale.sim import SimConfig, Simulator

    sim = Simulator(SimConfig(data=files, speed=speed, history_candles=3000, stream_rates="bybit",
                              enforce_rate_limits=False)).start()
    try:
        urls.send((sim.rest_url, sim.public_ws_url, sim.private_ws_url))
        stop.recv()
    finally:
        sim.stop()


class EnterAll:
    """On the main thread, at a candle once every symbol is warmed up: a long on each (wide stops)."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, bot) -> None:
        if self.done or not all(t.last_decision is not None and t.last_decision.ready for t in bot.traders.values()):
            return
        self.done = True
        for t in bot.traders.values():
            if t.pm.trade is None:
                t.enter(1, t.last_atr(), t.price(), t.last_decision.ts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--closes", type=int, default=12, help="candle closes measured after the entries (default 12)")
    ap.add_argument("--speed", type=float, default=6.0, help="replay speed: a 1m candle takes 60/speed s (default 6)")
    args = ap.parse_args(argv)

    from whale.bot.loop import Bot, BotHooks, BotOptions
    from whale.config.model import Config, replace_path

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in symbol_files(args.symbols, Path(tmp))]
        symbols = [Path(f).name.split("_")[0] for f in files]
        url_rx, url_tx = ctx.Pipe(duplex=False)
        stop_here, stop_sim = ctx.Pipe()
        sim_proc = ctx.Process(target=run_sim, args=(files, args.speed, url_tx, stop_sim), daemon=True)
        sim_proc.start()
        bot = None
        try:
            if not url_rx.poll(300):
                print("the simulator did not start within 300 s", file=sys.stderr)
                return 1
            rest_url, public_ws, private_ws = url_rx.recv()
            cfg = Config()
            for key, value in (("symbols", symbols), ("interval", "1"), ("mtf_analysis.higher_timeframes", ["5", "15"]),
                               ("signal_score_threshold", 100.0), ("dry_run", True),
                               ("trade_management.stop_loss_atr_multiple", 50.0),
                               ("trade_management.take_profit_atr_multiple", 50.0),
                               ("trade_management.risk_per_trade_percent", 0.05),
                               ("trade_management.max_open_positions", 100),
                               ("risk.max_total_exposure_percent", 100_000.0), ("risk.correlation_threshold", 1.0),
                               ("trade_management.enable_trailing_stop", False), ("loop_delay", 1.0),
                               ("safety.stale_stream_sec", 60.0), ("exchange.network", "custom"),
                               ("exchange.rest_url", rest_url), ("exchange.public_ws_url", public_ws),
                               ("exchange.private_ws_url", private_ws),
                               ("logging.file", str(Path(tmp) / "whalebot.log"))):
                cfg = replace_path(cfg, key, value)
            logging.getLogger("whalebot").setLevel(logging.ERROR)
            enter = EnterAll()
            closes: set[int] = set()  # candle times handled since the entries
            stop = threading.Event()

            def on_candle(ts: int) -> None:
                if bot is not None:
                    enter(bot)
                    if enter.done:
                        closes.add(ts)
                        if len(closes) > args.closes:
                            stop.set()

            bot = Bot(cfg, BotOptions(mode="paper", workdir=Path(tmp), startup_deadline_s=120.0,
                                      hooks=BotHooks(on_candle=on_candle)), logging.getLogger("whalebot.bench"))
            runner = threading.Thread(target=bot.run, args=(stop,), name="bench-bot", daemon=True)
            t0 = time.monotonic()
            runner.start()
            runner.join(timeout=60.0 / args.speed * (args.closes + 40) + 300)
            stop.set()
            runner.join(30)
            elapsed = time.monotonic() - t0
            held = sum(t.pm.trade is not None for t in bot.traders.values())
        finally:
            stop_here.send("stop")
            sim_proc.join(60)
            if sim_proc.is_alive():
                sim_proc.terminate()
    ticks = np.array(bot.tick_latencies) * 1000.0
    if ticks.size == 0:
        print("no exit decision was timed: the bot never held a position", file=sys.stderr)
        return 1
    by_close: dict[int, list[tuple[float, float]]] = {}
    for close_ms, _symbol, arrival, decided in bot.decision_times:
        by_close.setdefault(close_ms, []).append((arrival, decided))
    full = {c: v for c, v in sorted(by_close.items())[2:] if len(v) == len(symbols)}  # past the start-up's first two
    spans = np.array([(max(d for _, d in v) - max(a for a, _ in v)) * 1000.0 for v in full.values()])
    spread = np.array([(max(a for a, _ in v) - min(a for a, _ in v)) * 1000.0 for v in full.values()])
    print(f"live bot, {len(symbols)} symbols in one process, simulator in another at Bybit's push rates "
          f"(orderbook.50 20 ms, tickers and publicTrade 100 ms), 1m candles at speed {args.speed:g}, "
          f"{held} positions open, {elapsed:.0f} s, {os.cpu_count()} CPUs:")
    print(f"  tick-to-exit decision: median {np.median(ticks):.2f} ms, p90 {np.percentile(ticks, 90):.2f} ms, "
          f"p99 {np.percentile(ticks, 99):.2f} ms over {ticks.size:,} decisions")
    if spans.size:
        print(f"  candle close on all {len(symbols)}: the last decision {np.median(spans):.1f} ms (median), "
              f"{spans.max():.1f} ms (worst) after the last closed kline arrived, over {spans.size} closes "
              f"(the {len(symbols)} klines arrived within {np.median(spread):.1f} ms of each other)")
    else:
        print("  no candle close with every symbol's decision was timed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
