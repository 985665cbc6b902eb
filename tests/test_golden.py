"""Golden regression: the trades of a fixed backtest, hashed. A change to any rule that moves a
single trade changes the hash. When a change is intended, check the new trades, then update the
hash here in the same commit and say why in its message."""

import hashlib

import numpy as np

from tests.paths import BUNDLED
from whale.backtest import simulate as sim
from whale.backtest.runner import run_backtest
from whale.config.model import Config, replace_path

GOLDEN = {
    "default-15m-threshold-1.0": ("2b14d336cb52c22f", 147),
    "default-15m-threshold-1.0-skip-capped": ("47ffa7a592ba24fa", 125),  # risk.when_capped "skip"
}


def trades_hash(trades: np.ndarray) -> str:
    fields = [sim.T_SIDE, sim.T_QTY, sim.T_ENTRY_TS, sim.T_EXIT_TS, sim.T_ENTRY_PRICE, sim.T_EXIT_PRICE, sim.T_NET,
              sim.T_REASON]
    rows = [",".join(f"{t[f]:.6f}" for f in fields) for t in trades]
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def test_golden_trades():
    cfg = replace_path(Config(), "signal_score_threshold", 1.0)
    result = run_backtest(cfg, BUNDLED)
    digest, count = trades_hash(result.trades), len(result.trades)
    assert (digest, count) == GOLDEN["default-15m-threshold-1.0"], f"trades changed: {digest} ({count} trades)"


def test_golden_trades_when_capped_entries_are_skipped():
    cfg = replace_path(Config(), "signal_score_threshold", 1.0)
    result = run_backtest(replace_path(cfg, "risk.when_capped", "skip"), BUNDLED)
    digest, count = trades_hash(result.trades), len(result.trades)
    assert (digest, count) == GOLDEN["default-15m-threshold-1.0-skip-capped"], f"trades changed: {digest} ({count})"
