"""Candles built from recorded trades against the klines recorded with them: a recording made from the
simulator (websocket-client -> RecordingWriter, tests/ws_recorder.py), whose klines are kept only as
this check (whale/market/trade_candles.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.ws_recorder import record
from whale.market.candles import Candles
from whale.market.trade_candles import trade_candles
from whale.recording.reader import KlineEvent, RecordingReader, recorded_prints

pytestmark = pytest.mark.net

BTC = "BTCUSDT"
REPLAYED = 40


def test_candles_built_from_a_recording_of_the_simulator_equal_its_klines(make_sim, candles, tmp_path):
    # volumes in whole multiples of 16 qty steps: the 16 prints of a replayed candle then carry its volume exactly
    c = candles.slice(0, 1000 + REPLAYED)
    volume = np.maximum(1.0, np.round(c.volume / 0.016)) * 0.016
    sim = make_sim(data=Candles(c.ts, c.open, c.high, c.low, c.close, volume, c.interval), history_candles=1000)
    counts: dict[str, int] = {}
    done = threading.Event()
    got: dict = {}
    recorder = threading.Thread(target=lambda: got.update(record(sim.public_ws_url, [BTC], tmp_path, seconds=60,
                                                                 until=done.is_set, counts=counts)))
    recorder.start()
    try:
        deadline = time.monotonic() + 10
        while not all(sim.core.hub.subscribed(f"{t}.{BTC}") for t in ("kline.1", "publicTrade")):
            assert time.monotonic() < deadline, "the recorder did not subscribe"
            time.sleep(0.02)
        assert sim.step(REPLAYED)
        deadline = time.monotonic() + 20
        while counts.get(f"kline.1.{BTC}", 0) < REPLAYED:
            assert time.monotonic() < deadline, counts
            time.sleep(0.02)
    finally:
        done.set()
        recorder.join(timeout=30)
    assert got[BTC].stats.records["L"] >= REPLAYED
    reader = RecordingReader(tmp_path)
    recorded = {k["start"]: k for ev in reader.events() if isinstance(ev, KlineEvent) for k in ev.candles
                if k["confirm"]}
    p = recorded_prints(RecordingReader(tmp_path))[BTC]
    built = trade_candles(p.ts, p.price, p.size).candles
    assert len(recorded) == REPLAYED and built.ts.tolist() == sorted(recorded)
    for j, start in enumerate(built.ts.tolist()):
        k = recorded[start]
        assert [built.open[j], built.high[j], built.low[j], built.close[j]] == \
            [float(k["open"]), float(k["high"]), float(k["low"]), float(k["close"])], start
        assert built.volume[j] == pytest.approx(float(k["volume"]), abs=1e-9), start
