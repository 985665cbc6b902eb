"""Parity on recorded books, the proof of issue 14: the live bot trades a density scenario of
whale/scenarios against the simulator (the lockstep demo, over real HTTP and WebSocket) while
tests/ws_recorder.py records the same simulator's public streams; `backtest --book` on that recording
must then take the same entries and exits, with the same reasons.

What is compared, trade by trade (tests/scenario_recording.py explains the run):

- symbol, side, qty, strategy, setup (breakout or bounce), the density price, the exit reason: equal;
- the entry price, the initial stop and the target: within one tick (the stop is set from the wall, the
  target from the ATR, the same on both sides);
- the entry and exit times: within a second;
- the exit price: within one tick, whoever sends the exit. An exit the bot sends (return_to_range,
  counter_density, momentum_slowdown, aggressive_reversal, ...) is a market order; one the exchange
  triggers (take_profit, a stop) is a market order the trigger sends. The scenario simulator runs with
  `trigger_fill="book"` (docs/simulator.md, "Fill model"): the tick that crosses the level fills it by the
  walk on the book as it stands at that tick, which `backtest --book` sees as the first recorded print
  through the level and the book it recorded at that print (README, "Backtest on books"). With the
  simulator's default (`level`, the candle fill model) the two would differ: in wall-breakthrough the
  target fills at 60,340.7 around its level and at 60,371.9 at the crossing print (the ticks of the
  synthetic path are 4 s and up to 0.14 % apart), and the comparison reports it (the last test).

Both sides fill market orders by walking the book: the live config has `fees.slippage_rate` 0, so the
simulator's slippage floor does not apply (on recorded books there is none); `backtest.latency_ms` is
the default 100 ms (the scenario's book does not change within 100 ms of a tick, and the simulator
fills at once).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from tests.scenario_recording import TRIGGER_FILL, RecordedRun, run_recorded, scenario_config, with_prelude
from whale.backtest.book_run import BookBacktest, run_book_backtest
from whale.journal import TradeRecord
from whale.timefmt import epoch_ms

pytestmark = pytest.mark.net

TICK = Decimal("0.1")
LIVE = {"fees.slippage_rate": 0.0}  # the walk alone, as on recorded books
SPEED = 600.0  # ten replayed minutes a wall second; in lockstep each tick is still its own step
# scenario -> the exit reason it is written to end with
CASES = {
    "wall-breakthrough": "take_profit",  # breakout long, exit triggered by the exchange
    "wall-holds": "take_profit",  # bounce long, exit triggered by the exchange
    "failed-breakout": "return_to_range",  # breakout long, exit sent by the bot
    "fading-move": "momentum_slowdown",  # bounce short, advanced exit
    "taker-flow-reversal": "aggressive_reversal",  # bounce long, advanced exit on the recorded trades
}


@pytest.fixture(autouse=True)
def _no_leaks(no_leaks):
    """The shared leak check (tests/conftest.py): the bot, the simulator, the recorder and their threads
    are gone after each test."""
    yield


@pytest.fixture(scope="module")
def runs() -> dict[str, RecordedRun]:
    """Each scenario played and recorded once for the module (the sensitivity test reuses one)."""
    return {}


def recorded(runs: dict[str, RecordedRun], name: str, tmp_path_factory,
             trigger_fill: str = TRIGGER_FILL) -> RecordedRun:
    key = f"{name}-{trigger_fill}"
    if key not in runs:
        runs[key] = run_recorded(name, tmp_path_factory.mktemp(key), speed=SPEED, overrides=LIVE,
                                 trigger_fill=trigger_fill)
    return runs[key]


def backtest(name: str, run: RecordedRun, out: Path, overrides: dict | None = None) -> BookBacktest:
    cfg = scenario_config(with_prelude(name, SPEED), out, {**LIVE, **(overrides or {})})
    return run_book_backtest(cfg, run.recording, out, logging.getLogger("whalebot"))


def _ticks(a, b) -> Decimal:
    return abs(Decimal(str(a)) - Decimal(str(b))) / TICK


def differences(live: list[dict], result: BookBacktest) -> list[str]:
    """What differs between the demo's journal and the backtest's closed trades (module doc)."""
    closed = [t for t in live if t["status"] == "closed"]
    bt: list[TradeRecord] = result.trades
    if len(closed) != len(bt):
        return [f"the live bot closed {len(closed)} trade(s), backtest --book {len(bt)}"]
    out: list[str] = []
    for n, (lv, b) in enumerate(zip(closed, bt, strict=True), 1):
        same = {"symbol": (lv["symbol"], b.symbol), "side": (lv["side"], b.side),
                "qty": (Decimal(lv["qty"]), b.qty), "strategy": (lv["strategy"], b.strategy),
                "setup": (lv.get("setup"), b.setup), "reason": (lv.get("reason"), b.reason),
                "density_price": (None if lv.get("density_price") is None else Decimal(lv["density_price"]),
                                  b.density_price)}
        out += [f"trade {n}: {k} live {a} vs backtest {c}" for k, (a, c) in same.items() if a != c]
        for k in ("entry_price", "initial_stop", "take_profit", "exit_price"):
            if _ticks(lv[k], getattr(b, k)) > 1:
                what = f"{k} ({lv.get('reason')})" if k == "exit_price" else k
                out.append(f"trade {n}: {what} live {lv[k]} vs backtest {getattr(b, k)}: more than a tick apart")
        for k in ("entry_time", "exit_time"):
            gap = abs(epoch_ms(str(lv[k])) - epoch_ms(str(getattr(b, k))))
            if gap > 1000:
                out.append(f"trade {n}: {k} live {lv[k]} vs backtest {getattr(b, k)}: {gap} ms apart")
    return out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", CASES)
def test_backtest_book_on_the_recording_takes_the_live_trades(name, runs, tmp_path_factory, tmp_path):
    run = recorded(runs, name, tmp_path_factory)
    assert all(run.recorded.get(f"{topic}.BTCUSDT", 0) > 300
               for topic in ("orderbook.200", "publicTrade", "tickers", "kline.1")), run.recorded
    (trade,) = run.trades  # the scenario as written: one trade, closed for its reason
    assert (trade["status"], trade["strategy"], trade["reason"]) == ("closed", "density", CASES[name])

    result = backtest(name, run, tmp_path / "bt")
    assert result.warnings == [] and result.still_open == 0 and result.emergency is None
    assert differences(run.trades, result) == []


@pytest.mark.timeout(120)
def test_the_comparison_sees_a_different_fill_time(runs, tmp_path_factory, tmp_path):
    """The same recording with market orders filled 4 s (a tick of the path) after they are sent: the
    comparison must report the entry and the exit prices."""
    run = recorded(runs, "failed-breakout", tmp_path_factory)
    result = backtest("failed-breakout", run, tmp_path / "late", {"backtest.latency_ms": 4000})
    found = differences(run.trades, result)
    assert any("entry_price" in d for d in found), found


@pytest.mark.timeout(120)
def test_the_comparison_sees_a_target_filled_at_its_level(runs, tmp_path_factory, tmp_path):
    """wall-breakthrough on the simulator's default trigger fill (`level`, the candle fill model): its target
    fills around the level the path passed between two ticks, not by the walk at the tick that crossed it,
    which is what the recording shows; the comparison must report that exit price, and nothing else."""
    run = recorded(runs, "wall-breakthrough", tmp_path_factory, trigger_fill="level")
    result = backtest("wall-breakthrough", run, tmp_path / "level")
    found = differences(run.trades, result)
    assert len(found) == 1 and "exit_price (take_profit)" in found[0], found
