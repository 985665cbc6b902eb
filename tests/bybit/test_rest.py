"""BybitRest against the simulator: every method, the error taxonomy, rate limits, the clock, and
orders whose answer is lost (never sent twice)."""

import time
from decimal import Decimal

import numpy as np
import pytest
from bybit_helpers import KEY, SECRET, SYM, SilentServer, closed_port, wait_for

from whale.bybit.errors import AuthError, OrderNotPlacedError, RateLimitedError, RejectedError, UnreachableError
from whale.bybit.models import Execution, PositionInfo, WalletInfo
from whale.bybit.rest import new_link_id
from whale.market.book import BookSnapshot
from whale.market.instruments import Instrument
from whale.sim import SimConfig, Simulator
from whale.sim.clock import SkewedWallClock

pytestmark = pytest.mark.net

D = Decimal


def test_market_data_methods(make_sim, make_rest, candles):
    sim = make_sim(history_candles=2500)
    rest = make_rest(sim)
    assert abs(rest.sync_time()) < 1000
    inst = rest.instrument(SYM)
    assert isinstance(inst, Instrument) and inst.tick_size == D("0.10") and inst.qty_step == D("0.001")
    assert inst.max_mkt_order_qty == D("500.000") and inst.min_notional == D("5")
    calls = rest.calls
    assert rest.instrument(SYM) is inst and rest.calls == calls  # cached
    closed, forming = rest.klines(SYM, "1", limit=5)
    assert closed.ts.tolist() == candles.ts[2495:2500].tolist() and forming is None
    assert np.allclose(closed.close, candles.close[2495:2500])
    hist = rest.history(SYM, "1", 2300)  # three pages, backwards
    assert len(hist) == 2300 and hist.ts.tolist() == candles.ts[200:2500].tolist()
    assert np.allclose(hist.high, candles.high[200:2500]) and np.all(np.diff(hist.ts) == 60_000)
    seen = []
    part = rest.history(SYM, "1", 50, end_ms=int(candles.ts[100]), progress=lambda n, t: seen.append((n, t)))
    assert part.ts.tolist() == candles.ts[51:101].tolist() and seen[-1] == (50, 50)
    rng = rest.history(SYM, "1", None, start_ms=int(candles.ts[10]), end_ms=int(candles.ts[1500]))
    assert rng.ts.tolist() == candles.ts[10:1501].tolist()
    t = rest.ticker(SYM)
    assert t["symbol"] == SYM and rest.last_price(SYM) == D(t["lastPrice"]) == D(f"{candles.close[2499]:.2f}")
    book = rest.orderbook(SYM, 50)
    assert isinstance(book, BookSnapshot) and len(book.bid_px) == 50 and book.best_bid < book.best_ask
    own = sim.orderbook(50)
    assert book.bid_px.tolist() == [float(p) for p, _ in own["b"]]
    with pytest.raises(ValueError):
        rest.klines(SYM, "2")


def test_the_forming_candle_is_kept_apart(make_sim, make_rest, candles):
    sim = make_sim(speed=1)  # lockstep at real time: a candle takes a minute once permitted
    rest = make_rest(sim)
    closed5, forming5 = rest.klines(SYM, "5", limit=3)  # between candles the 5m candle may be forming
    sim.advance(1)
    wait_for(lambda: sim.replay_time_ms >= int(candles.ts[1000]), timeout=5)
    closed, forming = rest.klines(SYM, "1", limit=3)  # 3 rows: the forming one and 2 closed
    assert forming is not None and forming[0] == candles.ts[1000]
    assert closed.ts.tolist() == candles.ts[998:1000].tolist()
    hist = rest.history(SYM, "1", 10)
    assert hist.ts[-1] == candles.ts[999]  # closed candles only
    if forming5 is not None:
        assert forming5[0] > closed5.ts[-1]


