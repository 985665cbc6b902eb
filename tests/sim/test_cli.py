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
