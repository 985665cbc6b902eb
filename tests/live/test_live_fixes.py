"""The live loop against the embedded simulator (demo, lockstep, real clients over loopback): a
position someone else opens while the bot runs, a stop removed by hand, REST failures that must
halt trading, the emergency close of a position the bot does not know, candles recovered after a
stream gap, and the summary's start balance."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from pybit.unified_trading import HTTP

from tests.live.test_live_bot import demo_cfg, journal, row_ts, run, signal_rows
from whale.bot.loop import BotHooks
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET

pytestmark = pytest.mark.net

SYM = "BTCUSDT"


def pybit(sim) -> HTTP:
    """The unmodified pybit client on the simulator: "someone else" trading on the same account."""
    session = HTTP(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)
    session.endpoint = sim.rest_url
    return session


def wait_for(pred, timeout: float = 15.0) -> bool:
    """Poll `pred` (the bot runs on its own thread meanwhile) until true or `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 1):
        if pred():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return bool(pred())


def stop_of(sim, idx: int = 0) -> Decimal:
    return Decimal(sim.position(idx).get("stopLoss") or "0")


class OnceFlat:
    """A scenario hook that acts once, at the first step after the bot has decided two candles and
    holds no position; what it observed goes in `seen`."""

    def __init__(self) -> None:
        self.done = False
        self.seen: dict = {}

    def first_time_flat(self, bot) -> bool:
        if self.done or not bot.traders or bot.decisions < 2 or bot.trader().pm.trade is not None:
            return False
        self.done = True
        return True


class ManualTrader(OnceFlat):
    """Once the bot runs flat: buy by hand without a stop, wait for the bot to adopt and protect
    it, then remove the stop by hand and wait for the bot to put it back."""

    def before_step(self, sim, bot) -> None:
        if not self.first_time_flat(bot):
            return
        self.seen["start_balance"] = bot.tracker.start_balance
        http = pybit(sim)
        try:
            http.place_order(category="linear", symbol=SYM, side="Buy", orderType="Market", qty="0.010",
                             orderLinkId="someone-else-1")
            self.seen["adopted"] = wait_for(lambda: bot.trader().pm.trade is not None and stop_of(sim) > 0)
            self.seen["trade"] = bot.trader().pm.trade
            self.seen["stop"] = stop_of(sim)
            http.set_trading_stop(category="linear", symbol=SYM, positionIdx=0, tpslMode="Full", stopLoss="0",
                                  takeProfit="0")
            self.seen["removed"] = stop_of(sim) == 0
            self.seen["restored"] = wait_for(lambda: stop_of(sim) > 0)
            self.seen["stop_after"] = stop_of(sim)
        finally:
            http.client.close()


def test_a_position_opened_by_hand_is_adopted_protected_and_its_stop_kept(tmp_path):
    # A threshold no score reaches: the bot never trades on its own, only the manual position exists.
    cfg = demo_cfg(signal_score_threshold=100.0)
    trader = ManualTrader()
    result, workdir = run(tmp_path, cfg, candles=12, scenario=trader, sim_options={"start_balance": 10_000.0})
    seen = trader.seen
    assert trader.done and seen["adopted"], f"not adopted with a stop: {seen}"
    t = seen["trade"]
    assert t.adopted and t.side == "Buy" and t.qty == Decimal("0.010") and t.stop_loss == seen["stop"]
    assert seen["removed"] and seen["restored"] and seen["stop_after"] == t.stop_loss
    log = (workdir / "whalebot.log").read_text()
    assert "Adopted an unknown position" in log and "held no stop" in log
    assert "no stop and no ATR" not in log
    adopted = [x for x in journal(workdir) if x["adopted"]]
    assert len(adopted) == 1 and adopted[0]["reason"] != "emergency"
    # Item 8: the summary's drawdown is of the real wallet (10,000 USDT), not account_balance (1,000).
    assert seen["start_balance"] == Decimal("10000")


class HedgeStranger(OnceFlat):
    """Someone opens a hedge-mode short (positionIdx 2) the bot, in one-way mode, never adopts; then
    the balance falls below the floor: the bot's emergency close must close it too."""

    def before_step(self, sim, bot) -> None:
        if not self.first_time_flat(bot):
            return
        http = pybit(sim)
        try:
            http.switch_position_mode(category="linear", symbol=SYM, mode=3)
            http.place_order(category="linear", symbol=SYM, side="Sell", orderType="Market", qty="0.010",
                             positionIdx=2, orderLinkId="someone-else-2")
            self.seen["opened"] = sim.position(2)["size"]
            sim.set_balance(50)
            self.seen["stopped"] = wait_for(lambda: bot.emergency_reasons is not None, 30.0)
            self.seen["size_after"] = sim.position(2)["size"]
        finally:
            http.client.close()


def test_the_emergency_close_closes_a_position_the_bot_never_adopted(tmp_path):
    cfg = demo_cfg(signal_score_threshold=100.0, safety__check_interval_sec=1.0)
    stranger = HedgeStranger()
    result, workdir = run(tmp_path, cfg, candles=12, scenario=stranger)
    seen = stranger.seen
    assert seen["opened"] == "0.010" and seen["stopped"], seen
    assert result.emergency
    assert Decimal(seen["size_after"]) == 0, "the emergency left a position open on the exchange"
    log = (workdir / "whalebot.log").read_text()
    assert "A POSITION IS STILL OPEN" not in log


class IpBan:
    """Every REST call fails (HTTP 403, then the client's own pause) while the bot runs."""

    def __init__(self) -> None:
        self.done = False

    def before_step(self, sim, bot) -> None:
        if self.done or not bot.traders or bot.decisions < 2:
            return
        self.done = True
        sim.faults.ip_ban(3.0)
        # Hold the replay while the safety monitor runs its 1 s checks against the failing REST.
        wait_for(lambda: bot.state == "HALTED", 8.0)


def test_repeated_rest_failures_halt_trading(tmp_path):
    cfg = demo_cfg(signal_score_threshold=100.0, safety__check_interval_sec=1.0)
    ban = IpBan()
    result, workdir = run(tmp_path, cfg, candles=8, scenario=ban)
    assert ban.done and result.candles == 8
    log = (workdir / "whalebot.log").read_text()
    assert "HTTP 403" in log
    assert "Trading state ACTIVE -> HALTED" in log and "consecutive connection failures" in log


class StreamGap:
    """Right after the bot handled a candle: stall the public stream, replay `missed` primary
    candles the bot cannot see, resume. The next closed candle arrives after a hole: the bot
    gap-fills the missed ones over REST and must not trade on them."""

    def __init__(self, missed: int = 3, after: int = 4) -> None:
        self.missed, self.after = missed, after
        self.done = False
        self.before: tuple | None = None
        self.skipped: list[int] = []

    def before_step(self, sim, bot) -> None:
        if self.done or not bot.traders or bot.decisions < self.after:
            return
        self.done = True
        self.before = state_of(bot)
        p_ms = 900_000
        now = sim.replay_time_ms + 1  # the replay clock stands at (or 1 ms before) the handled candle's close
        start = now - now % p_ms
        sim.faults.stall("public")
        try:
            sim.step(15 * self.missed)
        finally:
            sim.faults.resume()
        self.skipped = [start + i * p_ms for i in range(self.missed)]


def state_of(bot) -> tuple:
    t = bot.trader().pm.trade
    return (None, None) if t is None else (t.id, t.stop_loss)


def test_candles_recovered_after_a_stream_gap_only_feed_the_indicators(tmp_path):
    # A threshold almost every score passes: without the fix the bot trades on the missed candles.
    cfg = demo_cfg(signal_score_threshold=0.01)
    gap = StreamGap()
    after_candle: dict[int, tuple] = {}
    holder: dict = {}
    stop = threading.Event()

    def on_candle(ts: int) -> None:
        after_candle[ts] = state_of(holder["bot"])
        if gap.skipped and ts > gap.skipped[-1] + 900_000:
            stop.set()  # one candle after the newest: enough, and the replay's data stays ahead of us

    class Capture:
        def before_step(self, sim, bot):
            holder["bot"] = bot
            gap.before_step(sim, bot)

    result, workdir = run(tmp_path, cfg, candles=16, scenario=Capture(), bot_hooks=BotHooks(on_candle=on_candle),
                          stop=stop)
    assert gap.done and len(gap.skipped) == 3
    log = (workdir / "whalebot.log").read_text()
    assert "gap fill" in log or "recovered over REST" in log or "catch-up" in log
    for ts in gap.skipped:
        assert f"catch-up 15m candle {ts}" in log
        # Stops and exits may act on a catch-up candle (they only reduce risk); no trade is opened.
        assert after_candle[ts][0] in (gap.before[0], None), "the bot opened a trade on a recovered candle"
    rows = signal_rows(workdir)
    ts = [row_ts(r) for r in rows]
    assert ts == sorted(set(ts)) and set(gap.skipped) <= set(ts)
    assert max(ts) > gap.skipped[-1]  # the newest candle was decided normally after the catch-up


class BareStrangerWhileStopsFail(OnceFlat):
    """Once the bot runs flat: the exchange refuses set-trading-stop (a rate limit of 0), and someone
    buys by hand without a stop. The bot must not hold that position bare, nor die."""

    def before_step(self, sim, bot) -> None:
        if not self.first_time_flat(bot):
            return
        sim.faults.set_rate_limit("position/trading-stop", 0, 1.0)  # every call refused: 10006
        http = pybit(sim)
        try:
            http.place_order(category="linear", symbol=SYM, side="Buy", orderType="Market", qty="0.010",
                             orderLinkId="someone-else-2")
            self.seen["flat"] = wait_for(lambda: Decimal(sim.position(0).get("size") or "0") == 0, 20.0)
        finally:
            http.client.close()
            sim.faults.set_rate_limit("position/trading-stop", None)


def test_a_position_that_cannot_get_a_stop_is_closed_and_the_bot_runs_on(tmp_path):
    cfg = demo_cfg(signal_score_threshold=100.0)  # the bot never trades on its own
    stranger = BareStrangerWhileStopsFail()
    result, workdir = run(tmp_path, cfg, candles=12, scenario=stranger, sim_options={"start_balance": 10_000.0})
    assert stranger.done and stranger.seen["flat"], "the bare position was left open"
    assert result.candles == 12  # the loop outlived the refused trading-stop
    adopted = [x for x in journal(workdir) if x["adopted"]]
    assert len(adopted) == 1 and adopted[0]["status"] == "closed" and adopted[0]["reason"] == "emergency"
    assert "setting a stop at" in (workdir / "whalebot.log").read_text()
