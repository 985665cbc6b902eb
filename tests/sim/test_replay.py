"""Replay control: lockstep steps and hooks, free-running speed, where the replay starts, the
instrument for other symbols, and the Python API's lifecycle."""

import threading
import time

import pytest
from sim_helpers import WsClient

from tests.paths import DATA_DIR
from whale.candle_file import load_candle_file
from whale.errors import BadInputError, WhaleError
from whale.sim import SimConfig, Simulator

pytestmark = pytest.mark.net


def test_lockstep_steps_and_candle_hooks(sim, candles):
    seen = []
    sim.add_candle_listener(lambda i, ts: seen.append((i, ts, threading.current_thread().name)))
    with WsClient(sim.public_ws_url) as ws:
        ws.subscribe("kline.1.BTCUSDT")
        assert sim.wait_idle(2) and sim.candles_emitted == 0
        time.sleep(0.2)
        assert sim.replay_index == 1000  # nothing moves without the controller
        assert sim.step(3, timeout=5)
        assert sim.candles_emitted == 3 and sim.replay_index == 1003
        assert [s[0] for s in seen] == [1000, 1001, 1002] and seen[0][1] == candles.ts[1000]
        assert seen[0][2] == "whalebot-sim"
        closed = [m for m in ws.drain() if m.get("topic") == "kline.1.BTCUSDT" and m["data"][0]["confirm"]]
        assert [m["data"][0]["start"] for m in closed] == list(candles.ts[1000:1003])
        sim.advance(2)
        assert sim.wait_candles(5, timeout=5) and sim.wait_idle(5)
        assert sim.replay_time_ms == candles.ts[1004] + 59_999


def test_free_running_speed(make_sim, candles):
    sim = make_sim(lockstep=False, speed=600)  # a 1m candle every 0.1 s
    t0 = time.monotonic()
    assert sim.wait_candles(5, timeout=5)
    elapsed = time.monotonic() - t0
    assert 0.35 < elapsed < 4.0
    sim.set_lockstep(True)
    assert sim.wait_idle(2)
    n = sim.candles_emitted
    time.sleep(0.3)
    assert sim.candles_emitted == n


def test_replay_runs_to_the_end_and_keeps_serving(make_sim, make_http, candles):
    sim = make_sim(history_candles=len(candles) - 3)
    http = make_http(sim)
    assert sim.step(10, timeout=5) and sim.finished and sim.candles_emitted == 3
    assert http.get_server_time()["retCode"] == 0


def test_start_time_decides_the_history(make_sim, make_http, candles):
    sim = make_sim(start_ms=int(candles.ts[1500]) - 1)
    http = make_http(sim)
    rows = http.get_kline(category="linear", symbol="BTCUSDT", interval="1", limit=1)["result"]["list"]
    assert int(rows[0][0]) == candles.ts[1499] and sim.replay_start_index == 1500


@pytest.mark.parametrize("history", [0, 3000])
def test_bad_history_is_bad_input(candles, history):
    with pytest.raises(BadInputError):
        Simulator(SimConfig(data=candles, history_candles=history))


def test_other_symbols_get_their_own_rules(make_http):
    cf = load_candle_file(DATA_DIR / "ETHUSDT-PERP_1m.csv.gz")
    with Simulator(SimConfig(data=cf.candles.slice(0, 2000), symbol="ETHUSDT", lockstep=True, speed=0)) as sim:
        http = make_http(sim)
        info = http.get_instruments_info(category="linear", symbol="ETHUSDT")["result"]["list"][0]
        assert info["priceFilter"]["tickSize"] == "0.01" and info["baseCoin"] == "ETH"
        book = http.get_orderbook(category="linear", symbol="ETHUSDT", limit=2)["result"]
        assert len(book["b"][0][0].split(".")[1]) == 2


def test_start_twice_and_port_in_use(sim, candles):
    with pytest.raises(RuntimeError):
        sim.start()
    other = Simulator(SimConfig(data=candles, port=sim.port))
    with pytest.raises(WhaleError):
        other.start()
    other.stop()  # harmless when it never started
    sim.stop()
    sim.stop()  # idempotent
