"""The start-up deadline (closed port, silent listener, no DNS: each fails within the deadline,
naming the host), the `download` command against the simulator, and MarketFeed's REST fallbacks."""

import subprocess
import sys
import threading
import time
import types
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from bybit_helpers import SYM, SilentServer, closed_port

from tests.bybit.venue_data import market_data
from whale.bybit.endpoints import Endpoints, custom_endpoints
from whale.bybit.errors import UnreachableError
from whale.bybit.startup import DEFAULT_DEADLINE_S, StartupCancelled, connect_with_deadline
from whale.candle_file import load_candle_file
from whale.cli import main
from whale.logs import shutdown_logging
from whale.market.feed import MarketFeed
from whale.market.state import Markets

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[2]


def test_reachable_simulator_passes(sim):
    got = connect_with_deadline(custom_endpoints(sim.rest_url), 5, symbol=SYM)
    assert abs(got.offset_ms) < 1000 and got.first_message.get("op") == "subscribe"
    assert connect_with_deadline(custom_endpoints(sim.rest_url), 5).first_message.get("ret_msg") == "pong"


def test_closed_port_fails_fast_naming_the_host():
    with closed_port() as port:
        t0 = time.monotonic()
        with pytest.raises(UnreachableError) as info:
            connect_with_deadline(custom_endpoints(f"http://127.0.0.1:{port}"), 3)
        assert time.monotonic() - t0 < 3.5
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "refused" in text and "python whalebot.py demo" in text


def test_silent_listener_fails_within_the_deadline():
    with SilentServer() as silent:
        t0 = time.monotonic()
        with pytest.raises(UnreachableError) as info:
            connect_with_deadline(custom_endpoints(silent.url), 3)
        elapsed = time.monotonic() - t0
        assert 2.5 < elapsed < 4.0 and f"127.0.0.1:{silent.port}" in str(info.value)
        assert silent.accepted  # it did connect: the host accepts and never answers


def test_silent_websocket_host_fails_within_the_deadline(sim):
    with SilentServer() as silent:
        ep = Endpoints("custom", sim.rest_url, f"ws://127.0.0.1:{silent.port}/v5/public/linear",
                       sim.private_ws_url)
        t0 = time.monotonic()
        with pytest.raises(UnreachableError) as info:
            connect_with_deadline(ep, 3, symbol=SYM)
        assert time.monotonic() - t0 < 4.0 and f"127.0.0.1:{silent.port}" in str(info.value)


def test_no_dns_fails_naming_the_host():
    t0 = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        connect_with_deadline(custom_endpoints("https://api.whalebot-test.invalid"), 3)
    assert time.monotonic() - t0 < 4.0 and "api.whalebot-test.invalid" in str(info.value)


def _stop_after(seconds: float) -> threading.Event:
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    return stop


def test_a_stop_during_the_check_ends_it_at_once():
    # Ctrl-C / SIGTERM during start-up: the bot must not sit out the deadline on a silent host.
    with SilentServer() as silent:
        stop = _stop_after(0.3)
        t0 = time.monotonic()
        with pytest.raises(StartupCancelled) as info:
            connect_with_deadline(custom_endpoints(silent.url), 4, stop=stop)
        assert time.monotonic() - t0 < 1.0
        assert info.value.exit_code == 0


def test_wait_ready_returns_at_once_when_stopped(make_ws):
    with SilentServer() as silent:
        mgr = make_ws(types.SimpleNamespace(rest_url=silent.url), keys=False)
        mgr.start()
        assert mgr.wait_ready(0.3) is False  # no stop: the plain timeout
        stop = _stop_after(0.3)
        t0 = time.monotonic()
        with pytest.raises(StartupCancelled):
            mgr.wait_ready(10.0, stop=stop)
        assert time.monotonic() - t0 < 1.0


def test_the_default_deadline_leaves_margin_under_30_s():
    from whale.commands.run import STARTUP_TIMEOUT_S

    assert DEFAULT_DEADLINE_S == STARTUP_TIMEOUT_S <= 25.0
    assert "default 25 s" in subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "run", "--help"],
                                            capture_output=True, text=True, timeout=60).stdout


def test_the_hint_names_the_config_file_in_use():
    with closed_port() as port, pytest.raises(UnreachableError) as info:
        connect_with_deadline(custom_endpoints(f"http://127.0.0.1:{port}"), 3, config_path="/etc/wb/live.json")
    assert "`network` in /etc/wb/live.json" in str(info.value) and "config.json" not in str(info.value)


