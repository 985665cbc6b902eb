"""Sizing under the caps (issue 11, item 13): one rule, whale.risk.sizing.size_steps, for the backtest
kernel and the live PositionManager. With `risk.when_capped: "shrink"` (the default) an entry whose
risk needs more than a cap allows takes the largest size the caps allow, floored to qtyStep, and
says so; with "skip" it is skipped as before. A size below the instrument's minimum after
shrinking is still skipped."""

import logging
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tests.kernel import run_one
from whale.alerts import AlertSystem
from whale.backtest import simulate as sim
from whale.backtest.runner import run_backtest, sim_params
from whale.config.loader import load_config
from whale.config.model import Config, replace_path
from whale.errors import WhaleError
from whale.journal import PerformanceTracker
from whale.market.instruments import KNOWN
from whale.positions import PositionManager
from whale.risk.sizing import (
    SIZE_OK,
    SIZE_SHRUNK_EXPOSURE,
    SIZE_SHRUNK_LEVERAGE,
    SIZE_SHRUNK_MAX_QTY,
    SKIP_ABOVE_MAX_QTY,
    SKIP_BEYOND_LEVERAGE,
    SKIP_CAPPED_BELOW_MIN,
    SKIP_EXPOSURE,
    describe_size,
    order_cost_per_notional,
    size_steps,
)
from whale.sim.account import Account
from whale.sim.book import Book
from whale.sim.clock import ReplayClock
from whale.sim.codes import ExchangeError
from whale.sim.instrument import sim_instrument
from whale.sim.matching import Exchange
from whale.venue.paper import PaperExecution

BTC = KNOWN["BTCUSDT"]
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "BTCUSDT-PERP_1m.csv.gz"
TAKER = 0.00055


def size(equity=1000.0, risk=1.0, entry=60_000.0, stop=59_900.0, *, max_qty=500.0, leverage=5.0, fee=TAKER,
         exposure=300.0, shrink=True, step=0.001, min_qty=0.001, min_notional=5.0):
    return size_steps(equity, risk, entry, stop, step, min_qty, min_notional, max_qty, leverage, fee, exposure, shrink)


def test_within_every_cap_the_full_risk_is_taken_in_both_modes():
    # 10 USDT over a 600 USDT stop: 0.016 BTC (0.01666 floored), 960 USDT, under 3x and 300 %.
    for shrink in (True, False):
        assert size(stop=59_400.0, shrink=shrink) == (16, SIZE_OK)


def test_shrunk_to_the_leverage_with_the_fees_bybit_counts():
    # 10 USDT over 82 USDT needs 0.1219 BTC = 7,317 USDT, 7.3x equity; the exposure cap is out of the way.
    steps, code = size(stop=59_918.0, exposure=10_000.0)
    assert code == SIZE_SHRUNK_LEVERAGE
    cost = order_cost_per_notional(5.0, TAKER)  # margin 1/5 + taker fee to open + to close at (1 + 1/5)
    assert cost == pytest.approx(0.2 + TAKER * 2.2)
    qty = steps * 0.001
    assert qty * 60_000.0 * cost <= 1000.0 < (qty + 0.001) * 60_000.0 * cost  # the largest that fits, floored
    assert steps == 82 and qty * 82.0 / 1000.0 * 100.0 < 1.0  # risking less than the 1 %


def test_shrunk_to_the_exposure_cap():
    # 10 USDT over 150 USDT: 0.0666 BTC = 4,000 USDT, 400 % of equity: cut to 300 % = 0.05 BTC.
    assert size(stop=59_850.0) == (50, SIZE_SHRUNK_EXPOSURE)


def test_shrunk_to_max_order_qty():
    assert size(stop=59_850.0, max_qty=0.02) == (20, SIZE_SHRUNK_MAX_QTY)


def test_the_tightest_cap_names_the_shrink():
    # Leverage 2 (1.99x after fees) is tighter than the 300 % exposure cap.
    steps, code = size(stop=59_850.0, leverage=2.0)
    assert code == SIZE_SHRUNK_LEVERAGE and steps == math.floor(1000.0 / order_cost_per_notional(2.0, TAKER) / 60.0)


def test_skip_mode_skips_as_before():
    assert size(stop=59_850.0, shrink=False) == (0, SKIP_EXPOSURE)
    assert size(stop=59_918.0, exposure=10_000.0, shrink=False) == (0, SKIP_BEYOND_LEVERAGE)
    assert size(stop=59_850.0, max_qty=0.02, shrink=False) == (0, SKIP_ABOVE_MAX_QTY)


