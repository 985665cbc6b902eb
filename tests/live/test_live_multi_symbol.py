"""Several symbols on one account, the live bot against the simulator (issue 12's proofs):

- the multi-symbol demo decides as the portfolio backtest, symbol by symbol;
- a correlated second entry is refused with the correlation in the message, an uncorrelated one is
  taken (symbols derived from real candles with chosen correlations, whale.market.synthetic);
- the account's emergency close closes every symbol and leaves nothing open;
- kill -9 with positions on two symbols: the restart restores both, each with its stop on the
  exchange, and the journal is intact.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.live.harness import BotProcess, BotThread, live_config, start_sim, wait_for
from tests.live.test_live_bot import demo_cfg, journal, run
from whale.backtest.outputs import signal_row
from whale.backtest.runner import run_portfolio
from whale.candle_file import BUNDLED_DATA, load_candle_file
from whale.config.model import replace_path
from whale.market.synthetic import derive_symbols

pytestmark = pytest.mark.net

ETH_DATA = BUNDLED_DATA.parent / "ETHUSDT-PERP_1m.csv.gz"
PAIR = ("BTCUSDT", "ETHUSDT")


def open_symbols(workdir: Path) -> set[str]:
    """The symbols with an open trade in the journal: none before the bot's first save, which comes with its
    first pass, just after the start line a test waits for (the saves replace the file whole)."""
    if not (workdir / "trade_history.json").exists():
        return set()
    return {t["symbol"] for t in journal(workdir) if t["status"] == "open"}

def two_symbol_candles(n: int = 1400) -> dict:
    """The two bundled perpetuals' first `n` minutes (the same timestamps)."""
    return {"BTCUSDT": load_candle_file(BUNDLED_DATA).candles.slice(0, n),
            "ETHUSDT": load_candle_file(ETH_DATA).candles.slice(0, n)}


def sim_positions(sim, symbols) -> dict[str, dict]:
    """Each symbol's open position as the simulator's REST shows it (size 0 when flat)."""
    return {s: sim.position(0, symbol=s) for s in symbols}


def size_of(position: dict) -> Decimal:
    return Decimal(position.get("size") or "0")


def test_the_multi_symbol_demo_decides_as_the_portfolio_backtest(tmp_path):
    """With the book-based scorers off, the demo's scores and signals on two symbols equal the
    portfolio backtest's on the same candles, symbol by symbol and row by row."""
    cfg = replace_path(demo_cfg(), "symbols", list(PAIR))
    result, workdir = run(tmp_path, cfg, candles=48, data={"BTCUSDT": BUNDLED_DATA, "ETHUSDT": ETH_DATA})
    assert result.candles == 96
    rows = (workdir / "signals.csv").read_text().splitlines()
    assert rows[0] == "symbol,timestamp_ms,score,signal" and len(rows) == 97
    bt = run_portfolio(cfg, [BUNDLED_DATA, ETH_DATA])
    want = {}
    for r in bt.per_symbol:
        for t, s, g in zip(r.ts, r.scores, r.signals, strict=True):
            want[(r.symbol, int(t))] = signal_row(r.symbol, int(t), s, g).rstrip("\n")  # the backtest's row
    got = rows[1:]
    assert {r.split(",")[0] for r in got} == set(PAIR)
    for symbol in PAIR:
        mine = [r for r in got if r.startswith(symbol + ",")]
        assert len(mine) == 48
        assert [want.get((symbol, int(r.split(",")[1]))) for r in mine] == mine, symbol
    # Both symbols traded on the one account, and the journal holds both.
    assert {t["symbol"] for t in journal(workdir)} == set(PAIR)


