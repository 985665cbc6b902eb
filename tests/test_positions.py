"""The live PositionManager with the paper broker: entries, protection, stop moves, exits from
broker events, and start-up reconciliation against the journal."""

import logging
from decimal import Decimal

import pytest

from whale.alerts import AlertSystem
from whale.config.model import Config, replace_path
from whale.journal import PerformanceTracker, TradeRecord
from whale.market.instruments import KNOWN
from whale.positions import PositionManager, ReconcileError
from whale.strategy.stops import STOP_BREAKEVEN, STOP_TRAILING
from whale.venue.paper import PaperExecution

INST = KNOWN["BTCUSDT"]
T0 = 1_750_000_000_000


class Clock:
    def __init__(self):
        self.ms = T0

    def now_ms(self):
        return self.ms


def make(tmp_path, cfg=None, state=None, *, price=60_000.0):
    cfg = cfg or Config()
    log = logging.getLogger("whalebot.test.positions")
    tracker = PerformanceTracker(tmp_path / "trade_history.paper.json", network="mainnet", mode="paper",
                                 symbol="BTCUSDT", start_balance=1000)
    paper = PaperExecution(_rules(INST), cfg.fees, start_balance=Decimal(1000), leverage=Decimal(5),
                         state=state if state is not None else tracker.paper_state(), save=tracker.set_paper_state)
    paper.on_tick("BTCUSDT", price, T0)
    broker = paper.for_symbol("BTCUSDT")
    ids = iter(range(1, 10_000))
    clock = Clock()
    pm = PositionManager(cfg, broker, tracker, AlertSystem(log), log, new_link_id=lambda p: f"wb-{p}-{next(ids)}",
                         now_ms=clock.now_ms)
    return pm, broker, tracker


def test_entry_is_sized_protected_from_the_fill_and_journaled(tmp_path):
    pm, broker, tracker = make(tmp_path)
    res = pm.enter(1, atr=200.0, ref_price=60_000.0)
    t = res.trade
    assert t is not None and t.side == "Buy"
    # 1 % of 1000 USDT over a 300 USDT stop (1.5 ATR): 0.033 BTC, rounded down to 0.001.
    assert t.qty == Decimal("0.033")
    fill = t.entry_price
    assert fill > Decimal("60000")  # bought with slippage
    assert broker.position().stop_loss == t.stop_loss
    assert t.stop_loss == INST.price_decimal(int((float(fill) - 300.0) / 0.1))  # re-set from the fill, rounded down
    assert tracker.get(t.id).status == "open" and tracker.get(t.id).fees > 0
    tracker.close()


def test_skip_reasons_are_reported(tmp_path):
    pm, broker, tracker = make(tmp_path, replace_path(Config(), "risk.when_capped", "skip"))
    assert "ATR" in pm.enter(1, atr=0.0, ref_price=60_000.0).skipped
    assert "leverage" in pm.enter(1, atr=2.0, ref_price=60_000.0).skipped
    # 1 % of 1,000 USDT over a 150 USDT stop (1.5 ATR of 100) needs 4,000 USDT: beyond the 300 % cap.
    skipped = pm.enter(1, atr=100.0, ref_price=60_000.0).skipped
    assert skipped.startswith("size exposure beyond risk.max_total_exposure_percent")
    assert "needs 4,000 USDT, 400 % of equity, exposure cap 300 % (risk.when_capped is skip)" in skipped
    pm.enter(1, atr=200.0, ref_price=60_000.0)
    assert "already open" in pm.enter(-1, atr=200.0, ref_price=60_000.0).skipped
    tracker.close()


def test_stop_hit_on_a_tick_closes_the_journal_trade_with_real_numbers(tmp_path):
    pm, broker, tracker = make(tmp_path)
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    broker.execution.on_tick("BTCUSDT", 59_500.0, T0 + 60_000)  # below the stop
    pm.process(broker.execution.poll())
    closed = tracker.get(t.id)
    assert closed.status == "closed" and closed.reason == "stop_loss"
    assert closed.exit_price <= Decimal("59500")
    expected = (closed.exit_price - closed.entry_price) * closed.qty - closed.fees
    assert closed.pnl == expected
    assert broker.equity() == Decimal(1000) + closed.pnl
    assert not pm.has_position()
    tracker.close()


def test_breakeven_then_trailing_on_candle_closes(tmp_path):
    pm, broker, tracker = make(tmp_path)
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    entry = float(t.entry_price)
    pm.on_candle_close(entry + 210.0, 200.0)  # 1.05 ATR: break-even (and lock-in beyond entry)
    assert pm.trade.breakeven_done and pm.trade.stop_loss >= t.entry_price - Decimal("0.1")
    pm.on_candle_close(entry + 600.0, 200.0)
    assert pm.trade.stop_kind == STOP_TRAILING
    assert broker.position().stop_loss == pm.trade.stop_loss
    broker.execution.on_tick("BTCUSDT", float(pm.trade.stop_loss) - 5.0, T0 + 120_000)
    pm.process(broker.execution.poll())
    assert tracker.closed_trades()[-1].reason == "trailing_stop"
    tracker.close()


