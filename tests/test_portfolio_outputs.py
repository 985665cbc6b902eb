"""The portfolio's files: signals.csv rows are the live bot's rows (signal_row) with the symbol first,
in time order and the run's symbol order at equal times; trades.csv names each trade's symbol first
and prints prices with that symbol's decimals."""

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.outputs import SIGNALS_HEADER, signal_row, write_signals_csv, write_trades_csv


def test_signals_csv_rows_are_the_live_rows_in_time_then_symbol_order(tmp_path):
    ts_a = np.array([0, 60_000, 120_000, 180_000], dtype=np.int64)
    ts_b = np.array([60_000, 120_000], dtype=np.int64)
    rows = [("ETHUSDT", ts_a, np.array([np.nan, 1.25, -2.5, 0.1]), np.array([0, 1, -1, 0], dtype=np.int8)),
            ("BTCUSDT", ts_b, np.array([3.0, np.nan]), np.array([1, 0], dtype=np.int8))]
    path = tmp_path / "signals.csv"
    write_signals_csv(path, rows, chunk=2)  # chunks smaller than the rows: the order holds across them
    want = [("ETHUSDT", 0, np.nan, 0), ("ETHUSDT", 60_000, 1.25, 1), ("BTCUSDT", 60_000, 3.0, 1),
            ("ETHUSDT", 120_000, -2.5, -1), ("BTCUSDT", 120_000, np.nan, 0), ("ETHUSDT", 180_000, 0.1, 0)]
    assert path.read_text() == SIGNALS_HEADER + "".join(signal_row(*w) for w in want)
    assert path.read_text().splitlines()[2] == "ETHUSDT,60000,1.2500000000,BUY"
    assert path.read_text().splitlines()[1] == "ETHUSDT,0,,HOLD"


def test_trades_csv_names_the_symbol_first_with_its_own_decimals(tmp_path):
    trades = np.zeros((2, sim.N_TRADE_FIELDS))
    cols = [sim.T_SIDE, sim.T_QTY, sim.T_ENTRY_PRICE, sim.T_EXIT_PRICE, sim.T_SYMBOL]
    trades[0, cols] = [1, 0.012, 60_000.1, 60_100.2, 1]
    trades[1, cols] = [-1, 1.5, 2500.01, 2490.5, 0]
    trades[1, sim.T_REASON] = sim.R_END_OF_DATA
    path = tmp_path / "trades.csv"
    write_trades_csv(path, trades, ("ETHUSDT", "BTCUSDT"), [2, 1], [2, 3])
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["symbol", "trade", "side"]
    assert lines[1].split(",")[:3] == ["BTCUSDT", "1", "long"] and ",60000.1,60100.2,0.012," in lines[1]
    assert lines[2].split(",")[:3] == ["ETHUSDT", "2", "short"] and ",2500.01,2490.50,1.50," in lines[2]
    assert lines[2].split(",")[14] == "end_of_data"
