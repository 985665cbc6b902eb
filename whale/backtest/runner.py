"""The backtest: the live decision path (the same Analyzer the bot runs) fed a candle file in
large chunks, with the in-process broker of whale.backtest.simulate.

Nothing here decides anything the live loop would not: the Analyzer computes indicators, scores
and the finaliser's signal on closed candles only; the broker acts on the next candle's open.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.metrics import daily_sharpe, max_drawdown, trade_stats
from whale.backtest.outputs import iso
from whale.candle_file import CandleFile, guess_symbol, load_candle_file
from whale.config.model import Config
from whale.errors import BadInputError
from whale.market.candles import Candles
from whale.market.instruments import Instrument, instrument_for
from whale.market.intervals import interval_ms, is_multiple, label
from whale.market.resample import resample
from whale.risk.sizing import CAP_NAMES, FIRST_SHRUNK, SIZE_REASONS
from whale.strategy.analyzer import Analyzer, warm_up_jit
from whale.strategy.finaliser import BUY, SELL

CHUNK = 65_536


@dataclass
class BacktestResult:
    symbol: str
    interval: str
    report: dict
    ts: np.ndarray  # candles in the report range
    scores: np.ndarray
    signals: np.ndarray
    equity: np.ndarray
    trades: np.ndarray
    instrument: Instrument
    warnings: list[str] = field(default_factory=list)


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


def run_backtest(cfg: Config, data_path: str | Path, *, date_from: int | None = None, date_to: int | None = None,
                 progress: bool = False, symbol: str | None = None) -> BacktestResult:
    t_start = time.perf_counter()
    if cfg.strategy.mode == "density":
        raise BadInputError("strategy.mode is 'density': density trading needs a live order book, which candle "
                            "files do not have. Backtest with strategy.mode 'indicators' or 'combined' (its "
                            "Density_Signal is off in backtests), or try density trading in the demo.")
    if date_from is not None and date_to is not None and date_from >= date_to:
        raise BadInputError(f"--from {iso(date_from)} is not before --to {iso(date_to)}")
    data = load_candle_file(data_path)
    name = str(data.path)
    src, candles, warnings = prepare_candles(cfg, data, date_from, date_to)
    load_s = time.perf_counter() - t_start

    symbol = symbol or guess_symbol(data.path) or cfg.symbol
    instrument = instrument_for(symbol, candles.close)
    t_jit = time.perf_counter()
    warm_up_jit(cfg)
    _warm_up_simulate(cfg, instrument)
    jit_s = time.perf_counter() - t_jit

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
    equity = np.zeros(n)
    in_position = np.zeros(n, dtype=np.bool_)
    P = sim_params(cfg, instrument, candles.interval, trade_from)
    state = sim.new_state(cfg.trade_management.account_balance)
    trades_parts = []
    trade_buf = np.zeros((4096, sim.N_TRADE_FIELDS))
    n_trades = 0
    indicators_s = simulate_s = 0.0
    bar = _progress(n, progress)
    buf = analyzer.buffer
    rows = buf.rows
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        t0 = time.perf_counter()
        start, end = analyzer.process(candles.slice(a, b), scores=scores, ready=ready, signals=signals,
                                      cooled=cooled, out_base=a)
        t1 = time.perf_counter()
        k = start
        X = buf.X
        while k < end:
            k, n_trades = sim.simulate_range(X[rows["open"]], X[rows["high"]], X[rows["low"]], X[rows["close"]],
                                             buf.ts, X[rows["atr"]], signals, scores, ready, k, end, a - start,
                                             P, state, trade_buf, n_trades, equity, in_position)
            if k < end:
                trades_parts.append(trade_buf[:n_trades].copy())
                n_trades = 0
        simulate_s += time.perf_counter() - t1
        indicators_s += t1 - t0
        if bar is not None:
            bar.update(b - a)
    n_trades = sim.close_at_end(P, state, trade_buf, n_trades, n - 1, int(candles.ts[-1]), float(candles.close[-1]))
    trades_parts.append(trade_buf[:n_trades].copy())
    if bar is not None:
        bar.close()
    trades = np.concatenate(trades_parts) if trades_parts else np.zeros((0, sim.N_TRADE_FIELDS))
    equity[-1] = state[sim.S_BALANCE]

    first_ready = int(np.argmax(ready)) if ready.any() else n
    report_from = max(trade_from, first_ready)
    if report_from >= n:
        raise BadInputError(f"{name}: the strategy never finished warming up ({analyzer.warmup_reason})")
    rts = candles.ts[report_from:]
    req = equity[report_from:]
    timing = {"load_s": load_s, "jit_s": jit_s, "indicators_s": indicators_s, "simulate_s": simulate_s}
    report = build_report(cfg, symbol, candles, report_from, trades, req, in_position[report_from:],
                          signals[report_from:], state, analyzer, timing, data, cooled[report_from:])
    report["timing"]["total_s"] = time.perf_counter() - t_start
    return BacktestResult(symbol, candles.interval, report, rts, scores[report_from:], signals[report_from:], req,
                          trades, instrument, warnings)


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


def build_report(cfg: Config, symbol: str, candles: Candles, report_from: int, trades: np.ndarray,
                 equity: np.ndarray, in_position: np.ndarray, signals: np.ndarray, state: np.ndarray,
                 analyzer: Analyzer, timing: dict, data: CandleFile, cooled: np.ndarray) -> dict:
    net = trades[:, sim.T_NET] if len(trades) else np.zeros(0)
    stats = trade_stats(net)
    dd, dd_usdt = max_drawdown(equity)
    ts = candles.ts[report_from:]
    start_balance = cfg.trade_management.account_balance
    reasons: dict[str, int] = {}
    from whale.strategy.stops import EXIT_REASONS
    for r in trades[:, sim.T_REASON].astype(int) if len(trades) else []:
        reasons[EXIT_REASONS[r]] = reasons.get(EXIT_REASONS[r], 0) + 1
    skipped = {SIZE_REASONS[i]: int(state[sim.S_SIZE0 + i]) for i in range(1, FIRST_SHRUNK)
               if state[sim.S_SIZE0 + i] > 0}
    shrunk = {name: int(state[sim.S_SIZE0 + code]) for code, name in CAP_NAMES.items()
              if state[sim.S_SIZE0 + code] > 0}
    report = {
        "symbol": symbol,
        "interval": candles.interval,
        "data_file": str(data.path),
        "start": iso(int(ts[0])),
        "end": iso(int(ts[-1])),
        "bars": int(len(ts)),
        "warmup_bars": int(report_from),
        **stats,
        "fees": float(trades[:, sim.T_FEES].sum()) if len(trades) else 0.0,
        "funding": float(trades[:, sim.T_FUNDING].sum()) if len(trades) else 0.0,
        "max_drawdown": dd,
        "max_drawdown_usdt": dd_usdt,
        "sharpe": daily_sharpe(ts, equity),
        "exposure_time": float(in_position.mean()) if len(in_position) else 0.0,
        "start_balance": start_balance,
        "end_balance": float(equity[-1]),
        "return_pct": (float(equity[-1]) / start_balance - 1.0) * 100.0,
        "long_trades": int((trades[:, sim.T_SIDE] > 0).sum()) if len(trades) else 0,
        "short_trades": int((trades[:, sim.T_SIDE] < 0).sum()) if len(trades) else 0,
        "exit_reasons": reasons,
        "skipped_entries": skipped,
        "shrunk_entries": shrunk,
        "signals": {"BUY": int((signals == BUY).sum()), "SELL": int((signals == SELL).sum()),
                    "HOLD": int((signals == 0).sum()), "ignored_by_cooldown": int(cooled.sum())},
        "gaps": {"count": len(data.gaps), "missing_candles": data.missing_candles},
        "off_in_backtest": analyzer.off_in_backtest(),
        "assumptions": assumptions(cfg),
        "timing": dict(timing),
    }
    return report


def assumptions(cfg: Config) -> list[str]:
    """The rules the run followed, for report.json (the README's Backtest: Assumptions, in short)."""
    capped = ("shrinks to the largest size the caps allow (risking less)" if cfg.risk.when_capped == "shrink"
              else "is skipped")
    return [
        "signals on closed candles only; entries and opposite-signal exits fill at the next candle's open",
        "bar path: up candle Open-Low-High-Close, down candle Open-High-Low-Close, doji nearer extreme first",
        "stop and target both inside the entry candle: the stop wins; a candle opening beyond a level fills at the "
        "open",
        "market fills (entries, stops, targets, exits): the level moved by slippage_rate against the trader, rounded "
        "to the tick against the trader (buys up, sells down); the taker fee is charged on that price",
        "funding at 00:00, 08:00 and 16:00 UTC on qty x price at funding_rate_8h, for a position open at that time: "
        "a funding time at a candle's open (or inside a data gap) is charged at that open's price, before the "
        "open's exit and entry; one strictly inside a candle is charged at its close, only if the position is "
        "still open after that candle's stop and target",
        "stops move on candle closes (trailing, break-even, lock-in), effective from the next candle",
        "no fills inside data gaps; an entry decided just before a gap is dropped",
        "size = equity x risk % / stop distance at the entry fill, rounded down to qtyStep; a size over a cap "
        "(maxOrderQty; leverage, counting the margin and the taker fees to open and close; "
        f"max_total_exposure_percent) {capped} (risk.when_capped: {cfg.risk.when_capped}); a size below "
        "minOrderQty or minNotionalValue, before or after that, is skipped",
        "order-book and trade-flow scorers and exits are off (candles have no book)",
    ]


def _warm_up_simulate(cfg: Config, instrument: Instrument) -> None:
    """Compile (or load from cache) the broker kernels so simulate_s measures simulation only."""
    n = 4
    prices = np.array([100.0, 101.0, 99.0, 100.5])
    ts = np.arange(n, dtype=np.int64) * 60_000
    flags = np.ones(n, dtype=np.bool_)
    signals = np.array([1, 0, -1, 0], dtype=np.int8)
    scores = np.array([9.0, 0.0, -9.0, 0.0])
    state = sim.new_state(1000.0)
    trades = np.zeros((16, sim.N_TRADE_FIELDS))
    P = sim_params(cfg, instrument, "1", 0)
    _, k = sim.simulate_range(prices, prices + 1, prices - 1, prices, ts, np.ones(n), signals, scores, flags, 0, n,
                              0, P, state, trades, 0, np.zeros(n), np.zeros(n, dtype=np.bool_))
    sim.close_at_end(P, state, trades, k, n - 1, 0, 100.0)


def _progress(total: int, enabled: bool):
    if not enabled or total < 200_000:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="candle", unit_scale=True, desc="backtest", leave=False)
