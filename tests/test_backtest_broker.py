"""The backtest broker kernel on hand-made candles: every rule of the timeline, checked by numbers."""

import numpy as np
import pytest

from tests.kernel import run_one
from whale.backtest import simulate as sim
from whale.backtest.runner import sim_params
from whale.config.model import Config, replace_path
from whale.market.instruments import KNOWN
from whale.risk.sizing import SKIP_BEYOND_LEVERAGE
from whale.strategy.stops import EXIT_REASONS

MIN = 60_000
H8 = 8 * 3_600_000


def run(candles, signals, scores=None, *, atr=1.0, cfg=None, ts0=H8 * 1000 + MIN, trade_from=0, ts=None):
    """candles: list of (o, h, l, c); signals: BUY 1 / SELL -1 / HOLD 0 per candle."""
    cfg = cfg or Config()
    n = len(candles)
    o, h, lo, c = (np.array([x[k] for x in candles], dtype=float) for k in range(4))
    ts = np.asarray(ts, dtype=np.int64) if ts is not None else ts0 + np.arange(n, dtype=np.int64) * MIN
    sig = np.asarray(signals, dtype=np.int8)
    sc = np.asarray(scores if scores is not None else sig * 5.0, dtype=float)
    P = sim_params(cfg, KNOWN["ETHUSDT"], "1", trade_from)
    r = run_one(P, o, h, lo, c, ts, atr, sig, sc, cfg=cfg)
    return r.trades, r, r.equity, r.in_position


def no_costs(cfg=None):
    cfg = cfg or Config()
    for key in ("fees.taker_rate", "fees.slippage_rate", "fees.funding_rate_8h"):
        cfg = replace_path(cfg, key, 0.0)
    return replace_path(cfg, "trade_management.enable_trailing_stop", False)


FLAT = (100.0, 100.2, 99.8, 100.0)


def test_entry_at_next_open_and_take_profit_exit():
    cfg = no_costs(replace_path(Config(), "trade_management.move_to_breakeven_atr_trigger", 0.0))
    trades, st, _, _ = run([FLAT, (100.0, 100.1, 99.9, 100.0), (100.0, 102.5, 99.9, 102.2)], [1, 0, 0], cfg=cfg)
    t = trades[0]
    assert t[sim.T_ENTRY_PRICE] == 100.0 and t[sim.T_ENTRY_IDX] == 1  # next candle's open
    assert t[sim.T_INIT_STOP] == pytest.approx(98.5) and t[sim.T_TARGET] == pytest.approx(102.0)
    assert EXIT_REASONS[int(t[sim.T_REASON])] == "take_profit"
    assert t[sim.T_EXIT_PRICE] == pytest.approx(102.0)
    # 1 % of 1000 over a 1.5 stop distance = 6.66 ETH, rounded down to the 0.01 step.
    assert t[sim.T_QTY] == pytest.approx(6.66)
    assert t[sim.T_NET] == pytest.approx(6.66 * 2.0)


def test_fees_slippage_and_pnl_add_up():
    cfg = replace_path(no_costs(), "fees.taker_rate", 0.001)
    cfg = replace_path(cfg, "fees.slippage_rate", 0.001)
    trades, st, _, _ = run([FLAT, FLAT, (100.0, 103.0, 99.9, 102.5)], [1, 0, 0], cfg=cfg)
    t = trades[0]
    # Slipped, then on ETH's 0.01 tick against the taker: the buy at 100.1 (100.0 x 1.001 is on the tick),
    # the sell at the 102.1 target x 0.999 = 101.9979, rounded down to 101.99. Fees on those prices.
    assert t[sim.T_TARGET] == pytest.approx(102.1)
    entry, exit_ = 100.1, 101.99
    assert t[sim.T_ENTRY_PRICE] == entry and t[sim.T_EXIT_PRICE] == exit_
    q = t[sim.T_QTY]
    assert t[sim.T_FEES] == pytest.approx((entry + exit_) * q * 0.001)
    assert t[sim.T_NET] == pytest.approx((exit_ - entry) * q - t[sim.T_FEES])
    assert st.balance == pytest.approx(1000.0 + t[sim.T_NET])