def test_a_shrunk_size_below_the_minimum_is_skipped():
    # 100 USDT of equity at 1x: 0.00166 BTC allowed at 60,000, but 1 % over a 1 USDT stop wants 1 BTC.
    assert size(equity=100.0, stop=59_999.0, leverage=1.0) == (1, SIZE_SHRUNK_LEVERAGE)
    assert size(equity=50.0, stop=59_999.0, leverage=1.0) == (0, SKIP_CAPPED_BELOW_MIN)  # 0.00083 < 0.001
    # Above minOrderQty but below minNotionalValue after the cut.
    assert size(equity=50.0, stop=59_999.0, leverage=1.0, min_qty=0.0001, step=0.0001, min_notional=100.0) == \
        (0, SKIP_CAPPED_BELOW_MIN)


def test_the_shrink_is_described_with_the_numbers():
    kw = dict(equity=1000.0, risk_percent=1.0, entry=60_000.0, stop=59_918.0, qty_step=0.001, min_qty=0.001,
              min_notional=5.0, max_qty=500.0, leverage=5.0, fee_rate=TAKER, max_exposure_percent=10_000.0, coin="BTC")
    assert describe_size(SIZE_SHRUNK_LEVERAGE, 82, **kw) == (
        "Entry shrunk to 0.082 BTC: the 1 % risk needs 7.3x, leverage 5x (4.97x with the fees to open and close); "
        "risking 0.67 %")
    kw.update(stop=59_850.0, max_exposure_percent=300.0)
    assert describe_size(SIZE_SHRUNK_EXPOSURE, 50, **kw) == (
        "Entry shrunk to 0.050 BTC: the 1 % risk needs 4,000 USDT, 400 % of equity, exposure cap 300 %; risking 0.75 %")
    assert describe_size(SKIP_EXPOSURE, 0, **kw).endswith("exposure cap 300 % (risk.when_capped is skip)")
    kw.update(equity=50.0, stop=59_999.0, leverage=1.0)
    text = describe_size(SKIP_CAPPED_BELOW_MIN, 0, **kw)
    assert "needs 600.0x, leverage 1x" in text
    assert "the largest size it allows, 0.00083 BTC, is below minOrderQty" in text


def test_the_simulator_and_the_paper_broker_accept_a_size_shrunk_to_the_leverage():
    """The leverage cap counts Bybit's order cost (margin and the fees to open and close), so the exchange
    never refuses the size for margin (110007); without the fees it would, at the edge."""
    fees = Config().fees
    inst = sim_instrument("BTCUSDT", None)
    entry = 60_006.0  # the market fill the fill model expects from 60,000 (slippage 0.0001, rounded up)
    equity = entry * 0.084 / 5.0  # 5x of it is exactly 0.084 BTC

    def sim_order(steps: int) -> None:
        clock = ReplayClock(1_750_000_000_000)
        book = Book(level_ticks=1, base_steps=10_000.0, churn_ms=600_000, seed=1)
        book.set_price(600_000, True, clock.now_ms())
        ex = Exchange(inst, Account(fees, equity, clock, leverage=5.0), book, 600_000)
        ex.create_order({"side": "Buy", "orderType": "Market", "qty": str(BTC.qty_decimal(steps)), "orderLinkId": "t"})
        assert ex.positions[0].size == BTC.qty_decimal(steps)

    def shrunk(fee_rate: float) -> int:
        steps, code = size_steps(equity, 1.0, entry, entry - 82.0, 0.001, 0.001, 5.0, 500.0, 5.0, fee_rate, 10_000.0,
                                 True)
        assert code == SIZE_SHRUNK_LEVERAGE
        return steps

    steps = shrunk(fees.taker_rate)
    sim_order(steps)
    paper = PaperExecution(_rules(BTC), fees, start_balance=Decimal(repr(equity)), leverage=Decimal(5))
    paper.on_tick("BTCUSDT", 60_000.0, 0)
    opened = paper.open_position("BTCUSDT", 1, BTC.qty_decimal(steps), Decimal(59_900), None, "t")
    assert opened.qty == BTC.qty_decimal(steps)
    assert shrunk(0.0) == 84
    with pytest.raises(ExchangeError, match="not enough"):
        sim_order(84)


