"""The running position check (PositionManager.check_exchange) with the paper broker: a position
someone else opened is adopted and protected from the ATR now; a stop removed on the exchange is
put back (or the position closed when the price has passed it); a size change is journaled."""

import logging
from decimal import Decimal

from whale.alerts import AlertSystem
from whale.config.model import Config
from whale.journal import PerformanceTracker
from whale.market.instruments import KNOWN
from whale.positions import PositionManager
from whale.venue.paper import PaperExecution

INST = KNOWN["BTCUSDT"]
T0 = 1_750_000_000_000


def make(tmp_path, market):
    cfg = Config()
    log = logging.getLogger("whalebot.test.guard")
    tracker = PerformanceTracker(tmp_path / "trade_history.paper.json", network="mainnet", mode="paper",
                                 symbol="BTCUSDT", start_balance=1000)
    paper = PaperExecution(_rules(INST), cfg.fees, start_balance=Decimal(1000), leverage=Decimal(5),
                           state=tracker.paper_state(), save=tracker.set_paper_state)
    paper.on_tick("BTCUSDT", 60_000.0, T0)
    broker = paper.for_symbol("BTCUSDT")
    ids = iter(range(1, 1000))
    pm = PositionManager(cfg, broker, tracker, AlertSystem(log), log, new_link_id=lambda p: f"wb-{p}-{next(ids)}",
                         now_ms=lambda: T0, market=market)
    return pm, broker, tracker


def test_a_position_opened_by_someone_else_is_adopted_with_an_atr_stop(tmp_path):
    pm, broker, tracker = make(tmp_path, lambda: (200.0, 60_000.0))
    broker.open_position(1, Decimal("0.010"), None, None, "manual-1")  # by hand: no stop
    broker.set_stops(stop_loss=Decimal(0))
    assert broker.position().stop_loss is None
    pm.check_exchange()
    t = pm.trade
    assert t is not None and t.adopted and t.status == "open" and t.side == "Buy"
    # 1.5 ATR below the price now, on the exchange and in the journal.
    assert t.stop_loss == Decimal("59700.0") == broker.position().stop_loss
    assert tracker.get(t.id).stop_loss == t.stop_loss
    tracker.close()


def test_a_removed_stop_is_put_back_and_a_size_change_recorded(tmp_path, caplog):
    pm, broker, tracker = make(tmp_path, lambda: (200.0, 60_050.0))
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    stop = t.stop_loss
    broker.set_stops(stop_loss=Decimal(0))  # removed by the user
    half = (t.qty / 2).quantize(INST.qty_step)
    broker.close_position(t.qty - half, "manual-close")  # and part of it closed by hand
    with caplog.at_level(logging.WARNING, logger="whalebot.test.guard"):
        pm.check_exchange()
    assert broker.position().stop_loss == stop
    assert pm.trade.qty == half and tracker.get(t.id).qty == half
    assert any("size changed on the exchange" in n for n in pm.trade.notes)
    assert "held no stop" in caplog.text
    tracker.close()


def test_a_removed_stop_the_price_has_passed_closes_at_market(tmp_path):
    price = {"now": 60_000.0}
    pm, broker, tracker = make(tmp_path, lambda: (200.0, price["now"]))
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    broker.set_stops(stop_loss=Decimal(0))
    price["now"] = float(t.stop_loss) - 50.0
    broker.execution.on_tick("BTCUSDT", price["now"], T0 + 60_000)  # nothing triggers: the exchange holds no stop
    assert broker.position() is not None
    pm.check_exchange()
    assert broker.position() is None and pm.trade is None
    closed = tracker.get(t.id)
    assert closed.status == "closed" and closed.reason == "emergency"
    tracker.close()


def _rules(inst):
    """The paper account's instrument rules: `inst` for every symbol."""
    return lambda symbol: inst
