"""Parts of the live bot that need no exchange, on a Trader built without a venue, with the real
PositionManager, paper execution, journal and exit rules: restoring a density trade's setup after a
restart, reading every trade of a burst, and what stopping says about a paper position."""

from __future__ import annotations

import logging
import math
from decimal import Decimal
from pathlib import Path

import pytest

from whale.alerts import AlertSystem
from whale.bot.loop import Bot, BotOptions
from whale.bot.signals_file import SignalsFile
from whale.bot.trader import Trader
from whale.bybit.public_messages import trades_of
from whale.config.model import Config
from whale.journal import PerformanceTracker, TradeRecord
from whale.market.instruments import KNOWN
from whale.market.state import Markets
from whale.venue.paper import PaperExecution

INST = KNOWN["BTCUSDT"]
T0 = 1_750_000_000_000
LOG = logging.getLogger("whalebot.test.loop_parts")


def paper_trader(tmp_path: Path) -> tuple[Trader, PaperExecution, PerformanceTracker]:
    cfg = Config()
    tracker = PerformanceTracker(tmp_path / "trade_history.paper.json", network="custom", mode="paper",
                                 symbol="BTCUSDT", start_balance=1000)
    paper = PaperExecution(lambda s: INST, cfg.fees, start_balance=Decimal(1000), leverage=Decimal(5),
                           state=tracker.paper_state(), save=tracker.set_paper_state)
    paper.on_tick("BTCUSDT", 60_000.0, T0)
    markets = Markets(["BTCUSDT"])
    trader = Trader(cfg.for_symbol("BTCUSDT"), markets["BTCUSDT"], paper.for_symbol("BTCUSDT"), tracker,
                    AlertSystem(LOG), LOG, new_link_id=lambda p: f"wb-{p}-1", now_ms=lambda: T0,
                    price=lambda: 60_000.0, signals=SignalsFile(tmp_path / "signals.csv"),
                    on_stop_result=lambda ok, detail: None, monotonic=lambda: 0.0,
                    entry_check=lambda *a: None, state=lambda: "ACTIVE", rest_failed=lambda what, exc: None)
    return trader, paper, tracker


def journaled(**kw) -> TradeRecord:
    fields = dict(id="wb-open-1", symbol="BTCUSDT", side="Buy", qty=Decimal("0.010"), network="custom", mode="paper",
                  strategy="density", entry_time=T0, entry_price=Decimal("60000"), stop_loss=Decimal("59800"),
                  initial_stop=Decimal("59800"), density_price=Decimal("60050"), breakeven_done=True)
    fields.update(kw)
    return TradeRecord(**fields)


def test_a_restarted_density_trade_keeps_its_setup_and_break_even(tmp_path):
    trader, _, tracker = paper_trader(tmp_path)
    # A breakout long through a wall above its entry, journaled with its setup ...
    m = trader.managed_for(journaled(setup="breakout"), T0)
    assert m.kind == "breakout" and m.breakeven_done
    # ... and the same trade from a journal written before `setup` existed.
    trader.managed = None
    assert trader.managed_for(journaled(id="wb-open-2"), T0).kind == "breakout"
    trader.managed = None
    assert trader.managed_for(journaled(id="wb-open-3", density_price=Decimal("59900")), T0).kind == "bounce"
    trader.managed = None
    assert trader.managed_for(journaled(id="wb-open-4", setup="bounce", density_price=Decimal("60050")),
                              T0).kind == "bounce"
    tracker.close()


def test_the_trader_reads_every_trade_of_a_millisecond_burst(tmp_path):
    trader, _, tracker = paper_trader(tmp_path)
    trader.market.on_trades(trades_of([{"T": T0, "S": "Sell", "v": "1", "p": "100"}]))
    assert len(trader.new_trades()) == 1
    trader.market.on_trades(trades_of([{"T": T0, "S": "Sell", "v": "5", "p": "99"}]))  # same millisecond, next batch
    assert [t[2] for t in trader.new_trades()] == [5.0]
    tracker.close()


def test_stopping_paper_trading_says_where_the_position_is_kept(tmp_path, caplog):
    trader, paper, tracker = paper_trader(tmp_path)
    trader.pm.enter(1, atr=200.0, ref_price=60_000.0)
    bot = Bot(Config(), BotOptions(mode="paper", workdir=tmp_path), LOG)
    bot.traders["BTCUSDT"], bot.execution, bot.tracker = trader, paper, tracker
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        bot.shutdown()
    assert "kept in trade_history.paper.json with its stop" in caplog.text
    assert "on the exchange" not in caplog.text
    tracker.close()
    trader.signals.close()


