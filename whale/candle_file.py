"""Reading candle CSV files (`timestamp_ms,open,high,low,close,volume`, gzip allowed).

Every problem is reported once, naming the file and the line, as a BadInputError (exit 2):
the backtest, the simulator and the demo all refuse bad data the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from whale.errors import BadInputError
from whale.market.candles import Candles
from whale.market.intervals import interval_from_ms, label

COLUMNS = ("timestamp_ms", "open", "high", "low", "close", "volume")
# Real candles shipped with the repository: the default of backtest, sim and demo (data/README.md).
BUNDLED_DATA = Path(__file__).resolve().parents[1] / "data" / "BTCUSDT-PERP_1m.csv.gz"
_SYMBOL_RE = re.compile(r"^([A-Z0-9]{2,20}USDT)")


@dataclass(frozen=True)
class Gap:
    before_ts: int  # open time of the candle before the gap
    after_ts: int  # open time of the candle after the gap
    missing: int


@dataclass(frozen=True)
class CandleFile:
    path: Path
    candles: Candles
    gaps: list[Gap] = field(default_factory=list)
    first_line: int = 2  # file line of the first data row (1-based; line 1 is the header)

    @property
    def missing_candles(self) -> int:
        return sum(g.missing for g in self.gaps)

    def line_of(self, row: int) -> int:
        return self.first_line + row


def guess_symbol(path: Path) -> str | None:
    """BTCUSDT from names such as BTCUSDT-PERP_1m.csv.gz or ETHUSDT_5m.csv."""
    m = _SYMBOL_RE.match(path.name.upper())
    return m.group(1) if m else None


def write_candle_csv(path: Path, candles: Candles) -> None:
    """The same format the loader reads (used by `download` and the tests)."""
    frame = pd.DataFrame({"timestamp_ms": candles.ts, "open": candles.open, "high": candles.high,
                          "low": candles.low, "close": candles.close, "volume": candles.volume})
    frame.to_csv(path, index=False, float_format="%.10g")


def load_candle_file(path: str | Path) -> CandleFile:
    """Parse and validate; raises BadInputError naming the file and line of the first problem."""
    p = Path(path)
    name = str(p)
    if not p.exists():
        raise BadInputError(f"{name}: no such candle file")
    if p.is_dir():
        raise BadInputError(f"{name}: is a directory, expected a candle CSV file")
    frame, first_line = _read(p, name)
    if len(frame) == 0:
        raise BadInputError(f"{name}: no candles in the file")
    values = {col: frame[col].to_numpy() for col in COLUMNS}
    if any(dt == np.dtype(object) for dt in frame.dtypes) or any(np.isnan(v).any() for v in values.values()):
        _raise_first_bad_cell(p, name, first_line)
    ts_f = values["timestamp_ms"].astype(np.float64)
    if not np.all(np.isfinite(ts_f)) or np.any(ts_f != np.floor(ts_f)):
        row = int(np.flatnonzero(~np.isfinite(ts_f) | (ts_f != np.floor(ts_f)))[0])
        raise BadInputError(f"{name}: line {first_line + row}: timestamp_ms must be a whole number of milliseconds")
    ts = ts_f.astype(np.int64)
    if ts[0] < 100_000_000_000:
        raise BadInputError(f"{name}: line {first_line}: timestamp {ts[0]} looks like seconds; "
                            f"the format wants milliseconds since 1970 (UTC)")
    ohlcv = [np.ascontiguousarray(values[c], dtype=np.float64) for c in COLUMNS[1:]]
    o, h, lo, c, v = ohlcv
    for col, arr in zip(COLUMNS[1:], ohlcv, strict=True):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise BadInputError(f"{name}: line {first_line + int(np.flatnonzero(bad)[0])}: {col} is NaN or infinite")
    bad = (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)
    if bad.any():
        raise BadInputError(f"{name}: line {first_line + int(np.flatnonzero(bad)[0])}: prices must be positive")
    bad = v < 0
    if bad.any():
        raise BadInputError(f"{name}: line {first_line + int(np.flatnonzero(bad)[0])}: volume is negative")
    bad = (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (h < lo)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInputError(f"{name}: line {first_line + row}: high/low do not contain open and close "
                            f"(o={o[row]} h={h[row]} l={lo[row]} c={c[row]})")
    diffs = np.diff(ts)
    if (diffs == 0).any():
        row = int(np.flatnonzero(diffs == 0)[0]) + 1
        raise BadInputError(f"{name}: line {first_line + row}: duplicate timestamp {ts[row]} "
                            f"(same as line {first_line + row - 1})")
    if (diffs < 0).any():
        row = int(np.flatnonzero(diffs < 0)[0]) + 1
        raise BadInputError(f"{name}: line {first_line + row}: rows are not sorted by time "
                            f"({ts[row]} comes after {ts[row - 1]})")
    if len(ts) < 2:
        raise BadInputError(f"{name}: only one candle; cannot infer the interval")
    step = _infer_step(diffs)
    interval = interval_from_ms(step)
    if interval is None:
        raise BadInputError(f"{name}: the usual spacing between rows is {step} ms, which is not a Bybit interval "
                            f"(1 3 5 15 30 60 120 240 360 720 minutes, D, W)")
    if interval not in ("W",):
        misaligned = ts % step != 0
        if misaligned.any():
            row = int(np.flatnonzero(misaligned)[0])
            raise BadInputError(f"{name}: line {first_line + row}: timestamp {ts[row]} is not on the "
                                f"{label(interval)} grid (candles open at multiples of {step} ms)")
    off_grid = diffs % step != 0
    if off_grid.any():
        row = int(np.flatnonzero(off_grid)[0]) + 1
        raise BadInputError(f"{name}: line {first_line + row}: spacing {diffs[row - 1]} ms is not a multiple of "
                            f"the file's interval ({label(interval)})")
    gap_rows = np.flatnonzero(diffs > step)
    gaps = [Gap(int(ts[r]), int(ts[r + 1]), int(diffs[r] // step) - 1) for r in gap_rows]
    candles = Candles.from_arrays(ts, o, h, lo, c, v, interval)
    return CandleFile(p, candles, gaps, first_line)


def _read(p: Path, name: str) -> tuple[pd.DataFrame, int]:
    """Parse numbers directly (fast, little memory); a file that does not parse that way is read
    again as text by _raise_first_bad_cell to name the offending line."""
    has_header = _has_header(p, name)
    try:
        frame = pd.read_csv(p, header=0 if has_header else None, compression="infer", usecols=range(6),
                            names=None if has_header else list(COLUMNS), skip_blank_lines=False, engine="c",
                            dtype=np.float64)
    except (ValueError, pd.errors.ParserError):
        _raise_first_bad_cell(p, name, 2 if has_header else 1)
    except Exception as exc:  # noqa: BLE001 - any other parser failure is a bad file for the user
        raise BadInputError(f"{name}: cannot read as CSV ({_short(exc)})") from None
    frame.columns = list(COLUMNS)
    return frame, 2 if has_header else 1


def _has_header(p: Path, name: str) -> bool:
    try:
        head = pd.read_csv(p, nrows=1, header=None, dtype=str, compression="infer")
    except Exception as exc:  # noqa: BLE001
        raise BadInputError(f"{name}: cannot read as CSV ({_short(exc)})") from None
    first = [str(x).strip().lower() for x in head.iloc[0].tolist()] if len(head) else []
    has_header = bool(first) and not _is_number(first[0])
    if has_header and tuple(first[:6]) != COLUMNS:
        raise BadInputError(f"{name}: line 1: expected the header {','.join(COLUMNS)}, found {','.join(first)}")
    if len(first) < 6:
        raise BadInputError(f"{name}: line 1: expected 6 columns ({','.join(COLUMNS)}), found {len(first)}")
    return has_header


def _raise_first_bad_cell(p: Path, name: str, first_line: int) -> None:
    """Read as text and report the first cell that is not a number."""
    try:
        frame = pd.read_csv(p, header=0 if first_line == 2 else None, dtype=str, compression="infer",
                            usecols=range(6), names=None if first_line == 2 else list(COLUMNS),
                            skip_blank_lines=False, engine="c", keep_default_na=False, na_filter=False)
    except Exception as exc:  # noqa: BLE001
        raise BadInputError(f"{name}: cannot read as CSV ({_short(exc)})") from None
    frame.columns = list(COLUMNS)
    for col in COLUMNS:
        numeric = pd.to_numeric(frame[col], errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raw = frame[col].iloc[row]
            what = "is empty" if str(raw).strip() == "" else f"is not a number ({str(raw)[:30]!r})"
            if str(raw).strip().lower() in ("nan", "inf", "-inf", "infinity", "+inf"):
                what = "is NaN or infinite"
            raise BadInputError(f"{name}: line {first_line + row}: {col} {what}")
    raise BadInputError(f"{name}: cannot read as CSV")


def _infer_step(diffs: np.ndarray) -> int:
    values, counts = np.unique(diffs, return_counts=True)
    return int(values[np.argmax(counts)])


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
