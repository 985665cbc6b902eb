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
    return _stitch([{k: p[k].to_numpy() for k in p.columns} for p in parts], n, 60_000)


def _stitch(parts: list[dict[str, np.ndarray]], n: int, step_ms: int) -> dict[str, np.ndarray]:
    """n candles of the parts' columns in turn, each segment rescaled so its first open continues the
    previous segment's last close (volume rescaled to keep the notional), timestamps every step_ms."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
    have, last_close, j = 0, None, 0
    while have < n:
        seg = parts[j % 2]
        j += 1
        take = min(len(seg["open"]), n - have)
        scale = 1.0 if last_close is None else last_close / float(seg["open"][0])
        for k in ("open", "high", "low", "close"):
            cols[k].append(seg[k][:take] * scale)
        cols["volume"].append(seg["volume"][:take] / scale)
        last_close = float(cols["close"][-1][-1])
        have += take
    out = {k: np.concatenate(v) for k, v in cols.items()}
    out["timestamp_ms"] = int(parts[0]["timestamp_ms"][0]) + np.arange(n, dtype=np.int64) * step_ms
    return out


def write_csv(path: Path, n: int = YEAR_1M) -> Path:
    d = stitched_1m(n)
    frame = pd.DataFrame({k: d[k] for k in ("timestamp_ms", "open", "high", "low", "close", "volume")})
    frame.to_csv(path, index=False, float_format="%.8g")
    return path


YEAR_15M = 35_040


def stitched_15m(n: int = YEAR_15M) -> dict[str, np.ndarray]:
    """One year of 15-minute candles from the two 5-minute series in data/ (BTC and ETH, about 8.5
    months each), resampled to 15 minutes and stitched as `stitched_1m` stitches the 1m series:
    segments alternate, each rescaled to continue the previous close, timestamps continuous."""
    from whale.candle_file import load_candle_file
    from whale.market.resample import resample

    parts = [resample(load_candle_file(DATA_DIR / f).candles, "15") for f in ("BTCUSDT_5m.csv.gz", "ETHUSDT_5m.csv.gz")]
    return _stitch([{"timestamp_ms": c.ts, "open": c.open, "high": c.high, "low": c.low, "close": c.close,
                     "volume": c.volume} for c in parts], n, 900_000)


def write_csv_15m(path: Path, n: int = YEAR_15M) -> Path:
    """The stitched 15-minute year as a candle file (name it after a symbol: BTCUSDT-stitched_15m.csv)."""
    d = stitched_15m(n)
    frame = pd.DataFrame({k: d[k] for k in ("timestamp_ms", "open", "high", "low", "close", "volume")})
    frame.to_csv(path, index=False, float_format="%.10g")
    return path


def temp_csv_15m(directory: Path | None = None, n: int = YEAR_15M) -> Path:
    """Write the stitched 15-minute year to a temporary file (for benchmarks) and return its path."""
    import tempfile

    where = Path(directory or tempfile.mkdtemp(prefix="whalebot-15m-"))
    return write_csv_15m(where / "BTCUSDT-stitched_15m.csv", n)
