"""The portfolio kernel (whale.backtest.simulate) on hand-made candles: one balance for every symbol,
sizing against the whole account (exposure, correlated group, max_open_positions), symbols joining
late and leaving early (end_of_data), a fixed order at equal timestamps, determinism."""

import numpy as np
import pytest

from tests.kernel import Leg, run_many
from tests.paths import BUNDLED
from whale.backtest import simulate as sim
from whale.backtest.report import sizing_message
from whale.backtest.runner import sim_params
from whale.candle_file import load_candle_file
from whale.config.model import Config, replace_path
from whale.market.candles import Candles
from whale.market.synthetic import derive_symbols
from whale.risk.sizing import (
    N_SIZE_CODES,
    SIZE_OK,
    SIZE_SHRUNK_CORRELATION,
    SIZE_SHRUNK_EXPOSURE,
    SKIP_CORRELATION,
    SKIP_MAX_OPEN_POSITIONS,
)

MIN = 60_000
T0 = 1_750_000_020_000 - 1_750_000_020_000 % MIN + 5 * MIN  # not a funding time


def flat(n, price=100.0, t0=T0):
    """n quiet candles at `price`: no stop or target inside them with an ATR of 1 % of the price."""
    p = np.full(n, price)
    ts = t0 + np.arange(n, dtype=np.int64) * MIN
    return Candles.from_arrays(ts, p, p * 1.001, p * 0.999, p, np.full(n, 10.0), "1")


def no_costs(cfg=None, **keys):
    cfg = cfg or Config()
    for key in ("fees.taker_rate", "fees.slippage_rate", "fees.funding_rate_8h"):
        cfg = replace_path(cfg, key, 0.0)
    cfg = replace_path(cfg, "trade_management.enable_trailing_stop", False)
    cfg = replace_path(cfg, "trade_management.move_to_breakeven_atr_trigger", 0.0)
    for k, v in keys.items():
        cfg = replace_path(cfg, k.replace("__", "."), v)
    return cfg


def signals(n, at: dict[int, int]):
    s = np.zeros(n, dtype=np.int8)
    for i, v in at.items():
        s[i] = v
    return s


def by_symbol(run, s):
    return run.trades[run.trades[:, sim.T_SYMBOL] == s]


def reasons(trades):
    return [sim.BACKTEST_EXIT_REASONS[int(t[sim.T_REASON])] for t in trades]


def test_one_balance_a_loss_on_one_symbol_shrinks_the_next_entry_on_another():
    cfg = no_costs(trade_management__risk_per_trade_percent=10.0, risk__correlation_threshold=1.0)
    n = 8
    a = flat(n, 100.0)
    crash = Candles.from_arrays(a.ts, a.open, a.high, np.where(np.arange(n) == 2, 80.0, a.low), a.close, a.volume,
                                "1")
    b = flat(n, 50.0)
    # ETH buys 6.66 at candle 1's open (100), stopped at 85 in candle 2 (1.5 ATR of 10): -100 USDT, -10 %.
    # BCH's BUY is decided on candle 2's close, after the loss: it sizes on 900 USDT, not 1,000.
    legs = [Leg("ETHUSDT", crash, signals(n, {0: 1}), 10.0), Leg("BCHUSDT", b, signals(n, {2: 1}), 5.0)]
    run = run_many(cfg, legs)
    ta, tb = by_symbol(run, 0), by_symbol(run, 1)
    assert reasons(ta) == ["stop_loss"] and ta[0][sim.T_NET] == pytest.approx(-99.9)
    alone = by_symbol(run_many(cfg, [legs[1]]), 0)
    assert alone[0][sim.T_QTY] == pytest.approx(13.33)  # 100 USDT over a 7.5 stop
    assert tb[0][sim.T_QTY] == pytest.approx(12.0)  # 90.01 USDT over 7.5 (12.001), floored to 0.01
    assert run.balance == pytest.approx(1000.0 + ta[0][sim.T_NET] + tb[0][sim.T_NET])


