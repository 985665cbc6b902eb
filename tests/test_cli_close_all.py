"""`python whalebot.py close-all --yes` against the embedded simulator: every cancel and close is
in the log file, and the outcome goes to the webhook as an `emergency` alert."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from whale.bybit.endpoints import custom_endpoints
from whale.bybit.rest import BybitRest, new_link_id
from whale.config.model import Config, replace_path, to_dict
from whale.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[1]
SYM = "BTCUSDT"


class _Hook(http.server.BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        self.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


def _webhook():
    _Hook.bodies = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, thread


def test_close_all_logs_each_cancel_and_close_and_sends_the_alert(tmp_path, make_sim, candles):
    sim = make_sim(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)
    rest = BybitRest(custom_endpoints(sim.rest_url, sim.public_ws_url, sim.private_ws_url),
                     DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout=5.0)
    server, thread = _webhook()
    try:
        price = D(f"{candles.close[999]:.1f}")
        rest.place_order(SYM, "Buy", D("0.010"), link_id=new_link_id("entry"),
                         stop_loss=(price * D("0.98")).quantize(D("0.1")))
        limit_link = new_link_id("limit")
        rest.place_order(SYM, "Buy", D("0.005"), order_type="Limit", price=(price * D("0.9")).quantize(D("0.1")),
                         link_id=limit_link)
        cfg = Config()
        for key, value in (("network", "custom"), ("rest_url", sim.rest_url), ("public_ws_url", sim.public_ws_url),
                           ("private_ws_url", sim.private_ws_url), ("dry_run", False),
                           ("logging.file", str(tmp_path / "whalebot.log")),
                           ("alerts.webhook_url_env", "WHALEBOT_TEST_HOOK"), ("alerts.events", ("emergency",))):
            cfg = replace_path(cfg, key, value)
        config = tmp_path / "config.json"
        config.write_text(json.dumps(to_dict(cfg)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
        env.update({"BYBIT_API_KEY": DEFAULT_API_KEY, "BYBIT_API_SECRET": DEFAULT_API_SECRET,
                    "WHALEBOT_TEST_HOOK": f"http://127.0.0.1:{server.server_port}/hook"})
        proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "close-all", "--yes", "--config",
                               str(config)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=90)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert not [p for p in rest.positions(SYM) if p.size] and not rest.open_orders(SYM)
    finally:
        rest.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    log = (tmp_path / "whalebot.log").read_text()
    assert "close-all on custom" in log and "Buy 0.010 BTCUSDT" in log
    assert f"link {limit_link})" in log and "close-all: cancelled Buy Limit 0.005 @" in log, log
    assert "close-all: closing Buy 0.010 BTCUSDT" in log and "close-all: closed 0.010 BTCUSDT Sell @" in log, log
    assert "ALERT: close-all: every BTCUSDT order cancelled and the position closed" in log
    assert len(_Hook.bodies) == 1, _Hook.bodies
    body = _Hook.bodies[0]
    assert body["event"] == "emergency" and body["text"].startswith("close-all: every BTCUSDT order cancelled")


def test_close_all_closes_both_sides_of_a_hedge_mode_account(tmp_path, make_sim):
    """Positions at positionIdx 1 and 2 and no order: close-all must see and close both, not report
    'Nothing to close' from the one-way positionIdx 0."""
    from pybit.unified_trading import HTTP

    sim = make_sim(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)
    rest = BybitRest(custom_endpoints(sim.rest_url, sim.public_ws_url, sim.private_ws_url),
                     DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout=5.0)
    session = HTTP(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)
    session.endpoint = sim.rest_url
    try:
        session.switch_position_mode(category="linear", symbol=SYM, mode=3)
        rest.place_order(SYM, "Buy", D("0.010"), position_idx=1, link_id=new_link_id("hedge-long"))
        rest.place_order(SYM, "Sell", D("0.020"), position_idx=2, link_id=new_link_id("hedge-short"))
        assert sorted((p.position_idx, p.size) for p in rest.positions(SYM) if p.size) == [(1, D("0.010")),
                                                                                            (2, D("0.020"))]
        cfg = Config()
        for key, value in (("network", "custom"), ("rest_url", sim.rest_url), ("public_ws_url", sim.public_ws_url),
                           ("private_ws_url", sim.private_ws_url), ("dry_run", False),
                           ("logging.file", str(tmp_path / "whalebot.log"))):
            cfg = replace_path(cfg, key, value)
        config = tmp_path / "config.json"
        config.write_text(json.dumps(to_dict(cfg)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
        env.update({"BYBIT_API_KEY": DEFAULT_API_KEY, "BYBIT_API_SECRET": DEFAULT_API_SECRET})
        proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "close-all", "--yes", "--config",
                               str(config)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=90)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Nothing to close" not in proc.stdout
        assert "Buy 0.010 BTCUSDT" in proc.stdout and "Sell 0.020 BTCUSDT" in proc.stdout
        assert not [p for p in rest.positions(SYM) if p.size]
    finally:
        session.client.close()
        rest.close()


def test_close_all_closes_every_symbol_of_the_account_or_one_with_symbol(tmp_path):
    """Positions on two symbols: `close-all --symbol ETHUSDT` closes that one and leaves the other;
    `close-all` then closes everything left."""
    from whale.candle_file import load_candle_file
    from whale.sim import SimConfig, Simulator
    from whale.venue.ids import new_link_id as link

    data = Path(__file__).resolve().parents[1] / "data"
    candles = {s: load_candle_file(data / f"{s}-PERP_1m.csv.gz").candles.slice(0, 1100) for s in ("BTCUSDT", "ETHUSDT")}
    sim = Simulator(SimConfig(data=candles, speed=0, lockstep=True, history_candles=1000, enforce_rate_limits=False,
                              api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)).start()
    rest = BybitRest(custom_endpoints(sim.rest_url, sim.public_ws_url, sim.private_ws_url),
                     DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout=5.0)
    try:
        rest.place_order("BTCUSDT", "Buy", D("0.010"), link_id=link("entry"))
        rest.place_order("ETHUSDT", "Sell", D("0.50"), link_id=link("entry"))
        cfg = Config()
        for key, value in (("network", "custom"), ("rest_url", sim.rest_url), ("public_ws_url", sim.public_ws_url),
                           ("private_ws_url", sim.private_ws_url), ("dry_run", False),
                           ("logging.file", str(tmp_path / "whalebot.log"))):
            cfg = replace_path(cfg, key, value)
        config = tmp_path / "config.json"
        config.write_text(json.dumps(to_dict(cfg)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
        env.update({"BYBIT_API_KEY": DEFAULT_API_KEY, "BYBIT_API_SECRET": DEFAULT_API_SECRET})

        def close_all(*extra):
            return subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "close-all", "--yes", "--config",
                                   str(config), *extra], cwd=tmp_path, capture_output=True, text=True, env=env,
                                  timeout=90)

        def held(symbol):
            return sum(p.size for p in rest.positions(symbol) if p.size)

        one = close_all("--symbol", "ethusdt")
        assert one.returncode == 0, one.stdout + one.stderr
        assert "Sell 0.50 ETHUSDT" in one.stdout and "BTCUSDT" not in one.stdout
        assert held("ETHUSDT") == 0 and held("BTCUSDT") == D("0.010")
        rest.place_order("ETHUSDT", "Buy", D("0.30"), link_id=link("entry"))
        every = close_all()
        assert every.returncode == 0, every.stdout + every.stderr
        assert "Buy 0.010 BTCUSDT" in every.stdout and "Buy 0.30 ETHUSDT" in every.stdout
        assert held("ETHUSDT") == 0 and held("BTCUSDT") == 0
        log = (tmp_path / "whalebot.log").read_text()
        assert "close-all: closing Sell 0.50 ETHUSDT" in log and "close-all: closed 0.010 BTCUSDT Sell @" in log
        assert "every order cancelled and every position closed" in log
    finally:
        rest.close()
        sim.stop()
