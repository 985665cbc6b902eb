"""The backtest's broker: one account trading one or many symbols candle by candle, with the shared
fill model, position rules and account-wide sizing. One numba kernel walks the union of the
symbols' timelines; a one-symbol run is the same kernel with one symbol.

Timeline of one timestamp t (the symbols that have a candle at t act in their fixed order):
  A. at the open: for every symbol, funding due at the open and the opposite-signal exit decided on
     the previous candle; then, symbol by symbol, the entry decided on the previous candle, sized
     against the account as it stands (balance plus every open position marked at its latest price,
     the open positions' exposure, the correlated group, the count of open positions); fills at the
     open with slippage and taker fee;
  B. inside the candle, symbol by symbol: stop / target along the bar path (stop wins inside the
     entry candle) -> funding due inside the candle -> stop moves on the close (trailing,
     break-even, lock-in) -> mark at the close -> at the symbol's last candle (not the run's last
     timestamp) its position closes, reason end_of_data; else the decision for its next candle;
  then the account's equity at t (balance + every open position marked at its latest price).
So every entry at t is sized after every exit at t's open and before any stop inside t: the open
comes first in time for every symbol. A position still open when the run ends closes at its last close
(end_of_backtest).

Every fill is a taker fill by the shared rule (`whale.fills.taker_fill_ticks`, no book): the
slipped price rounded to the tick against the taker; fees are charged on that price. Funding: the
funding times in (previous close, open] at the open's price, those in (open, next open) at the close.

The kernel is resumable: it returns before a timestamp when the trade buffer is nearly full, and
continues from its state. `simulate_portfolio` is the plain entry point (arrays in, trades and
equity out; no file I/O), for the runner and the optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from whale.fills import (
    HIT_STOP,
    HIT_TARGET,
    LONG,
    fee,
    first_exit_on_bar,
    funding_payment,
    funding_times_in,
    pnl,
    taker_fill_ticks,
    tick_price,
)
from whale.risk.correlation import MIN_RETURNS, joins_group, log_return_correlation
from whale.risk.sizing import (
    FIRST_SHRUNK,
    N_SIZE_CODES,
    NO_GROUP,
    SIZE_OK,
    SKIP_MAX_OPEN_POSITIONS,
    size_account_steps,
)
from whale.strategy.decide import candle_action
from whale.strategy.stops import (
    EXIT_REASONS,
    R_END,
    R_OPPOSITE,
    R_TAKE_PROFIT,
    STOP_INITIAL,
    initial_levels,
    move_stop,
    stop_exit_reason,
)

# The backtest's exit reasons: the shared ones plus the end of one symbol's data inside a longer run.
R_END_OF_DATA = len(EXIT_REASONS)
BACKTEST_EXIT_REASONS = (*EXIT_REASONS, "end_of_data")

# Per-symbol state layout (one row per symbol).
(S_SIDE, S_QTY, S_ENTRY, S_STOP, S_TARGET, S_INIT_STOP, S_ENTRY_IDX, S_ENTRY_TS, S_STOP_KIND, S_BE_DONE,
 S_ENTRY_FEE, S_FUNDING, S_PENDING, S_PENDING_EXIT, S_PENDING_ATR, S_LAST_TS, S_FEES_PAID, S_FUNDING_PAID,
 S_NEXT, S_MARK, S_CASH, S_SIZE0) = range(22)
N_SIM_STATE = S_SIZE0 + N_SIZE_CODES  # entries counted by size code (whale.risk.sizing): skipped or shrunk

# Account state layout.
(A_BALANCE, A_STEP, A_DONE) = range(3)
N_ACCOUNT_STATE = 3

# Per-symbol parameter layout (one row per symbol).
(PP_ENABLED, PP_THRESHOLD, PP_RISK_PCT, PP_SL_MULT, PP_TP_MULT, PP_TRAIL_ON, PP_TRAIL_TRIGGER, PP_TRAIL_MULT,
 PP_BE_TRIGGER, PP_LOCK_MULT, PP_CLOSE_OPP, PP_REVERSE, PP_TAKER, PP_SLIP, PP_FUNDING, PP_TICK, PP_QTY_STEP,
 PP_MIN_QTY, PP_MIN_NOTIONAL, PP_MAX_QTY, PP_LEVERAGE, PP_INTERVAL_MS, PP_TRADE_FROM, PP_MAX_EXPOSURE,
 PP_SHRINK) = range(25)
N_SIM_PARAMS = 25

# Account parameter layout.
(AP_BALANCE, AP_MAX_OPEN, AP_CORR_THRESHOLD, AP_CORR_LOOKBACK, AP_MAX_CORR_PCT, AP_MIN_RETURNS) = range(6)
N_ACCOUNT_PARAMS = 6

# Trade record layout.
(T_SIDE, T_QTY, T_ENTRY_IDX, T_EXIT_IDX, T_ENTRY_TS, T_EXIT_TS, T_ENTRY_PRICE, T_EXIT_PRICE, T_INIT_STOP,
 T_TARGET, T_FEES, T_FUNDING, T_GROSS, T_NET, T_REASON, T_BALANCE, T_SYMBOL) = range(17)
N_TRADE_FIELDS = 17

# Sizing event layout: the first entry of each (symbol, size code) that was not taken at full risk, with
# the figures its message needs (whale.risk.sizing.describe_size). Row s * N_SIZE_CODES + code.
(E_SYMBOL, E_IDX, E_TS, E_CODE, E_STEPS, E_SIDE, E_EQUITY, E_ENTRY, E_STOP, E_OPEN_COUNT, E_OPEN_NOTIONAL,
 E_GROUP_NOTIONAL, E_N_MEMBERS, E_MEMBERS) = range(14)
MAX_EVENT_MEMBERS = 4  # members (or open positions) recorded per event: symbol, side, correlation, notional
N_EVENT_FIELDS = E_MEMBERS + 4 * MAX_EVENT_MEMBERS


@njit(cache=True)
def _taker_fill(buying, ref, P, s):
    """The shared taker rule without a book: slipped from `ref`, on the tick against the taker."""
    return tick_price(taker_fill_ticks(buying, np.nan, ref, P[s, PP_SLIP], P[s, PP_TICK]), P[s, PP_TICK])


@njit(cache=True, inline='always')
def _close_position(ST, s, acct, P, trades, n_trades, k, ts, trigger_price, reason):
    side = int(ST[s, S_SIDE])
    qty = ST[s, S_QTY]
    price = _taker_fill(side != LONG, trigger_price, P, s)
    exit_fee = fee(price, qty, P[s, PP_TAKER])
    gross = pnl(side, ST[s, S_ENTRY], price, qty)
    acct[A_BALANCE] += gross - exit_fee
    ST[s, S_CASH] += gross - exit_fee
    ST[s, S_FEES_PAID] += exit_fee
    t = trades[n_trades]
    t[T_SIDE] = side
    t[T_QTY] = qty
    t[T_ENTRY_IDX] = ST[s, S_ENTRY_IDX]
    t[T_EXIT_IDX] = k
    t[T_ENTRY_TS] = ST[s, S_ENTRY_TS]
    t[T_EXIT_TS] = ts
    t[T_ENTRY_PRICE] = ST[s, S_ENTRY]
    t[T_EXIT_PRICE] = price
    t[T_INIT_STOP] = ST[s, S_INIT_STOP]
    t[T_TARGET] = ST[s, S_TARGET]
    t[T_FEES] = ST[s, S_ENTRY_FEE] + exit_fee
    t[T_FUNDING] = ST[s, S_FUNDING]
    t[T_GROSS] = gross
    t[T_NET] = gross - ST[s, S_ENTRY_FEE] - exit_fee - ST[s, S_FUNDING]
    t[T_REASON] = reason
    t[T_BALANCE] = acct[A_BALANCE]
    t[T_SYMBOL] = s
    ST[s, S_SIDE] = 0.0
    ST[s, S_QTY] = 0.0
    return n_trades + 1


@njit(cache=True, inline='always')
def _charge_funding(ST, s, acct, P, price):
    pay = funding_payment(int(ST[s, S_SIDE]), ST[s, S_QTY], price, P[s, PP_FUNDING])
    acct[A_BALANCE] -= pay
    ST[s, S_CASH] -= pay
    ST[s, S_FUNDING] += pay
    ST[s, S_FUNDING_PAID] += pay


@njit(cache=True)
def _record_event(events, sym, k, ts, code, steps, side, equity, entry, stop, open_count, open_notional,
                  group_notional, ST, members, n_members, corrs):
    e = events[sym * N_SIZE_CODES + code]
    e[E_SYMBOL] = sym
    e[E_IDX] = k
    e[E_TS] = ts
    e[E_CODE] = code
    e[E_STEPS] = steps
    e[E_SIDE] = side
    e[E_EQUITY] = equity
    e[E_ENTRY] = entry
    e[E_STOP] = stop
    e[E_OPEN_COUNT] = open_count
    e[E_OPEN_NOTIONAL] = open_notional
    e[E_GROUP_NOTIONAL] = group_notional
    e[E_N_MEMBERS] = n_members
    for m in range(min(n_members, MAX_EVENT_MEMBERS)):
        j = members[m]
        e[E_MEMBERS + 4 * m] = j
        e[E_MEMBERS + 4 * m + 1] = ST[j, S_SIDE]
        e[E_MEMBERS + 4 * m + 2] = corrs[m]
        e[E_MEMBERS + 4 * m + 3] = ST[j, S_QTY] * ST[j, S_MARK]


@njit(cache=True, inline='always')
def _enter(s, k, t0, o_k, ts, c, off, P, AP, ST, acct, events, members, corrs):
    """The pending entry of symbol s at candle k's open, sized against the whole account."""
    side = int(ST[s, S_PENDING])
    fill = _taker_fill(side == LONG, o_k, P, s)
    sl, tp = initial_levels(side, fill, ST[s, S_PENDING_ATR], P[s, PP_SL_MULT], P[s, PP_TP_MULT], P[s, PP_TICK])
    n_sym = ST.shape[0]
    max_open = int(AP[AP_MAX_OPEN])
    open_count = 0
    upnl = 0.0
    open_notional = 0.0
    for j in range(n_sym):
        if j != s and ST[j, S_SIDE] != 0.0:
            open_count += 1
            upnl += pnl(int(ST[j, S_SIDE]), ST[j, S_ENTRY], ST[j, S_MARK], ST[j, S_QTY])
            open_notional += ST[j, S_QTY] * ST[j, S_MARK]
    equity = acct[A_BALANCE] + upnl
    shrink = P[s, PP_SHRINK] != 0.0
    steps, code = size_account_steps(equity, P[s, PP_RISK_PCT], fill, sl, P[s, PP_QTY_STEP], P[s, PP_MIN_QTY],
                                     P[s, PP_MIN_NOTIONAL], P[s, PP_MAX_QTY], P[s, PP_LEVERAGE], P[s, PP_TAKER],
                                     P[s, PP_MAX_EXPOSURE], shrink, open_notional, NO_GROUP, AP[AP_MAX_CORR_PCT],
                                     open_count, max_open)
    # The group is a subset of the open positions and its cap only cuts: measure correlations only when
    # the group could reach its limit with this entry (the same size and code as measuring always; the
    # margin keeps float rounding at the limit on the measuring side).
    group_notional = 0.0
    n_members = 0
    grouped = NO_GROUP
    if (AP[AP_CORR_THRESHOLD] < 1.0 and (code == SIZE_OK or code >= FIRST_SHRUNK)
            and open_notional + steps * P[s, PP_QTY_STEP] * fill >= equity * AP[AP_MAX_CORR_PCT] / 100.0 * 0.999999):
        for j in range(n_sym):
            if j == s or ST[j, S_SIDE] == 0.0:
                continue
            corr = log_return_correlation(ts[off[s]:off[s + 1]], c[off[s]:off[s + 1]], ts[off[j]:off[j + 1]],
                                          c[off[j]:off[j + 1]], int(ST[s, S_LAST_TS]), int(AP[AP_CORR_LOOKBACK]),
                                          int(AP[AP_MIN_RETURNS]))
            if joins_group(corr, int(ST[j, S_SIDE]) == side, AP[AP_CORR_THRESHOLD]):
                group_notional += ST[j, S_QTY] * ST[j, S_MARK]
                if n_members < members.shape[0]:
                    members[n_members] = j
                    corrs[n_members] = corr
                n_members += 1
        if n_members > 0:
            grouped = group_notional
            steps, code = size_account_steps(equity, P[s, PP_RISK_PCT], fill, sl, P[s, PP_QTY_STEP], P[s, PP_MIN_QTY],
                                             P[s, PP_MIN_NOTIONAL], P[s, PP_MAX_QTY], P[s, PP_LEVERAGE], P[s, PP_TAKER],
                                             P[s, PP_MAX_EXPOSURE], shrink, open_notional, grouped,
                                             AP[AP_MAX_CORR_PCT], open_count, max_open)
    ST[s, S_SIZE0 + code] += 1.0
    if code != SIZE_OK and ST[s, S_SIZE0 + code] == 1.0:  # the first of its kind: keep the figures for its message
        n_listed = n_members
        if n_members == 0 or code == SKIP_MAX_OPEN_POSITIONS:  # no group: list the open positions instead
            n_listed = 0
            for j in range(n_sym):
                if j != s and ST[j, S_SIDE] != 0.0:
                    if n_listed < members.shape[0]:
                        members[n_listed] = j
                        corrs[n_listed] = np.nan
                    n_listed += 1
        _record_event(events, s, k, t0, code, steps, side, equity, fill, sl, open_count, open_notional, grouped,
                      ST, members, n_listed, corrs)
    if code == SIZE_OK or code >= FIRST_SHRUNK:
        qty = steps * P[s, PP_QTY_STEP]
        entry_fee = fee(fill, qty, P[s, PP_TAKER])
        ST[s, S_SIDE] = side
        ST[s, S_QTY] = qty
        ST[s, S_ENTRY] = fill
        ST[s, S_STOP] = sl
        ST[s, S_INIT_STOP] = sl
        ST[s, S_TARGET] = tp
        ST[s, S_ENTRY_IDX] = k
        ST[s, S_ENTRY_TS] = t0
        ST[s, S_STOP_KIND] = STOP_INITIAL
        ST[s, S_BE_DONE] = 0.0
        ST[s, S_ENTRY_FEE] = entry_fee
        ST[s, S_FUNDING] = 0.0
        acct[A_BALANCE] -= entry_fee
        ST[s, S_CASH] -= entry_fee
        ST[s, S_FEES_PAID] += entry_fee
        return True
    return False


