"""Bybit interval strings and their candle boundaries in UTC milliseconds."""

from __future__ import annotations

import numpy as np

MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch
MONTH = "M"

_MINUTES = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240,
            "360": 360, "720": 720, "D": 1440, "W": 10080}


def interval_ms(interval: str) -> int:
    """Length of one candle in ms; months vary, so "M" reports 31 days (use bucket_start for boundaries)."""
    if interval == MONTH:
        return 31 * DAY_MS
    try:
        return _MINUTES[interval] * MINUTE_MS
    except KeyError:
        raise ValueError(f"unknown Bybit interval {interval!r}") from None


def interval_from_ms(ms: int) -> str | None:
    """The Bybit interval whose candles are `ms` long, or None."""
    for name, minutes in _MINUTES.items():
        if minutes * MINUTE_MS == ms:
            return name
    return None


def label(interval: str) -> str:
    """Human label: 1m, 15m, 1h, 4h, 1d, 1w, 1M."""
    if interval in ("D", "W", "M"):
        return {"D": "1d", "W": "1w", "M": "1M"}[interval]
    minutes = _MINUTES[interval]
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def is_multiple(target: str, source: str) -> bool:
    """True when candles of `target` are whole groups of `source` candles on the same grid."""
    if target == MONTH:
        return source in ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D")
    if source == MONTH:
        return False
    t, s = interval_ms(target), interval_ms(source)
    if target == "W":
        return DAY_MS % s == 0 or s == WEEK_MS
    return t % s == 0


def bucket_start(ts_ms: np.ndarray, interval: str) -> np.ndarray:
    """Open time of the `interval` candle containing each timestamp (UTC; weeks start Monday)."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    if interval == MONTH:
        months = ts.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    if interval == "W":
        return ((ts - _MONDAY_OFFSET_MS) // WEEK_MS) * WEEK_MS + _MONDAY_OFFSET_MS
    step = interval_ms(interval)
    return (ts // step) * step


def bucket_end(start_ms: np.ndarray, interval: str) -> np.ndarray:
    """Close time (exclusive end) of candles opening at `start_ms`."""
    start = np.asarray(start_ms, dtype=np.int64)
    if interval == MONTH:
        months = start.astype("datetime64[ms]").astype("datetime64[M]") + np.timedelta64(1, "M")
        return months.astype("datetime64[ms]").astype(np.int64)
    return start + interval_ms(interval)