def test_an_open_loss_counts_in_the_equity_the_next_entry_is_sized_on():
    cfg = no_costs(trade_management__risk_per_trade_percent=10.0, risk__correlation_threshold=1.0)
    n = 6
    close = np.array([100.0, 100.0, 95.0, 95.0, 95.0, 95.0])  # ETH's long sags 5, its stop (85) far away
    open_ = np.r_[100.0, close[:-1]]
    a = Candles.from_arrays(flat(n).ts, open_, np.maximum(open_, close) + 0.01, np.minimum(open_, close) - 0.01,
                            close, np.full(n, 10.0), "1")
    legs = [Leg("ETHUSDT", a, signals(n, {0: 1}), 10.0), Leg("BCHUSDT", flat(n, 50.0), signals(n, {2: 1}), 5.0)]
    run = run_many(cfg, legs)
    ta, tb = by_symbol(run, 0), by_symbol(run, 1)
    assert ta[0][sim.T_QTY] == pytest.approx(6.66) and reasons(ta) == ["end_of_backtest"]
    # At BCH's entry (candle 3's open) ETH is marked at that open, 95: equity 1,000 - 6.66 x 5 = 966.70.
    assert tb[0][sim.T_QTY] == pytest.approx(12.88)  # 96.67 USDT over 7.5, floored
    assert run.equity[3] == pytest.approx(1000.0 - 6.66 * 5.0)


def test_total_exposure_counts_the_other_symbols_open_positions():
    cfg = no_costs(risk__correlation_threshold=1.0, risk__max_total_exposure_percent=100.0)
    n = 6
    # 1 % risk on 100-USDT coins: ETH over a 1.5 stop wants 6.66 (666 USDT), BCH over 0.75 wants 13.33 (1,333).
    legs = [Leg("ETHUSDT", flat(n, 100.0), signals(n, {0: 1}), 1.0),
            Leg("BCHUSDT", flat(n, 100.0), signals(n, {1: 1}), 0.5)]
    run = run_many(cfg, legs)
    ta, tb = by_symbol(run, 0), by_symbol(run, 1)
    assert ta[0][sim.T_QTY] == pytest.approx(6.66) and run.state[0, sim.S_SIZE0 + SIZE_OK] == 1
    assert tb[0][sim.T_QTY] == pytest.approx(3.34)  # the 334 USDT ETH leaves of the 100 %
    assert by_symbol(run_many(cfg, legs[1:]), 0)[0][sim.T_QTY] == pytest.approx(10.0)  # alone: the whole 100 %
    assert run.state[1, sim.S_SIZE0 + SIZE_SHRUNK_EXPOSURE] == 1
    P = np.stack([sim_params(cfg, _inst(leg), "1", 0) for leg in legs])
    text = sizing_message(cfg, 1, SIZE_SHRUNK_EXPOSURE, run, P, ("ETHUSDT", "BCHUSDT"))
    assert text.endswith("Entry shrunk to 3.34 BCH: the 1 % risk needs 1,333 USDT; with the open positions' 666 USDT "
                         "that is 200 % of equity 1,000 USDT, exposure cap 100 %; risking 0.25 %"), text


def _inst(leg):
    from whale.market.instruments import instrument_for

    return instrument_for(leg.symbol, leg.candles.close)


@pytest.fixture(scope="module")
def correlated():
    """AAAUSDT and BBBUSDT correlate at about 0.95, CCCUSDT at about 0 with both."""
    base = load_candle_file(BUNDLED).candles.slice(0, 800)
    return derive_symbols(base, [1.0, 0.975, 0.0], seed=5, start_prices=[100.0, 100.0, 100.0])


def correlated_legs(candles, second: str, side_b=1):
    n = len(candles[0])
    a = Leg("AAAUSDT", candles[0], signals(n, {600: 1}), candles[0].close[600] * 0.05)
    other = {"BBBUSDT": candles[1], "CCCUSDT": candles[2]}[second]
    b = Leg(second, other, signals(n, {601: side_b}), other.close[601] * 0.05)
    return [a, b]