@njit(cache=True)
def portfolio_range(ts, o, h, lo, c, atr, signals, scores, ready, off, P, AP, ST, acct, trades, n_trades, events,
                    ts_u, equity_u, inpos_u, in_position, contrib):
    """Walk the union timeline from the account's step on. Symbol s owns rows [off[s], off[s+1]) of the
    flat candle arrays (ts, o, h, lo, c, atr, signals, scores, ready, in_position, contrib); *_u are
    indexed by union step. Returns n_trades; acct[A_DONE] is 1 when the timeline is finished, else the
    trade buffer filled up: flush it and call again.

    The per-candle steps are written out here rather than in helpers: a numba call that passes arrays
    costs reference counting on every call, which on the flat path of every candle of every symbol was
    most of the run time. The events (an entry, skipped ones included; a close; funding) are helpers
    inlined by numba (inline='always'), which saves most of that cost on them too."""
    n_sym = off.shape[0] - 1
    end_ts = ts[off[1] - 1]
    for s in range(1, n_sym):
        end_ts = max(end_ts, ts[off[s + 1] - 1])
    row = np.empty(n_sym, dtype=np.int64)  # each symbol's next candle: its row in the flat arrays
    at = np.empty(n_sym, dtype=np.int64)  # its row at the current timestamp, -1 when it has no candle there
    had = np.zeros(n_sym, dtype=np.bool_)  # a position open before the open
    entered = np.zeros(n_sym, dtype=np.bool_)  # entered at the open
    open_at_start = np.zeros(n_sym, dtype=np.bool_)  # a position open after the open's fills
    for s in range(n_sym):
        row[s] = off[s] + int(ST[s, S_NEXT])
    members = np.zeros(MAX_EVENT_MEMBERS, dtype=np.int64)
    corrs = np.zeros(MAX_EVENT_MEMBERS)
    u = int(acct[A_STEP])
    while True:
        if n_sym == 1:  # one symbol: the union timeline is its own
            t0 = ts[row[0]] if row[0] < off[1] else end_ts + 1
        else:
            t0 = end_ts + 1
            for s in range(n_sym):
                i = row[s]
                if i < off[s + 1] and ts[i] < t0:
                    t0 = ts[i]
        if t0 > end_ts or n_trades + 3 * n_sym > trades.shape[0]:
            for s in range(n_sym):
                ST[s, S_NEXT] = row[s] - off[s]
            acct[A_DONE] = 1.0 if t0 > end_ts else 0.0
            acct[A_STEP] = u
            return n_trades
        if n_sym == 1 and ST[0, S_SIDE] == 0.0 and ST[0, S_PENDING] == 0.0 and ST[0, S_PENDING_EXIT] == 0.0:
            # One symbol, flat, nothing pending: the steps below reduce to marking and recording, up to the
            # first candle that decides an entry (no fill, no funding, no stop; a flat position decides no
            # exit; its last candle is the run's end, not an end_of_data close; the account is its balance).
            i = row[0]
            trading = P[0, PP_ENABLED] != 0.0
            while i < off[1]:
                t0 = ts[i]
                ST[0, S_MARK] = c[i]
                in_position[i] = False
                ST[0, S_LAST_TS] = t0
                contrib[i] = ST[0, S_CASH]
                ts_u[u] = t0
                equity_u[u] = acct[A_BALANCE] + 0.0  # the account step's balance + upnl, upnl 0.0
                inpos_u[u] = False
                u += 1
                i += 1
                if trading and ready[i - 1] and i - 1 - off[0] >= P[0, PP_TRADE_FROM]:
                    _, enter_side = candle_action(0, signals[i - 1], scores[i - 1], P[0, PP_THRESHOLD],
                                                  P[0, PP_CLOSE_OPP] != 0.0, P[0, PP_REVERSE] != 0.0)
                    if enter_side != 0:
                        ST[0, S_PENDING] = enter_side
                        ST[0, S_PENDING_ATR] = atr[i - 1]
                        break
            row[0] = i
            continue
        for s in range(n_sym):
            i = row[s]
            at[s] = i if i < off[s + 1] and ts[i] == t0 else -1
        # A. At the open: first every symbol's funding at the open and its exit, then every entry, so an
        # entry is sized with the room every exit at this open has freed.
        for s in range(n_sym):
            i = at[s]
            if i < 0:
                continue
            k = i - off[s]
            interval = P[s, PP_INTERVAL_MS]
            had[s] = ST[s, S_SIDE] != 0.0
            # A gap: no fills inside it; an entry decided before it is stale and dropped.
            if ST[s, S_LAST_TS] >= 0.0 and t0 - ST[s, S_LAST_TS] > interval:
                ST[s, S_PENDING] = 0.0
            if ST[s, S_SIDE] != 0.0:
                # Funding due since the previous candle closed (through any gap) up to this open.
                since = ST[s, S_LAST_TS] + interval if ST[s, S_LAST_TS] >= 0.0 else t0
                for _ in range(funding_times_in(int(since), t0 + 1)):
                    _charge_funding(ST, s, acct, P, o[i])
            ST[s, S_MARK] = o[i]
            if ST[s, S_PENDING_EXIT] != 0.0 and ST[s, S_SIDE] != 0.0:
                n_trades = _close_position(ST, s, acct, P, trades, n_trades, k, t0, o[i], R_OPPOSITE)
            ST[s, S_PENDING_EXIT] = 0.0
        for s in range(n_sym):
            i = at[s]
            if i < 0:
                continue
            entered[s] = False
            if ST[s, S_PENDING] != 0.0 and ST[s, S_SIDE] == 0.0 and ST[s, S_PENDING_ATR] > 0.0:
                entered[s] = _enter(s, i - off[s], t0, o[i], ts, c, off, P, AP, ST, acct, events, members, corrs)
            ST[s, S_PENDING] = 0.0
            open_at_start[s] = ST[s, S_SIDE] != 0.0
        # B. Inside the candle, symbol by symbol: stop / target, funding inside, stop moves, mark, then the
        # decision (or, at the symbol's last candle before the run's end, the end_of_data close).
        any_in = False
        for s in range(n_sym):
            i = at[s]
            if i < 0:
                continue
            k = i - off[s]
            if open_at_start[s]:
                side = int(ST[s, S_SIDE])
                kind, price = first_exit_on_bar(side, ST[s, S_STOP], ST[s, S_TARGET], o[i], h[i], lo[i], c[i],
                                                entered[s])
                if kind == HIT_STOP:
                    n_trades = _close_position(ST, s, acct, P, trades, n_trades, k, t0, price,
                                               stop_exit_reason(int(ST[s, S_STOP_KIND])))
                elif kind == HIT_TARGET:
                    n_trades = _close_position(ST, s, acct, P, trades, n_trades, k, t0, price, R_TAKE_PROFIT)
            if ST[s, S_SIDE] != 0.0:
                for _ in range(funding_times_in(t0 + 1, t0 + int(P[s, PP_INTERVAL_MS]))):
                    _charge_funding(ST, s, acct, P, c[i])
                stop, kind_, be = move_stop(int(ST[s, S_SIDE]), ST[s, S_ENTRY], ST[s, S_STOP],
                                            int(ST[s, S_STOP_KIND]), ST[s, S_BE_DONE] != 0.0, c[i], atr[i],
                                            P[s, PP_TICK], P[s, PP_TRAIL_ON] != 0.0, P[s, PP_TRAIL_TRIGGER],
                                            P[s, PP_TRAIL_MULT], P[s, PP_BE_TRIGGER], P[s, PP_LOCK_MULT])
                ST[s, S_STOP] = stop
                ST[s, S_STOP_KIND] = kind_
                ST[s, S_BE_DONE] = 1.0 if be else 0.0
            ST[s, S_MARK] = c[i]
            in_position[i] = had[s] or open_at_start[s]
            any_in = any_in or in_position[i]
            ST[s, S_LAST_TS] = t0
            if i == off[s + 1] - 1 and t0 < end_ts:
                if ST[s, S_SIDE] != 0.0:
                    n_trades = _close_position(ST, s, acct, P, trades, n_trades, k, t0, c[i], R_END_OF_DATA)
            elif P[s, PP_ENABLED] != 0.0 and ready[i] and k >= P[s, PP_TRADE_FROM]:
                # Decide on this candle's close; act on the next candle's open.
                exit_now, enter_side = candle_action(int(ST[s, S_SIDE]), signals[i], scores[i], P[s, PP_THRESHOLD],
                                                     P[s, PP_CLOSE_OPP] != 0.0, P[s, PP_REVERSE] != 0.0)
                if exit_now:
                    ST[s, S_PENDING_EXIT] = 1.0
                if enter_side != 0:
                    ST[s, S_PENDING] = enter_side
                    ST[s, S_PENDING_ATR] = atr[i]
            if ST[s, S_SIDE] != 0.0:
                contrib[i] = ST[s, S_CASH] + pnl(int(ST[s, S_SIDE]), ST[s, S_ENTRY], c[i], ST[s, S_QTY])
            else:
                contrib[i] = ST[s, S_CASH]
            row[s] = i + 1
        # The account at t: balance plus every open position at its latest price.
        upnl = 0.0
        for s in range(n_sym):
            if ST[s, S_SIDE] != 0.0:
                upnl += pnl(int(ST[s, S_SIDE]), ST[s, S_ENTRY], ST[s, S_MARK], ST[s, S_QTY])
                any_in = any_in or at[s] < 0  # held through a gap of its own
        ts_u[u] = t0
        equity_u[u] = acct[A_BALANCE] + upnl
        inpos_u[u] = any_in
        u += 1


