"""The backtest's broker: positions simulated candle by candle with the shared fill model and
position rules. A resumable numba range kernel (its state lives in a small array), so the
runner can feed it the engine's chunks.

Timeline of one candle k: funding due at its open -> actions decided on candle k-1 (opposite-
signal exit, then entry) at the open with slippage and taker fee -> stop / target along the bar
path (stop wins inside the entry candle) -> funding due inside the candle -> stop moves on the
close (trailing, break-even, lock-in) -> mark-to-market -> the decision for candle k+1.

Every fill is a taker fill by the shared rule (`whale.fills.taker_fill_ticks`, no book): the
slipped price rounded to the tick against the taker; fees are charged on that price. Funding: the
funding times in (previous close, open] at the open's price, those in (open, next open) at the close.
"""

from __future__ import annotations

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
from whale.risk.sizing import FIRST_SHRUNK, N_SIZE_CODES, SIZE_OK, size_steps
from whale.strategy.decide import candle_action
from whale.strategy.stops import (
    R_END,
    R_OPPOSITE,
    R_TAKE_PROFIT,
    STOP_INITIAL,
    initial_levels,
    move_stop,
    stop_exit_reason,
)

# State layout.
(S_SIDE, S_QTY, S_ENTRY, S_STOP, S_TARGET, S_INIT_STOP, S_ENTRY_IDX, S_ENTRY_TS, S_STOP_KIND, S_BE_DONE,
 S_ENTRY_FEE, S_FUNDING, S_BALANCE, S_PENDING, S_PENDING_EXIT, S_PENDING_ATR, S_LAST_TS, S_FEES_PAID,
 S_FUNDING_PAID, S_SIZE0) = range(20)
N_SIM_STATE = S_SIZE0 + N_SIZE_CODES  # entries counted by size code (whale.risk.sizing): skipped or shrunk

# Parameter layout.
(PP_ENABLED, PP_THRESHOLD, PP_RISK_PCT, PP_SL_MULT, PP_TP_MULT, PP_TRAIL_ON, PP_TRAIL_TRIGGER, PP_TRAIL_MULT,
 PP_BE_TRIGGER, PP_LOCK_MULT, PP_CLOSE_OPP, PP_REVERSE, PP_TAKER, PP_SLIP, PP_FUNDING, PP_TICK, PP_QTY_STEP,
 PP_MIN_QTY, PP_MIN_NOTIONAL, PP_MAX_QTY, PP_LEVERAGE, PP_INTERVAL_MS, PP_TRADE_FROM, PP_MAX_EXPOSURE,
 PP_SHRINK) = range(25)
N_SIM_PARAMS = 25

# Trade record layout.
(T_SIDE, T_QTY, T_ENTRY_IDX, T_EXIT_IDX, T_ENTRY_TS, T_EXIT_TS, T_ENTRY_PRICE, T_EXIT_PRICE, T_INIT_STOP,
 T_TARGET, T_FEES, T_FUNDING, T_GROSS, T_NET, T_REASON, T_BALANCE) = range(16)
N_TRADE_FIELDS = 16


def new_state(balance: float) -> np.ndarray:
    st = np.zeros(N_SIM_STATE)
    st[S_BALANCE] = balance
    st[S_LAST_TS] = -1.0
    return st


@njit(cache=True)
def _taker_fill(buying, ref, P):
    """The shared taker rule without a book: slipped from `ref`, on the tick against the taker."""
    return tick_price(taker_fill_ticks(buying, np.nan, ref, P[PP_SLIP], P[PP_TICK]), P[PP_TICK])


@njit(cache=True)
def _close_position(st, P, trades, n_trades, k_abs, ts, trigger_price, reason):
    side = int(st[S_SIDE])
    qty = st[S_QTY]
    price = _taker_fill(side != LONG, trigger_price, P)
    exit_fee = fee(price, qty, P[PP_TAKER])
    gross = pnl(side, st[S_ENTRY], price, qty)
    st[S_BALANCE] += gross - exit_fee
    st[S_FEES_PAID] += exit_fee
    t = trades[n_trades]
    t[T_SIDE] = side
    t[T_QTY] = qty
    t[T_ENTRY_IDX] = st[S_ENTRY_IDX]
    t[T_EXIT_IDX] = k_abs
    t[T_ENTRY_TS] = st[S_ENTRY_TS]
    t[T_EXIT_TS] = ts
    t[T_ENTRY_PRICE] = st[S_ENTRY]
    t[T_EXIT_PRICE] = price
    t[T_INIT_STOP] = st[S_INIT_STOP]
    t[T_TARGET] = st[S_TARGET]
    t[T_FEES] = st[S_ENTRY_FEE] + exit_fee
    t[T_FUNDING] = st[S_FUNDING]
    t[T_GROSS] = gross
    t[T_NET] = gross - st[S_ENTRY_FEE] - exit_fee - st[S_FUNDING]
    t[T_REASON] = reason
    t[T_BALANCE] = st[S_BALANCE]
    st[S_SIDE] = 0.0
    st[S_QTY] = 0.0
    return n_trades + 1


@njit(cache=True)
def _charge_funding(st, P, price):
    pay = funding_payment(int(st[S_SIDE]), st[S_QTY], price, P[PP_FUNDING])
    st[S_BALANCE] -= pay
    st[S_FUNDING] += pay
    st[S_FUNDING_PAID] += pay