def test_a_correlated_second_entry_is_refused_with_the_correlation_in_the_message(correlated):
    # 10 % risk over 7.5 % stops: each entry wants 133 % of equity; the group may hold 200 %.
    cfg = no_costs(trade_management__risk_per_trade_percent=10.0, risk__when_capped="skip",
                   risk__correlation_lookback=500)
    legs = correlated_legs(correlated, "BBBUSDT")
    run = run_many(cfg, legs)
    assert len(by_symbol(run, 0)) == 1 and len(by_symbol(run, 1)) == 0
    assert run.state[1, sim.S_SIZE0 + SKIP_CORRELATION] == 1
    P = np.stack([sim_params(cfg, _inst(leg), "1", 0) for leg in legs])
    text = sizing_message(cfg, 1, SKIP_CORRELATION, run, P, ("AAAUSDT", "BBBUSDT"))
    corr = float(run.events[1 * N_SIZE_CODES + SKIP_CORRELATION][sim.E_MEMBERS + 2])
    assert 0.9 < corr < 1.0
    assert f"correlation: BBBUSDT long would join AAAUSDT long (correlation {corr:.2f} > 0.70): group " in text
    assert "% of equity 1,00" in text and text.endswith("(limit 200 %); risk.when_capped is skip")
    # Shrink: the entry takes the group's room, 200 % of the equity less A's notional; A is marked at its open
    # at B's entry candle (its previous close: the synthetic opens continue the closes).
    shrink = run_many(replace_path(cfg, "risk.when_capped", "shrink"), legs)
    ta, tb = by_symbol(shrink, 0), by_symbol(shrink, 1)
    assert shrink.state[1, sim.S_SIZE0 + SIZE_SHRUNK_CORRELATION] == 1
    mark = correlated[0].open[602]
    equity = 1000.0 + ta[0][sim.T_QTY] * (mark - ta[0][sim.T_ENTRY_PRICE])
    room = 2.0 * equity - ta[0][sim.T_QTY] * mark
    got = tb[0][sim.T_QTY] * tb[0][sim.T_ENTRY_PRICE]
    assert room - _inst(legs[1]).step * tb[0][sim.T_ENTRY_PRICE] < got <= room + 1e-9


def test_an_uncorrelated_second_entry_is_taken(correlated):
    cfg = no_costs(trade_management__risk_per_trade_percent=10.0, risk__when_capped="skip")
    run = run_many(cfg, correlated_legs(correlated, "CCCUSDT"))
    assert len(by_symbol(run, 1)) == 1 and run.state[1, sim.S_SIZE0 + SIZE_OK] == 1


def test_the_opposite_side_of_a_correlated_symbol_is_not_the_same_bet(correlated):
    cfg = no_costs(trade_management__risk_per_trade_percent=10.0, risk__when_capped="skip")
    run = run_many(cfg, correlated_legs(correlated, "BBBUSDT", side_b=-1))
    assert len(by_symbol(run, 1)) == 1 and run.state[1, sim.S_SIZE0 + SKIP_CORRELATION] == 0


def test_max_open_positions_is_account_wide():
    cfg = no_costs(trade_management__max_open_positions=2, risk__correlation_threshold=1.0)
    n = 6
    legs = [Leg(f"{x}USDT", flat(n, 100.0), signals(n, {i: 1}), 1.0) for i, x in enumerate(("ETH", "BCH", "SOL"))]
    run = run_many(cfg, legs)
    assert [len(by_symbol(run, s)) for s in range(3)] == [1, 1, 0]
    assert run.state[2, sim.S_SIZE0 + SKIP_MAX_OPEN_POSITIONS] == 1
    P = np.stack([sim_params(cfg, _inst(leg), "1", 0) for leg in legs])
    assert sizing_message(cfg, 2, SKIP_MAX_OPEN_POSITIONS, run, P, tuple(leg.symbol for leg in legs)).endswith(
        "max_open_positions: 2 positions open (ETHUSDT, BCHUSDT), the limit is 2")


