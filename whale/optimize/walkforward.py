"""Walk-forward analysis: optimise on a train window, run the best parameters on the next, unseen,
test window; roll (or, anchored, grow) the train window and repeat (docs/optimize.md#walk-forward)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.metrics import DAY_MS
from whale.backtest.outputs import iso
from whale.candle_file import CandleFile
from whale.errors import BadInputError
from whale.market.intervals import interval_ms, label

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_MS = {"m": 60_000, "min": 60_000, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}


def parse_duration(text: str, flag: str) -> int:
    """"60d", "12h", "2w", "90m" -> milliseconds."""
    m = _DURATION.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise BadInputError(f"{flag} {text!r}: expected a length such as 60d, 12h, 2w or 90m")
    return int(float(m.group(1)) * _UNIT_MS[m.group(2).lower()])


@dataclass(frozen=True)
class Fold:
    index: int  # 1-based
    train_from: int
    train_to: int  # = test_from
    test_to: int

    @property
    def test_from(self) -> int:
        return self.train_to

    def as_dict(self) -> dict[str, Any]:
        return {"fold": self.index, "train_from": iso(self.train_from), "train_to": iso(self.train_to),
                "test_from": iso(self.test_from), "test_to": iso(self.test_to)}


def make_folds(data: CandleFile, interval: str, train: int, test: int, step: int, anchored: bool,
               warmup_candles: int) -> list[Fold]:
    """Folds over the file: the first train window starts at the first candle (its first candles warm
    up the indicators); windows end before the data does. Too little data is bad input (exit 2)."""
    src = data.candles
    first = int(src.ts[0])
    end = int(src.ts[-1]) + interval_ms(src.interval)
    bar = interval_ms(interval)
    for flag, length in (("--train", train), ("--test", test), ("--step", step)):
        if length < bar:
            raise BadInputError(f"{flag}: {length / 60_000:g} minutes is shorter than one {label(interval)} candle")
    need_ms = (warmup_candles + 1) * bar
    if train <= need_ms:
        raise BadInputError(f"{data.path}: --train {train / DAY_MS:g} days gives {train // bar} {label(interval)} "
                            f"candles, but the first fold needs more than its {warmup_candles} warm-up candles; "
                            f"use a longer --train (more than {need_ms / DAY_MS:.1f} days)")
    folds = []
    k = 0
    while True:
        start = first if anchored else first + k * step
        train_to = first + train + k * step
        test_to = train_to + test
        if test_to > end:
            break
        folds.append(Fold(k + 1, start, train_to, test_to))
        k += 1
    if not folds:
        span = (end - first) / DAY_MS
        raise BadInputError(f"{data.path}: too few candles for a fold: the file spans {span:.1f} days, and one fold "
                            f"needs --train + --test = {(train + test) / DAY_MS:g} days; shorten them or use a "
                            "longer file")
    return folds


def stitch(start_balance: float, parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The out-of-sample equity curves of the folds, chained: each fold starts where the last ended
    (its curve scaled by the previous end over its own start balance)."""
    ts_out, eq_out = [], []
    level = start_balance
    for ts, eq in parts:
        if len(eq) == 0:
            continue
        scaled = eq * (level / start_balance)
        ts_out.append(ts)
        eq_out.append(scaled)
        level = float(scaled[-1])
    if not ts_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ts_out), np.concatenate(eq_out)


def trades_net(trades: np.ndarray) -> np.ndarray:
    return trades[:, sim.T_NET] if len(trades) else np.zeros(0)
