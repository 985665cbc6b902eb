"""report.json's contents: the account's totals (the fields a one-file run has always had) and a
section per symbol. Pure: numbers in, a dict out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.metrics import (
    DAY_MS,
    annual_return_pct,
    calmar,
    daily_returns,
    max_drawdown,
    sharpe_of,
    sortino_of,
    trade_stats,
)
from whale.backtest.outputs import iso
from whale.config.model import Config
from whale.market.instruments import Instrument
from whale.market.intervals import interval_ms
from whale.risk.correlation import Group, GroupMember
from whale.risk.sizing import CAP_NAMES, FIRST_SHRUNK, N_SIZE_CODES, SIZE_REASONS, describe_size
from whale.strategy.finaliser import BUY, SELL


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    data_file: str
    instrument: Instrument
    interval: str  # the primary interval (the config's)
    candles: int  # primary candles, warm-up included
    trade_from: int  # first candle --from lets trade
    report_from: int  # first candle of the report range: traded and warmed up
    gaps: int
    missing_candles: int
    overrides: tuple[str, ...]  # the config's override paths for this symbol


def build_report(cfg: Config, infos: list[SymbolInfo], market: sim.Market,
                 run: sim.PortfolioRun, P: np.ndarray, cooled: list[np.ndarray], off_lists: list[list[str]],
                 timing: dict) -> tuple[dict, list[dict], int]:
    """(report.json, each symbol's section, the union step the report starts at)."""
    figures, u_from = account_figures(cfg, market, run, [i.report_from for i in infos])
    ts = run.ts[u_from:]
    trades = run.trades
    sections = [_symbol_section(cfg, s, info, market, run, P, cooled[s]) for s, info in enumerate(infos)]
    off: list[str] = []
    for lst in off_lists:
        off.extend(x for x in lst if x not in off)
    signals = {k: sum(x["signals"][k] for x in sections) for k in ("BUY", "SELL", "HOLD", "ignored_by_cooldown")}
    report = {
        "symbol": ",".join(i.symbol for i in infos),
        "interval": cfg.interval,
        "data_file": ",".join(i.data_file for i in infos),
        "start": iso(int(ts[0])),
        "end": iso(int(ts[-1])),
        **figures,
        "exit_reasons": _exit_reasons(trades),
        "skipped_entries": _sum_counts(x["skipped_entries"] for x in sections),
        "shrunk_entries": _sum_counts(x["shrunk_entries"] for x in sections),
        "signals": signals,
        "gaps": {"count": sum(i.gaps for i in infos), "missing_candles": sum(i.missing_candles for i in infos)},
        "off_in_backtest": off,
        "assumptions": assumptions(cfg, len(infos)),
        "timing": dict(timing),
        "candles": int(sum(i.candles for i in infos)),
        "symbols": [i.symbol for i in infos],
        "data_files": [i.data_file for i in infos],
        "account": {
            "max_open_positions": cfg.trade_management.max_open_positions,
            "max_total_exposure_percent": cfg.risk.max_total_exposure_percent,
            "correlation_lookback": cfg.risk.correlation_lookback,
            "correlation_threshold": cfg.risk.correlation_threshold,
            "max_correlated_exposure_percent": cfg.risk.max_correlated_exposure_percent,
            "when_capped": cfg.risk.when_capped,
        },
        "per_symbol": {i.symbol: sec for i, sec in zip(infos, sections, strict=True)},
    }
    return report, sections, u_from


def report_start(market: sim.Market, run: sim.PortfolioRun, report_from: list[int]) -> int:
    """The union step the account's report starts at: the first symbol's first reported candle
    (each symbol's `report_from` indexes its own candles)."""
    starts = [int(market.ts[market.off[s] + r]) for s, r in enumerate(report_from)]
    return int(np.searchsorted(run.ts, min(starts), side="left"))


def account_figures(cfg: Config, market: sim.Market, run: sim.PortfolioRun, report_from: list[int],
                    ) -> tuple[dict, int]:
    """(the account's figures of report.json, the union step they start at): what every optimiser
    trial records too, so a trial and `backtest` with its config agree to the bit."""
    u_from = report_start(market, run, report_from)
    ts = run.ts[u_from:]
    return {"bars": int(len(ts)), "warmup_bars": u_from,
            **performance(cfg, ts, run.trades, run.equity[u_from:], run.in_position[u_from:])}, u_from


def performance(cfg: Config, ts: np.ndarray, trades: np.ndarray, equity: np.ndarray,
                in_position: np.ndarray) -> dict:
    """Trade figures and the equity curve's: over the report range (ts, equity and in_position start
    at its first step). Annual return compounds over the range's candles at the config's interval."""
    dd, dd_usdt = max_drawdown(equity)
    rets = daily_returns(ts, equity)
    start_balance = cfg.trade_management.account_balance
    end_balance = float(equity[-1])
    annual = annual_return_pct(start_balance, end_balance, len(ts) * interval_ms(cfg.interval) / DAY_MS)
    return {
        **_trade_figures(trades),
        "max_drawdown": dd,
        "max_drawdown_usdt": dd_usdt,
        "sharpe": sharpe_of(rets),
        "sortino": sortino_of(rets),
        "annual_return_pct": annual,
        "calmar": calmar(annual, dd),
        "exposure_time": float(in_position.mean()) if len(in_position) else 0.0,
        "start_balance": start_balance,
        "end_balance": end_balance,
        "return_pct": (end_balance / start_balance - 1.0) * 100.0,
    }


def _trade_figures(trades: np.ndarray) -> dict:
    net = trades[:, sim.T_NET] if len(trades) else np.zeros(0)
    return {
        **trade_stats(net),
        "fees": float(trades[:, sim.T_FEES].sum()) if len(trades) else 0.0,
        "funding": float(trades[:, sim.T_FUNDING].sum()) if len(trades) else 0.0,
        "long_trades": int((trades[:, sim.T_SIDE] > 0).sum()) if len(trades) else 0,
        "short_trades": int((trades[:, sim.T_SIDE] < 0).sum()) if len(trades) else 0,
    }


def _exit_reasons(trades: np.ndarray) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for r in trades[:, sim.T_REASON].astype(int) if len(trades) else []:
        name = sim.BACKTEST_EXIT_REASONS[r]
        reasons[name] = reasons.get(name, 0) + 1
    return reasons


def _sum_counts(parts) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in parts:
        for k, v in p.items():
            out[k] = out.get(k, 0) + v
    return out


def _symbol_section(cfg: Config, s: int, info: SymbolInfo, market: sim.Market, run: sim.PortfolioRun,
                    P: np.ndarray, cooled: np.ndarray) -> dict:
    part = market.part(s)
    r = slice(part.start + info.report_from, part.stop)
    trades = run.trades[run.trades[:, sim.T_SYMBOL] == s] if len(run.trades) else run.trades
    state = run.state[s]
    signals = market.signals[r]
    start_balance = cfg.trade_management.account_balance
    figures = _trade_figures(trades)
    notes = {}
    for code in range(1, N_SIZE_CODES):
        if state[sim.S_SIZE0 + code] > 0:
            notes[CAP_NAMES.get(code, SIZE_REASONS[code])] = sizing_message(cfg, s, code, run, P,
                                                                            market.symbols)
    return {
        "symbol": info.symbol,
        "data_file": info.data_file,
        "start": iso(int(market.ts[r][0])),
        "end": iso(int(market.ts[r][-1])),
        "bars": int(r.stop - r.start),
        "warmup_bars": info.report_from,
        **figures,
        "return_pct": figures["total_pnl"] / start_balance * 100.0,
        "exposure_time": float(run.symbol_in_position[r].mean()) if r.stop > r.start else 0.0,
        "exit_reasons": _exit_reasons(trades),
        "skipped_entries": {SIZE_REASONS[i]: int(state[sim.S_SIZE0 + i]) for i in range(1, FIRST_SHRUNK)
                            if state[sim.S_SIZE0 + i] > 0},
        "shrunk_entries": {name: int(state[sim.S_SIZE0 + code]) for code, name in CAP_NAMES.items()
                           if state[sim.S_SIZE0 + code] > 0},
        "sizing_notes": notes,
        "signals": {"BUY": int((signals == BUY).sum()), "SELL": int((signals == SELL).sum()),
                    "HOLD": int((signals == 0).sum()),
                    "ignored_by_cooldown": int(cooled[info.report_from:].sum())},
        "gaps": {"count": info.gaps, "missing_candles": info.missing_candles},
        "instrument": {"tick_size": str(info.instrument.tick_size), "qty_step": str(info.instrument.qty_step),
                       "min_order_qty": str(info.instrument.min_order_qty),
                       "min_notional": str(info.instrument.min_notional)},
        "overrides": list(info.overrides),
    }


def sizing_message(cfg: Config, s: int, code: int, run: sim.PortfolioRun, P: np.ndarray,
                   symbols: tuple[str, ...]) -> str:
    """The first entry of symbol s that sizing did not take at full risk, in the live bot's words."""
    e = run.events[s * N_SIZE_CODES + code]
    Ps = P[s]
    n_listed = int(e[sim.E_N_MEMBERS])
    shown = min(n_listed, sim.MAX_EVENT_MEMBERS)
    listed = [(int(e[sim.E_MEMBERS + 4 * m]), int(e[sim.E_MEMBERS + 4 * m + 1]), float(e[sim.E_MEMBERS + 4 * m + 2]),
               float(e[sim.E_MEMBERS + 4 * m + 3])) for m in range(shown)]
    group = None
    if e[sim.E_GROUP_NOTIONAL] >= 0.0:
        members = tuple(GroupMember(symbols[j], side, corr, notional) for j, side, corr, notional in listed)
        rest = float(e[sim.E_GROUP_NOTIONAL]) - sum(m.notional for m in members)
        group = Group(symbols[s], int(e[sim.E_SIDE]), members, cfg.risk.correlation_threshold,
                      cfg.risk.max_correlated_exposure_percent, unlisted=n_listed - shown,
                      unlisted_notional=rest if n_listed > shown else 0.0)
    names = tuple(symbols[j] for j, _, _, _ in listed) + ((f"{n_listed - shown} more",) if n_listed > shown else ())
    text = describe_size(code, int(e[sim.E_STEPS]), equity=float(e[sim.E_EQUITY]),
                         risk_percent=float(Ps[sim.PP_RISK_PCT]), entry=float(e[sim.E_ENTRY]),
                         stop=float(e[sim.E_STOP]), qty_step=float(Ps[sim.PP_QTY_STEP]),
                         min_qty=float(Ps[sim.PP_MIN_QTY]), min_notional=float(Ps[sim.PP_MIN_NOTIONAL]),
                         max_qty=float(Ps[sim.PP_MAX_QTY]), leverage=float(Ps[sim.PP_LEVERAGE]),
                         fee_rate=float(Ps[sim.PP_TAKER]), max_exposure_percent=float(Ps[sim.PP_MAX_EXPOSURE]),
                         coin=symbols[s].removesuffix("USDT"), open_notional=float(e[sim.E_OPEN_NOTIONAL]),
                         group=group, open_positions=int(e[sim.E_OPEN_COUNT]),
                         max_open_positions=cfg.trade_management.max_open_positions, open_symbols=names)
    return f"{iso(int(e[sim.E_TS]))}: {text}"


def assumptions(cfg: Config, n_symbols: int = 1) -> list[str]:
    """The rules the run followed, for report.json (the README's Backtest: Assumptions, in short)."""
    capped = ("shrinks to the largest size the caps allow (risking less)" if cfg.risk.when_capped == "shrink"
              else "is skipped")
    rules = [
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
        "max_total_exposure_percent, counting every open position; max_correlated_exposure_percent for the "
        f"correlated group it joins) {capped} (risk.when_capped: {cfg.risk.when_capped}); a size below "
        "minOrderQty or minNotionalValue, before or after that, is skipped",
        "order-book and trade-flow scorers and exits are off (candles have no book)",
    ]
    if n_symbols > 1:
        tm, risk = cfg.trade_management, cfg.risk
        rules += [
            "one account for every symbol: one balance; sizing uses the equity, the balance plus every open "
            "position marked at its latest price (its open or close as the timeline reaches it)",
            "the union of the symbols' candles is one timeline; at equal timestamps the symbols act in a fixed "
            "order (the config's symbols, then the files as given), every entry after every exit at that open",
            f"no entry while {tm.max_open_positions} positions (trade_management.max_open_positions) are open",
            f"correlation: Pearson correlation of log returns of the closes over the last "
            f"{risk.correlation_lookback} common candles before the entry; an open position on the same side "
            f"above {risk.correlation_threshold:g} (or the opposite side below -{risk.correlation_threshold:g}) "
            "is the same bet, and the group may hold at most "
            f"{risk.max_correlated_exposure_percent:g} % of equity",
            "a symbol joins when its data starts; at its last candle, while others go on, its position closes "
            "at that close (end_of_data)",
        ]
    rules.append("a position still open when the run ends closes at the last close (end_of_backtest)")
    return rules
