#!/usr/bin/env python3
"""Make data/recordings/sample/: the `record` command's recorder on the simulator playing the
wall-breakthrough scenario in stream-rate mode, for the README's examples and the book tests.

    python data/recordings/make_sample.py [--out data/recordings/sample] [--lead 90]

- The simulator (in this process, on 127.0.0.1) replays `--lead` quiet minutes, then the path of the
  `wall-breakthrough` scenario (whale/scenarios/walls.py): an ask wall of 5 BTC appears 0.4 % above
  the price, loses 40 % over 30 s, the price climbs to it and runs through it. The scenario's script
  (the wall, its erosion) runs before each candle, as in `demo --scenario wall-breakthrough`.
- ETHUSDT plays the bundled ETHUSDT 1m candles (the first ones of the file) on the same minutes.
- Stream-rate mode with 10 ms periods. The scenario plays at `SPEED` (10) x real time: in market
  time orderbook.200, tickers and trade bursts every 100 ms, Bybit's periods. The quiet lead, there
  to give the indicators their warm-up (79 one-minute candles for the scenarios' config), plays at
  `LEAD_SPEED` (100) x: the same streams every second of market time, which keeps the file small. The
  level churn follows the wall clock, so in market time the book churns 10 (100) times slower than a
  live one.
- The recorder is whale.recording.recorder.Recorder, what `python whalebot.py record` runs, on one
  public connection (orderbook.200, publicTrade, tickers, kline.1 of both symbols).

Not deterministic (the churn and the pacing follow the wall clock): a second run makes another sample
of the same shape.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from whale.bybit.endpoints import custom_endpoints  # noqa: E402
from whale.candle_file import load_candle_file  # noqa: E402
from whale.market.candles import Candles  # noqa: E402
from whale.market.instruments import instrument_for  # noqa: E402
from whale.recording.recorder import Recorder  # noqa: E402
from whale.scenarios._paths import PathBuilder  # noqa: E402
from whale.scenarios.walls import ERODING_ASK_WALL, WallBreakthrough  # noqa: E402
from whale.sim import SimConfig, Simulator  # noqa: E402

SPEED = 10.0  # replay ms per wall ms during the scenario
PERIOD_MS = 100.0 / SPEED  # wall ms: 100 ms of market time at SPEED
LEAD_SPEED = 100.0  # during the quiet lead: the same periods are 1 s of market time (a smaller file)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def scenario(lead: int) -> WallBreakthrough:
    """wall-breakthrough after `lead` quiet minutes (its script moved by as many candles)."""

    class Led(WallBreakthrough):
        script = {k + lead: v for k, v in ERODING_ASK_WALL.items()}

        def build(self) -> PathBuilder:
            b = PathBuilder().flat(lead)
            b.flat(2)  # the wall appears, then erodes while the price waits (as WallBreakthrough.build)
            b.bar(0.0, -0.02, 0.25, 0.22)  # the price climbs to within 0.2 % of the eroded wall
            b.bar(0.22, 0.20, 0.90, 0.85)  # and runs through it
            return b.flat(1, 0.85)

    return Led()


def eth_on(ts) -> Candles:
    """The bundled ETHUSDT minutes, moved onto `ts`."""
    eth = load_candle_file(ROOT / "data" / "ETHUSDT-PERP_1m.csv.gz").candles.slice(0, len(ts))
    return Candles(ts.copy(), eth.open, eth.high, eth.low, eth.close, eth.volume, "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "recordings" / "sample")
    ap.add_argument("--lead", type=int, default=90, help="quiet minutes before the scenario (default 90)")
    args = ap.parse_args()
    sc = scenario(args.lead)
    btc = sc.data()
    data = {"BTCUSDT": btc, "ETHUSDT": eth_on(btc.ts)}
    rates = f"book200={PERIOD_MS:g}ms,tickers={PERIOD_MS:g}ms,trades={PERIOD_MS:g}ms"
    cfg = SimConfig(data=data, speed=SPEED, port=0, lockstep=True, history_candles=sc.path.history,
                    stream_rates=rates, enforce_rate_limits=False, **sc.sim_options())
    if args.out.exists():
        shutil.rmtree(args.out)
    with Simulator(cfg) as sim:
        rec = Recorder(custom_endpoints(sim.rest_url), SYMBOLS, args.out, depth=200, source="sim",
                       instruments={s: instrument_for(s) for s in SYMBOLS})
        rec.start()
        try:
            if not rec.wait_ready(30):
                raise SystemExit("the recorder did not subscribe within 30 s")
            time.sleep(1.0)  # the snapshots, then a second of the quiet book before the replay
            for i in range(sc.candles):
                # between candles the replay waits (lockstep) and re-anchors its pacing on the next one
                sim.core.replay.speed = LEAD_SPEED if i < args.lead else SPEED
                sc.before_step(sim, None)
                if not sim.step(1, timeout=60):
                    raise SystemExit(f"the simulator did not play candle {i}")
                rec.tick()
            time.sleep(0.5)
        finally:
            summary = rec.stop()
    size = sum(summary.bytes.values())
    print(f"{sc.candles} minutes ({args.lead} quiet, then wall-breakthrough) of {', '.join(SYMBOLS)} in "
          f"{summary.seconds:.0f} s: {summary.events:,} events, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
