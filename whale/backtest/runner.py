"""The backtest: the live decision path (the same Analyzer the bot runs) fed candle files in large
chunks, one symbol after another, then one account trading every symbol on the union of their
timelines (whale.backtest.simulate). One file is the same run with one symbol.

Nothing here decides anything the live loop would not: the Analyzer computes indicators, scores
and the finaliser's signal on closed candles only; the broker acts on the next candle's open.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.outputs import iso
from whale.backtest.report import SymbolInfo, build_report
from whale.candle_file import CandleFile, guess_symbol, load_candle_file
from whale.config.model import Config, Overrides
from whale.errors import BadInputError
from whale.market.candles import Candles
from whale.market.instruments import Instrument, instrument_for
from whale.market.intervals import interval_ms, is_multiple, label
from whale.market.resample import resample
from whale.strategy.analyzer import Analyzer, warm_up_jit

CHUNK = 65_536


@dataclass
class SymbolResult:
    """One symbol of a run: its decisions over its report range and its report section."""

    symbol: str
    instrument: Instrument
    ts: np.ndarray  # its candles in its report range
    scores: np.ndarray
    signals: np.ndarray
    report: dict


@dataclass
class BacktestResult:
    symbol: str  # the symbols, joined with ","
    interval: str
    report: dict
    ts: np.ndarray  # the account's timeline (the union of the symbols' candles) in the report range
    equity: np.ndarray  # the account's equity along ts
    trades: np.ndarray  # every trade, in closing order; T_SYMBOL indexes `symbols`
    per_symbol: list[SymbolResult]
    contribution: list[np.ndarray]  # per symbol, its cash result plus open PnL along ts (forward-filled)
    warnings: list[str] = field(default_factory=list)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(r.symbol for r in self.per_symbol)

    def _one(self) -> SymbolResult:
        if len(self.per_symbol) != 1:
            raise ValueError(f"a run of {len(self.per_symbol)} symbols: use per_symbol")
        return self.per_symbol[0]

    @property
    def instrument(self) -> Instrument:
        return self._one().instrument

    @property
    def scores(self) -> np.ndarray:
        return self._one().scores

    @property
    def signals(self) -> np.ndarray:
        return self._one().signals


def prepare_candles(cfg: Config, data: CandleFile, date_from: int | None, date_to: int | None,
                    ) -> tuple[Candles, Candles, list[str]]:
    """(source candles cut at --to, primary candles at the config's interval, warnings)."""
    name = str(data.path)
    warnings = []
    src = data.candles
    if not is_multiple(cfg.interval, src.interval):
        raise BadInputError(f"{name}: the file's candles are {label(src.interval)}; the config's interval "
                            f"{cfg.interval!r} ({label(cfg.interval)}) is not a multiple of that, so they cannot "
                            f"be resampled. Use a config interval that is a multiple of {label(src.interval)}, "
                            f"or a file with smaller candles.")
    if date_to is not None:
        src = src.slice(0, int(np.searchsorted(src.ts, date_to, side="left")))
    if date_from is not None and date_to is None and len(src) and date_from > int(src.ts[-1]):
        raise BadInputError(f"{name}: --from {iso(date_from)} is after the file's last candle "
                            f"({iso(int(src.ts[-1]))})")
    if len(src) == 0:
        raise BadInputError(f"{name}: no candles before --to {iso(date_to)}" if date_to else f"{name}: no candles")
    primary = src if cfg.interval == src.interval else resample(src, cfg.interval)
    if data.gaps:
        warnings.append(f"{name}: {len(data.gaps)} gap(s) in the data, {data.missing_candles} missing "
                        f"{label(data.candles.interval)} candle(s); indicators run across gaps, no fills are "
                        f"simulated inside them")
    return src, primary, warnings


def symbols_of(cfg: Config, paths: Sequence[str | Path], symbol: str | None) -> list[str]:
    """Each file's symbol: from its name (BTCUSDT-PERP_1m.csv.gz); with one file `--symbol`, else the
    config's symbol, may name it. Every symbol once."""
    if symbol is not None and len(paths) > 1:
        raise BadInputError(f"--symbol names the symbol of one file; with {len(paths)} --data files each file's "
                            f"name gives its symbol (e.g. ETHUSDT_1m.csv.gz)")
    if len(paths) == 1:
        return [symbol or guess_symbol(Path(paths[0])) or cfg.symbol]
    seen: dict[str, str] = {}
    out = []
    for p in paths:
        s = guess_symbol(Path(p))
        if s is None:
            raise BadInputError(f"{p}: the file name does not start with a symbol such as BTCUSDT; with several "
                                f"--data files each name gives its symbol (e.g. BTCUSDT_1m.csv.gz)")
        if s in seen:
            raise BadInputError(f"{p}: {s} again (also {seen[s]}); each symbol can be backtested once per run")
        seen[s] = str(p)
        out.append(s)
    return out


def symbol_config(cfg: Config, symbol: str) -> Config:
    """The symbol's effective config: its overrides when the config lists it, else the top level."""
    if symbol in cfg.symbols:
        return cfg.for_symbol(symbol)
    return dataclasses.replace(cfg, symbols=(symbol,), overrides=Overrides())


def run_backtest(cfg: Config, data_path: str | Path, *, date_from: int | None = None, date_to: int | None = None,
                 progress: bool = False, symbol: str | None = None) -> BacktestResult:
    """One candle file: the portfolio run with one symbol."""
    return run_portfolio(cfg, [data_path], date_from=date_from, date_to=date_to, progress=progress, symbol=symbol)


@dataclass
class _Prepared:
    info: SymbolInfo
    columns: dict[str, np.ndarray]
    cooled: np.ndarray
    analyzer_off: list[str]


def run_portfolio(cfg: Config, data_paths: Sequence[str | Path], *, date_from: int | None = None,
                  date_to: int | None = None, progress: bool = False, symbol: str | None = None) -> BacktestResult:
    """Backtest the symbols of `data_paths` on one account (module docstring)."""
    t_start = time.perf_counter()
    if not data_paths:
        raise BadInputError("no --data file given")
    if date_from is not None and date_to is not None and date_from >= date_to:
        raise BadInputError(f"--from {iso(date_from)} is not before --to {iso(date_to)}")
    symbols = symbols_of(cfg, data_paths, symbol)
    order = fixed_order(cfg, symbols)
    configs = {s: symbol_config(cfg, s) for s in symbols}
    for s in symbols:
        if configs[s].strategy.mode == "density":
            where = f" (for {s})" if configs[s].strategy.mode != cfg.strategy.mode else ""
            raise BadInputError(f"strategy.mode is 'density'{where}: density trading needs an order book, which "
                                "candle files do not have: use --book DIR to backtest on a book recording "
                                "(docs/recording.md), or backtest candles with strategy.mode 'indicators' or "
                                "'combined' (its Density_Signal is off on candles).")
    load_s = jit_s = indicators_s = indicators_cpu_s = 0.0
    warnings: list[str] = []
    prepared: list[_Prepared] = []
    bar = None
    for idx in order:
        s, path = symbols[idx], data_paths[idx]
        t0 = time.perf_counter()
        data = load_candle_file(path)
        src, candles, w = prepare_candles(configs[s], data, date_from, date_to)
        warnings.extend(w)
        t1 = time.perf_counter()
        load_s += t1 - t0
        warm_up_jit(configs[s])
        t2 = time.perf_counter()
        c2 = time.process_time()
        jit_s += t2 - t1
        if progress and bar is None:
            bar = _progress(len(candles) * len(symbols), progress)
        applied = tuple(path for path, _ in cfg.overrides.paths(s)) if s in cfg.symbols else ()
        prep = _decide(configs[s], s, data, src, candles, date_from, date_to, bar, applied)
        indicators_s += time.perf_counter() - t2
        indicators_cpu_s += time.process_time() - c2
        prepared.append(prep)
        del data, src, candles
    t3 = time.perf_counter()
    P, AP = portfolio_params(cfg, [configs[p.info.symbol] for p in prepared], [p.info for p in prepared])
    _warm_up_simulate(P, AP)
    jit_s += time.perf_counter() - t3
    infos = [p.info for p in prepared]
    cooled = [p.cooled for p in prepared]
    off_lists = [p.analyzer_off for p in prepared]
    market = sim.Market.of(tuple(i.symbol for i in infos), [p.columns for p in prepared])
    del prepared
    t4, c4 = time.perf_counter(), time.process_time()
    run = sim.simulate_portfolio(market, P, AP)
    simulate_s, simulate_cpu_s = time.perf_counter() - t4, time.process_time() - c4
    if bar is not None:
        bar.close()
    # The *_cpu_s twins are this process's CPU time: on a busy machine they show what the wall time hides.
    timing = {"load_s": load_s, "jit_s": jit_s, "indicators_s": indicators_s, "simulate_s": simulate_s,
              "indicators_cpu_s": indicators_cpu_s, "simulate_cpu_s": simulate_cpu_s}
    report, per_symbol_reports, u_from = build_report(cfg, infos, market, run, P, cooled, off_lists, timing)
    report["timing"]["total_s"] = time.perf_counter() - t_start
    per_symbol = []
    for k, info in enumerate(infos):
        part = market.part(k)
        r = slice(part.start + info.report_from, part.stop)
        per_symbol.append(SymbolResult(info.symbol, info.instrument, market.ts[r], market.scores[r],
                                       market.signals[r], per_symbol_reports[k]))
    ts_u = run.ts[u_from:]
    contribution = [_along(ts_u, market.ts[market.part(k)], run.contribution[market.part(k)])
                    for k in range(len(infos))]
    return BacktestResult(",".join(i.symbol for i in infos), cfg.interval, report, ts_u, run.equity[u_from:],
                          run.trades, per_symbol, contribution, warnings)


def fixed_order(cfg: Config, symbols: list[str]) -> list[int]:
    """Indices of `symbols` in the account's fixed order: the config's `symbols` order, then the rest as
    given. At equal timestamps the symbols act in this order (the first entry is sized first)."""
    listed = {s: i for i, s in enumerate(cfg.symbols)}
    return sorted(range(len(symbols)), key=lambda i: (listed.get(symbols[i], len(listed)), i))


def _along(ts_u: np.ndarray, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A symbol's values at its own candles, carried along the union timeline (0 before its first)."""
    at = np.searchsorted(ts, ts_u, side="right") - 1
    out = np.where(at >= 0, values[np.maximum(at, 0)], 0.0)
    return out


def _decide(cfg: Config, symbol: str, data: CandleFile, src: Candles, candles: Candles, date_from: int | None,
            date_to: int | None, bar, overrides: tuple[str, ...]) -> _Prepared:
    """The Analyzer over one symbol's candles: scores, signals, readiness and ATR for every candle."""
    name = str(data.path)
    instrument = instrument_for(symbol, candles.close)
    analyzer = Analyzer(cfg, candles.interval, capacity=CHUNK)
    for htf in analyzer.mtf_intervals:
        if not is_multiple(htf, src.interval):
            raise BadInputError(f"{name}: mtf_analysis.higher_timeframes has {htf!r}, which is not a multiple of "
                                f"the file's {label(src.interval)} candles")
        analyzer.add_htf_candles(htf, resample(src, htf))
    n = len(candles)
    trade_from = 0 if date_from is None else int(np.searchsorted(candles.ts, date_from, side="left"))
    if date_from is not None and trade_from >= n:  # without --from, too few candles is the warm-up error below
        raise BadInputError(f"{name}: no {label(candles.interval)} candles at or after --from {iso(date_from)}")
    needed = analyzer.warmup_candles
    if n < needed + 1:
        raise BadInputError(_too_few_message(name, data, len(src), date_to, n, candles.interval, needed,
                                             analyzer.warmup_reason))
    scores = np.full(n, np.nan)
    ready = np.zeros(n, dtype=np.bool_)
    signals = np.zeros(n, dtype=np.int8)
    cooled = np.zeros(n, dtype=np.bool_)
    atr = np.zeros(n)
    buf = analyzer.buffer
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        start, end = analyzer.process(candles.slice(a, b), scores=scores, ready=ready, signals=signals,
                                      cooled=cooled, out_base=a)
        atr[a:b] = buf.X[buf.rows["atr"], start:end]
        if bar is not None:
            bar.update(b - a)
    first_ready = int(np.argmax(ready)) if ready.any() else n
    report_from = max(trade_from, first_ready)
    if report_from >= n:
        raise BadInputError(f"{name}: the strategy never finished warming up ({analyzer.warmup_reason})")
    info = SymbolInfo(symbol, name, instrument, candles.interval, n, trade_from, report_from, len(data.gaps),
                      data.missing_candles, overrides)
    columns = {"ts": candles.ts, "open": candles.open, "high": candles.high, "low": candles.low,
               "close": candles.close, "atr": atr, "signals": signals, "scores": scores, "ready": ready}
    return _Prepared(info, columns, cooled, analyzer.off_in_backtest())


def _too_few_message(name: str, data: CandleFile, used_rows: int, date_to: int | None, n: int, interval: str,
                     needed: int, reason: str) -> str:
    """The warm-up error, naming the file lines actually used: `--to` cuts the file, so the whole
    file's line range would point the user at candles the run never saw. (`--from` cuts nothing:
    earlier candles still warm up.)"""
    first = data.first_line
    cut = f" (the candles before --to {iso(date_to)})" if date_to is not None and used_rows < len(data.candles) else ""
    return (f"{name}: lines {first}-{first + used_rows - 1}{cut} give {n} {label(interval)} candle(s); the strategy "
            f"needs {needed} for warm-up ({reason}) plus candles to trade on")


def sim_params(cfg: Config, instrument: Instrument, interval: str, trade_from: int) -> np.ndarray:
    """One symbol's row of the kernel's parameters, from its effective config."""
    tm, fees = cfg.trade_management, cfg.fees
    P = np.zeros(sim.N_SIM_PARAMS)
    P[sim.PP_ENABLED] = 1.0 if tm.enabled else 0.0
    P[sim.PP_THRESHOLD] = cfg.signal_score_threshold
    P[sim.PP_RISK_PCT] = tm.risk_per_trade_percent
    P[sim.PP_SL_MULT] = tm.stop_loss_atr_multiple
    P[sim.PP_TP_MULT] = tm.take_profit_atr_multiple
    P[sim.PP_TRAIL_ON] = 1.0 if tm.enable_trailing_stop else 0.0
    P[sim.PP_TRAIL_TRIGGER] = tm.break_even_atr_trigger
    P[sim.PP_TRAIL_MULT] = tm.trailing_stop_atr_multiple
    P[sim.PP_BE_TRIGGER] = tm.move_to_breakeven_atr_trigger
    P[sim.PP_LOCK_MULT] = tm.profit_lock_in_atr_multiple
    P[sim.PP_CLOSE_OPP] = 1.0 if tm.close_on_opposite_signal else 0.0
    P[sim.PP_REVERSE] = 1.0 if tm.reverse_position_on_opposite_signal else 0.0
    P[sim.PP_TAKER] = fees.taker_rate
    P[sim.PP_SLIP] = fees.slippage_rate
    P[sim.PP_FUNDING] = fees.funding_rate_8h
    P[sim.PP_TICK] = instrument.tick
    P[sim.PP_QTY_STEP] = instrument.step
    P[sim.PP_MIN_QTY] = float(instrument.min_order_qty)
    P[sim.PP_MIN_NOTIONAL] = float(instrument.min_notional)
    P[sim.PP_MAX_QTY] = float(instrument.max_mkt_order_qty)
    P[sim.PP_LEVERAGE] = min(tm.leverage, float(instrument.max_leverage))
    P[sim.PP_INTERVAL_MS] = interval_ms(interval)
    P[sim.PP_TRADE_FROM] = trade_from
    P[sim.PP_MAX_EXPOSURE] = cfg.risk.max_total_exposure_percent
    P[sim.PP_SHRINK] = 1.0 if cfg.risk.when_capped == "shrink" else 0.0
    return P


def portfolio_params(cfg: Config, configs: Sequence[Config], infos: Sequence[SymbolInfo],
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's parameters: a row per symbol from its effective config, and the account's."""
    P = np.stack([sim_params(c, i.instrument, cfg.interval, i.trade_from) for c, i in zip(configs, infos, strict=True)])
    return P, account_params(cfg)


def account_params(cfg: Config) -> np.ndarray:
    """The account's parameters (the config's account-wide keys)."""
    tm, risk = cfg.trade_management, cfg.risk
    return sim.account_params(tm.account_balance, tm.max_open_positions, risk.correlation_threshold,
                              risk.correlation_lookback, risk.max_correlated_exposure_percent)


def _warm_up_simulate(P: np.ndarray, AP: np.ndarray) -> None:
    """Compile (or load from cache) the broker kernels so simulate_s measures simulation only."""
    n = 4
    prices = np.array([100.0, 101.0, 99.0, 100.5])
    col = {"ts": np.arange(n, dtype=np.int64) * 60_000, "open": prices, "high": prices + 1, "low": prices - 1,
           "close": prices, "atr": np.ones(n), "signals": np.array([1, 0, -1, 0], dtype=np.int8),
           "scores": np.array([9.0, 0.0, -9.0, 0.0]), "ready": np.ones(n, dtype=np.bool_)}
    market = sim.Market.of(("A", "B"), [dict(col), dict(col)])
    sim.simulate_portfolio(market, np.stack([P[0], P[0]]), AP, trade_buffer=8)


def _progress(total: int, enabled: bool):
    if not enabled or total < 200_000:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="candle", unit_scale=True, desc="backtest", leave=False)
