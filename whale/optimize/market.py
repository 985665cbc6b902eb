"""One candle file prepared exactly as `run_backtest` prepares it: the same loader, the same
resampling to the config's interval, the same `--from` / `--to` cuts, the same symbol and
instrument. Higher-timeframe candles are resampled from the same source candles, once each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whale.backtest.outputs import iso
from whale.backtest.runner import prepare_candles, symbol_config, symbols_of
from whale.candle_file import CandleFile, guess_symbol, load_candle_file
from whale.config.model import Config
from whale.errors import BadInputError
from whale.market.candles import Candles
from whale.market.instruments import Instrument, instrument_for
from whale.market.intervals import bucket_end, is_multiple, label
from whale.market.resample import resample


@dataclass
class Market:
    name: str  # the data file as given
    symbol: str
    data: CandleFile
    src: Candles  # the file's candles, cut at --to
    candles: Candles  # at the config's interval
    instrument: Instrument
    trade_from: int  # first candle index that may trade (--from)
    close_ms: np.ndarray = field(init=False)
    close_s: np.ndarray = field(init=False)
    _htf: dict[str, Candles] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.close_ms = bucket_end(self.candles.ts, self.candles.interval)
        self.close_s = (self.close_ms // 1000).astype(np.float64)

    def __len__(self) -> int:
        return len(self.candles)

    def htf(self, interval: str) -> Candles:
        """Closed `interval` candles resampled from the source, as the backtest adds them."""
        if interval not in self._htf:
            if not is_multiple(interval, self.src.interval):
                raise BadInputError(f"{self.name}: mtf_analysis.higher_timeframes has {interval!r}, which is not "
                                    f"a multiple of the file's {label(self.src.interval)} candles")
            self._htf[interval] = resample(self.src, interval)
        return self._htf[interval]


def load_market(cfg: Config, path: str | Path, date_from: int | None = None, date_to: int | None = None,
                symbol: str | None = None) -> Market:
    """One file: the same checks and cuts as `run_backtest`; raises BadInputError (exit 2) as it does."""
    return load_markets(cfg, [path], date_from, date_to, symbol)[0]


def load_markets(cfg: Config, paths: Sequence[str | Path], date_from: int | None = None, date_to: int | None = None,
                 symbol: str | None = None) -> list[Market]:
    """Several files, one symbol each (a portfolio on one account), named and checked as
    `backtest --data F --data G` names and checks them (`symbols_of`, each symbol's effective config)."""
    if not paths:
        raise BadInputError("--data FILE is required: the candle file to optimise on")
    symbols = symbols_of(cfg, paths, symbol)
    for s in symbols:
        if symbol_config(cfg, s).strategy.mode == "density":
            raise BadInputError(f"strategy.mode is 'density' (for {s}): density trading needs a live order book, "
                                "which candle files do not have; optimise with strategy.mode 'indicators' or "
                                "'combined'")
    return [market_from_file(cfg, load_candle_file(p), str(p), date_from, date_to, s)
            for p, s in zip(paths, symbols, strict=True)]


def market_from_file(cfg: Config, data: CandleFile, name: str, date_from: int | None, date_to: int | None,
                     symbol: str | None = None) -> Market:
    """A loaded file cut to [date_from, date_to) as `run_backtest --from --to` cuts it (the candles
    before date_from still warm up the indicators); the walk-forward's folds share one loaded file."""
    if date_from is not None and date_to is not None and date_from >= date_to:
        raise BadInputError(f"--from {iso(date_from)} is not before --to {iso(date_to)}")
    src, candles, _ = prepare_candles(cfg, data, date_from, date_to)
    trade_from = 0 if date_from is None else int(np.searchsorted(candles.ts, date_from, side="left"))
    if date_from is not None and trade_from >= len(candles):
        raise BadInputError(f"{data.path}: no {label(candles.interval)} candles at or after --from {iso(date_from)}")
    sym = symbol or guess_symbol(data.path) or cfg.symbol
    return Market(name, sym, data, src, candles, instrument_for(sym, candles.close), trade_from)
