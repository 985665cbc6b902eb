"""Smoke test with pybit's own WebSocket class, its URLs patched to the simulator (and restored)."""

import threading
import time

import pybit.unified_trading as ut
import pytest
from sim_helpers import KEY, SECRET

pytestmark = pytest.mark.net

L = {"category": "linear", "symbol": "BTCUSDT"}


@pytest.fixture
def pybit_urls(sim):
    saved = ut.PUBLIC_WSS, ut.PRIVATE_WSS
    ut.PUBLIC_WSS = f"ws://127.0.0.1:{sim.port}/v5/public/{{CHANNEL_TYPE}}"
    ut.PRIVATE_WSS = sim.private_ws_url
    yield
    ut.PUBLIC_WSS, ut.PRIVATE_WSS = saved


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_pybit_public_and_private_streams(sim, http, pybit_urls):
    got: dict[str, list] = {"kline": [], "book": [], "ticker": [], "order": [], "position": []}
    lock = threading.Lock()

    def keep(name):
        def cb(msg):
            with lock:
                got[name].append(msg)
        return cb

    public = ut.WebSocket(testnet=False, channel_type="linear", ping_interval=1, ping_timeout=0.5, retries=3)
    private = None
    try:
        public.kline_stream(interval=1, symbol="BTCUSDT", callback=keep("kline"))
        public.orderbook_stream(depth=50, symbol="BTCUSDT", callback=keep("book"))
        public.ticker_stream(symbol="BTCUSDT", callback=keep("ticker"))
        private = ut.WebSocket(testnet=False, channel_type="private", api_key=KEY, api_secret=SECRET,
                               ping_interval=1, ping_timeout=0.5, retries=3)
        assert wait_for(lambda: private.auth)
        private.order_stream(callback=keep("order"))
        private.position_stream(callback=keep("position"))
        assert wait_for(lambda: got["book"] and got["ticker"])
        time.sleep(0.1)
        sim.step(2)
        assert wait_for(lambda: sum(m["data"][0]["confirm"] for m in got["kline"]) == 2)
        http.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId="pybit-ws")
        assert wait_for(lambda: got["order"] and got["position"])
        assert got["order"][0]["data"][0]["orderLinkId"] == "pybit-ws"
        book = got["book"][-1]["data"]
        assert len(book["b"]) == 50 and len(book["a"]) == 50  # pybit's merged book stays whole
        assert got["ticker"][-1]["data"]["lastPrice"] == f"{sim.last_price:.2f}"
        time.sleep(1.6)  # protocol pings and pybit's JSON pings are answered: the sockets stay up
        assert public.is_connected() and private.is_connected()
    finally:
        public.exit()
        if private is not None:
            private.exit()
