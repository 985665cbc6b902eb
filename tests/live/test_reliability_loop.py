"""The live loop (the demo: the real Bot against the simulator, lockstep) under issue 9's faults: a
temporary error never stops it, a refused stop update never closes a protected position, an entry
whose fill cannot be read is pending and resolved from the loop."""

from __future__ import annotations

import pytest

from tests.live.harness import our_fills
from tests.live.test_live_bot import demo_cfg, journal, run

pytestmark = pytest.mark.net
CANDLES = 192  # two days of 15-minute candles; with the threshold at 0.3 the bot enters several times


def cfg():
    return demo_cfg(signal_score_threshold=0.3)


def flat_and_running(sim, bot) -> bool:
    return bool(bot.traders) and bot.decisions >= 2 and not bot.trader().pm.has_position()


def test_refused_stop_updates_never_close_a_protected_position(tmp_path):
    """`rate_limit=position/trading-stop:1/600`: before the fix every entry after the first was closed
    at market ("No stop on the exchange ... closing at market"), paying two fees each time."""
    result, workdir = run(tmp_path, cfg(), candles=CANDLES,
                          sim_options={"faults": "rate_limit=position/trading-stop:1/600"})
    assert result.candles == CANDLES
    trades = journal(workdir)
    log = (workdir / "whalebot.log").read_text()
    assert len(trades) >= 3, "the run must enter several times to exercise the refused stop updates"
    assert "No stop on the exchange" not in log and "closing at market" not in log
    assert not any(t["reason"] == "emergency" for t in trades)
    assert log.count("on the protective side of the price: the position is kept") >= 2
    assert "rate limit exceeded (retCode 10006); Bybit accepts it again in" in log
    # Repeated failures halt new entries instead of churning.
    assert "-> HALTED: setting a stop on the exchange failed 3 times in a row" in log


def test_a_rate_limited_entry_does_not_stop_the_bot(tmp_path):
    """`rate_limit=order/create:1/60`: before, "rate limit exceeded (retCode 10006) 4 times in a row" and
    exit 1 at the second order."""
    result, workdir = run(tmp_path, cfg(), candles=CANDLES, sim_options={"faults": "rate_limit=order/create:1/60"})
    assert result.candles == CANDLES and result.emergency is None
    log = (workdir / "whalebot.log").read_text()
    assert "(retCode 10006)" in log
    assert "Entry not sent" in log or "failed for now" in log
    assert all(t["status"] != "pending" for t in journal(workdir))


class BanDuringEntry:
    """Once the bot runs flat: the next order (its entry) executes, then the IP is banned (HTTP 403;
    the client then stays silent for 10 minutes, so the entry's fill cannot be read in this run)."""

    def __init__(self) -> None:
        self.armed = False
        self.fills: dict = {}

    def before_step(self, sim, bot) -> None:
        if not self.armed and flat_and_running(sim, bot):
            sim.core.faults.spec.ip_ban_seconds = 2.0
            sim.faults.fail_next_order("ban", "after")
            self.armed = True
        elif self.armed:
            self.fills = our_fills(sim)


def test_an_ip_ban_during_an_entry_leaves_it_pending_and_the_bot_running(tmp_path):
    """Before: "paused by Bybit for another 599.8 s", exit 1, the filled entry missing from the
    journal. Now the loop runs on (HALTED: every REST call is refused locally), and the entry is in
    the journal as pending with its orderLinkId, for the next start to resolve."""
    ban = BanDuringEntry()
    result, workdir = run(tmp_path, demo_cfg(signal_score_threshold=0.3, safety__check_interval_sec=1.0),
                          candles=CANDLES, scenario=ban)
    assert ban.armed and result.candles == CANDLES
    pending = [t for t in journal(workdir) if t["status"] == "pending"]
    assert len(pending) == 1 and pending[0]["entry_order_link_id"] in ban.fills  # it executed on the exchange
    log = (workdir / "whalebot.log").read_text()
    assert "outcome unknown" in log and "HTTP 403" in log and "HALTED" in log


class SlowFillLookup:
    """Once the bot runs flat, the execution list answers 2.5 s late (the bot's REST timeout is 1 s):
    the next entry executes but its fill cannot be read. Once the bot holds it as pending, the list
    answers in time again."""

    def __init__(self) -> None:
        self.state = "idle"
        self.link = None

    def before_step(self, sim, bot) -> None:
        if self.state == "idle" and flat_and_running(sim, bot):
            sim.faults.set_delay("execution/list", 2500)
            self.state = "slow"
        elif self.state == "slow" and bot.trader().pm.pending is not None:
            self.link = bot.trader().pm.pending.id
            sim.faults.set_delay("execution/list", 0)
            self.state = "fast"


def test_an_entry_whose_fill_cannot_be_read_is_resolved_from_the_loop(tmp_path):
    """Before: "no answer from Bybit ... after 3 attempts", exit 1, the order filled on the exchange
    and missing from the journal."""
    slow = SlowFillLookup()
    result, workdir = run(tmp_path, cfg(), candles=CANDLES, scenario=slow, rest_timeout_s=1.0)
    assert slow.state == "fast" and result.candles == CANDLES
    trade = next(t for t in journal(workdir) if t["id"] == slow.link)
    assert trade["status"] in ("open", "closed") and not trade["adopted"]
    assert any("resolved by its orderLinkId" in n for n in trade["notes"])
