"""Whalebot as users run it (`python whalebot.py --config ... --workdir ...`, real orders on the
simulator) under issue 9's faults: SIGTERM during a 10006 storm and during a hung order/create
(exit 0 within 5 s; the entry stays pending and the next start resolves it), kill -9 right after
order/create reached the exchange while its target then fills, and a daily-loss halt that must
survive a restart. The simulator runs in this process, in lockstep: the test replays the candles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pybit.unified_trading import HTTP

from tests.live.harness import (
    SYM,
    BotProcess,
    journal,
    live_config,
    our_fills,
    sim_size,
    start_sim,
    step_until,
    steps,
    wait_for,
)
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET

pytestmark = pytest.mark.net
STOP_S = 5.0  # the promise: Ctrl-C or SIGTERM ends the bot within 5 s whatever the exchange does


@pytest.fixture
def sim(candles):
    s = start_sim(candles, speed=0.0, lockstep=True, faults="timeout_seconds=60")
    yield s
    s.stop()


def started(bot: BotProcess) -> None:
    bot.wait_log("--- Whalebot started", 90)


def flat(workdir, sim) -> bool:
    trades = journal(workdir / "trade_history.json")
    return sim_size(sim) == 0 and not any(t["status"] in ("open", "pending") for t in trades)


def pending_entry(workdir, sim) -> dict | None:
    """The bot's pending entry, once its order has executed on the exchange."""
    pending = [t for t in journal(workdir / "trade_history.json") if t["status"] == "pending"]
    if pending and pending[0]["entry_order_link_id"] in our_fills(sim):
        return pending[0]
    return None


def hang_next_entry(workdir, sim, bot: BotProcess) -> dict:
    """Replay candles until the bot runs flat, make its next order/create execute and then hang (no
    answer for 60 s; the bot waits up to its 10 s REST timeout), and replay until it is sent."""
    step_until(sim, lambda: flat(workdir, sim), max_candles=120, what="the bot running flat")
    sim.faults.fail_next_order("timeout", "after")
    return step_until(sim, lambda: pending_entry(workdir, sim), max_candles=120,
                      what="an entry executed on the exchange and pending in the journal")


def test_sigterm_during_a_10006_storm_exits_0_within_5_s(tmp_path, sim):
    """Before: every call waited for Bybit's reset (up to 10 s, 3 times) and an entry ended the bot
    with exit 1 ("rate limit exceeded (retCode 10006) 4 times in a row"); SIGTERM took 34 s."""
    bot = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(bot)
        step_until(sim, lambda: journal(tmp_path / "trade_history.json"), max_candles=120, what="a first trade")
        for path in ("order/create", "position/trading-stop", "account/wallet-balance", "position/list",
                     "execution/list", "order/realtime"):
            sim.faults.set_rate_limit(path, 1, 600.0)
        steps(sim, 10)  # signals, stop moves, entries, checks: all refused
        assert "(retCode 10006)" in bot.log()
        assert bot.proc.poll() is None, f"the bot stopped on its own: {bot.stderr()[-2000:]}"
        code, elapsed = bot.sigterm()
    finally:
        bot.kill()
    assert code == 0 and elapsed < STOP_S, f"exit {code} after {elapsed:.1f} s: {bot.stderr()[-2000:]}"


def test_sigterm_during_a_hung_order_create_exits_0_and_the_next_start_resolves_the_entry(tmp_path, sim):
    bot = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(bot)
        entry = hang_next_entry(tmp_path, sim, bot)
        code, elapsed = bot.sigterm()  # the bot is inside the hung request
    finally:
        bot.kill()
    assert code == 0 and elapsed < STOP_S, f"exit {code} after {elapsed:.1f} s: {bot.stderr()[-2000:]}"
    link = entry["entry_order_link_id"]
    assert [t["status"] for t in journal(tmp_path / "trade_history.json") if t["id"] == link] == ["pending"]
    again = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(again)
        assert f"pending entry {link} filled on the exchange" in again.log()
        trade = next(t for t in journal(tmp_path / "trade_history.json") if t["id"] == link)
        fill = our_fills(sim)[link]
        assert trade["status"] == "open" and not trade["adopted"]
        assert Decimal(trade["entry_price"]) == fill["value"] / fill["qty"] and Decimal(trade["fees"]) == fill["fee"]
        assert not any(t["adopted"] for t in journal(tmp_path / "trade_history.json"))
        assert Decimal(sim.position(0)["stopLoss"] or "0") > 0  # protected on the exchange
        code, elapsed = again.sigterm()
    finally:
        again.kill()
    assert code == 0 and elapsed < STOP_S


