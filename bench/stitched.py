"""525,600 one-minute candles (one year) stitched from the two real perpetual 1m series in
data/, for benchmarks: BTC and ETH segments alternate, each rescaled so its first open
continues the previous segment's last close (volume rescaled to keep the notional), with
continuous 1-minute timestamps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.paths import DATA_DIR

YEAR_1M = 525_600


def stitched_1m(n: int = YEAR_1M) -> dict[str, np.ndarray]:
    parts = [pd.read_csv(DATA_DIR / f) for f in ("BTCUSDT-PERP_1m.csv.gz", "ETHUSDT-PERP_1m.csv.gz")]
    cols = {k: [] for k in ("open", "high", "low", "close", "volume")}
    have, last_close, j = 0, None, 0
    while have < n:
        seg = parts[j % 2]
        j += 1
        take = min(len(seg), n - have)
        scale = 1.0 if last_close is None else last_close / float(seg["open"].iloc[0])
        for k in ("open", "high", "low", "close"):
            cols[k].append(seg[k].to_numpy()[:take] * scale)
        cols["volume"].append(seg["volume"].to_numpy()[:take] / scale)
        last_close = float(cols["close"][-1][-1])
        have += take
    out = {k: np.concatenate(v) for k, v in cols.items()}
    start = int(parts[0]["timestamp_ms"].iloc[0])
    out["timestamp_ms"] = start + np.arange(n, dtype=np.int64) * 60_000
    return out


def write_csv(path: Path, n: int = YEAR_1M) -> Path:
    d = stitched_1m(n)
    frame = pd.DataFrame({k: d[k] for k in ("timestamp_ms", "open", "high", "low", "close", "volume")})
    frame.to_csv(path, index=False, float_format="%.8g")
    return path
