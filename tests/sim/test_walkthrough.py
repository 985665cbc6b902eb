"""The README's walk-through, for real: `python whalebot.py sim` in one process, the live bot with
the default config (only `network: custom`, the printed URLs and `dry_run: false` changed, the
simulator's fake keys in the environment) in another, both on 127.0.0.1. The bot must start
without warming up (the simulator's default history covers the default config's warm-up) and
decide on a closed candle; then both stop on SIGTERM with exit 0. `--speed 120` closes a 15m
candle every 7.5 s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # a cold numba cache compiles for about 30 s before the bot starts


class Process:
    """A child process whose stdout lines are collected by a thread (bounded), stopped by SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "whalebot.py"), *args], cwd=cwd, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name="walkthrough-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if len(self.lines) < 100_000:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, needle: str, timeout: float, after: int = 0) -> int:
        """The index of the first line from `after` on that contains `needle`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(after, len(self.lines)):
                if needle in self.lines[i]:
                    return i
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.1)
        tail = "\n".join(self.lines[-30:])
        raise AssertionError(f"no line with {needle!r} within {timeout:.0f} s; last lines:\n{tail}")

    def stop(self) -> int:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(timeout=10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def test_the_readme_walk_through(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1")
    sim = Process(["sim", "--port", "0", "--speed", "120"], env, tmp_path)
    bot = None
    try:
        ready = sim.lines[sim.wait_for("SIM READY", 60)]
        urls = dict(part.split("=", 1) for part in ready.split()[2:])
        config = tmp_path / "tmp.json"
        config.write_text(json.dumps({"network": "custom", "rest_url": urls["rest"],
                                      "public_ws_url": urls["public_ws"], "private_ws_url": urls["private_ws"],
                                      "dry_run": False}))
        bot_env = dict(env, BYBIT_API_KEY=DEFAULT_API_KEY, BYBIT_API_SECRET=DEFAULT_API_SECRET)
        bot = Process(["--config", "tmp.json", "--workdir", "tmpdir"], bot_env, tmp_path)
        started = bot.wait_for("--- Whalebot started: BTCUSDT 15m, mode live, real orders on custom ---",
                               START_TIMEOUT)
        decided = bot.wait_for(" | score ", 30, after=started + 1)  # the compact line of a candle that closed live
        history = next(line for line in bot.lines[:started] if "History loaded:" in line)
        assert "History loaded: 99" in history, history  # about 994 15m candles, the whole warm-up
        assert not [line for line in bot.lines[:decided + 1] if "warming up" in line or "Only " in line]
        assert (tmp_path / "tmpdir" / "signals.csv").exists()
        assert "Whalebot started" in (tmp_path / "logs" / "whalebot.log").read_text()  # logging.file's default
    finally:
        codes = {"bot": bot.stop() if bot is not None else 0, "sim": sim.stop()}
    assert codes == {"bot": 0, "sim": 0}
    assert any("sim: stopped" in line for line in sim.lines)