def test_opposite_signal_closes_and_reverse_reopens():
    cfg = no_costs()
    trades, _, _, _ = run([FLAT, FLAT, FLAT, FLAT], [1, 0, -1, 0], cfg=cfg)
    assert [EXIT_REASONS[int(t[sim.T_REASON])] for t in trades] == ["opposite_signal"]
    assert trades[0][sim.T_EXIT_IDX] == 3
    cfg = replace_path(cfg, "trade_management.reverse_position_on_opposite_signal", True)
    trades, _, _, _ = run([FLAT, FLAT, FLAT, FLAT], [1, 0, -1, 0], cfg=cfg)
    assert [int(t[sim.T_SIDE]) for t in trades] == [1, -1]
    assert EXIT_REASONS[int(trades[1][sim.T_REASON])] == "end_of_backtest"


def test_weak_signal_does_not_trade():
    trades, _, _, _ = run([FLAT, FLAT, FLAT], [1, 0, 0], scores=[1.5, 0, 0], cfg=no_costs())
    assert len(trades) == 0


def test_trailing_stop_exit_reason():
    cfg = replace_path(no_costs(), "trade_management.enable_trailing_stop", True)
    cfg = replace_path(cfg, "trade_management.move_to_breakeven_atr_trigger", 0.0)
    candles = [FLAT, FLAT, (100.0, 101.6, 99.9, 101.5), (101.5, 101.6, 100.0, 100.2)]
    trades, _, _, _ = run(candles, [1, 0, 0, 0], cfg=cfg)
    t = trades[0]
    assert EXIT_REASONS[int(t[sim.T_REASON])] == "trailing_stop"
    assert t[sim.T_EXIT_PRICE] == pytest.approx(100.7)  # 101.5 - 0.8 ATR


def test_breakeven_stop_exit_reason():
    cfg = replace_path(no_costs(), "trade_management.profit_lock_in_atr_multiple", 0.0)
    candles = [FLAT, FLAT, (100.0, 101.2, 99.9, 101.1), (101.1, 101.2, 99.0, 99.5)]
    trades, _, _, _ = run(candles, [1, 0, 0, 0], cfg=cfg)
    assert EXIT_REASONS[int(trades[0][sim.T_REASON])] == "breakeven_stop"
    assert trades[0][sim.T_EXIT_PRICE] == pytest.approx(100.0)


def test_funding_charged_to_a_long_held_through_a_funding_time():
    cfg = replace_path(no_costs(), "fees.funding_rate_8h", 0.001)
    ts = [H8 - 2 * MIN, H8 - MIN, H8, H8 + MIN]  # the third candle opens at a funding time
    trades, _, _, _ = run([FLAT, FLAT, FLAT, FLAT], [1, 0, 0, 0], cfg=cfg, ts=ts)
    t = trades[0]
    assert t[sim.T_FUNDING] == pytest.approx(t[sim.T_QTY] * 100.0 * 0.001)
    assert t[sim.T_NET] == pytest.approx(-t[sim.T_FUNDING])


def test_entry_decided_before_a_gap_is_dropped():
    ts = [H8 + MIN, H8 + 2 * MIN, H8 + 60 * MIN]
    trades, _, _, _ = run([FLAT, FLAT, FLAT], [0, 1, 0], cfg=no_costs(), ts=ts)
    assert len(trades) == 0
    trades, _, _, _ = run([FLAT, FLAT, FLAT], [1, 0, 0], cfg=no_costs(), ts=ts)
    assert len(trades) == 1  # decided before the candle ahead of the gap: it fills, then waits out the gap


def test_skip_counted_when_size_beyond_leverage():
    cfg = replace_path(no_costs(), "trade_management.leverage", 1.0)
    cfg = replace_path(cfg, "risk.when_capped", "skip")
    trades, st, _, _ = run([FLAT, FLAT], [1, 0], atr=0.1, cfg=cfg)
    assert len(trades) == 0
    assert st.state[sim.S_SIZE0 + SKIP_BEYOND_LEVERAGE] == 1


def test_trade_from_blocks_earlier_entries_and_exposure_is_counted():
    trades, _, eq, inpos = run([FLAT, FLAT, FLAT, FLAT], [1, 0, 0, 0], cfg=no_costs(), trade_from=2)
    assert len(trades) == 0 and not inpos.any()
    trades, _, eq, inpos = run([FLAT, FLAT, FLAT, FLAT], [1, 0, 0, 0], cfg=no_costs())
    assert inpos.tolist() == [False, True, True, True]
    assert eq[-1] == pytest.approx(1000.0)