class Entries:
    """On the main thread, after the first ready candle: enter AAAUSDT long, then BBBUSDT long (0.95
    correlated with it), then CCCUSDT long (uncorrelated)."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, bot, ts) -> None:
        if self.done or not all(t.last_decision is not None and t.last_decision.ready for t in bot.traders.values()):
            return
        self.done = True
        for symbol in ("AAAUSDT", "BBBUSDT", "CCCUSDT"):
            t = bot.trader(symbol)
            t.enter(1, t.last_atr(), t.price(), t.last_decision.ts)


def test_a_correlated_second_entry_is_refused_and_an_uncorrelated_one_is_taken(tmp_path):
    base = load_candle_file(BUNDLED_DATA).candles.slice(0, 1600)
    a, b, c = derive_symbols(base, [1.0, 0.95, 0.0], seed=7, start_prices=[100.0, 50.0, 20.0])
    sim = start_sim({"AAAUSDT": a, "BBBUSDT": b, "CCCUSDT": c}, speed=60.0)
    bot = None
    try:
        cfg = live_config(tmp_path, sim, signal_score_threshold=100.0, risk__when_capped="skip",
                          risk__max_correlated_exposure_percent=1.0, risk__max_total_exposure_percent=1000.0,
                          trade_management__max_open_positions=5)
        cfg = replace_path(cfg, "symbols", ["AAAUSDT", "BBBUSDT", "CCCUSDT"])
        hook = Entries()
        bot = BotThread(tmp_path, cfg, sim, on_candle=hook)
        wait_for(lambda: hook.done or bot.error, 120, "the first ready candle of every symbol")
        assert bot.error is None, bot.error
        wait_for(lambda: open_symbols(tmp_path) >= {"AAAUSDT", "CCCUSDT"}, 30, "the two entries in the journal")
    finally:
        if bot is not None:
            bot.stop()
        held = sim_positions(sim, ("AAAUSDT", "BBBUSDT", "CCCUSDT"))
        sim.stop()
    trades = journal(tmp_path)
    assert sorted(t["symbol"] for t in trades) == ["AAAUSDT", "CCCUSDT"]
    assert size_of(held["AAAUSDT"]) > 0 and size_of(held["CCCUSDT"]) > 0 and size_of(held["BBBUSDT"]) == 0
    log = (tmp_path / "whalebot.log").read_text()
    refused = next(line for line in log.splitlines() if "[BBBUSDT] No entry:" in line)
    assert "correlation: BBBUSDT long would join AAAUSDT long (correlation 0.9" in refused and "> 0.70" in refused
    assert "% of equity" in refused and "(limit 1 %)" in refused and "risk.when_capped is skip" in refused
    assert "[CCCUSDT] No entry" not in log


def test_the_accounts_emergency_closes_every_symbol(tmp_path):
    """Two symbols in position, then the wallet falls under safety.min_balance_usdt: EMERGENCY closes
    both, journals both exits as `emergency`, leaves nothing open on the exchange, and stops the bot."""
    from whale.bot.loop import EmergencyStop

    sim = start_sim(two_symbol_candles(), speed=60.0)
    bot = None
    try:
        cfg = live_config(tmp_path, sim, signal_score_threshold=100.0, risk__max_total_exposure_percent=1000.0)
        cfg = replace_path(cfg, "symbols", list(PAIR))

        def enter_both(b, ts):
            for symbol in PAIR:
                t = b.trader(symbol)
                if t.pm.trade is None and t.last_decision is not None and t.last_decision.ready:
                    t.enter(1, t.last_atr(), t.price(), t.last_decision.ts)

        bot = BotThread(tmp_path, cfg, sim, on_candle=enter_both)
        wait_for(lambda: all(size_of(p) > 0 for p in sim_positions(sim, PAIR).values()) or bot.error, 120,
                 "positions on both symbols")
        assert bot.error is None, bot.error
        sim.set_balance(50)  # under the 100 USDT floor
        wait_for(lambda: not bot.thread.is_alive(), 60, "the emergency stop")
        assert isinstance(bot.error, EmergencyStop), bot.error
        held = sim_positions(sim, PAIR)
    finally:
        if bot is not None:
            bot.stop()
        sim.stop()
    assert all(size_of(p) == 0 for p in held.values()), held
    closed = [t for t in journal(tmp_path) if t["status"] == "closed"]
    assert sorted(t["symbol"] for t in closed if t["reason"] == "emergency") == sorted(PAIR)
    assert not [t for t in journal(tmp_path) if t["status"] == "open"]


def test_kill_9_with_positions_on_two_symbols_restores_both(tmp_path):
    sim = start_sim(two_symbol_candles(2400), speed=60.0)
    try:
        cfg = live_config(tmp_path, sim, signal_score_threshold=0.3, risk__max_total_exposure_percent=1000.0)
        cfg = replace_path(cfg, "symbols", list(PAIR))
        first = BotProcess(tmp_path, cfg)
        try:
            first.wait_log("--- Whalebot started", 90)

            wait_for(lambda: open_symbols(tmp_path) == set(PAIR), 240, "open trades on both symbols")
            sim.set_lockstep(True)  # the market holds still until the restart is done: both stay open
            first.proc.kill()  # kill -9: no shutdown at all
            first.proc.wait(10)
        finally:
            first.kill()
        before = {t["symbol"]: t for t in journal(tmp_path) if t["status"] == "open"}
        assert set(before) == set(PAIR)
        second = BotProcess(tmp_path, cfg)
        try:
            second.wait_log("--- Whalebot started", 90)
            log = second.log()
            held = sim_positions(sim, PAIR)
            now_open = {t["symbol"]: t for t in journal(tmp_path) if t["status"] == "open"}
            for symbol in PAIR:
                assert f"Reconciliation: restored {symbol} {before[symbol]['side']}" in log, log
                assert now_open[symbol]["id"] == before[symbol]["id"]  # restored, not adopted
                assert size_of(held[symbol]) == Decimal(now_open[symbol]["qty"])  # on the exchange ...
                assert Decimal(held[symbol].get("stopLoss") or "0") == Decimal(now_open[symbol]["stop_loss"])  # stop
            sim.set_lockstep(False)
            time.sleep(2.0)
            assert second.proc.poll() is None, second.stderr()
            code, _ = second.sigterm()
            assert code == 0
        finally:
            second.kill()
    finally:
        sim.stop()
    doc = json.loads((Path(tmp_path) / "trade_history.json").read_text())
    ids = [t["id"] for t in doc["trades"]]
    assert len(ids) == len(set(ids)) and doc["symbols"] == list(PAIR)
    assert not [t for t in doc["trades"] if t.get("adopted")]
