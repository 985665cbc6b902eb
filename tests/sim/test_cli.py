"""`python whalebot.py sim` as a subprocess: the READY line, serving, SIGTERM -> exit 0; bad input -> 2."""

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"^SIM READY rest=http://127\.0\.0\.1:(\d+) public_ws=ws://127\.0\.0\.1:(\d+)/v5/public/linear "
                   r"private_ws=ws://127\.0\.0\.1:(\d+)/v5/private$")


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z - (DEBUG|INFO|WARNING|ERROR) - \S")


def run_cli(*args, timeout=30):
    return subprocess.run([sys.executable, "whalebot.py", "sim", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_serves_until_sigterm():
    proc = subprocess.Popen([sys.executable, "whalebot.py", "sim", "--port", "0", "--history", "500"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().rstrip("\n")
        m = READY.match(line)
        assert m, f"first stdout line was {line!r}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
        assert m.group(1) == m.group(2) == m.group(3)
        with requests.Session() as s:
            r = s.get(f"http://127.0.0.1:{m.group(1)}/v5/market/time", timeout=5)
        assert r.status_code == 200 and r.json()["retCode"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stdout.read() == ""  # nothing else on stdout: logs go to stderr
        log = proc.stderr.read().splitlines()
        assert any("sim: serving BTCUSDT on http://127.0.0.1:" in line for line in log)
        assert log and all(LOG_LINE.match(line) for line in log), log  # the bot's format (whale/logs.py)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("args,needle", [
    (["--data", "/no/such/file.csv"], "no such candle file"),
    (["--faults", "explode=1"], "unknown fault"),
    (["--speed", "fast"], "--speed"),
    (["--api-key", "K"], "--api-secret"),
    (["--port", "70000"], "--port"),
    (["--history", "999999"], "nothing to replay"),
    (["--history", "0"], "--history"),
    (["--api-key", "\u043a\u043b\u044e\u0447", "--api-secret", "S"], "--api-key"),
    (["--data", "data/BTCUSDT-PERP_1m.csv.gz", "--data", "data/ETHUSDT-PERP_1m.csv.gz", "--symbol", "X"],
     "--symbol goes with one --data file only"),
    (["--data", "data/ETHUSDT-PERP_1m.csv.gz", "--data", "data/ETHUSDT_5m.csv.gz"], "ETHUSDT is given twice"),
    (["--data", "data/BTCUSDT-PERP_1m.csv.gz", "--data", "data/ETHUSDT_5m.csv.gz"], "same interval"),
    (["--stream-rates", "book40=20ms"], "--stream-rates"),
    (["--trigger-fill", "mid"], "--trigger-fill"),
    (["--book", "data/recordings/sample", "--trigger-fill", "book"], "--trigger-fill goes with candle files"),
])
def test_bad_input_exits_2_with_one_message(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2 and needle in r.stderr and r.stdout == ""


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = run_cli("--port", str(s.getsockname()[1]))
    assert r.returncode == 1 and "cannot listen" in r.stderr and r.stdout == ""


class SimCli:
    """`python whalebot.py sim ARGS` until stop(): its READY port, then its exit code and stderr."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "whalebot.py", "sim", "--port", "0", *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().rstrip("\n")
        m = READY.match(line)
        if not m:
            self.stop()
        assert m, f"first stdout line was {line!r}"
        self.rest = f"http://127.0.0.1:{m.group(1)}"

    def stop(self) -> tuple[int, str]:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(timeout=15)
            return code, self.proc.stderr.read()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()


def test_default_history_covers_the_default_configs_warm_up():
    """A bot with the default config (15m, MTF on 1h and 4h) finds its whole warm-up in the history."""
    from whale.config.model import Config
    from whale.strategy.analyzer import Analyzer

    cfg = Config()
    need = Analyzer(cfg, cfg.interval).warmup_candles
    sim = SimCli()
    try:
        with requests.Session() as s:
            rows = s.get(f"{sim.rest}/v5/market/kline", params={"category": "linear", "symbol": "BTCUSDT",
                                                                   "interval": cfg.interval, "limit": 1000},
                         timeout=10).json()["result"]["list"]
    finally:
        code, err = sim.stop()
    assert code == 0
    assert len(rows) >= need + 1, f"{len(rows)} {cfg.interval} candles of history; the warm-up needs {need}"
    assert f"as history (the default config's warm-up of {need} 15m candles)" in err


def test_a_file_too_short_for_the_warm_up_is_said(tmp_path, candles):
    from whale.candle_file import write_candle_csv

    path = tmp_path / "BTCUSDT_1m.csv"
    write_candle_csv(path, candles)  # 3000 1m candles: about 2 days, the warm-up needs about 10
    sim = SimCli("--data", str(path))
    code, err = sim.stop()
    assert code == 0
    assert "the data file has only 3000 1m candles" in err and "serving 2000 and replaying 1000" in err


def test_two_files_serve_two_symbols_with_stream_rates(tmp_path, candles):
    """`sim --data A --data B --stream-rates bybit`: both symbols on one account, named by their files."""
    import json

    import websocket

    from tests.paths import DATA_DIR
    from whale.candle_file import load_candle_file, write_candle_csv

    write_candle_csv(tmp_path / "BTCUSDT_1m.csv", candles)
    write_candle_csv(tmp_path / "ETHUSDT_1m.csv", load_candle_file(DATA_DIR / "ETHUSDT-PERP_1m.csv.gz").candles
                     .slice(0, 3000))
    sim = SimCli("--data", str(tmp_path / "BTCUSDT_1m.csv"), "--data", str(tmp_path / "ETHUSDT_1m.csv"),
                 "--history", "1000", "--stream-rates", "bybit")
    try:
        with requests.Session() as s:
            infos = s.get(f"{sim.rest}/v5/market/instruments-info", params={"category": "linear"},
                          timeout=10).json()["result"]["list"]
        ws = websocket.create_connection(sim.rest.replace("http", "ws") + "/v5/public/linear", timeout=5)
        try:
            ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]}))
            got = [json.loads(ws.recv()) for _ in range(12)]  # the ack, the snapshot, then deltas every 20 ms
        finally:
            ws.close()
    finally:
        code, err = sim.stop()
    assert code == 0 and [i["symbol"] for i in infos] == ["BTCUSDT", "ETHUSDT"]
    assert [m.get("type") for m in got[1:3]] == ["snapshot", "delta"]
    assert "sim: serving BTCUSDT, ETHUSDT on http://127.0.0.1:" in err and "stream-rate mode" in err