def test_opposite_signal_exit_records_reason(tmp_path):
    pm, broker, tracker = make(tmp_path)
    t = pm.enter(-1, atr=200.0, ref_price=60_000.0).trade
    pm.exit(4, "strong BUY (score 2.31)")  # R_OPPOSITE
    closed = tracker.get(t.id)
    assert closed.reason == "opposite_signal"
    assert closed.notes[-1] == "exit opposite_signal: strong BUY (score 2.31)"  # the numbers behind the reason
    tracker.close()


def test_restart_restores_the_position_and_its_stop(tmp_path):
    cfg = replace_path(Config(), "trade_management.profit_lock_in_atr_multiple", 0.0)
    pm, broker, tracker = make(tmp_path, cfg)
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    pm.on_candle_close(float(t.entry_price) + 210.0, 200.0)
    before = pm.trade
    assert before.breakeven_done and before.stop_kind in (STOP_BREAKEVEN, STOP_TRAILING)
    tracker.close()
    pm2, broker2, tracker2 = make(tmp_path, cfg, price=60_300.0)
    done = pm2.reconcile(atr=200.0, price=60_300.0)
    assert pm2.trade == before  # every bit of management state comes back
    assert broker2.position().stop_loss == before.stop_loss
    assert any("restored" in d for d in done)
    tracker2.close()


def test_restart_after_a_stop_filled_while_down(tmp_path):
    pm, broker, tracker = make(tmp_path)
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    # The stop fills, but the bot dies before processing the event.
    broker.execution.on_tick("BTCUSDT", 59_000.0, T0 + 60_000)
    tracker.close()
    pm2, broker2, tracker2 = make(tmp_path, price=59_000.0)
    done = pm2.reconcile(atr=200.0, price=59_000.0)
    closed = tracker2.get(t.id)
    assert closed.status == "closed" and closed.reason == "stop_loss"
    assert "closed while the bot was down" in done[0] or "closed" in done[0]
    tracker2.close()


def test_unknown_position_is_adopted_and_given_a_stop(tmp_path):
    state = {"balance": "1000", "orders": 0, "positions": {"BTCUSDT": {
        "side": -1, "size": "0.010", "entry_price": "61000", "stop_loss": None, "take_profit": None,
        "position_idx": 0}}}
    pm, broker, tracker = make(tmp_path, state=state)
    done = pm.reconcile(atr=200.0, price=60_000.0)
    assert pm.trade.adopted and pm.trade.side == "Sell"
    assert broker.position().stop_loss == Decimal("60300.0")  # 60,000 + 1.5 ATR for a short
    assert "adopted" in done[0]
    tracker.close()


def test_mismatch_refuses_to_trade(tmp_path):
    state = {"balance": "1000", "orders": 0, "positions": {"BTCUSDT": {
        "side": -1, "size": "0.010", "entry_price": "61000", "stop_loss": "62000", "take_profit": None,
        "position_idx": 0}}}
    pm, broker, tracker = make(tmp_path, state=state)
    tracker.open_trade(TradeRecord(id="wb-open-x", symbol="BTCUSDT", side="Buy", qty=Decimal("0.010"),
                                   network="mainnet", mode="paper", strategy="indicators", entry_time=T0,
                                   entry_price=Decimal("61000"), stop_loss=Decimal("60000")))
    with pytest.raises(ReconcileError, match="journal says Buy"):
        pm.reconcile(atr=200.0, price=60_000.0)
    tracker.close()


def test_funding_accumulates_on_the_open_trade(tmp_path):
    cfg = replace_path(Config(), "fees.funding_rate_8h", 0.001)
    pm, broker, tracker = make(tmp_path, cfg)
    t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    h8 = 8 * 3_600_000
    broker.execution.on_tick("BTCUSDT", 60_050.0, (T0 // h8 + 1) * h8 + 1)
    pm.process(broker.execution.poll())
    assert pm.trade.funding == (t.qty * Decimal("60050") * Decimal("0.001")).quantize(Decimal("0.00000001"))
    tracker.close()


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_the_opened_alert_shows_the_stop_and_target_the_exchange_holds(tmp_path):
    """The entry goes out with a stop and target from the pre-trade price; they are re-set from the
    real fill. The "Opened" alert must name what the exchange holds after that (issue 11 item 7)."""
    from whale.journal import decimal_text
    from whale.logs import strip_ansi

    pm, broker, tracker = make(tmp_path)
    lines = _Lines()
    logger = logging.getLogger("whalebot.test.positions")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        t = pm.enter(1, atr=200.0, ref_price=60_000.0).trade
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    held = broker.position()
    assert t.entry_price != Decimal("60000")  # slipped: the re-set levels differ from the pre-trade ones
    opened = [strip_ansi(line) for line in lines.lines if "ALERT: Opened" in line]
    assert len(opened) == 1
    assert f"SL {decimal_text(held.stop_loss)} " in opened[0]
    assert opened[0].endswith(f"TP {decimal_text(held.take_profit)}")
    assert held.stop_loss == t.stop_loss and held.take_profit == t.take_profit
    tracker.close()


def _rules(inst):
    """The paper account's instrument rules: `inst` for every symbol."""
    return lambda symbol: inst