def test_kill_9_after_order_create_reached_the_exchange_then_its_target_fills_while_down(tmp_path, sim):
    """Before: the entry was journaled only after its fill was read, so this trade was lost (or, still
    open at restart, adopted without its entry fee). Now it is pending before sending, and the next
    start records the real result: entry and exit from the executions, both fees."""
    bot = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(bot)
        entry = hang_next_entry(tmp_path, sim, bot)
    finally:
        bot.kill()  # SIGKILL while the answer to order/create is outstanding
    link = entry["entry_order_link_id"]
    pos = sim.position(0)
    side = 1 if pos["side"] == "Buy" else -1
    target = Decimal(sim.instrument.fmt_price(sim.last_price + side * 3 * sim.instrument.tick))
    http = HTTP(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)
    http.endpoint = sim.rest_url
    try:
        http.set_trading_stop(category="linear", symbol=SYM, positionIdx=0, tpslMode="Full", takeProfit=str(target))
    finally:
        http.client.close()
    step_until(sim, lambda: sim_size(sim) == 0, max_candles=60, what="the target to fill while the bot is down",
               pause=0.0)
    exits = sim.call(lambda: [f for f in sim.core.first.exchange.fills
                              if f.stop_order_type in ("TakeProfit", "StopLoss")])
    again = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(again)
        trade = next(t for t in journal(tmp_path / "trade_history.json") if t["id"] == link)
        entry_fill = our_fills(sim)[link]
        exit_fill = exits[-1]
        assert trade["status"] == "closed" and not trade["adopted"], trade
        assert trade["reason"] == ("take_profit" if exit_fill.stop_order_type == "TakeProfit" else "stop_loss")
        assert Decimal(trade["entry_price"]) == entry_fill["value"] / entry_fill["qty"]
        assert Decimal(trade["exit_price"]) == exit_fill.price
        assert Decimal(trade["fees"]) == entry_fill["fee"] + exit_fill.fee
        qty = Decimal(trade["qty"])
        expected = (exit_fill.price - Decimal(trade["entry_price"])) * qty * side - Decimal(trade["fees"]) \
            - Decimal(trade["funding"])
        assert Decimal(trade["pnl"]) == expected
        code, _ = again.sigterm()
    finally:
        again.kill()
    assert code == 0


def test_a_daily_loss_halt_survives_a_restart_on_the_same_utc_day(tmp_path, sim):
    """Before: after "HALTED: daily loss", a SIGTERM and a restart the same UTC day, the bot entered
    again at once (the safety monitor's state lived only in memory)."""
    bot = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(bot)
        step_until(sim, lambda: flat(tmp_path, sim) and journal(tmp_path / "trade_history.json"), max_candles=120,
                   what="a first trade, then flat")
        balance = Decimal(sim.wallet()["totalWalletBalance"])
        sim.set_balance(balance * Decimal("0.93"))  # a 7 % loss today: the limit is 5 %
        wait_for(lambda: "-> HALTED" in bot.log() and "daily loss" in bot.log(), 20, "the daily-loss halt")
        code, _ = bot.sigterm()
    finally:
        bot.kill()
    assert code == 0
    before = {t["id"] for t in journal(tmp_path / "trade_history.json")}
    again = BotProcess(tmp_path, live_config(tmp_path, sim))
    try:
        started(again)
        assert "Restored safety state: HALTED: daily loss" in again.log()
        assert "until 00:00 UTC" in again.log()
        step_until(sim, lambda: "No entry: trading state is HALTED" in again.log(), max_candles=60,
                   what="a signal refused because of the halt")
        steps(sim, 5)
        assert {t["id"] for t in journal(tmp_path / "trade_history.json")} == before, "the restarted bot entered"
        code, _ = again.sigterm()
    finally:
        again.kill()
    assert code == 0
