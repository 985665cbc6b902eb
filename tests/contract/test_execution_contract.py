"""One contract every Execution keeps (whale.venue.protocols): the paper Execution and the Bybit
Execution against the simulator pass the same tests — open with a stop, move the stop, close,
reduce-only, positions and equity, several symbols at once, and finding an order by its client id."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.contract.conftest import START_BALANCE, SYMBOLS
from whale.venue.errors import OutcomeUnknownError, RejectedError
from whale.venue.ids import new_link_id
from whale.venue.types import ORDER_FILLED, ORDER_MISSING, Side

BTC, ETH = SYMBOLS


def test_an_entry_goes_out_with_its_stop_and_target(venue):
    ex = venue.execution
    qty, sl, tp = venue.qty(BTC), venue.level(BTC, 0.98), venue.level(BTC, 1.03)
    link = new_link_id("open")
    fill = ex.open_position(BTC, Side.Buy, qty, sl, tp, link)
    assert (fill.symbol, fill.side, fill.qty, fill.link_id) == (BTC, Side.Buy, qty, link)
    assert fill.price > 0 and fill.fee > 0 and abs(fill.price / venue.price(BTC) - 1) < Decimal("0.01")
    pos = ex.position(BTC)
    assert pos is not None and (pos.symbol, pos.side, pos.size) == (BTC, Side.Buy, qty)
    assert (pos.stop_loss, pos.take_profit) == (sl, tp) and pos.entry_price == fill.price
    assert ex.position(ETH) is None


def test_a_stop_moves_and_an_unchanged_one_reports_no_change(venue):
    ex = venue.execution
    ex.open_position(BTC, Side.Sell, venue.qty(BTC), venue.level(BTC, 1.02), None, new_link_id("open"))
    tighter = venue.level(BTC, 1.01)
    assert ex.set_stops(BTC, stop_loss=tighter) is True
    assert ex.position(BTC).stop_loss == tighter
    assert ex.set_stops(BTC, stop_loss=tighter) is False
    target = venue.level(BTC, 0.97)
    ex.set_stops(BTC, take_profit=target)
    assert (ex.position(BTC).stop_loss, ex.position(BTC).take_profit) == (tighter, target)


def test_a_close_is_reduce_only_and_settles_the_equity(venue):
    ex = venue.execution
    before = ex.equity()
    qty = venue.qty(ETH)
    opened = ex.open_position(ETH, Side.Buy, qty, venue.level(ETH, 0.97), None, new_link_id("open"))
    half = venue.instrument(ETH).qty_decimal(round(float(qty) / 2 / venue.instrument(ETH).step))
    part = ex.close_position(ETH, half, new_link_id("close"))
    assert (part.side, part.qty, part.symbol) == (Side.Sell, half, ETH)
    assert ex.position(ETH).size == qty - half
    rest = ex.close_position(ETH, qty * 10, new_link_id("close"))  # more than held: only what is held
    assert rest.qty == qty - half and ex.position(ETH) is None and ex.positions(ETH) == []
    with pytest.raises(RejectedError):
        ex.close_position(ETH, qty, new_link_id("close"))  # flat: nothing to reduce, never a new position
    assert ex.position(ETH) is None
    pnl = sum(((f.price - opened.price) * f.qty for f in (part, rest)), Decimal(0))
    fees = opened.fee + part.fee + rest.fee
    assert abs(ex.equity() - (before + pnl - fees)) < Decimal("0.01")


def test_positions_and_equity_cover_every_symbol_of_the_account(venue):
    ex = venue.execution
    assert ex.positions() == [] and abs(ex.equity() - START_BALANCE) < Decimal("0.01")
    b = ex.open_position(BTC, Side.Buy, venue.qty(BTC), venue.level(BTC, 0.98), None, new_link_id("open"))
    e = ex.open_position(ETH, Side.Sell, venue.qty(ETH), venue.level(ETH, 1.02), None, new_link_id("open"))
    held = {p.symbol: p for p in ex.positions()}
    assert set(held) == {BTC, ETH} and held[BTC].side == Side.Buy and held[ETH].side == Side.Sell
    assert [p.symbol for p in ex.positions(ETH)] == [ETH]
    # Equity is the one wallet: the fees of both entries came off it, the open positions' PnL is in it.
    assert START_BALANCE - b.fee - e.fee - Decimal(5) < ex.equity() < START_BALANCE
    ex.close_position(BTC, b.qty, new_link_id("close"))
    assert [p.symbol for p in ex.positions()] == [ETH]  # the other symbol is untouched
    assert ex.position(ETH).size == e.qty


def test_an_order_is_found_by_its_client_id(venue):
    ex = venue.execution
    link = new_link_id("open")
    fill = ex.open_position(BTC, Side.Buy, venue.qty(BTC), venue.level(BTC, 0.98), None, link)
    found = ex.lookup_order(BTC, link, Side.Buy)
    assert found.state == ORDER_FILLED and found.fill is not None
    assert (found.fill.qty, found.fill.price, found.fill.link_id) == (fill.qty, fill.price, link)
    missing = ex.lookup_order(BTC, new_link_id("never"), Side.Buy)
    assert missing.state == ORDER_MISSING and missing.fill is None


def test_the_per_symbol_view_is_the_execution_bound_to_its_symbol(venue):
    view = venue.execution.for_symbol(ETH)
    assert view.instrument.symbol == ETH
    fill = view.open_position(-1, venue.qty(ETH), venue.level(ETH, 1.02), None, new_link_id("open"))
    assert fill.symbol == ETH and view.position().side == Side.Sell and view.positions()[0].symbol == ETH
    assert venue.execution.position(BTC) is None
    view.set_stops(stop_loss=venue.level(ETH, 1.01))
    assert view.close_position(fill.qty, new_link_id("close")).qty == fill.qty and view.position() is None


def test_cancel_all_leaves_no_resting_order_and_keeps_the_positions(venue):
    ex = venue.execution
    ex.open_position(BTC, Side.Buy, venue.qty(BTC), venue.level(BTC, 0.98), venue.level(BTC, 1.05),
                     new_link_id("open"))
    ex.cancel_all()
    assert ex.open_orders() == [] and ex.position(BTC) is not None


def test_an_order_whose_answer_is_lost_is_resolved_by_its_client_id_never_sent_twice(lossy_venue):
    ex = lossy_venue.execution
    link = new_link_id("open")
    try:
        fill = ex.open_position(BTC, Side.Buy, lossy_venue.qty(BTC), lossy_venue.level(BTC, 0.98), None, link)
    except OutcomeUnknownError as exc:  # the look-up could not settle it in time: it is the caller's to look up
        assert exc.link_id == link
        fill = None
    found = ex.lookup_order(BTC, link, Side.Buy)
    assert found.state == ORDER_FILLED and found.fill is not None and found.fill.qty == lossy_venue.qty(BTC)
    assert fill is None or fill.price == found.fill.price
    assert len({f.order_id for f in lossy_venue.executions(link)}) == 1  # one order executed under the id
    assert ex.position(BTC).size == lossy_venue.qty(BTC)