def test_account_and_order_methods(sim, rest, candles):
    assert rest.set_leverage(SYM, 5) is True
    assert rest.set_leverage(SYM, D("5")) is False  # 110043: already 5
    assert rest.positions(SYM)[0].size == 0 and rest.positions(SYM)[0].side is None
    w = rest.wallet()
    assert isinstance(w, WalletInfo) and w.total_equity == D("10000") and w.coins["USDT"] == D("10000")
    link = new_link_id("entry")
    price = D(f"{candles.close[999]:.1f}")
    res = rest.place_order(SYM, "Buy", D("0.010"), link_id=link, stop_loss=(price * D("0.98")).quantize(D("0.1")),
                           take_profit=(price * D("1.05")).quantize(D("0.1")))
    assert res.link_id == link and res.order_id and not res.resolved_by_query
    order = rest.get_order(SYM, link_id=link)
    assert order["orderStatus"] == "Filled" and rest.get_order(SYM, order_id=res.order_id)["orderLinkId"] == link
    assert rest.get_order(SYM, link_id="wb-none") is None
    pos = rest.positions(SYM)
    assert len(pos) == 1 and isinstance(pos[0], PositionInfo)
    p = pos[0]
    assert p.side == "Buy" and p.size == D("0.010") and p.avg_price > 0 and p.leverage == D("5")
    assert p.stop_loss == (price * D("0.98")).quantize(D("0.1")) and p.trailing_stop is None
    sl = (price * D("0.99")).quantize(D("0.1"))
    assert rest.set_trading_stop(SYM, stop_loss=sl) is True
    assert rest.set_trading_stop(SYM, stop_loss=sl) is False  # 34040 not modified
    assert rest.set_trading_stop(SYM, trailing_stop=D("50"), active_price=(price * D("1.01")).quantize(D("0.1")))
    assert rest.positions(SYM)[0].trailing_stop == D("50")
    assert rest.set_trading_stop(SYM, take_profit="0")  # "0" clears
    assert rest.positions(SYM)[0].take_profit is None
    with pytest.raises(ValueError):
        rest.set_trading_stop(SYM)
    # a resting limit order: open, cancelled by link id, then "already final"
    limit_link = new_link_id("limit")
    low = (price * D("0.9")).quantize(D("0.1"))
    rest.place_order(SYM, "Buy", D("0.005"), order_type="Limit", price=low, link_id=limit_link)
    assert any(o["orderLinkId"] == limit_link for o in rest.open_orders(SYM))
    assert rest.cancel_order(SYM, link_id=limit_link) is True
    assert rest.cancel_order(SYM, link_id=limit_link) is False  # 110001: already final
    assert not any(o["orderLinkId"] == limit_link for o in rest.open_orders(SYM))
    cancelled = rest.cancel_all(SYM)  # the stop-loss and trailing-stop orders
    assert cancelled and all("orderId" in c for c in cancelled)
    rest.place_order(SYM, "Sell", D("0.010"), reduce_only=True, link_id=new_link_id("exit"))
    assert rest.positions(SYM)[0].size == 0
    execs = rest.executions(SYM)
    assert len(execs) == 2 and all(isinstance(e, Execution) for e in execs)
    assert execs[0].exec_time <= execs[1].exec_time and execs[0].link_id == link and execs[0].side == "Buy"
    assert execs[1].closed_size == D("0.010") and execs[0].fee > 0 and not execs[0].is_maker
    assert [e.exec_id for e in rest.executions(SYM, link_id=link)] == [execs[0].exec_id]
    assert len(rest.executions(SYM, start_ms=int(candles.ts[990]))) == 2
    pnl = rest.closed_pnl(SYM)
    assert len(pnl) == 1 and pnl[0].closed_size == D("0.010") and pnl[0].avg_entry_price > 0
    assert isinstance(pnl[0].closed_pnl, D) and pnl[0].closed_pnl < 0  # fees and slippage on a flat market


def test_rejections_are_definitive(rest):
    with pytest.raises(RejectedError) as info:
        rest.place_order(SYM, "Buy", D("0.0001"), link_id=new_link_id("tiny"))
    assert info.value.code == 10001 and info.value.endpoint == "/v5/order/create"
    with pytest.raises(RejectedError) as info:
        rest.place_order(SYM, "Buy", D("400"), link_id=new_link_id("huge"))
    assert info.value.code == 110007
    with pytest.raises(RejectedError) as info:
        rest.place_order(SYM, "Sell", D("0.01"), reduce_only=True, link_id=new_link_id("ro"))
    assert info.value.code == 110017
    with pytest.raises(TypeError):
        rest.place_order(SYM, "Buy", 0.01, link_id=new_link_id("float"))  # floats never reach Bybit
    with pytest.raises(ValueError):
        rest.place_order(SYM, "Buy", D("0.01"), link_id="x" * 40)


def test_auth_errors(sim, make_rest, capture_logs):
    with pytest.raises(AuthError) as info:
        make_rest(sim, key="WRONG-KEY-0123456789").positions(SYM)
    assert info.value.code == 10003 and "network" in str(info.value) and info.value.exit_code == 2
    wrong_secret = "WRONG-SECRET-0123456789"
    with pytest.raises(AuthError) as info:
        make_rest(sim, secret=wrong_secret).wallet()
    assert info.value.code == 10004 and KEY not in str(info.value)  # Bybit echoes the signed string
    with pytest.raises(AuthError, match="BYBIT_API_KEY"):
        make_rest(sim, key=None, secret=None).positions(SYM)
    assert make_rest(sim, key=None, secret=None).last_price(SYM) > 0  # public data needs no keys
    logs = capture_logs.text()
    assert KEY not in logs and SECRET not in logs and wrong_secret not in logs


def test_the_clock_offset_is_measured_and_used(candles, make_rest):
    for skew in (8000, -3000):  # Bybit's clock 8 s ahead of ours / 3 s behind
        with Simulator(SimConfig(data=candles, speed=0, lockstep=True, enforce_rate_limits=False),
                       wall_clock=SkewedWallClock(skew)) as sim:
            rest = make_rest(sim)
            assert rest.positions(SYM)  # synced on the first signed call
            assert abs(rest.offset_ms - skew) < 500
            rest.offset_ms = 0  # pretend the offset went stale: 10002, measured again, then fine
            assert rest.wallet().total_equity > 0 and abs(rest.offset_ms - skew) < 500
            rest.close()


