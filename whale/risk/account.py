"""The account-wide entry rules, for the live bot: the Python front of the one implementation the
backtest kernel runs (whale.risk.sizing.size_account_steps, whale.risk.correlation).

The live Account calls `size_entry` once per entry with every open position of the account (its own
and any other) and the primary-interval closes it holds for each symbol:

    size_entry(cfg, instrument, symbol="ETHUSDT", side=+1, entry=3012.5, stop=2990.1, equity=1000.0,
               positions=[OpenPosition("BTCUSDT", +1, 0.02, 60_150.0)],
               closes={"ETHUSDT": Closes(ts, close), "BTCUSDT": Closes(ts2, close2)},
               decision_ts=1_750_000_000_000) -> EntrySize(steps, code, message, group)

`cfg` is the symbol's effective config (`Config.for_symbol`), `entry` the fill the fill model
expects and `stop` the stop from it, `equity` the account's wallet equity (balance + unrealised
PnL), `decision_ts` the open time of the candle whose close decided the entry. `EntrySize.steps`
is whole qtySteps (0 when skipped), `message` says what the rules did (empty at full risk), naming
the rule and the numbers. `account_exposure(positions)` is the figure the signal validator's
exposure rule takes as `open_exposure_notional`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from whale.config.model import Config
from whale.market.instruments import Instrument
from whale.risk.correlation import MIN_RETURNS, Group, GroupMember, joins_group, log_return_correlation
from whale.risk.sizing import NO_GROUP, describe_size, is_shrunk, is_sized, size_account_steps


@dataclass(frozen=True)
class OpenPosition:
    """One open position of the account, marked at its latest price."""

    symbol: str
    side: int  # +1 long, -1 short
    qty: float
    mark_price: float

    @property
    def notional(self) -> float:
        return abs(self.qty) * self.mark_price


@dataclass(frozen=True)
class Closes:
    """A symbol's closed primary-interval candles: open times (ms, ascending) and closes."""

    ts: np.ndarray
    close: np.ndarray

    @staticmethod
    def of(ts, close) -> Closes:
        return Closes(np.ascontiguousarray(ts, dtype=np.int64), np.ascontiguousarray(close, dtype=np.float64))


@dataclass(frozen=True)
class EntrySize:
    steps: int  # whole qtySteps; 0 when skipped
    code: int  # a whale.risk.sizing code
    message: str  # what the rules did, empty at full risk
    group: Group  # the open positions the entry joins (members may be empty)

    @property
    def sized(self) -> bool:
        return is_sized(self.code)

    @property
    def shrunk(self) -> bool:
        return is_shrunk(self.code)


def correlation(a: Closes, b: Closes, decision_ts: int, lookback: int) -> float:
    """The rule's correlation of two symbols at a decision time (NaN when it cannot be measured)."""
    return float(log_return_correlation(a.ts, a.close, b.ts, b.close, int(decision_ts), int(lookback), MIN_RETURNS))


def account_exposure(positions: Sequence[OpenPosition]) -> float:
    """Notional of every open position (USDT, at the marks)."""
    return float(sum(p.notional for p in positions))


def correlated_group(symbol: str, side: int, positions: Sequence[OpenPosition], closes: Mapping[str, Closes],
                     decision_ts: int, cfg: Config) -> Group:
    """The open positions that are the same bet as an entry on `symbol`, `side` (whale.risk.correlation).
    A position on the symbol itself counts with correlation 1; a symbol without closes is not measured
    and joins nothing."""
    risk = cfg.risk
    members = []
    mine = closes.get(symbol)
    for p in positions:
        if p.symbol == symbol:
            corr = 1.0
        else:
            theirs = closes.get(p.symbol)
            if mine is None or theirs is None:
                continue
            corr = correlation(mine, theirs, decision_ts, risk.correlation_lookback)
        if joins_group(corr, p.side == side, risk.correlation_threshold):
            members.append(GroupMember(p.symbol, p.side, corr, p.notional))
    return Group(symbol, side, tuple(members), risk.correlation_threshold, risk.max_correlated_exposure_percent)


def instrument_caps(cfg: Config, instrument: Instrument) -> dict[str, float]:
    """The per-order caps sizing takes from the instrument and the symbol's config."""
    tm = cfg.trade_management
    return dict(qty_step=instrument.step, min_qty=float(instrument.min_order_qty),
                min_notional=float(instrument.min_notional), max_qty=float(instrument.max_mkt_order_qty),
                leverage=min(tm.leverage, float(instrument.max_leverage)), fee_rate=cfg.fees.taker_rate,
                max_exposure_percent=cfg.risk.max_total_exposure_percent)


def size_entry(cfg: Config, instrument: Instrument, *, symbol: str, side: int, entry: float, stop: float,
               equity: float, positions: Sequence[OpenPosition], closes: Mapping[str, Closes],
               decision_ts: int) -> EntrySize:
    """Size one entry under every rule: max_open_positions, maxOrderQty, leverage, the account's total
    exposure and the correlated group (see the module docstring)."""
    tm = cfg.trade_management
    caps = instrument_caps(cfg, instrument)
    group = correlated_group(symbol, side, positions, closes, decision_ts, cfg)
    open_notional = account_exposure(positions)
    steps, code = size_account_steps(float(equity), tm.risk_per_trade_percent, float(entry), float(stop), **caps,
                                     shrink=cfg.risk.when_capped == "shrink", open_notional=open_notional,
                                     group_notional=group.notional if group.members else NO_GROUP,
                                     max_group_percent=group.max_percent, open_positions=len(positions),
                                     max_open_positions=tm.max_open_positions)
    message = describe_size(code, steps, equity=float(equity), risk_percent=tm.risk_per_trade_percent,
                            entry=float(entry), stop=float(stop), coin=symbol.removesuffix("USDT"), **caps,
                            open_notional=open_notional, group=group, open_positions=len(positions),
                            max_open_positions=tm.max_open_positions,
                            open_symbols=tuple(p.symbol for p in positions))
    return EntrySize(int(steps), int(code), message, group)