@njit(cache=True)
def close_all_at_end(ts, c, off, P, ST, acct, trades, n_trades, contrib):
    """Close the positions still open when the run ends, at each one's last close (end_of_backtest)."""
    for s in range(off.shape[0] - 1):
        if ST[s, S_SIDE] != 0.0:
            i = off[s + 1] - 1
            n_trades = _close_position(ST, s, acct, P, trades, n_trades, i - off[s], ts[i], c[i], R_END)
            contrib[i] = ST[s, S_CASH]
    return n_trades


@njit(cache=True)
def union_length(ts, off):
    """How many distinct timestamps the symbols' candles have together."""
    n_sym = off.shape[0] - 1
    if n_sym == 1:  # every step is one candle of the one symbol
        return off[1] - off[0]
    nxt = off[:-1].copy()
    n = 0
    while True:
        t0 = np.iinfo(np.int64).max
        for s in range(n_sym):
            if nxt[s] < off[s + 1] and ts[nxt[s]] < t0:
                t0 = ts[nxt[s]]
        if t0 == np.iinfo(np.int64).max:
            return n
        for s in range(n_sym):
            if nxt[s] < off[s + 1] and ts[nxt[s]] == t0:
                nxt[s] += 1
        n += 1


@dataclass
class Market:
    """Several symbols' candles and decisions as flat arrays: symbol s owns rows [off[s], off[s+1])."""

    symbols: tuple[str, ...]
    off: np.ndarray  # int64, len(symbols) + 1
    ts: np.ndarray  # int64 candle open times, ascending within each symbol
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    atr: np.ndarray
    signals: np.ndarray  # int8: BUY 1, SELL -1, HOLD 0
    scores: np.ndarray
    ready: np.ndarray  # bool: the strategy had warmed up

    @staticmethod
    def allocate(symbols: tuple[str, ...], lengths: list[int]) -> Market:
        off = np.zeros(len(lengths) + 1, dtype=np.int64)
        off[1:] = np.cumsum(lengths)
        n = int(off[-1])
        return Market(tuple(symbols), off, np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n),
                      np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int8), np.full(n, np.nan),
                      np.zeros(n, dtype=np.bool_))

    @staticmethod
    def of(symbols: tuple[str, ...], columns: list[dict[str, np.ndarray]]) -> Market:
        """From per-symbol arrays (ts, open, high, low, close, atr, signals, scores, ready). Each column is
        taken out of the dicts as it is joined, so the per-symbol arrays can be freed one at a time."""
        m = Market.allocate(symbols, [len(c["ts"]) for c in columns])
        for name in ("ts", "open", "high", "low", "close", "atr", "signals", "scores", "ready"):
            out = getattr(m, name)
            for s, col in enumerate(columns):
                out[int(m.off[s]):int(m.off[s + 1])] = col.pop(name)
        return m

    def part(self, s: int) -> slice:
        return slice(int(self.off[s]), int(self.off[s + 1]))