# ---- the backtest ------------------------------------------------------------------------------------------

def kernel_run(cfg, atr):
    """One BUY decided on candle 0 of flat 100-USDT ETH candles, filled at candle 1's open."""
    flat = np.full(3, 100.0)
    ts = 1_750_000_020_000 + np.arange(3, dtype=np.int64) * 60_000
    sig = np.array([1, 0, 0], dtype=np.int8)
    P = sim_params(cfg, KNOWN["ETHUSDT"], "1", 0)
    r = run_one(P, flat, flat, flat, flat, ts, atr, sig, sig * 5.0, cfg=cfg, balance=1000.0)
    return r.trades, r.state


def test_backtest_kernel_shrinks_by_default_and_skips_on_request():
    # ATR 0.1: 1 % over a 0.15 stop wants 66.6 ETH = 6,660 USDT; the 300 % cap allows 29.99 ETH at 100.01.
    trades, st = kernel_run(Config(), 0.1)
    assert len(trades) == 1 and trades[0][sim.T_QTY] == pytest.approx(29.99)
    assert st[sim.S_SIZE0 + SIZE_SHRUNK_EXPOSURE] == 1
    trades, st = kernel_run(replace_path(Config(), "risk.when_capped", "skip"), 0.1)
    assert len(trades) == 0 and st[sim.S_SIZE0 + SKIP_BEYOND_LEVERAGE] == 1


def test_backtest_report_counts_shrunk_entries_beside_skipped_ones():
    """On 1-minute candles the default config's stops are tight: with "skip" every entry of the last
    two days of the bundled file is skipped; with "shrink" they trade, and report.json says how many
    were cut by which cap."""
    cfg = replace_path(Config(), "interval", "1")
    since = 1_748_736_000_000  # 2025-06-01
    skip = run_backtest(replace_path(cfg, "risk.when_capped", "skip"), BUNDLED, date_from=since).report
    shrink = run_backtest(cfg, BUNDLED, date_from=since).report
    assert skip["trades"] == 0 and sum(skip["skipped_entries"].values()) > 0 and skip["shrunk_entries"] == {}
    assert shrink["trades"] > 0 and shrink["skipped_entries"] == {}
    assert shrink["shrunk_entries"] == {"exposure": shrink["trades"]}
    assert any("risk.when_capped: shrink" in a for a in shrink["assumptions"])


# ---- the live bot --------------------------------------------------------------------------------------------

def test_live_entry_shrinks_and_says_so_in_the_log(tmp_path, caplog):
    cfg = Config()
    log = logging.getLogger("whalebot.test.sizing")
    tracker = PerformanceTracker(tmp_path / "trade_history.paper.json", network="mainnet", mode="paper",
                                 symbol="BTCUSDT", start_balance=1000)
    paper = PaperExecution(_rules(BTC), cfg.fees, start_balance=Decimal(1000), leverage=Decimal(5))
    paper.on_tick("BTCUSDT", 60_000.0, 1_750_000_000_000)
    broker = paper.for_symbol("BTCUSDT")
    pm = PositionManager(cfg, broker, tracker, AlertSystem(log), log, new_link_id=lambda p: f"wb-{p}-1",
                         now_ms=lambda: 1_750_000_000_000)
    with caplog.at_level(logging.INFO, logger="whalebot.test.sizing"):
        res = pm.enter(1, atr=100.0, ref_price=60_000.0)  # 1 % over 150 USDT wants 4,000 USDT: 400 %
    assert res.trade is not None and res.trade.qty == Decimal("0.049")  # 300 % of 1,000 at 60,006, floored
    line = next(r.getMessage() for r in caplog.records if "shrunk" in r.getMessage())
    assert line == ("[BTCUSDT] Entry shrunk to 0.049 BTC: the 1 % risk needs 4,000 USDT, 400 % of equity, exposure "
                    "cap 300 %; risking 0.74 %")
    tracker.close()


def test_when_capped_is_checked_in_the_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"risk": {"when_capped": "maybe"}}')
    with pytest.raises(WhaleError, match=r"risk\.when_capped"):
        load_config(path, create_if_missing=False)
    assert Config().risk.when_capped == "shrink"


def _rules(inst):
    """The paper account's instrument rules: `inst` for every symbol."""
    return lambda symbol: inst
