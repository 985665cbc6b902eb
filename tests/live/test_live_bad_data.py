"""The live loop against the simulator's bad-data faults (issue 9, items 6 and 7): private messages
that are valid JSON but the wrong shape while the bot holds a position, and market values that
cannot be true (a kline closing at "NaN" or "inf", a negative volume, a lastPrice of "0"). The bot
must skip each one, say so, keep running and keep deciding and managing its position."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tests.live.test_live_bot import CANDLES, demo_cfg, journal, run, signal_rows

pytestmark = [pytest.mark.net, pytest.mark.timeout(240)]


class PrivateJunk:
    """Once the bot holds a position: every kind of wrong-shape message on every private topic, and
    from then on every real private message carries a null item and a non-numeric one before its
    real items (so the position's later fills and updates arrive only inside such messages)."""

    def __init__(self) -> None:
        self.sent = 0
        self.trade_id = None
        self.decisions_at = 0

    def before_step(self, sim, bot) -> None:
        if self.trade_id is not None or not bot.traders or bot.trader().pm.trade is None:
            return
        self.trade_id = bot.trader().pm.trade.id
        self.decisions_at = bot.decisions
        self.sent = sim.faults.send_bad_private()
        sim.faults.corrupt_private(10_000)


def test_wrong_shape_private_messages_in_a_position_are_skipped_and_trading_goes_on(tmp_path):
    # Positions end only on the exchange (stop-loss or take-profit): the fill reaches the bot inside
    # a corrupted execution message, and the bot must still take the real item from it.
    cfg = demo_cfg(take_profit__enabled=False, trade_management__close_on_opposite_signal=False)
    junk = PrivateJunk()
    result, workdir = run(tmp_path, cfg, scenario=junk)
    assert junk.trade_id is not None, "the bot never held a position: the fault was not exercised"
    assert junk.sent == 16  # 4 kinds x 4 topics
    assert result.candles == CANDLES and len(signal_rows(workdir)) == CANDLES
    log = (workdir / "whalebot.log").read_text()
    assert "Skipped bad data from the exchange (private execution): data[0] is null, not an object" in log
    assert "Skipped bad data from the exchange (private wallet): data is an object, not a list of objects" in log
    assert "(private position): data[0] side is missing" not in log  # position items need only symbol and size
    assert "(private order): data[0] orderId is missing" in log
    assert "(private execution): data[1] execQty is 'abc', not a number" in log  # inside a real message
    assert "ALERT: " in log and "bad messages from the exchange within 60 s" in log
    assert "Traceback" not in log
    # Position management went on: the position open at the fault was closed later and journaled
    # once, with a real exit, and the journal agrees with the exchange at the end.
    trades = journal(workdir)
    faulted = [t for t in trades if t["id"] == junk.trade_id]
    assert len(faulted) == 1 and faulted[0]["status"] == "closed" and faulted[0]["exit_price"]
    assert faulted[0]["reason"] in ("stop_loss", "take_profit", "trailing_stop", "breakeven_stop"), faulted[0]
    closed_line = next(x for x in log.splitlines() if "ALERT: Closed" in x)
    assert "filled on the exchange" in closed_line, closed_line  # from the stream, not a later REST check
    assert sum(t["status"] == "open" for t in trades) == (1 if result.open_position else 0)


class MarketJunk:
    """Bad market values at four moments of the run: before a closing kline a copy of it with close
    "NaN", one with close "inf", one with a negative volume; and a ticker with lastPrice "0". Keeps
    the bot, to look into its feature buffers afterwards."""

    KINDS = ("kline_nan_close", "kline_inf_close", "kline_negative_volume", "ticker_zero_price")

    def __init__(self) -> None:
        self.steps = 0
        self.fired: list[tuple[str, int]] = []  # (kind, decisions so far)
        self.prices: list[float] = []
        self.bot = None

    def before_step(self, sim, bot) -> None:
        if not bot.traders:
            return
        self.bot = bot
        self.steps += 1
        self.prices += [p for _, p in bot.trader().market.price_history()]
        self.prices.append(bot.trader().market.last_price)
        n = len(self.fired)
        if n < len(self.KINDS) and self.steps >= 100 + 20 * n:  # one every 20 one-minute steps
            sim.faults.send_bad_market(self.KINDS[n])
            self.fired.append((self.KINDS[n], bot.decisions))


def candle_rows(buffer) -> np.ndarray:
    return np.array([buffer.X[buffer.rows[k], :buffer.n] for k in ("open", "high", "low", "close", "volume")])


def test_impossible_market_values_are_skipped_and_the_strategy_keeps_deciding(tmp_path):
    junk = MarketJunk()
    candles = 48
    result, workdir = run(tmp_path, demo_cfg(interval="5"), candles=candles, scenario=junk)
    assert [k for k, _ in junk.fired] == list(MarketJunk.KINDS), "not every fault was sent"
    assert result.candles == candles
    log = (workdir / "whalebot.log").read_text()
    for what in ("close 'NaN' is not a finite number", "close 'inf' is not a finite number", "volume '-",
                 "lastPrice '0' is not a price above 0"):
        assert re.search(r"Skipped bad data from the exchange \([^)]*\): .*" + re.escape(what), log), what
    assert "bad messages from the exchange within 60 s" in log  # they repeated: one alert
    # Every candle from the first fault on was decided with a real score (not "warming up").
    rows = signal_rows(workdir)
    assert len(rows) == candles
    later = rows[junk.fired[0][1]:]
    assert len(later) >= 20 and all(r.split(",")[2] != "" for r in later), "empty scores after a bad kline"
    # The bad values never reached a feature buffer, the price history or the display.
    a = junk.bot.trader().analyzer
    for buffer in [a.buffer] + [t.buffer for t in a.mtf.trends.values()]:
        values = candle_rows(buffer)
        assert values.shape[1] > 0 and np.isfinite(values).all() and (values[:4] > 0).all() and (values[4] >= 0).all()
    assert junk.prices and all(p is not None and p > 0 and math.isfinite(p) for p in junk.prices)
    assert "Current Price: 0 " not in log and "Current Price: 0\n" not in log


def test_bad_data_from_the_start_to_the_end_of_a_run(tmp_path):
    """The --faults form of both: every 3rd private message and every 7th candle close carry bad
    data for the whole run. The bot decides on every candle, trades, and its journal agrees with
    the exchange at the end."""
    result, workdir = run(tmp_path, sim_options={"faults": "bad_private_every=3,bad_market_every=7"})
    assert result.candles == CANDLES
    rows = signal_rows(workdir)
    assert len(rows) == CANDLES and all(r.split(",")[2] != "" for r in rows)
    log = (workdir / "whalebot.log").read_text()
    assert "(private " in log and "close 'NaN' is not a finite number" in log and "Traceback" not in log
    trades = journal(workdir)
    assert trades, "the run never traded, so the private faults were not exercised"
    assert sum(t["status"] == "open" for t in trades) == (1 if result.open_position else 0)
    assert all(t["exit_price"] for t in trades if t["status"] == "closed")