@dataclass
class PortfolioRun:
    """What the kernel produced. Trades are in closing order, T_SYMBOL naming the symbol's index."""

    trades: np.ndarray  # (n, N_TRADE_FIELDS)
    ts: np.ndarray  # union timeline
    equity: np.ndarray  # account equity at each union step (the last: the balance after the final closes)
    in_position: np.ndarray  # per union step: some position open
    symbol_in_position: np.ndarray  # flat, per candle of each symbol
    contribution: np.ndarray  # flat: each symbol's cash result so far plus its open PnL, at its candles
    state: np.ndarray  # (symbols, N_SIM_STATE)
    balance: float
    events: np.ndarray  # (symbols * N_SIZE_CODES, N_EVENT_FIELDS); rows whose count is 0 are empty


def new_state(n_symbols: int) -> np.ndarray:
    st = np.zeros((n_symbols, N_SIM_STATE))
    st[:, S_LAST_TS] = -1.0
    return st


def account_params(balance: float, max_open_positions: int, correlation_threshold: float,
                   correlation_lookback: int, max_correlated_exposure_percent: float) -> np.ndarray:
    AP = np.zeros(N_ACCOUNT_PARAMS)
    AP[AP_BALANCE] = balance
    AP[AP_MAX_OPEN] = max_open_positions
    AP[AP_CORR_THRESHOLD] = correlation_threshold
    AP[AP_CORR_LOOKBACK] = correlation_lookback
    AP[AP_MAX_CORR_PCT] = max_correlated_exposure_percent
    AP[AP_MIN_RETURNS] = MIN_RETURNS
    return AP


