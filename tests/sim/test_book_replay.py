"""`sim --book`: the simulator serving a book recording, through pybit (REST) and websocket-client.

Two recordings: a small hand-written one whose every number is known (the fill rule's latency, a
stop triggered by a print and filled on the book as it stood then, a book too thin), and a
generated day-like one of two symbols (bench/book_stream.py: orderbook.200 every 100 ms with ~30
level changes a message, trade bursts, tickers) for the book state, the fills on a real-shaped
book and the candles.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sim_helpers import WsClient

from bench.book_stream import StreamModel, messages
from tests.paths import REPO_ROOT
from whale.book_fills import book_fill_ticks
from whale.errors import BadInputError
from whale.market.intervals import MINUTE_MS
from whale.market.trade_candles import trade_candles
from whale.recording.reader import BookEvent, RecordingReader, recorded_prints
from whale.recording.writer import RecordingWriter, TradePrint
from whale.sim import SimConfig, Simulator

pytestmark = pytest.mark.net

BTC, ETH = "BTCUSDT", "ETHUSDT"
M0 = 1_748_736_000_000  # 2025-06-01 00:00 UTC
M1, M2 = M0 + MINUTE_MS, M0 + 2 * MINUTE_MS


def result(resp: dict) -> dict:
    assert resp["retCode"] == 0, resp
    return resp["result"]


# ---------------------------------------------------------------------------------------------
# A recording whose every number is known


def _book(w: RecordingWriter, snapshot: bool, ts: int, bids, asks, u: int) -> None:
    w.book(snapshot, ts, ts * 1000 + 20_000, [(str(p), str(s)) for p, s in bids], [(str(p), str(s)) for p, s in asks],
           u=u, seq=5000 + u, cts=ts - 1)


def _trade(w: RecordingWriter, ts: int, side: int, price: str, size: str) -> None:
    w.trades(ts, ts * 1000 + 20_000, [TradePrint(ts, side, price, size)])


def write_known(root: Path) -> None:
    w = RecordingWriter(root, BTC, depth=200, price_unit="0.1", size_unit="0.001")
    _book(w, True, M0, [(100.0, 1), (99.9, 2), (99.0, 10)], [(100.1, 1), (100.2, 2), (100.5, 10)], 10)
    _trade(w, M0 + 500, 1, "100.1", "0.5")
    w.ticker_update("s", M0 + 1000, (M0 + 1000) * 1000, {"lastPrice": "100.1", "markPrice": "100.1",
                                                       "fundingRate": "0.0001", "bid1Price": "100.0"}, 7)
    _trade(w, M0 + 30_000, -1, "100.0", "0.2")
    _book(w, False, M1 + 50, [], [(100.1, 0), (100.3, 3)], 11)  # inside the latency after a pause at M1 - 1
    _trade(w, M1 + 1000, 1, "100.2", "0.1")
    _book(w, False, M1 + 19_000, [(100.0, 0), (99.9, 0), (99.8, 1)], [], 12)
    _trade(w, M1 + 20_000, -1, "99.8", "0.1")  # above the stop: no trigger
    _book(w, False, M1 + 30_000, [(99.8, 0), (99.6, 0.4), (99.5, 5)], [], 13)
    _trade(w, M1 + 30_010, -1, "99.6", "0.3")  # through the stop at 99.7
    _book(w, False, M1 + 30_050, [(99.5, 0)], [], 14)  # after the trigger: not the stop's book
    _trade(w, M2 + 10, 1, "99.7", "0.1")
    _book(w, False, M2 + 500, [(99.5, 2)], [], 15)
    w.close()


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("known")
    write_known(root)
    return root


@pytest.mark.parametrize("latency,price", [(100, "100.20"), (0, "100.10")])
def test_a_market_order_takes_the_book_as_it_stands_a_latency_later(make_sim, make_http, known, latency, price):
    sim = make_sim(data=None, book=known, latency_ms=latency)
    http = make_http(sim)
    assert sim.step(1)
    assert sim.replay_time_ms == M1 - 1
    result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="1",
                            orderLinkId=f"buy-{latency}"))
    ex = result(http.get_executions(category="linear", symbol=BTC, orderLinkId=f"buy-{latency}"))["list"]
    assert [(e["execPrice"], e["execQty"], e["execType"]) for e in ex] == [(price, "1.000", "Trade")]


def test_a_stop_triggers_on_a_recorded_print_and_takes_the_book_of_that_moment(make_sim, make_http, known):
    sim = make_sim(data=None, book=known)
    http = make_http(sim)
    assert sim.step(1)
    result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="1",
                            orderLinkId="entry"))
    result(http.set_trading_stop(category="linear", symbol=BTC, stopLoss="99.7", positionIdx=0))
    assert sim.step(1)
    ex = result(http.get_executions(category="linear", symbol=BTC))["list"]
    stop = [e for e in ex if e["stopOrderType"] == "StopLoss"]
    # bids at the print (M1 + 30010): 99.6 x 0.4, 99.5 x 5 -> 99.54, rounded down for a sell; the
    # 99.5 level is gone 40 ms later, which a latency would have walked past (99.24)
    assert [(e["execPrice"], e["execQty"], int(e["execTime"])) for e in stop] == [("99.50", "1.000", M1 + 30_010)]
    pos = result(http.get_positions(category="linear", symbol=BTC))["list"][0]
    assert Decimal(pos["size"]) == 0


def test_a_book_too_thin_fills_the_rest_at_its_last_level_and_is_counted(make_sim, make_http, known):
    sim = make_sim(data=None, book=known)
    http = make_http(sim)
    assert sim.step(2)
    result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="20",
                            orderLinkId="big"))
    ex = result(http.get_executions(category="linear", symbol=BTC, orderLinkId="big"))["list"]
    # asks 100.2 x 2, 100.3 x 3, 100.5 x 10: the 5 beyond them at 100.5 -> 100.44, rounded up
    assert [e["execPrice"] for e in ex] == ["100.50"]
    assert sim.core.listing(BTC).exchange.beyond_book == 1


def test_candles_are_built_from_the_recorded_trades(make_sim, make_http, known):
    sim = make_sim(data=None, book=known)
    http = make_http(sim)
    with WsClient(sim.public_ws_url) as ws:
        ws.send({"op": "subscribe", "args": [f"kline.1.{BTC}"]})
        ws.recv()
        assert sim.step(2)
        closed = [m["data"][0] for m in ws.drain() if m["data"][0]["confirm"]]
    rows = [(k["start"], k["open"], k["high"], k["low"], k["close"], k["volume"]) for k in closed]
    assert rows == [(M0, "100.10", "100.10", "100.00", "100.00", "0.700"),
                    (M1, "100.20", "100.20", "99.60", "99.60", "0.500")]
    rest = result(http.get_kline(category="linear", symbol=BTC, interval="1"))["list"]
    assert [r[:6] for r in rest[-2:]] == [[str(M1), "100.20", "100.20", "99.60", "99.60", "0.500"],
                                          [str(M0), "100.10", "100.10", "100.00", "100.00", "0.700"]]
    assert rest[-1][6] == f"{100.1 * 0.5 + 100.0 * 0.2:.4f}"  # turnover: price x size of the prints


def test_tickers_as_recorded_with_the_best_prices_from_the_book(make_sim, known):
    sim = make_sim(data=None, book=known)
    with WsClient(sim.public_ws_url) as ws:
        ws.send({"op": "subscribe", "args": [f"tickers.{BTC}"]})
        ws.recv()
        assert sim.step(2)
        msgs = ws.drain()
    merged: dict = {}
    for m in msgs:
        merged = dict(m["data"]) if m["type"] == "snapshot" else {**merged, **m["data"]}
    assert merged["lastPrice"] == "100.1" and merged["fundingRate"] == "0.0001"  # as recorded
    assert (merged["bid1Price"], merged["bid1Size"]) == ("99.60", "0.400")  # the book at the end of minute 1
    assert (merged["ask1Price"], merged["ask1Size"]) == ("100.20", "2.000")


def test_with_a_step_gate_each_recorded_event_is_its_own_step(make_sim, known):
    """The demo's handshake: the replay waits for the client after every recorded event."""
    sim = make_sim(data=None, book=known)
    seen: list[int] = []
    sim.set_step_gate(lambda: seen.append(sim.core.replay.events_played) or True)
    assert sim.step(3)
    total = sum(1 for _ in RecordingReader(known).events())
    assert sim.core.replay.events_played == total
    assert sorted(set(seen)) == list(range(total + 1))