def test_at_equal_timestamps_the_first_symbol_in_order_takes_the_room():
    cfg = no_costs(trade_management__max_open_positions=1, risk__correlation_threshold=1.0)
    n = 5
    legs = [Leg("ETHUSDT", flat(n, 100.0), signals(n, {1: 1}), 1.0), Leg("BCHUSDT", flat(n, 50.0), signals(n, {1: 1}),
                                                                          1.0)]
    run = run_many(cfg, legs)
    assert [len(by_symbol(run, 0)), len(by_symbol(run, 1))] == [1, 0]
    swapped = run_many(cfg, legs[::-1])
    assert [len(by_symbol(swapped, 0)), len(by_symbol(swapped, 1))] == [1, 0]


def test_a_symbol_joins_late_and_leaves_early_with_end_of_data():
    cfg = no_costs(risk__correlation_threshold=1.0)
    a = flat(20, 100.0)
    b = flat(8, 50.0, t0=int(a.ts[5]))  # candles 5..12 of A's timeline
    legs = [Leg("ETHUSDT", a, signals(20, {0: 1}), 1.0), Leg("BCHUSDT", b, signals(8, {1: -1}), 0.5)]
    run = run_many(cfg, legs)
    assert len(run.ts) == 20 and np.array_equal(run.ts, a.ts)
    ta, tb = by_symbol(run, 0), by_symbol(run, 1)
    assert reasons(tb) == ["end_of_data"] and tb[0][sim.T_EXIT_TS] == b.ts[-1] and tb[0][sim.T_EXIT_IDX] == 7
    assert tb[0][sim.T_ENTRY_TS] == b.ts[2]
    assert reasons(ta) == ["end_of_backtest"] and ta[0][sim.T_EXIT_TS] == a.ts[-1]
    assert [sim.BACKTEST_EXIT_REASONS[int(r)] for r in run.trades[:, sim.T_REASON]] == ["end_of_data",
                                                                                       "end_of_backtest"]
    assert run.equity[-1] == run.balance
    assert run.symbol_in_position[20:].tolist() == [False, False, True, True, True, True, True, True]


def test_a_full_trade_buffer_resumes_without_changing_anything(correlated):
    cfg = replace_path(Config(), "risk.correlation_lookback", 100)
    n = len(correlated[0])
    rng = np.random.default_rng(3)
    legs = [Leg(f"{x}USDT", c, rng.choice([-1, 0, 0, 0, 1], size=n).astype(np.int8), float(c.close[0]) * 0.002)
            for x, c in zip(("AAA", "BBB", "CCC"), correlated, strict=True)]
    big = run_many(cfg, legs)
    small = run_many(cfg, legs, trade_buffer=12)
    assert len(big.trades) > 30
    assert np.array_equal(big.trades, small.trades) and np.array_equal(big.equity, small.equity)
    assert np.array_equal(big.state, small.state) and np.array_equal(big.contribution, small.contribution)
    again = run_many(cfg, legs)
    assert np.array_equal(big.trades, again.trades) and np.array_equal(big.events, again.events, equal_nan=True)
    # Each symbol's contribution at the end adds up to the account's result.
    ends = [big.contribution[s * n + n - 1] for s in range(3)]
    assert sum(ends) == pytest.approx(big.balance - 1000.0, abs=1e-6)


def test_an_exit_at_the_open_frees_room_for_an_entry_at_that_open_whatever_the_order():
    # One position allowed. BCH (second in order) holds a long and is told to close at candle 3's open, the
    # open ETH (first in order) is told to enter at: every exit at an open comes before every entry.
    cfg = no_costs(trade_management__max_open_positions=1, risk__correlation_threshold=1.0)
    n = 6
    legs = [Leg("ETHUSDT", flat(n, 100.0), signals(n, {2: 1}), 1.0),
            Leg("BCHUSDT", flat(n, 50.0), signals(n, {0: 1, 2: -1}), 1.0)]
    run = run_many(cfg, legs)
    te, tb = by_symbol(run, 0), by_symbol(run, 1)
    assert reasons(tb) == ["opposite_signal"] and tb[0][sim.T_EXIT_TS] == legs[1].candles.ts[3]
    assert len(te) == 1 and te[0][sim.T_ENTRY_TS] == legs[0].candles.ts[3]
    assert run.state[0, sim.S_SIZE0 + SKIP_MAX_OPEN_POSITIONS] == 0
