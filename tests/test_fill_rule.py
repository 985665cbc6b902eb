"""One fill rule for every mode: the backtest kernel, the paper broker and the simulator's matching
price a market (taker) fill the same way (whale.fills.taker_fill_ticks): the price moved against
the taker by slippage_rate, rounded to the tick against the taker (buys up, sells down), with the
fee charged on that price. Same inputs, same price: at the entry and at every kind of exit (open,
end of data, stop, target)."""

from decimal import Decimal

import numpy as np
import pytest

from tests.kernel import run_one
from whale.backtest import simulate as sim
from whale.backtest.runner import sim_params
from whale.config.model import Config
from whale.fills import LONG, SHORT, taker_fill_ticks
from whale.market.instruments import KNOWN
from whale.sim.account import Account
from whale.sim.book import Book
from whale.sim.clock import ReplayClock
from whale.sim.instrument import sim_instrument
from whale.sim.matching import Exchange
from whale.strategy.stops import EXIT_REASONS
from whale.venue.paper import PaperExecution

BTC = KNOWN["BTCUSDT"]
MIN = 60_000
T0 = 1_748_000_040_000  # a candle open, not a funding time
ATR = 300.0  # stops 450 away: every case sizes below the caps
CFG = Config()  # default fees: slippage 0.0001 (4.3 USDT, 43 ticks at 42,646), taker 0.055 %


def backtest_trade(side: int, entry: float, exit_kind: str, exit_price: float) -> np.ndarray:
    """One trade of the backtest kernel: decided on candle 0, filled at candle 1's open `entry`, closed
    by `exit_kind` (open: an opposite signal, filled at candle 3's open; end: the last close; stop /
    target: candle 2 reaches the level)."""
    flat = (entry, entry, entry, entry)
    if exit_kind == "end":
        candles, signals = [flat, (entry, max(entry, exit_price), min(entry, exit_price), exit_price)], [side, 0]
    elif exit_kind == "open":
        x = exit_price
        candles, signals = [flat, flat, flat, (x, x, x, x)], [side, 0, -side, 0]
    else:
        far = entry - side * 1000.0 if exit_kind == "stop" else entry + side * 1000.0
        candles, signals = [flat, flat, (entry, max(entry, far), min(entry, far), far)], [side, 0, 0]
    n = len(candles)
    o, h, lo, c = (np.array([x[k] for x in candles]) for k in range(4))
    ts = T0 + np.arange(n, dtype=np.int64) * MIN
    sig = np.array(signals, dtype=np.int8)
    P = sim_params(CFG, BTC, "1", 0)
    trades = run_one(P, o, h, lo, c, ts, ATR, sig, sig * 5.0, cfg=CFG, symbol="BTCUSDT").trades
    assert len(trades) == 1
    want = {"end": "end_of_backtest", "open": "opposite_signal", "stop": "stop_loss", "target": "take_profit"}
    assert EXIT_REASONS[int(trades[0][sim.T_REASON])] == want[exit_kind]
    return trades[0]


def paper_fills(side: int, qty: Decimal, entry: float, sl: Decimal, tp: Decimal, exit_ref: float, triggered: bool):
    """The paper broker: a market entry at the tick `entry`, then a market close at `exit_ref`, or the
    stop / target it triggers when the tick reaches that level."""
    paper = PaperExecution(_rules(BTC), CFG.fees, start_balance=Decimal(100_000), leverage=Decimal(10))
    paper.on_tick("BTCUSDT", entry, T0)
    opened = paper.open_position("BTCUSDT", side, qty, sl, tp, "t-open")
    paper.on_tick("BTCUSDT", exit_ref, T0 + MIN)
    if triggered:
        (event,) = paper.poll().exits
        return opened, event.fill
    return opened, paper.close_position("BTCUSDT", qty, "t-close")