def test_10006_storm_waits_for_the_reset_and_succeeds(sim, rest, capture_logs):
    sim.faults.set_rate_limit("position/list", 2, 1.0)
    rest.positions(SYM)  # sync and warm up
    t0 = time.monotonic()
    for _ in range(6):
        assert rest.positions(SYM)[0].symbol == SYM
    elapsed = time.monotonic() - t0
    assert 1.0 < elapsed < 8.0
    assert "rate limit (retCode 10006)" in capture_logs.text()


def test_10006_that_never_ends_is_a_bounded_rate_limited_error(sim, make_rest):
    rest = make_rest(sim, max_rate_limit_retries=2, max_rate_limit_wait_s=0.2)
    rest.wallet()
    sim.faults.set_rate_limit("account/wallet-balance", 1, 60.0)  # the call above used it up
    t0 = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        rest.wallet()
    assert info.value.code == 10006 and time.monotonic() - t0 < 2.0


def test_ip_ban_pauses_everything(sim, rest):
    rest.last_price(SYM)
    sim.faults.ip_ban(1.0)
    with pytest.raises(RateLimitedError, match="403"):
        rest.last_price(SYM)
    calls = rest.calls
    with pytest.raises(RateLimitedError, match="paused"):
        rest.last_price(SYM)  # refused locally: Bybit asks for 10 minutes of silence
    assert rest.calls == calls


def _lost_answer(make_sim, make_rest, kind, when):
    """A client and a simulator whose next order/create times out or answers 5xx, before or after
    executing it (the simulator holds a timed-out request 2 s; the client waits 1 s)."""
    sim = make_sim(faults="timeout_seconds=2")
    rest = make_rest(sim, timeout=1.0, recv_window=2000)
    sim.faults.fail_next_order(kind, when)
    return sim, rest, new_link_id("entry")


@pytest.mark.parametrize("kind", ["timeout", "5xx"])
def test_order_executed_but_answer_lost_is_found_not_resent(make_sim, make_rest, kind):
    sim, rest, link = _lost_answer(make_sim, make_rest, kind, "after")
    res = rest.place_order(SYM, "Buy", D("0.010"), link_id=link)
    assert res.resolved_by_query and res.link_id == link and res.status == "Filled" and res.order["qty"] == "0.010"
    assert rest.positions(SYM)[0].size == D("0.010")  # one order, not two
    assert len(rest.executions(SYM, link_id=link)) == 1
    assert sim.faults.order_calls == 1  # order/create was sent once


@pytest.mark.parametrize("kind", ["timeout", "5xx"])
def test_order_lost_before_executing_is_reported_not_placed(make_sim, make_rest, kind):
    sim, rest, link = _lost_answer(make_sim, make_rest, kind, "before")
    t0 = time.monotonic()
    with pytest.raises(OrderNotPlacedError) as info:
        rest.place_order(SYM, "Buy", D("0.010"), link_id=link)
    assert info.value.link_id == link and time.monotonic() - t0 < 8.0
    assert rest.get_order(SYM, link_id=link) is None and rest.positions(SYM)[0].size == 0
    calls_before = sim.faults.order_calls
    assert calls_before == 1  # it was sent once, never again
    # placing it again needs a new link id, and works
    assert not rest.place_order(SYM, "Buy", D("0.010"), link_id=new_link_id("entry")).resolved_by_query


def test_duplicate_link_id_is_looked_up(rest):
    link = new_link_id("dup")
    first = rest.place_order(SYM, "Buy", D("0.010"), link_id=link)
    again = rest.place_order(SYM, "Buy", D("0.010"), link_id=link)  # 110072: the earlier order is returned
    assert again.resolved_by_query and again.order_id == first.order_id
    assert rest.positions(SYM)[0].size == D("0.010")
    with pytest.raises(RejectedError) as info:
        rest.place_order(SYM, "Sell", D("0.020"), link_id=link)  # the id belongs to another order
    assert info.value.code == 110072


def test_unreachable_hosts_are_named(make_rest):
    with closed_port() as port:
        rest = make_rest(f"http://127.0.0.1:{port}", timeout=0.5, transient_retries=1)
        t0 = time.monotonic()
        with pytest.raises(UnreachableError) as info:
            rest.last_price(SYM)
    assert f"127.0.0.1:{port}" in str(info.value) and "refused" in str(info.value)
    assert time.monotonic() - t0 < 3
    with SilentServer() as silent:
        rest = make_rest(silent.url, timeout=0.5, transient_retries=0)
        t0 = time.monotonic()
        with pytest.raises(UnreachableError) as info:
            rest.last_price(SYM)
        assert f"127.0.0.1:{silent.port}" in str(info.value) and time.monotonic() - t0 < 3
        rest.close()