def simulate_portfolio(market: Market, P: np.ndarray, AP: np.ndarray, *, trade_buffer: int = 4096) -> PortfolioRun:
    """Run the account over the market: P is (symbols, N_SIM_PARAMS), AP the account's parameters."""
    m = market
    n_sym = len(m.symbols)
    if P.shape != (n_sym, N_SIM_PARAMS) or m.off.shape[0] != n_sym + 1:
        raise ValueError(f"{n_sym} symbols need P of shape ({n_sym}, {N_SIM_PARAMS}) and {n_sym + 1} offsets")
    if any(m.off[s + 1] <= m.off[s] for s in range(n_sym)):
        raise ValueError("every symbol needs at least one candle")
    n_u = union_length(m.ts, m.off)
    ts_u = np.zeros(n_u, dtype=np.int64)
    equity_u = np.zeros(n_u)
    inpos_u = np.zeros(n_u, dtype=np.bool_)
    n = len(m.ts)
    in_position = np.zeros(n, dtype=np.bool_)
    contrib = np.zeros(n)
    ST = new_state(n_sym)
    acct = np.zeros(N_ACCOUNT_STATE)
    acct[A_BALANCE] = AP[AP_BALANCE]
    events = np.zeros((n_sym * N_SIZE_CODES, N_EVENT_FIELDS))
    trades = np.zeros((max(trade_buffer, 3 * n_sym + 3), N_TRADE_FIELDS))
    parts = []
    n_trades = 0
    while True:
        n_trades = portfolio_range(m.ts, m.open, m.high, m.low, m.close, m.atr, m.signals, m.scores, m.ready, m.off,
                                   P, AP, ST, acct, trades, n_trades, events, ts_u, equity_u, inpos_u, in_position,
                                   contrib)
        if acct[A_DONE] != 0.0:
            break
        parts.append(trades[:n_trades].copy())
        n_trades = 0
    n_trades = close_all_at_end(m.ts, m.close, m.off, P, ST, acct, trades, n_trades, contrib)
    parts.append(trades[:n_trades].copy())
    equity_u[-1] = acct[A_BALANCE]
    return PortfolioRun(np.concatenate(parts), ts_u, equity_u, inpos_u, in_position, contrib, ST,
                        float(acct[A_BALANCE]), events)