@njit(cache=True)
def simulate_range(o, h, lo, c, ts, atr, signals, scores, ready, start, end, abs_offset, P, st,
                   trades, n_trades, equity, in_position):
    """Simulate candles [start, end) of the engine buffer (o, h, lo, c, ts, atr are buffer rows);
    abs_offset + k is candle k's index in the whole run, which indexes the run-length arrays
    (signals, scores, ready, equity, in_position). Returns (next_k, n_trades): next_k < end when
    `trades` is nearly full — flush it and call again from next_k."""
    interval = P[PP_INTERVAL_MS]
    for k in range(start, end):
        if n_trades + 3 > trades.shape[0]:
            return k, n_trades
        k_abs = abs_offset + k
        t0 = ts[k]
        had_position = st[S_SIDE] != 0.0
        # A gap: no fills inside it; an entry decided before it is stale and dropped.
        if st[S_LAST_TS] >= 0.0 and t0 - st[S_LAST_TS] > interval:
            st[S_PENDING] = 0.0
        if st[S_SIDE] != 0.0:
            # Funding due since the previous candle closed (through any gap) up to this open.
            since = st[S_LAST_TS] + interval if st[S_LAST_TS] >= 0.0 else t0
            for _ in range(funding_times_in(int(since), t0 + 1)):
                _charge_funding(st, P, o[k])
        if st[S_PENDING_EXIT] != 0.0 and st[S_SIDE] != 0.0:
            n_trades = _close_position(st, P, trades, n_trades, k_abs, t0, o[k], R_OPPOSITE)
        st[S_PENDING_EXIT] = 0.0
        entered = False
        if st[S_PENDING] != 0.0 and st[S_SIDE] == 0.0:
            side = int(st[S_PENDING])
            a = st[S_PENDING_ATR]
            if a > 0.0:
                fill = _taker_fill(side == LONG, o[k], P)
                sl, tp = initial_levels(side, fill, a, P[PP_SL_MULT], P[PP_TP_MULT], P[PP_TICK])
                steps, code = size_steps(st[S_BALANCE], P[PP_RISK_PCT], fill, sl, P[PP_QTY_STEP], P[PP_MIN_QTY],
                                         P[PP_MIN_NOTIONAL], P[PP_MAX_QTY], P[PP_LEVERAGE], P[PP_TAKER],
                                         P[PP_MAX_EXPOSURE], P[PP_SHRINK] != 0.0)
                st[S_SIZE0 + code] += 1.0
                if code == SIZE_OK or code >= FIRST_SHRUNK:
                    qty = steps * P[PP_QTY_STEP]
                    entry_fee = fee(fill, qty, P[PP_TAKER])
                    st[S_SIDE] = side
                    st[S_QTY] = qty
                    st[S_ENTRY] = fill
                    st[S_STOP] = sl
                    st[S_INIT_STOP] = sl
                    st[S_TARGET] = tp
                    st[S_ENTRY_IDX] = k_abs
                    st[S_ENTRY_TS] = t0
                    st[S_STOP_KIND] = STOP_INITIAL
                    st[S_BE_DONE] = 0.0
                    st[S_ENTRY_FEE] = entry_fee
                    st[S_FUNDING] = 0.0
                    st[S_BALANCE] -= entry_fee
                    st[S_FEES_PAID] += entry_fee
                    entered = True
        st[S_PENDING] = 0.0
        open_at_start = st[S_SIDE] != 0.0
        if open_at_start:
            side = int(st[S_SIDE])
            kind, price = first_exit_on_bar(side, st[S_STOP], st[S_TARGET], o[k], h[k], lo[k], c[k], entered)
            if kind == HIT_STOP:
                n_trades = _close_position(st, P, trades, n_trades, k_abs, t0, price,
                                           stop_exit_reason(int(st[S_STOP_KIND])))
            elif kind == HIT_TARGET:
                n_trades = _close_position(st, P, trades, n_trades, k_abs, t0, price, R_TAKE_PROFIT)
        if st[S_SIDE] != 0.0:
            inside = funding_times_in(t0 + 1, t0 + int(interval))
            for _ in range(inside):
                _charge_funding(st, P, c[k])
            side = int(st[S_SIDE])
            stop, kind_, be = move_stop(side, st[S_ENTRY], st[S_STOP], int(st[S_STOP_KIND]), st[S_BE_DONE] != 0.0,
                                        c[k], atr[k], P[PP_TICK], P[PP_TRAIL_ON] != 0.0, P[PP_TRAIL_TRIGGER],
                                        P[PP_TRAIL_MULT], P[PP_BE_TRIGGER], P[PP_LOCK_MULT])
            st[S_STOP] = stop
            st[S_STOP_KIND] = kind_
            st[S_BE_DONE] = 1.0 if be else 0.0
            equity[k_abs] = st[S_BALANCE] + pnl(side, st[S_ENTRY], c[k], st[S_QTY])
        else:
            equity[k_abs] = st[S_BALANCE]
        in_position[k_abs] = had_position or open_at_start
        st[S_LAST_TS] = t0
        # Decide on this candle's close; act on the next candle's open.
        if P[PP_ENABLED] != 0.0 and ready[k_abs] and k_abs >= P[PP_TRADE_FROM]:
            exit_now, enter_side = candle_action(int(st[S_SIDE]), signals[k_abs], scores[k_abs], P[PP_THRESHOLD],
                                                 P[PP_CLOSE_OPP] != 0.0, P[PP_REVERSE] != 0.0)
            if exit_now:
                st[S_PENDING_EXIT] = 1.0
            if enter_side != 0:
                st[S_PENDING] = enter_side
                st[S_PENDING_ATR] = atr[k]
    return end, n_trades


@njit(cache=True)
def close_at_end(P, st, trades, n_trades, k_abs, ts, close):
    """Close a position still open when the data ends (reason end_of_backtest)."""
    if st[S_SIDE] != 0.0:
        n_trades = _close_position(st, P, trades, n_trades, k_abs, ts, close, R_END)
    return n_trades
