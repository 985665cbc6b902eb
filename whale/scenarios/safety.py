"""The safety monitor: the wallet falls below the balance floor (EMERGENCY), and the public stream
goes silent for longer than the stale limit (HALTED, then ACTIVE again)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from whale.candle_file import BUNDLED_DATA, load_candle_file
from whale.market.candles import Candles
from whale.scenarios import Scenario, register
from whale.scenarios._base import (
    BID_WALL,
    COMMON,
    SPEED,
    Expect,
    Scripted,
    bounce_long,
    expect_log,
    log_text,
)
from whale.scenarios._paths import PathBuilder

BALANCE_AFTER_DROP = 80.0  # USDT, under the default safety.min_balance_usdt of 100


@register
class BalanceFloor(Scripted):
    name = "balance-floor"
    summary = "the wallet drops to 80 USDT, under the 100 USDT floor, with a long open: EMERGENCY close and stop"
    expected = ("trading state EMERGENCY (equity below the balance floor), the open long closed with reason "
                "emergency, the bot stopped by the safety monitor")
    script = {0: (BID_WALL,), 2: (("balance", BALANCE_AFTER_DROP),)}
    trade = Expect("Buy", "bounce", "emergency")
    log = (r"ALERT: Opened BTCUSDT Buy",
           r"ERROR - ALERT: Trading state ACTIVE -> EMERGENCY: equity [\d,.]+ USDT is below the balance floor 100 USDT",
           r"ALERT: Closed BTCUSDT Buy .* \(emergency\)",
           r"ERROR - ALERT: EMERGENCY: closing every position and stopping")

    def build(self) -> PathBuilder:
        return bounce_long(-0.25).flat(3, -0.25)  # the long is held; the wallet drains before the 3rd candle

    def check(self, result, workdir: Path) -> list[str]:
        problems = super().check(result, workdir)
        if not result.emergency or not any("below the balance floor 100 USDT" in r for r in result.emergency):
            problems.append(f"the safety monitor did not stop the bot for the balance floor "
                            f"(emergency: {result.emergency})")
        return problems


# connection-lost replays real minutes of the bundled file: 3 ordinary ones, then the public stream
# stalls before the 4th. The minute after it has a strong indicator signal that would be an entry
# (|score| >= the demo's threshold 1.0); the 4th and the 6th have none, so whichever state the
# monitor is in when the bot catches up on them, no entry is due.
REAL_STALL_INDEX = 3131  # the 4th replayed minute: 2025-05-06 19:44 UTC in the bundled file
REAL_HISTORY = 2000  # minutes of history before the replay (the indicators need 1,442 for full accuracy)
STALL_SECONDS = 11.0  # wall seconds of silence on the public stream; the stale limit is 3 s


@register
@dataclass
class ConnectionLost(Scenario):
    name = "connection-lost"
    summary = "the public stream goes silent for 11 s (stale limit 3 s): HALTED, no entry, then ACTIVE again"
    expected = ("trading state HALTED (stream public silent beyond the 3 s limit) while the stream is silent, a "
                "strong signal refused with 'No entry: trading state is HALTED', back to ACTIVE once data flows, "
                "and no trade opened while halted")
    candles = 8
    speed = SPEED
    config: dict = field(default_factory=lambda: {
        **COMMON,
        # Shortened from 30 s so the outage fits a quick demo; the WebSocket watchdog uses it too.
        "safety.stale_stream_sec": 3.0,
        # The book is lost during the outage; without this scorer the scores equal a backtest's.
        "indicators.orderbook_imbalance": False,
    })

    def __post_init__(self) -> None:
        self.step = 0

    def data(self) -> Candles:
        c = load_candle_file(BUNDLED_DATA).candles
        first = REAL_STALL_INDEX - 3
        return c.slice(first - REAL_HISTORY, first + self.candles)

    def before_step(self, sim, bot) -> None:
        if self.step == 3:
            sim.faults.stall("public", seconds=STALL_SECONDS)
        self.step += 1

    def check(self, result, workdir: Path) -> list[str]:
        text = log_text(workdir)
        problems = expect_log(text, r"WARNING - ALERT: Trading state ACTIVE -> HALTED: stream public silent for \d+ s "
                                    r"\(limit 3 s\)",
                              r"No entry: trading state is HALTED",
                              r"Trading State: HALTED",  # the display after that candle
                              r"INFO - ALERT: Trading state HALTED -> ACTIVE")
        if result.candles != self.candles:
            problems.append(f"the bot decided {result.candles} of the {self.candles} candles")
        for opened in _opened_while_halted(text):
            problems.append(f"a trade was opened while trading was halted: {opened}")
        return problems


def _opened_while_halted(text: str) -> list[str]:
    """The 'Opened' alerts logged between a change to HALTED and the next state change."""
    out, halted = [], False
    for line in text.splitlines():
        m = re.search(r"ALERT: Trading state \w+ -> (\w+)", line)
        if m:
            halted = m.group(1) == "HALTED"
        elif halted and "ALERT: Opened" in line:
            out.append(line)
    return out
