"""Latency of the per-book-update decision work: densities plus every exit check.

    python bench/bench_density_exits.py [--updates 20000] [--seed 7]

A 200-level BTC-like book in the simulator's shape (docs/simulator.md "The order book": levels
every 47 ticks of 0.10 so the book spans about 1 % of the price, sizes 0.25..1.75 x a base size
times a 0.7..1.3 churn factor) with two walls (a bid wall 0.1 % under the price, an ask wall
0.3 % above, the ask wall eroding over the run), changed by small random deltas: a few level
sizes per update, the price stepping one level now and then, 0-3 public trades per update.

Per update, timed: DensityTracker.update + AdvancedExits.update + DensityStrategy.manage +
AdvancedExits.check_all (every rule evaluated, none short-circuited) for an open breakout long in
profit. A second figure times the flat bot: DensityTracker.update + AdvancedExits.update +
DensityStrategy.entry_signal + density_score. Prints the median, p90, p99 and max in us.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whale.config.model import Density, Fees, TakeProfit  # noqa: E402
from whale.market.instruments import KNOWN  # noqa: E402
from whale.strategy.advanced_exits import AdvancedExits, ManagedPosition  # noqa: E402
from whale.strategy.density import DensityTracker  # noqa: E402
from whale.strategy.density_strategy import DensityStrategy  # noqa: E402

TICK = 0.1
LEVEL_TICKS = 47
DEPTH = 200
BASE_QTY = 0.6  # BTC
GRID = 4000  # grid levels kept around the start price


class Book:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.step = LEVEL_TICKS * TICK
        self.origin = 95_000.0 - (GRID // 2) * self.step
        base = BASE_QTY * (0.25 + 1.5 * rng.random(GRID))
        self.sizes = np.round(base * (0.7 + 0.6 * rng.random(GRID)), 3)
        self.m = GRID // 2  # first ask index; bids below it
        self.bid_wall = self.m - 1 - 3  # ~0.1 % under the price
        self.ask_wall = self.m + 6  # ~0.3 % above
        self.sizes[self.bid_wall] = 25.0
        self.sizes[self.ask_wall] = 30.0

    def price(self) -> float:
        return self.origin + (self.m - 0.5) * self.step

    def step_once(self, erode_ask_by: float) -> None:
        rng = self.rng
        for k in rng.integers(-40, 40, size=4):
            j = self.m + int(k)
            if j not in (self.bid_wall, self.ask_wall):
                self.sizes[j] = max(0.001, round(self.sizes[j] * (0.8 + 0.4 * rng.random()), 3))
        self.sizes[self.ask_wall] = max(1.0, self.sizes[self.ask_wall] - erode_ask_by)
        if rng.random() < 0.05:
            self.m += 1 if rng.random() < 0.5 else -1
            self.m = min(max(self.m, self.bid_wall + 2), self.ask_wall - 1)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        idx_b = np.arange(self.m - 1, self.m - 1 - DEPTH, -1)
        idx_a = np.arange(self.m, self.m + DEPTH)
        return (self.origin + idx_b * self.step, self.sizes[idx_b].copy(),
                self.origin + idx_a * self.step, self.sizes[idx_a].copy())


def run(updates: int, seed: int, in_position: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dens = Density()
    tracker = DensityTracker(dens)
    exits = AdvancedExits(TakeProfit(), dens, Fees(), qty_step=KNOWN["BTCUSDT"].qty_step)
    strategy = DensityStrategy(dens, tick=TICK)
    book = Book(rng)
    start = book.price()
    pos = ManagedPosition(1, start * 0.995, start * 0.99, 0.5, "breakout", start + 3 * book.step, False, 0,
                          start - 10 * book.step)
    now = 1_700_000_000_000
    out = np.empty(updates)
    for i in range(updates):
        now += int(rng.integers(10, 100))
        book.step_once(0.0005)
        bp, bs, ap, asz = book.arrays()
        price = book.price()
        trades = [(now, 1 if rng.random() < 0.5 else -1, float(rng.random()), price)
                  for _ in range(int(rng.integers(0, 4)))]
        t0 = time.perf_counter_ns()
        tracker.update(now, bp, bs, ap, asz)
        exits.update(now, price, trades, None, tracker)
        if in_position:
            strategy.manage(pos, price, tracker, now)
            exits.check_all(pos, now)
        else:
            strategy.entry_signal(now, price, tracker)
            strategy.density_score(price, tracker)
        out[i] = (time.perf_counter_ns() - t0) / 1000.0
    return out


def report(name: str, us: np.ndarray) -> None:
    q = np.percentile(us, [50, 90, 99])
    print(f"{name}: median {q[0]:.1f} us  p90 {q[1]:.1f} us  p99 {q[2]:.1f} us  max {us.max():.1f} us "
          f"({us.size} updates)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    run(200, args.seed, True)  # JIT compile / warm caches
    run(200, args.seed, False)
    report("open position (tracker + exits update + manage + every exit check)", run(args.updates, args.seed, True))
    report("flat (tracker + exits update + entry_signal + density_score)", run(args.updates, args.seed, False))


if __name__ == "__main__":
    main()
