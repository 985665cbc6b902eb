"""signals.csv of the live loop and the demo: the same rows the backtest writes (symbol first)."""

from __future__ import annotations

from pathlib import Path

from whale.backtest.outputs import SIGNALS_HEADER, signal_row


class SignalsFile:
    """Appends one row per closed candle and symbol, flushed at once (a killed bot loses no decided
    row). A file of the one-symbol format (no symbol column) is continued in that format."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists() or path.stat().st_size == 0
        self.with_symbol = new or path.open(encoding="utf-8").readline() == SIGNALS_HEADER
        self._f = path.open("a", encoding="utf-8")
        if new:
            self._f.write(SIGNALS_HEADER)
            self._f.flush()

    def write(self, symbol: str, ts_ms: int, score: float, signal: int) -> None:
        row = signal_row(symbol, ts_ms, score, signal)
        self._f.write(row if self.with_symbol else row.split(",", 1)[1])
        self._f.flush()

    def close(self) -> None:
        self._f.close()
