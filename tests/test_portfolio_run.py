"""The portfolio backtest in process (whale.backtest.runner.run_portfolio): files of different
intervals, each symbol's effective config (overrides), the account's fixed order, determinism."""

import shutil

import numpy as np
import pytest

from tests.paths import BUNDLED
from whale.backtest import simulate as sim
from whale.backtest.runner import run_portfolio
from whale.candle_file import load_candle_file, write_candle_csv
from whale.config.model import Config, replace_path
from whale.errors import BadInputError
from whale.market.resample import resample
from whale.market.synthetic import derive_symbols


def portfolio_files(tmp):
    """The bundled BTC file and an ETH derived from it (correlation about 0.7) that starts two days later
    and ends two days earlier."""
    base = load_candle_file(BUNDLED).candles
    (eth,) = derive_symbols(base, [0.7], seed=21, start_prices=[2500.0])
    eth_path = tmp / "ETHUSDT_1m.csv"
    write_candle_csv(eth_path, eth.slice(2 * 1440, len(eth) - 2 * 1440))
    btc_path = tmp / "BTCUSDT-PERP_1m.csv.gz"
    shutil.copy(BUNDLED, btc_path)
    return tmp, btc_path, eth_path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return portfolio_files(tmp_path_factory.mktemp("portfolio_run"))


def test_files_of_different_intervals_are_resampled_to_the_config_interval(files, tmp_path):
    """A 1m and a 5m file: both become the config's 15m candles (a decision: allowed, said in the README)."""
    _, btc, eth = files
    eth5 = tmp_path / "ETHUSDT_5m.csv"
    write_candle_csv(eth5, resample(load_candle_file(eth).candles, "5"))
    cfg = replace_path(Config(), "signal_score_threshold", 1.0)
    mixed = run_portfolio(cfg, [btc, eth5])
    same = run_portfolio(cfg, [btc, eth])
    assert mixed.report["interval"] == "15"
    assert mixed.report["per_symbol"]["ETHUSDT"]["bars"] == same.report["per_symbol"]["ETHUSDT"]["bars"]
    assert np.array_equal(mixed.trades, same.trades)



def test_each_symbol_trades_with_its_overrides_in_the_config_order(files):
    _, btc, eth = files
    cfg = replace_path(Config(), "signal_score_threshold", 1.0)
    cfg = replace_path(cfg, "symbols", ["ETHUSDT", "BTCUSDT"])
    plain = run_portfolio(cfg, [btc, eth])
    assert plain.symbols == ("ETHUSDT", "BTCUSDT")  # the config's order, not the files'
    assert plain.report["per_symbol"]["ETHUSDT"]["overrides"] == []
    half = run_portfolio(replace_path(cfg, "overrides", {"ETHUSDT": {"trade_management": {
        "risk_per_trade_percent": 0.5}}}), [btc, eth])
    assert half.report["per_symbol"]["ETHUSDT"]["overrides"] == ["trade_management.risk_per_trade_percent"]
    first = {int(s): t for t, s in ((t, t[sim.T_SYMBOL]) for t in reversed(list(half.trades)))}
    first_plain = {int(s): t for t, s in ((t, t[sim.T_SYMBOL]) for t in reversed(list(plain.trades)))}
    # ETH's first trade risks half as much: about half the size (floored to its qtyStep).
    assert first[0][sim.T_ENTRY_TS] == first_plain[0][sim.T_ENTRY_TS]
    assert first[0][sim.T_QTY] == pytest.approx(first_plain[0][sim.T_QTY] / 2, abs=0.011)


def test_the_same_run_twice_gives_the_same_report(files):
    _, btc, eth = files
    cfg = replace_path(Config(), "signal_score_threshold", 1.0)
    a, b = run_portfolio(cfg, [btc, eth]), run_portfolio(cfg, [btc, eth])
    assert np.array_equal(a.trades, b.trades) and np.array_equal(a.equity, b.equity)
    ra, rb = dict(a.report), dict(b.report)
    ra.pop("timing"), rb.pop("timing")
    assert ra == rb
    with pytest.raises(BadInputError, match="no --data file"):
        run_portfolio(cfg, [])
