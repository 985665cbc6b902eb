"""Stream-rate mode (benchmarks): the SPEC, and that two symbols' books, tickers and trades arrive at
about Bybit's periods with a churning book near the touch. A behaviour check with generous bounds,
not a speed test (the figures are bench/bench_sim_stream_rates.py's)."""

from __future__ import annotations

import time

import pytest
from sim_helpers import WsClient

from tests.paths import DATA_DIR
from whale.candle_file import load_candle_file
from whale.errors import BadInputError
from whale.sim.streams import STREAMS, parse_stream_rates

BTC, ETH = "BTCUSDT", "ETHUSDT"
WINDOW = 2.0  # seconds of counting


def test_the_spec():
    assert parse_stream_rates("") is None and parse_stream_rates(None) is None
    assert dict(parse_stream_rates("bybit").periods_ms) == STREAMS
    rates = parse_stream_rates("bybit, book50=10ms, trades=off, tickers=0.25s")
    want = {**STREAMS, "book50": 10.0, "tickers": 250.0}
    del want["trades"]
    assert dict(rates.periods_ms) == want and "trades" not in rates.streams
    assert dict(parse_stream_rates("book200=50").periods_ms) == {"book200": 50.0}
    assert parse_stream_rates("book50=off") is None


@pytest.mark.parametrize("spec,needle", [("book40=20ms", "unknown stream"), ("book50", "stream=PERIOD"),
                                         ("tickers=fast", "20ms, 0.1s"), ("book1=0.5ms", "1 ms to 60 s")])
def test_bad_specs_name_the_item(spec, needle):
    with pytest.raises(BadInputError, match=needle):
        parse_stream_rates(spec)


def _apply(book: dict, levels: list, side: str) -> tuple[int, int]:
    """Apply a delta side; returns (levels inserted or resized, levels deleted)."""
    changed = deleted = 0
    for price, size in levels:
        if size == "0":
            deleted += book[side].pop(price, None) is not None
        else:
            changed += 1
            book[side][price] = size
    return changed, deleted


@pytest.mark.net
def test_two_symbols_stream_at_bybits_rates(make_sim, candles):
    eth = load_candle_file(DATA_DIR / "ETHUSDT-PERP_1m.csv.gz").candles.slice(0, 3000)
    sim = make_sim(data={BTC: candles, ETH: eth}, lockstep=False, speed=60, stream_rates="bybit")
    topics = [f"{kind}.{sym}" for sym in (BTC, ETH) for kind in ("orderbook.50", "orderbook.200", "tickers",
                                                                 "publicTrade", "kline.1")]
    counts = dict.fromkeys(topics, 0)
    books = {sym: {"b": {}, "a": {}} for sym in (BTC, ETH)}
    inserted = deleted = 0
    with WsClient(sim.public_ws_url) as ws:
        assert ws.subscribe(*topics)["success"] is True  # counting from the ack: the snapshots count too
        t0 = time.monotonic()
        end = t0 + WINDOW
        for _ in range(100_000):
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                m = ws.recv(left)
            except Exception:  # noqa: BLE001 - the window ended inside recv
                break
            topic = m.get("topic")
            if topic not in counts:
                continue
            counts[topic] += 1
            if topic.startswith("orderbook.50."):
                book = books[m["data"]["s"]]
                if m["type"] == "snapshot":
                    book["b"], book["a"] = dict(m["data"]["b"]), dict(m["data"]["a"])
                    continue
                for side in ("b", "a"):
                    c, dl = _apply(book, m["data"][side], side)
                    inserted += c
                    deleted += dl
    per_second = {t: n / WINDOW for t, n in counts.items()}
    for sym in (BTC, ETH):
        # Paced, not flooding: at most about the period's rate (plus slack for a late read), and not far below.
        assert 20 <= per_second[f"orderbook.50.{sym}"] <= 70, per_second  # Bybit: every 20 ms = 50/s
        assert 4 <= per_second[f"orderbook.200.{sym}"] <= 15, per_second  # every 100 ms = 10/s
        assert 3 <= per_second[f"tickers.{sym}"] <= 15, per_second  # every 100 ms = 10/s (when changed)
        assert per_second[f"publicTrade.{sym}"] >= 2, per_second  # bursts every 100 ms, some empty
        assert 0.5 <= per_second[f"kline.1.{sym}"] <= 20, per_second  # the replay's own pace (speed 60)
        book = books[sym]
        bids = sorted((float(p) for p in book["b"]), reverse=True)
        asks = sorted(float(p) for p in book["a"])
        assert len(bids) >= 45 and len(asks) >= 45  # 50 levels kept, give or take a delta in flight
        assert bids[0] < asks[0]  # never crossed
        last = sim.for_symbol(sym).last_price
        assert abs(bids[0] - last) / last < 0.002 and abs(asks[0] - last) / last < 0.002  # the touch follows
    assert inserted > 100 and deleted > 20  # levels come and go, not only resize


@pytest.mark.net
def test_a_subscriber_waiting_for_a_late_symbol_gets_its_snapshot(tmp_path, make_sim, candles):
    """Subscribed before ETH traded, a client waits for the snapshots; when the pacer has not published
    them yet and another client subscribes, both get them (not a delta without a snapshot)."""
    from whale.candle_file import write_candle_csv

    eth = load_candle_file(DATA_DIR / "ETHUSDT-PERP_1m.csv.gz").candles
    write_candle_csv(tmp_path / "BTCUSDT_1m.csv", candles)
    write_candle_csv(tmp_path / "ETHUSDT_1m.csv", eth.slice(1002, 3000))
    sim = make_sim(data=[str(tmp_path / "BTCUSDT_1m.csv"), str(tmp_path / "ETHUSDT_1m.csv")],
                   stream_rates="tickers=60s,book50=60s")  # the pacer's next turn is a minute away
    topics = ("tickers.ETHUSDT", "orderbook.50.ETHUSDT")
    with WsClient(sim.public_ws_url) as early, WsClient(sim.public_ws_url) as late:
        assert early.subscribe(*topics)["success"] is True
        time.sleep(0.1)  # the pacer's first turn: ETH is not trading, nothing goes out
        sim.step(3)  # ETH's first candle closes: the paced streams are left to the pacer
        assert [m for m in early.drain(0.3) if m.get("topic") in topics] == []
        assert late.subscribe(*topics)["success"] is True
        for ws in (early, late):
            got = {m["topic"]: m["type"] for m in ws.drain(0.3) if m.get("topic") in topics}
            assert got == {"tickers.ETHUSDT": "snapshot", "orderbook.50.ETHUSDT": "snapshot"}
