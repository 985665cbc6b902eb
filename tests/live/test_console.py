"""What a trader tailing the terminal sees (issue 11 items 4 and 9): one compact line per candle plus
trades and alerts, the original's full display every N candles or with --verbose (always in
whalebot.log), and a heartbeat at least every heartbeat_s between candles."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest

from tests.live.harness import live_config, start_sim, wait_for
from whale.bot.demo import run_demo
from whale.bot.loop import Bot, BotOptions
from whale.candle_file import BUNDLED_DATA, load_candle_file
from whale.config.model import Config, replace_path
from whale.display import BANNER
from whale.logs import setup_logging, shutdown_logging
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET

pytestmark = pytest.mark.net

CANDLES = 8
COMPACT = re.compile(r" - INFO - BTCUSDT 15m \d{4}-\d\d-\d\d \d\d:\d\d \| [\d,.]+ \| "
                     r"(score [+-]\d+\.\d\d \w+|warming up)")


def demo_console(tmp_path: Path, name: str, **display) -> tuple[list[str], str]:
    """(console lines, whalebot.log text) of a short demo."""
    workdir = tmp_path / name
    cfg = replace_path(replace_path(Config(), "signal_score_threshold", 1.0), "logging.file",
                       str(workdir / "whalebot.log"))
    console = io.StringIO()
    log = setup_logging(cfg, console=True, stream=console, color=False)
    try:
        run_demo(cfg, data=BUNDLED_DATA, candles=CANDLES, workdir=workdir, log=log, **display)
    finally:
        shutdown_logging()
    return console.getvalue().splitlines(), (workdir / "whalebot.log").read_text()


def test_one_compact_line_per_candle_and_the_full_display_in_the_log(tmp_path):
    lines, log = demo_console(tmp_path, "compact")
    assert sum(bool(COMPACT.search(line)) for line in lines) == CANDLES
    assert not any(BANNER in line or "Raw Signal Score" in line for line in lines)
    assert log.count(BANNER) == CANDLES and log.count("Raw Signal Score") == CANDLES
    assert len(lines) < 40, "\n".join(lines)  # start-up, the candle lines, trades and alerts


@pytest.mark.parametrize("display, shown", [({"display_every": 4}, CANDLES // 4), ({"verbose": True}, CANDLES)])
def test_the_full_display_on_the_console_when_asked(tmp_path, display, shown):
    lines, log = demo_console(tmp_path, "full", **display)
    assert sum(BANNER in line for line in lines) == shown
    assert sum(bool(COMPACT.search(line)) for line in lines) == CANDLES
    assert log.count(BANNER) == CANDLES


def test_a_heartbeat_between_candles(tmp_path):
    """15-minute candles on a real-time replay: no candle closes during the test, yet the console
    hears price, position, trading state and stream health every heartbeat_s."""
    candles = load_candle_file(BUNDLED_DATA).candles.slice(0, 3000)
    sim = start_sim(candles, speed=1.0)
    workdir = tmp_path / "hb"
    stop = threading.Event()
    try:
        cfg = live_config(workdir, sim, interval="15")
        console = io.StringIO()
        log = setup_logging(cfg, console=True, stream=console, color=False)
        bot = Bot(cfg, BotOptions(mode="live", workdir=workdir, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                                  history_candles=200, heartbeat_s=1.0), log)
        thread = threading.Thread(target=bot.run, args=(stop,), name="test-bot", daemon=True)
        thread.start()
        beats = wait_for(lambda: [x for x in console.getvalue().splitlines() if "Heartbeat:" in x][2:] and
                         [x for x in console.getvalue().splitlines() if "Heartbeat:" in x], 60, "three heartbeats")
    finally:
        stop.set()
        if "thread" in locals():
            thread.join(30)
        shutdown_logging()
        sim.stop()
    assert re.search(r"Heartbeat: BTCUSDT [\d,]+\.\d\d \| flat \| ACTIVE \| streams: public [\d.]+ s ago, private "
                     r"[\d.]+ s ago$", beats[-1]), beats[-1]
