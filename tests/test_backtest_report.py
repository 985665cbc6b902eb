"""report.json's trade extremes, and the funding rule for candles that a funding time falls inside
(intervals that do not divide 8 h: 360, 720, D, W, M), as the README and report.json state it."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.kernel import run_one
from whale.backtest import simulate as sim
from whale.backtest.metrics import trade_stats
from whale.backtest.outputs import write_report_json
from whale.backtest.report import assumptions
from whale.backtest.runner import sim_params
from whale.config.model import Config, replace_path
from whale.market.instruments import KNOWN
from whale.strategy.stops import EXIT_REASONS

README = Path(__file__).resolve().parents[1] / "README.md"
H = 3_600_000
DAY0 = 20_000 * 24 * H  # a UTC midnight: a funding time


def test_largest_win_and_loss_are_null_when_no_trade_won_or_lost(tmp_path):
    losers = trade_stats(np.array([-11.78, -3.5]))
    assert losers["largest_win"] is None and losers["largest_loss"] == -11.78
    winners = trade_stats(np.array([4.0, 0.0, 9.25]))
    assert winners["largest_win"] == 9.25 and winners["largest_loss"] is None  # a zero PnL is no loss
    assert trade_stats(np.zeros(0))["largest_win"] is None and trade_stats(np.zeros(0))["largest_loss"] is None
    mixed = trade_stats(np.array([-2.0, 5.0]))
    assert (mixed["largest_win"], mixed["largest_loss"]) == (5.0, -2.0)
    write_report_json(tmp_path / "report.json", losers)
    assert '"largest_win": null' in (tmp_path / "report.json").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["largest_loss"] == -11.78


def run(candles, signals, interval, t0):
    """Costs off but funding at 0.1 %; a long decided on candle 0, filled at candle 1's open."""
    cfg = Config()
    for key in ("fees.taker_rate", "fees.slippage_rate"):
        cfg = replace_path(cfg, key, 0.0)
    cfg = replace_path(cfg, "fees.funding_rate_8h", 0.001)
    cfg = replace_path(cfg, "trade_management.enable_trailing_stop", False)
    cfg = replace_path(cfg, "trade_management.move_to_breakeven_atr_trigger", 0.0)
    n = len(candles)
    o, h, lo, c = (np.array([x[k] for x in candles]) for k in range(4))
    step = {"360": 6 * H, "D": 24 * H}[interval]
    ts = t0 + np.arange(n, dtype=np.int64) * step
    sig = np.array(signals, dtype=np.int8)
    P = sim_params(cfg, KNOWN["ETHUSDT"], interval, 0)
    return run_one(P, o, h, lo, c, ts, 1.0, sig, sig * 5.0, cfg=cfg, balance=1000.0).trades


def test_funding_inside_a_6h_candle_is_charged_at_its_close():
    # 6 h candles open at 00, 06, 12, 18: 08:00 falls inside the 06:00 candle, 16:00 inside the 12:00 one.
    flat = (100.0, 100.2, 99.8, 100.0)
    candles = [flat, (100.0, 100.4, 99.9, 100.3), (100.3, 100.6, 100.2, 100.5)]
    t = run(candles, [1, 0, 0], "360", DAY0)[0]
    qty = t[sim.T_QTY]
    # Entered at the 06:00 open: 08:00 charged at that candle's close 100.3, 16:00 at the next one's 100.5.
    assert t[sim.T_FUNDING] == pytest.approx(qty * (100.3 + 100.5) * 0.001)


def test_no_funding_inside_a_candle_whose_stop_or_target_closed_the_position():
    # The 06:00 candle hits the stop (1.5 ATR below the 100.0 entry): the 08:00 funding inside it is not paid,
    # even though the bar path gives no time to the stop.
    t = run([(100.0, 100.2, 99.8, 100.0), (100.0, 100.1, 98.0, 98.2)], [1, 0], "360", DAY0)[0]
    assert EXIT_REASONS[int(t[sim.T_REASON])] == "stop_loss" and t[sim.T_FUNDING] == 0.0


def test_funding_at_a_candle_open_is_charged_at_the_open_before_the_entry():
    # Daily candles: 00:00 is each candle's open, 08:00 and 16:00 lie inside.
    candles = [(100.0, 100.2, 99.8, 100.0), (100.0, 100.4, 99.9, 100.3), (101.0, 101.2, 100.9, 101.1)]
    t = run(candles, [1, 0, 0], "D", DAY0)[0]
    qty = t[sim.T_QTY]
    # Entered at day 1's 00:00 open: that funding is not paid (charged before the entry); 08:00 and 16:00 at
    # day 1's close 100.3; day 2's 00:00 at its open 101.0; its 08:00 and 16:00 at its close 101.1.
    assert t[sim.T_FUNDING] == pytest.approx(qty * (2 * 100.3 + 101.0 + 2 * 101.1) * 0.001)


def test_the_funding_rule_is_stated_in_the_readme_and_report():
    rule = " ".join(assumptions(Config()))
    assert "strictly inside a candle is charged at its close" in rule
    assert "still open after that candle's stop and target" in rule
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Assumptions.**"):text.index("## Simulator")]
    funding = re.search(r"- \*\*Funding\.\*\*(.*?)\n- \*\*", section, re.S)
    assert funding, "the README's Backtest assumptions need a Funding item"
    said = " ".join(funding.group(1).split())
    for words in ("00:00, 08:00 and 16:00 UTC", "strictly inside a candle", "at that candle's close",
                  "at that open's price", "before the exit and the entry"):
        assert words in said, words
