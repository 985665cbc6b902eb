"""Whalebot as users run it, in real processes: `python whalebot.py sim` as a long-lived exchange,
the bot killed with SIGKILL and restarted against it, paper trading, clean stops and no network."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from whale.config.model import Config, replace_path, to_dict

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "PROC-TEST-KEY-123456", "PROC-TEST-SECRET-abcdefghijkl"


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    e.update({"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "PYTHONUNBUFFERED": "1"})
    return e


def wait_for(pred, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class SimProcess:
    def __init__(self, speed: float):
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "whalebot.py"), "sim", "--port", "0", "--speed", str(speed),
             "--api-key", KEY, "--api-secret", SECRET, "--history", "1000"],  # the replay these tests were written on
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env())
        line = self.proc.stdout.readline().strip()
        assert line.startswith("SIM READY"), line
        parts = dict(p.split("=", 1) for p in line.split()[2:])
        self.rest, self.public_ws, self.private_ws = parts["rest"], parts["public_ws"], parts["private_ws"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=20) == 0
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()


@pytest.fixture
def sim():
    s = SimProcess(speed=30)
    yield s
    s.stop()


def bot_config(tmp_path: Path, sim: SimProcess, *, dry_run: bool) -> Path:
    cfg = Config()
    for key, value in (("network", "custom"), ("rest_url", sim.rest), ("public_ws_url", sim.public_ws),
                       ("private_ws_url", sim.private_ws), ("dry_run", dry_run), ("interval", "1"),
                       ("mtf_analysis.enabled", False), ("signal_score_threshold", 0.5),
                       ("trade_management.leverage", 20.0), ("trade_management.risk_per_trade_percent", 0.1),
                       ("loop_delay", 1.0), ("logging.file", str(tmp_path / "whalebot.log"))):
        cfg = replace_path(cfg, key, value)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(to_dict(cfg)))
    return path


def start_bot(tmp_path: Path, config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "whalebot.py"), "--config", str(config),
                             "--workdir", str(tmp_path)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env())


def open_trade(journal: Path):
    try:
        trades = json.loads(journal.read_text())["trades"]
    except (OSError, ValueError, KeyError):
        return None
    return next((t for t in trades if t["status"] == "open"), None)


def test_kill_9_with_an_open_position_then_restart_restores_it(tmp_path, sim):
    config = bot_config(tmp_path, sim, dry_run=False)
    journal = tmp_path / "trade_history.json"
    bot = start_bot(tmp_path, config)
    try:
        trade = wait_for(lambda: open_trade(journal) and open_trade(journal).get("stop_loss") and open_trade(journal),
                         90, "the bot to open a protected position")
    finally:
        bot.kill()  # SIGKILL: no shutdown code runs
        bot.wait(timeout=10)
    assert bot.returncode == -signal.SIGKILL
    before = json.loads(journal.read_text())  # intact: it parses and holds the open trade
    assert any(t["id"] == trade["id"] and t["status"] == "open" for t in before["trades"])
    log = tmp_path / "whalebot.log"
    start = log.stat().st_size
    bot = start_bot(tmp_path, config)
    try:
        wait_for(lambda: "Reconciliation:" in log.read_text()[start:] or "Whalebot started" in log.read_text()[start:],
                 60, "the restarted bot to reconcile")
        text = log.read_text()[start:]
        assert "restored" in text or "closed while the bot was down" in text, text[-2000:]
        if "restored" in text:
            from whale.bybit.endpoints import Endpoints
            from whale.bybit.rest import BybitRest

            rest = BybitRest(Endpoints("custom", sim.rest, sim.public_ws, sim.private_ws), KEY, SECRET)
            try:
                pos = [p for p in rest.positions("BTCUSDT") if p.size]
            finally:
                rest.close()
            now = open_trade(journal)
            if pos and now:  # still open: the exchange holds the journal's stop
                assert pos[0].stop_loss == Decimal(now["stop_loss"])
                assert now["id"] == trade["id"]
    finally:
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(timeout=30)
    assert code == 0, bot.stderr.read()[-2000:]
    # Secrets never reach the log.
    assert KEY not in log.read_text() and SECRET not in log.read_text()


def test_paper_trading_against_public_data_and_a_clean_sigterm(tmp_path, sim):
    config = bot_config(tmp_path, sim, dry_run=True)
    bot = start_bot(tmp_path, config)
    signals = tmp_path / "signals.csv"
    try:
        wait_for(lambda: signals.exists() and len(signals.read_text().splitlines()) > 10, 60, "ten decisions")
    finally:
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(timeout=30)
    assert code == 0, bot.stderr.read()[-2000:]
    doc = json.loads((tmp_path / "trade_history.paper.json").read_text())
    assert doc["mode"] == "paper" and "balance" in doc["paper_state"]
    assert not (tmp_path / "trade_history.json").exists()


def test_a_second_bot_on_the_same_journal_is_refused(tmp_path, sim):
    config = bot_config(tmp_path, sim, dry_run=True)
    first = start_bot(tmp_path, config)
    try:
        wait_for(lambda: (tmp_path / "signals.csv").exists(), 60, "the first bot to start")
        second = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "--config", str(config), "--workdir",
                                 str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=60)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert second.returncode == 1
    assert "another Whalebot" in second.stderr and "Traceback" not in second.stderr


def _silent_listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)  # accepted, never answered
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return srv, stop, t, held


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_no_network_one_clear_message_and_exit_1_within_30_s(tmp_path, kind):
    if kind == "refused":
        # Bound but never listening: connections are refused, and no parallel test can take the port meanwhile.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        cleanup = None
    else:
        srv, stop, t, held = _silent_listener()
        port = srv.getsockname()[1]
        cleanup = (srv, stop, t, held)
    _write_custom_config(tmp_path, port)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "--config", str(tmp_path / "config.json"),
                               "--workdir", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, env=env(),
                              timeout=60)
    finally:
        if cleanup:
            srv, stop, t, held = cleanup
            stop.set()
            t.join(timeout=5)
            for c in held:
                c.close()
            srv.close()
        else:
            closed.close()
    elapsed = time.monotonic() - t0
    assert proc.returncode == 1
    assert elapsed < 30.0  # the promise: exits 1 within 30 s (a 25 s deadline plus start-up and shutdown)
    err = proc.stderr
    assert f"127.0.0.1:{port}" in err and "python whalebot.py demo" in err
    assert f"`network` in {tmp_path / 'config.json'}" in err  # the --config file, not "config.json"
    assert "Traceback" not in err and err.count("\n") <= 3


def _write_custom_config(tmp_path: Path, port: int) -> None:
    """tmp_path/config.json: the default config pointed at 127.0.0.1:`port` (network custom)."""
    cfg = Config()
    for key, value in (("network", "custom"), ("rest_url", f"http://127.0.0.1:{port}"),
                       ("public_ws_url", f"ws://127.0.0.1:{port}/v5/public/linear"),
                       ("private_ws_url", f"ws://127.0.0.1:{port}/v5/private"),
                       ("logging.file", str(tmp_path / "whalebot.log"))):
        cfg = replace_path(cfg, key, value)
    (tmp_path / "config.json").write_text(json.dumps(to_dict(cfg)))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_start_up_stops_at_once_with_exit_0(tmp_path, sig):
    srv, stop, t, held = _silent_listener()
    port = srv.getsockname()[1]
    _write_custom_config(tmp_path, port)
    proc = subprocess.Popen([sys.executable, str(ROOT / "whalebot.py"), "--config", str(tmp_path / "config.json"),
                             "--workdir", str(tmp_path)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env())
    try:
        wait_for(lambda: held, 20, "the bot to connect to the silent host")  # it is in the start-up check
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        stop.set()
        t.join(timeout=5)
        for c in held:
            c.close()
        srv.close()
    assert proc.returncode == 0, err
    assert elapsed < 3.0, f"took {elapsed:.1f} s to stop"
    assert "Stopped during start-up" in err and "Traceback" not in err + out


def close_all(tmp_path: Path, config: Path, *extra, stdin: str | None = None):
    e = env()
    if stdin is not None:
        e["WHALEBOT_CONFIRM_FROM_STDIN"] = "1"
    return subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "close-all", "--config", str(config), *extra],
                          cwd=tmp_path, capture_output=True, text=True, env=e, input=stdin, timeout=90)


def sim_position(sim: SimProcess):
    from whale.bybit.endpoints import Endpoints
    from whale.bybit.rest import BybitRest

    rest = BybitRest(Endpoints("custom", sim.rest, sim.public_ws, sim.private_ws), KEY, SECRET)
    try:
        return [p for p in rest.positions("BTCUSDT") if p.size], rest.open_orders("BTCUSDT")
    finally:
        rest.close()


def test_close_all_asks_then_closes_and_a_running_bot_records_it(tmp_path, sim):
    config = bot_config(tmp_path, sim, dry_run=False)
    journal = tmp_path / "trade_history.json"
    bot = start_bot(tmp_path, config)
    try:
        for _attempt in range(3):
            trade = wait_for(lambda: open_trade(journal), 90, "the bot to open a position")
            no = close_all(tmp_path, config, stdin="no\n")
            # "Nothing to close": the position was already gone when close-all looked (it starts in a second or
            # two, more beside other tests); else it asked, and "no" must leave the position as it was.
            assert no.returncode == 0 and ("Nothing done" in no.stdout or "Nothing to close" in no.stdout), no.stdout
            if "Nothing done" in no.stdout and sim_position(sim)[0]:
                break
            # The running bot closed the trade itself in the meantime (a candle every 2 s: stop, target
            # or opposite signal): that close is its own, recorded in the journal; try the next trade.
            tid = trade["id"]
            closed_itself = wait_for(lambda tid=tid: next((t for t in json.loads(journal.read_text())["trades"]
                                                           if t["id"] == tid and t["status"] == "closed"), None),
                                     30, "the bot to record its own close")
            assert closed_itself["reason"] != "manual", "answering no must leave the position open"
        else:
            pytest.fail("the bot closed three trades by itself before close-all could be answered")
        yes = close_all(tmp_path, config, stdin="yes\n")
        assert yes.returncode == 0, yes.stdout + yes.stderr
        positions, orders = sim_position(sim)
        closed = wait_for(lambda: next((t for t in json.loads(journal.read_text())["trades"]
                                        if t["id"] == trade["id"] and t["status"] == "closed"), None),
                          30, "the running bot to record the close")
        assert closed["reason"] == "manual"
        if positions:
            # The bot keeps running (a candle every 2 s) and may enter again right after the close:
            # then what the exchange holds must be that new trade of its own, not the one closed.
            again = wait_for(lambda: open_trade(journal), 30, "the bot's new trade in the journal")
            assert again["id"] != trade["id"] and len(positions) == 1
            assert positions[0].side == again["side"] and positions[0].size == Decimal(again["qty"])
        else:
            assert not orders, "close-all must cancel every order"
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0


def test_close_all_without_a_terminal_needs_yes(tmp_path, sim):
    config = bot_config(tmp_path, sim, dry_run=False)
    proc = close_all(tmp_path, config)
    assert "Nothing to close" in proc.stdout or (proc.returncode == 2 and "--yes" in proc.stderr)
    proc = close_all(tmp_path, config, "--yes")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
