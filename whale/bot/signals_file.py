"""signals.csv of the live loop and the demo: the same rows the backtest writes."""

from __future__ import annotations

from pathlib import Path

from whale.backtest.outputs import format_signal_row

HEADER = "timestamp_ms,score,signal\n"


class SignalsFile:
    """Appends one row per closed candle, flushed at once (a killed bot loses no decided row)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists() or path.stat().st_size == 0
        self._f = path.open("a", encoding="utf-8")
        if new:
            self._f.write(HEADER)
            self._f.flush()

    def write(self, symbol: str, ts_ms: int, score: float, signal: int) -> None:
        self._f.write(format_signal_row(ts_ms, score, signal))
        self._f.flush()

    def close(self) -> None:
        self._f.close()