# ---------------------------------------------------------------------------------------------
# A generated day-like recording of two symbols

MINUTES = 5


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("day")
    for model in (StreamModel(seed=1), StreamModel(seed=2, symbol=ETH, price=1800.0, tick=0.01, step=0.01)):
        w = RecordingWriter(root, model.symbol, depth=model.depth, price_unit=str(model.tick),
                            size_unit=str(model.step))
        for msg, recv in messages(model, MINUTES / 60):
            w.write_message(msg, recv)
        w.close()
    return root


def book_at(root: Path, symbol: str, until: int) -> tuple[dict[float, float], dict[float, float]]:
    """The recorded book of `symbol` after every event up to `until` on the recording's clock, read
    straight from the files."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    key = 0
    for ev in RecordingReader(root, [symbol]).events():
        key = max(key, ev.ts)
        if key > until:
            break
        if isinstance(ev, BookEvent):
            if ev.snapshot:
                bids, asks = {}, {}
            for side, levels in ((bids, ev.bids), (asks, ev.asks)):
                for p, s in levels:
                    if s > 0:
                        side[p] = s
                    else:
                        side.pop(p, None)
    return bids, asks


def test_the_books_served_are_the_recorded_ones(make_sim, day):
    sim = make_sim(data=None, book=day)
    assert sim.symbols == [BTC, ETH]
    topics = [f"orderbook.{d}.{s}" for s in (BTC, ETH) for d in (200, 50, 1)]
    books: dict[str, tuple[dict, dict]] = {}
    last_u: dict[str, int] = {}
    with WsClient(sim.public_ws_url) as ws:
        ws.send({"op": "subscribe", "args": topics})
        assert ws.recv()["success"]
        for _ in range(3):
            assert sim.step(1)
            for m in ws.drain():
                topic, data = m["topic"], m["data"]
                if m["type"] == "snapshot":
                    books[topic] = ({}, {})
                else:
                    assert data["u"] == last_u[topic] + 1, f"{topic}: u {data['u']} after {last_u[topic]}"
                last_u[topic] = data["u"]
                for side, levels in zip(books[topic], (data["b"], data["a"]), strict=True):
                    for p, s in levels:
                        if float(s) > 0:
                            side[float(p)] = float(s)
                        else:
                            side.pop(float(p), None)
            now = sim.replay_time_ms
            for sym in (BTC, ETH):
                bids, asks = book_at(day, sym, now)
                for depth in (200, 50, 1):
                    got_b, got_a = books[f"orderbook.{depth}.{sym}"]
                    assert got_b == dict(sorted(bids.items(), reverse=True)[:depth]), (sym, depth, now)
                    assert got_a == dict(sorted(asks.items())[:depth]), (sym, depth, now)
                own = sim.orderbook(200, sym)
                assert [[float(p), float(s)] for p, s in own["b"]] == [list(x) for x in sorted(bids.items(),
                                                                                              reverse=True)]


def test_market_orders_fill_as_the_rule_walks_the_recorded_book(make_sim, make_http, day):
    sim = make_sim(data=None, book=day, start_balance=5_000_000)
    http = make_http(sim)
    assert sim.step(2)
    now = sim.replay_time_ms
    orders = [(BTC, "Buy", "7.5", 0.1), (ETH, "Sell", "250", 0.01)]
    for sym, side, qty, _ in orders:
        result(http.place_order(category="linear", symbol=sym, side=side, orderType="Market", qty=qty,
                                orderLinkId=f"o-{sym}"))
    for sym, side, qty, tick in orders:
        bids, asks = book_at(day, sym, now + 100)
        levels = sorted(asks.items()) if side == "Buy" else sorted(bids.items(), reverse=True)
        prices, sizes = (np.array([x[k] for x in levels]) for k in (0, 1))
        ticks, beyond = book_fill_ticks(side == "Buy", prices, sizes, float(qty), tick)
        assert beyond == 0.0 and ticks > 0
        ex = result(http.get_executions(category="linear", symbol=sym, orderLinkId=f"o-{sym}"))["list"]
        assert len(ex) == 1 and Decimal(ex[0]["execPrice"]) == Decimal(ticks) * Decimal(str(tick)), (sym, ex[0])
        best = levels[0][0]
        assert abs(float(ex[0]["execPrice"]) - best) > tick  # it walked past the best level


def test_history_before_from_is_served_as_candles_built_from_the_trades(make_sim, make_http, day):
    start = M0 + 2 * MINUTE_MS + 30_000  # inside minute 2: the replay starts at that minute
    sim = make_sim(data=None, book=day, book_from_ms=start)
    http = make_http(sim)
    assert sim.timeline[sim.replay_start_index] == M0 + 2 * MINUTE_MS
    p = recorded_prints(RecordingReader(day, [ETH]))[ETH]
    built = trade_candles(p.ts, p.price, p.size).candles
    rows = result(http.get_kline(category="linear", symbol=ETH, interval="1"))["list"]
    assert [int(r[0]) for r in rows] == [M0 + MINUTE_MS, M0]
    assert [float(r[4]) for r in rows] == [built.close[1], built.close[0]]
    assert [float(r[5]) for r in rows] == pytest.approx([built.volume[1], built.volume[0]])
    assert sim.step(1)
    rows = result(http.get_kline(category="linear", symbol=ETH, interval="1", limit=1))["list"]
    assert int(rows[0][0]) == M0 + 2 * MINUTE_MS and float(rows[0][2]) == built.high[2]
    # the book at the start is the recorded one as it stood then
    bids, _ = book_at(day, ETH, sim.replay_time_ms)
    assert float(sim.orderbook(1, ETH)["b"][0][0]) == max(bids)


def test_a_lockstep_replay_plays_every_event_once(make_sim, day):
    sim = make_sim(data=None, book=day)
    assert sim.step(MINUTES + 1)
    assert sim.finished
    total = sum(1 for _ in RecordingReader(day).events())
    assert sim.core.replay.events_played == total


# ---------------------------------------------------------------------------------------------
# Bad input and the command


def test_bad_input_names_what_is_wrong(tmp_path, known):
    with pytest.raises(BadInputError, match="no recording files"):
        Simulator(SimConfig(book=tmp_path, port=0))
    with pytest.raises(BadInputError, match="no recording of ETHUSDT"):
        Simulator(SimConfig(book=known, book_symbols=("ETHUSDT",), port=0))
    with pytest.raises(BadInputError, match="ends at"):
        Simulator(SimConfig(book=known, book_from_ms=M0 + 86_400_000, port=0))
    with pytest.raises(BadInputError, match="not both"):
        Simulator(SimConfig(book=known, data=str(REPO_ROOT / "data" / "BTCUSDT-PERP_1m.csv.gz"), port=0))
    with pytest.raises(BadInputError, match="stream-rate"):
        Simulator(SimConfig(book=known, stream_rates="bybit", port=0))


def test_walls_are_not_scripted_on_a_recorded_book(make_sim, known):
    sim = make_sim(data=None, book=known)
    with pytest.raises(Exception, match="recorded book"):
        sim.walls.add(100.0, 5)


def test_the_command_serves_a_recording(known, tmp_path):
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "whalebot.py"), "sim", "--book", str(known), "--port",
                             "0", "--speed", "max", "--symbols", BTC], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("SIM READY rest=http://127.0.0.1:")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "serving BTCUSDT" in err
    bad = subprocess.run([sys.executable, str(REPO_ROOT / "whalebot.py"), "sim", "--book", str(tmp_path / "none"),
                          "--port", "0"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "no such directory" in bad.stderr and bad.stdout == ""


def test_a_tardis_import_is_served_with_tickers_from_its_trades_and_book(make_sim, make_http, tmp_path):
    """No u, seq, cts or tickers in it, and a book three levels deep."""
    from whale.recording.tardis import import_tardis

    fixtures = REPO_ROOT / "tests" / "fixtures" / "tardis"
    import_tardis(fixtures / "bybit_incremental_book_L2_2024-06-01_BTCUSDT.csv",
                  fixtures / "bybit_trades_2024-06-01_BTCUSDT.csv.gz", tmp_path)
    sim = make_sim(data=None, book=tmp_path)
    http = make_http(sim)
    with WsClient(sim.public_ws_url) as ws:
        ws.send({"op": "subscribe", "args": [f"tickers.{BTC}", f"orderbook.1.{BTC}", f"orderbook.50.{BTC}"]})
        ack = ws.recv()
        assert not ack["success"] and "orderbook.50" in ack["ret_msg"]  # deeper than the recording
        assert sim.step(1)
        msgs = ws.drain()
    books = [m["data"] for m in msgs if m["topic"].startswith("orderbook.1.")]
    assert [m["u"] for m in books] == list(range(1, len(books) + 1))
    assert (books[-1]["b"], books[-1]["a"]) == ([["67500.40", "1.600"]], [["67500.60", "0.800"]])
    ticker = result(http.get_tickers(category="linear", symbol=BTC))["list"][0]
    assert (ticker["lastPrice"], ticker["bid1Price"], ticker["ask1Price"]) == ("67500.40", "67500.40", "67500.60")
    result(http.place_order(category="linear", symbol=BTC, side="Buy", orderType="Market", qty="0.5",
                            orderLinkId="t1"))
    ex = result(http.get_executions(category="linear", symbol=BTC, orderLinkId="t1"))["list"]
    assert [e["execPrice"] for e in ex] == ["67500.60"]
