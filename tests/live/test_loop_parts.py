"""Parts of the live loop that need no exchange, on a Bot that was built but not started, with the
real PositionManager, paper broker, journal and exit rules: restoring a density trade's setup after
a restart, and what stopping says about a paper position."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from whale.alerts import AlertSystem
from whale.bot.loop import Bot, BotOptions
from whale.broker.paper import PaperBroker
from whale.bybit.endpoints import Endpoints
from whale.bybit.market_state import MarketState
from whale.config.model import Config
from whale.journal import PerformanceTracker, TradeRecord
from whale.market.instruments import KNOWN
from whale.positions import PositionManager
from whale.strategy.advanced_exits import AdvancedExits

INST = KNOWN["BTCUSDT"]
T0 = 1_750_000_000_000
LOG = logging.getLogger("whalebot.test.loop_parts")


def bot_with_pm(tmp_path: Path, mode: str = "paper") -> Bot:
    cfg = Config()
    bot = Bot(cfg, Endpoints("custom", "http://127.0.0.1:1", "ws://127.0.0.1:1/p", "ws://127.0.0.1:1/q"),
              BotOptions(mode=mode, workdir=tmp_path), LOG)
    bot.tracker = PerformanceTracker(tmp_path / "trade_history.paper.json", network="custom", mode="paper",
                                     symbol="BTCUSDT", start_balance=1000)
    bot.broker = PaperBroker(INST, cfg.fees, start_balance=Decimal(1000), leverage=Decimal(5),
                             state=bot.tracker.paper_state(), save=bot.tracker.set_paper_state)
    bot.broker.on_tick(60_000.0, T0)
    bot.pm = PositionManager(cfg, bot.broker, bot.tracker, AlertSystem(LOG), LOG, new_link_id=lambda p: f"wb-{p}-1",
                             now_ms=lambda: T0)
    bot.exits = AdvancedExits(cfg.take_profit, cfg.density, cfg.fees)
    bot.managed = bot.managed_id = bot.pending_density = None
    return bot


def journaled(**kw) -> TradeRecord:
    fields = dict(id="wb-open-1", symbol="BTCUSDT", side="Buy", qty=Decimal("0.010"), network="custom", mode="paper",
                  strategy="density", entry_time=T0, entry_price=Decimal("60000"), stop_loss=Decimal("59800"),
                  initial_stop=Decimal("59800"), density_price=Decimal("60050"), breakeven_done=True)
    fields.update(kw)
    return TradeRecord(**fields)


def test_a_restarted_density_trade_keeps_its_setup_and_break_even(tmp_path):
    bot = bot_with_pm(tmp_path)
    # A breakout long through a wall above its entry, journaled with its setup ...
    m = bot._managed(journaled(setup="breakout"), T0)
    assert m.kind == "breakout" and m.breakeven_done
    # ... and the same trade from a journal written before `setup` existed.
    bot.managed = None
    assert bot._managed(journaled(id="wb-open-2"), T0).kind == "breakout"
    bot.managed = None
    assert bot._managed(journaled(id="wb-open-3", density_price=Decimal("59900")), T0).kind == "bounce"
    bot.managed = None
    assert bot._managed(journaled(id="wb-open-4", setup="bounce", density_price=Decimal("60050")), T0).kind == "bounce"
    bot.tracker.close()


def test_the_loop_reads_every_trade_of_a_millisecond_burst(tmp_path):
    bot = bot_with_pm(tmp_path)
    bot.market = MarketState("BTCUSDT")
    bot._trade_cursor = bot.market.trade_cursor()
    bot.market.on_trades([{"T": T0, "S": "Sell", "v": "1", "p": "100"}])
    assert len(bot._new_trades()) == 1
    bot.market.on_trades([{"T": T0, "S": "Sell", "v": "5", "p": "99"}])  # same millisecond, next batch
    assert [t[2] for t in bot._new_trades()] == [5.0]
    bot.tracker.close()


def test_stopping_paper_trading_says_where_the_position_is_kept(tmp_path, caplog):
    bot = bot_with_pm(tmp_path)
    bot.pm.enter(1, atr=200.0, ref_price=60_000.0)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        bot.shutdown()
    assert "kept in trade_history.paper.json with its stop" in caplog.text
    assert "on the exchange" not in caplog.text
    bot.tracker.close()