# ---------------------------------------------------------------- download

def _utc(ms):
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def quiet_logging():
    yield
    shutdown_logging()


def test_download_writes_the_simulators_candles(sim, candles, tmp_path, quiet_logging, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.json here: the defaults (a --config FILE must exist)
    out = tmp_path / "sub" / "btc.csv.gz"
    rc = main(["download", "--rest-url", sim.rest_url, "--symbol", SYM,
               "--interval", "1", "--from", _utc(candles.ts[5]), "--to", _utc(candles.ts[995]), "--out", str(out),
               "--no-progress"])
    assert rc == 0
    got = load_candle_file(out).candles
    assert got.ts.tolist() == candles.ts[5:995].tolist()  # [from, to): closed, ascending, no duplicates
    for a, b in ((got.open, candles.open), (got.high, candles.high), (got.low, candles.low),
                 (got.close, candles.close), (got.volume, candles.volume)):
        assert np.allclose(a, b[5:995])
    # a higher interval, with a range past the last closed candle (capped there)
    out5 = tmp_path / "btc5.csv"
    assert main(["download", "--rest-url", sim.rest_url, "--interval", "5",
                 "--symbol", SYM, "--from", _utc(candles.ts[0]), "--to", "2031-01-01", "--out", str(out5),
                 "--no-progress"]) == 0
    five = load_candle_file(out5).candles
    assert five.interval == "5" and five.ts[-1] + 300_000 <= candles.ts[999] + 60_000


def test_download_bad_input_and_unreachable(sim, tmp_path, capsys, quiet_logging, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.json here: the defaults (a --config FILE must exist)
    base = ["download", "--out", str(tmp_path / "x.csv"), "--no-progress"]
    assert main(base + ["--rest-url", sim.rest_url, "--interval", "7", "--from", "2025-05-05", "--to",
                        "2025-05-06"]) == 2
    assert main(base + ["--rest-url", sim.rest_url, "--from", "yesterday", "--to", "2025-05-06"]) == 2
    assert main(base + ["--rest-url", sim.rest_url, "--from", "2025-05-06", "--to", "2025-05-05"]) == 2
    assert main(base + ["--rest-url", sim.rest_url, "--symbol", "NOPEUSDT", "--from", "2025-05-05", "--to",
                        "2025-05-06"]) == 2
    with closed_port() as port:
        assert main(base + ["--rest-url", f"http://127.0.0.1:{port}", "--from", "2025-05-05", "--to",
                            "2025-05-06"]) == 1
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


def test_download_help_works():
    r = subprocess.run([sys.executable, "whalebot.py", "download", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "--rest-url" in r.stdout and "--from" in r.stdout


# ---------------------------------------------------------------- the feed

def test_feed_falls_back_to_rest_and_serves_from_the_streams(sim, make_rest, make_ws, candles):
    markets = Markets([SYM])
    market = markets[SYM]
    rest = make_rest(sim)
    ws = make_ws(sim, markets, keys=False)
    feed = MarketFeed(market_data(rest, ws), markets, ws.wanted, stale_after_s=30)
    # not started: everything from REST
    assert feed.fetch_current_price(SYM) == Decimal(f"{candles.close[999]:.2f}")
    k = feed.fetch_klines(SYM, "1", 300)
    assert k.ts.tolist() == candles.ts[700:1000].tolist()
    assert feed.fetch_orderbook(SYM, 25).bid_px.size == 25 and feed.rest_fallbacks == 3
    ws.start()
    assert ws.wait_ready(5)
    sim.step(3)
    from bybit_helpers import wait_for
    wait_for(lambda: market.last_closed_ts("1") == candles.ts[1002] and market.book.ready)
    calls = rest.calls
    k = feed.fetch_klines(SYM, "1", 300)  # from the store: history + streamed candles
    assert k.ts.tolist() == candles.ts[703:1003].tolist()
    assert feed.fetch_current_price(SYM) == Decimal(f"{sim.last_price:.2f}")
    assert feed.fetch_orderbook(SYM, 50).bid_px.size == 50
    assert rest.calls == calls  # no REST call
    assert feed.fetch_orderbook(SYM, 200).bid_px.size == 200  # deeper than the stream: REST
    assert [e[1] for e in market.pop_closed() if e[0] == "1"] == candles.ts[1000:1003].tolist()