class _Wall:
    """The wall clock's milliseconds, set by the test."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000.0


def test_the_market_clock_of_every_pass_is_market_now(tmp_path):
    # _market_clock (what the trader, the safety cadence and the account read on every pass) against
    # _market_now: the wall clock before any market time, then the newest market time, one symbol or more.
    for symbols in (["BTCUSDT"], ["BTCUSDT", "ETHUSDT"]):
        wall = _Wall(T0 + 5)
        bot = Bot(Config(), BotOptions(mode="paper", workdir=tmp_path), LOG, clock=wall)
        bot.symbols = symbols
        bot.markets = Markets(symbols)
        clock = bot._market_clock()
        assert clock() == bot._market_now() == T0 + 5
        for ms, symbol in ((T0, symbols[-1]), (T0 - 10, symbols[0]), (T0 + 20, symbols[0])):
            bot.markets[symbol]._saw(ms)
            wall.ms += 1
            assert clock() == bot._market_now() == max(bot.markets[s].market_time_ms() for s in symbols)


class _FreshData:
    """The public stream as the loop's pass reads it: fresh."""

    def stale(self, stream: str) -> bool:
        return False


def test_a_venue_error_in_the_book_pass_is_counted_and_the_pass_goes_on(tmp_path):
    # The loop runs each trader's book pass as Account.guarded would: a venue error is counted and the rest
    # of the pass still runs (the retries, the safety cadence, closed candles); an AuthError ends the bot.
    from whale.bot.account import Account
    from whale.bot.cadence import Cadence
    from whale.market.feed import MarketFeed
    from whale.venue.errors import AuthError, TemporaryError

    trader, paper, tracker = paper_trader(tmp_path)
    cfg, wall = Config(), _Wall(T0)
    bot = Bot(cfg, BotOptions(mode="paper", workdir=tmp_path), LOG, clock=wall)
    bot.markets = Markets(["BTCUSDT"])
    bot.markets["BTCUSDT"].on_trades(trades_of([{"T": T0, "S": "Buy", "v": "1", "p": "60000"}]))
    cadence = Cadence(3600.0, wall.monotonic, lambda: T0)
    account = Account(cfg, paper, tracker, AlertSystem(LOG), LOG, clock=wall, market_now=lambda: T0,
                      mark_price=lambda s: None, closes_of=lambda s: None, new_link_id=lambda p: p, safety_due=cadence)
    account.start_safety()
    cadence.due()  # the first check is taken: none is due during the test
    bot.execution, bot.tracker, bot.account, bot.data = paper, tracker, account, _FreshData()
    bot.feed = MarketFeed(bot.data, bot.markets, [])  # type: ignore[arg-type]
    bot.traders["BTCUSDT"], bot._trader_list = trader, (trader,)
    bot._next_rest_check = bot._next_status = math.inf
    errors: list[Exception] = [TemporaryError("rate limit")]

    def failing_book_pass() -> None:
        raise errors[0]

    trader.book_pass = failing_book_pass  # type: ignore[method-assign]
    bot._pass()
    assert account.failures == 1 and bot._closes_seen == bot.markets.counts.closes  # the pass went to its end
    bot._pass()
    assert account.failures == 2
    errors[0] = AuthError("bad keys")
    with pytest.raises(AuthError):
        bot._pass()
    assert account.failures == 2
    tracker.close()
    trader.signals.close()


def test_the_loops_inline_truth_of_venue_events_covers_every_kind_of_event() -> None:
    """Bot._pass and _check_exits test `ev.exits or ev.funding or ev.position_changed` inline (VenueEvents.__bool__
    without its call, on every pass): a new kind of venue event must be added there too, or the loop would never
    dispatch it. This fails when VenueEvents gains a field."""
    import dataclasses
    import inspect

    from whale.bot.loop import Bot
    from whale.venue.types import VenueEvents

    names = {f.name for f in dataclasses.fields(VenueEvents)}
    assert names == {"exits", "funding", "position_changed"}
    for method in (Bot._pass, Bot._check_exits):
        assert "ev.exits or ev.funding or ev.position_changed" in inspect.getsource(method)