def sim_fills(side: int, qty: Decimal, entry: float, sl: Decimal, tp: Decimal, exit_ref: float, triggered: bool):
    """The simulator's matching engine, driven as the replay drives it: a market order with SL/TP at
    the tick `entry`, then a reduce-only market close at `exit_ref`, or the triggered stop / target."""
    inst = sim_instrument("BTCUSDT", None)
    clock = ReplayClock(T0)
    book = Book(level_ticks=1, base_steps=10_000.0, churn_ms=600_000, seed=1)  # a deep book: slippage decides

    def tick_to(price: float, now: int) -> None:
        tick = round(price / inst.tick)
        clock.set(now)
        book.set_price(tick, True, now)
        ex.on_tick(tick, now, False)

    start = round(entry / inst.tick)
    book.set_price(start, True, T0)
    ex = Exchange(inst, Account(CFG.fees, 100_000.0, clock, leverage=10.0), book, start)
    name = {LONG: "Buy", SHORT: "Sell"}
    ex.create_order({"side": name[side], "orderType": "Market", "qty": str(qty), "orderLinkId": "t-open",
                     "stopLoss": str(sl), "takeProfit": str(tp)})
    opened = ex.fills[-1]
    tick_to(exit_ref, T0 + MIN)
    if not triggered:
        ex.create_order({"side": name[-side], "orderType": "Market", "qty": str(qty), "reduceOnly": True,
                         "orderLinkId": "t-close"})
    closed = ex.fills[-1]
    assert closed is not opened and closed.qty == qty
    return opened, closed


CASES = [
    (LONG, 42646.0, "end", 42701.3),
    (SHORT, 42646.0, "end", 42590.7),
    (LONG, 103297.3, "open", 103255.5),
    (SHORT, 65000.5, "open", 65120.0),
    (LONG, 42646.0, "stop", None),
    (SHORT, 42646.0, "stop", None),
    (LONG, 71234.5, "target", None),
    (SHORT, 71234.5, "target", None),
]


@pytest.mark.parametrize("side,entry,exit_kind,exit_price", CASES)
def test_backtest_paper_and_simulator_fill_at_the_same_price(side, entry, exit_kind, exit_price):
    t = backtest_trade(side, entry, exit_kind, exit_price or entry)
    tick, slip, taker = BTC.tick, CFG.fees.slippage_rate, CFG.fees.taker_rate
    sl, tp = BTC.price_decimal(round(t[sim.T_INIT_STOP] / tick)), BTC.price_decimal(round(t[sim.T_TARGET] / tick))
    exit_ref = {"stop": float(sl), "target": float(tp)}.get(exit_kind, exit_price)
    qty = BTC.qty_decimal(round(t[sim.T_QTY] / BTC.step))

    # The rule itself: slipped from the reference, on the tick against the taker (a book no worse than the
    # reference changes nothing).
    want_entry = BTC.price_decimal(taker_fill_ticks(side == LONG, entry, entry, slip, tick))
    want_exit = BTC.price_decimal(taker_fill_ticks(side != LONG, exit_ref, exit_ref, slip, tick))
    assert (want_entry - Decimal(repr(entry))) * side > 0 and (want_exit - Decimal(repr(exit_ref))) * side < 0

    assert Decimal(repr(float(t[sim.T_ENTRY_PRICE]))) == want_entry
    assert Decimal(repr(float(t[sim.T_EXIT_PRICE]))) == want_exit
    assert t[sim.T_FEES] == pytest.approx(float((want_entry + want_exit) * qty) * taker, rel=1e-12)

    triggered = exit_kind in ("stop", "target")
    for name, fills in (("paper", paper_fills), ("simulator", sim_fills)):
        opened, closed = fills(side, qty, entry, sl, tp, exit_ref, triggered)
        assert (opened.price, closed.price) == (want_entry, want_exit), name
        # The fee on the rounded price (kept to 8 decimals, so within 1e-8 of the exact product).
        assert float(opened.fee) == pytest.approx(float(want_entry * qty) * taker, abs=1e-8), name
        assert float(closed.fee) == pytest.approx(float(want_exit * qty) * taker, abs=1e-8), name


def test_no_book_means_slippage_alone_and_a_worse_book_wins():
    tick, slip = 0.1, 0.0001
    up = taker_fill_ticks(True, np.nan, 42646.0, slip, tick)
    assert up == 426503  # 42650.2646 rounds up for a buy
    assert taker_fill_ticks(False, np.nan, 42646.0, slip, tick) == 426417  # 42641.7354 rounds down for a sell
    assert taker_fill_ticks(True, 42640.0, 42646.0, slip, tick) == up  # a better book: slippage still applies
    assert taker_fill_ticks(True, 42655.01, 42646.0, slip, tick) == 426551  # a worse book walk: it wins, rounded up


def _rules(inst):
    """The paper account's instrument rules: `inst` for every symbol."""
    return lambda symbol: inst
