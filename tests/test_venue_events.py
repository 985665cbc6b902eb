"""Execution.events: what poll() would take, left in place. The loop looks at it on every pass and
polls only when it holds something, so it must be exactly what poll() returns, on the paper account
and on Bybit's private-stream path."""

from __future__ import annotations

import logging
from decimal import Decimal

from whale.bybit.execution import BybitExecution
from whale.config.model import Config
from whale.market.instruments import KNOWN
from whale.venue.paper import PaperExecution

T0 = 1_748_000_040_000


def test_paper_events_are_what_poll_takes():
    paper = PaperExecution(lambda s: KNOWN["BTCUSDT"], Config().fees, start_balance=Decimal(100_000),
                           leverage=Decimal(10))
    paper.on_tick("BTCUSDT", 60_000.0, T0)
    paper.open_position("BTCUSDT", 1, Decimal("0.010"), Decimal("59000"), Decimal("62000"), "t-open")
    paper.on_tick("BTCUSDT", 60_500.0, T0 + 1000)
    assert not paper.events and not paper.poll()  # nothing happened: nothing to take
    paper.on_tick("BTCUSDT", 58_900.0, T0 + 2000)  # the stop triggers
    seen = paper.events
    assert seen and len(seen.exits) == 1
    assert paper.poll() is seen  # the same events, taken
    assert not paper.events and not paper.poll()


def test_bybit_events_are_what_poll_takes():
    bybit = BybitExecution(None, log=logging.getLogger("t"), sleep=lambda s: None)  # type: ignore[arg-type]
    assert not bybit.events  # no REST call is made on this path
    bybit.handle_private("position", [{"symbol": "BTCUSDT"}])
    seen = bybit.events
    assert seen.position_changed == {"BTCUSDT"}
    assert bybit.poll() is seen and not bybit.events
