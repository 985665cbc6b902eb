"""Fills and closed-PnL records in the same millisecond come back in the exchange's order, never in
the order of their ids: Bybit's ids (and the simulator's) are random UUIDs, so an id says nothing
about which came first."""

from decimal import Decimal

import pytest
from bybit_helpers import SYM

from whale.bybit.rest import new_link_id

pytestmark = pytest.mark.net
D = Decimal


def test_same_millisecond_fills_keep_the_exchanges_order(sim, make_rest):
    rest = make_rest(sim)
    links = []
    for i in range(8):  # lockstep between candles: every fill has the same replay time
        side = "Buy" if i % 2 == 0 else "Sell"
        links.append(new_link_id("ord"))
        rest.place_order(SYM, side, D("0.010"), link_id=links[-1], reduce_only=side == "Sell")
    execs = rest.executions(SYM)
    assert len({e.exec_time for e in execs}) == 1
    assert [e.link_id for e in execs] == links  # oldest first, as placed
    pnl = rest.closed_pnl(SYM)
    assert len(pnl) == 4 and len({c.updated_ms for c in pnl}) == 1
    closing = [e.order_id for e in execs if e.side == "Sell"]
    assert [c.order_id for c in pnl] == closing
