"""What the scenarios share: the common config, a scenario scripted on a synthetic path (walls,
erosion and balance changes by replayed candle), and the checks they make on the journal and the
log."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from whale.market.candles import Candles
from whale.scenarios import Scenario
from whale.scenarios._paths import TICK, PathBuilder

SPEED = 60.0  # one 1-minute candle per wall second: the bot sees every tick and book update
BOOK_LEVEL_QTY = 0.5  # BTC: the synthetic book's mean level
BOOK_LEVEL_TICKS = 30  # the book's price grid: a level every 3 USDT (the 200-level book spans 1 %)
WALL_QTY = 5.0  # BTC, about 300k USDT: 10x the median level, 6x the 50k USDT density.min_notional

# Every scenario: 1-minute candles, no higher timeframes, the safety monitor every second of wall
# time (the default 30 s is longer than most scenarios).
COMMON = {
    "interval": "1",
    "mtf_analysis.enabled": False,
    "safety.check_interval_sec": 1.0,
}
# Density trading: entries on the book only. The indicator score does not close a density trade
# (close_on_opposite_signal off), so what closes it is a density rule, an advanced exit or the
# exchange's stop or target. Density stops are tight (0.1 % behind a breakout's wall): at the
# default 1 % risk the demo's 1,000 USDT would need a 10,000 USDT position, beyond the 5x leverage
# and the 300 % exposure cap (the entry would be cut to the caps), so these scenarios risk 0.25 % a
# trade, which fits.
DENSITY = {
    **COMMON,
    "strategy.mode": "density",
    "trade_management.close_on_opposite_signal": False,
    "trade_management.risk_per_trade_percent": 0.25,
}


@dataclass(frozen=True)
class Expect:
    """The first trade of the journal: its side, the density setup that opened it, its exit reason."""

    side: str  # Buy | Sell
    kind: str  # breakout | bounce
    reason: str


BID_WALL = ("wall", "bid", "Buy", -0.35)  # the long bounces' wall, 0.35 % under the reference price


def bounce_long(close: float) -> PathBuilder:
    """A quiet minute (BID_WALL, placed before it, becomes stable), then one falling onto the wall —
    the bounce long fills at about -0.16 % — touching -0.30 % and climbing back to `close` in even
    steps."""
    return PathBuilder().flat(1).bar(0.0, 0.02, -0.30, close)


@dataclass
class Scripted(Scenario):
    """A density-mode scenario on a synthetic path. Subclasses give `build()` (the path), `script`
    ({replayed candle: actions run before it plays}), `trade` (an Expect), `log` (regular
    expressions the log must match, in that order) and `log_anywhere` (in any order).

    Actions are tuples: ("wall", key, side, pct) puts a WALL_QTY wall named `key` on `side` ("Buy"
    below the price, "Sell" above) near `pct` %; ("erode", key, percent, seconds) takes `percent` %
    of wall `key` away, evenly over `seconds` of replay time; ("balance", usdt) sets the wallet
    balance (a withdrawal, or losses elsewhere on the account)."""

    config: dict = field(default_factory=lambda: dict(DENSITY))
    speed = SPEED
    script: ClassVar[Mapping[int, tuple[tuple, ...]]] = {}  # {replayed candle: (action, ...)}
    trade: ClassVar[Expect | None] = None
    log: ClassVar[tuple[str, ...]] = ()  # regular expressions the log lines must match, in this order
    log_anywhere: ClassVar[tuple[str, ...]] = ()  # and some that must match somewhere (events whose order is a race)

    def __post_init__(self) -> None:
        self.path = self.build()
        self.candles = self.path.replayed
        self.step = 0
        self.walls: dict[str, int] = {}

    def build(self) -> PathBuilder:
        raise NotImplementedError

    def data(self) -> Candles:
        return self.path.candles()

    def sim_options(self) -> dict:
        return {"book_level_qty": BOOK_LEVEL_QTY, "book_level_ticks": BOOK_LEVEL_TICKS}

    def before_step(self, sim, bot) -> None:
        for action, *args in self.script.get(self.step, ()):
            getattr(self, f"_{action}")(sim, *args)
        self.step += 1

    def _wall(self, sim, key: str, side: str, pct: float) -> None:
        self.walls[key] = sim.walls.add(self.wall_price(pct), WALL_QTY, side)

    def _erode(self, sim, key: str, percent: float, seconds: float) -> None:
        sim.walls.erode(self.walls[key], percent, seconds)

    def _balance(self, sim, usdt: float) -> None:
        sim.set_balance(usdt)

    def wall_price(self, pct: float) -> float:
        """A wall's price near `pct` %, off the book's level grid (so the level is the wall alone)."""
        ticks = round(self.path.at(pct) / TICK)
        if ticks % BOOK_LEVEL_TICKS == 0:
            ticks += 5
        return round(ticks * TICK, 1)

    def check(self, result, workdir: Path) -> list[str]:
        trades = journal(workdir)
        problems: list[str] = []
        if self.trade is not None:
            problems += expect_trade(trades, 0, side=self.trade.side, strategy="density", reason=self.trade.reason)
            problems += density_kind(trades, 0, self.trade.kind)
        text = log_text(workdir)
        return problems + expect_log(text, *self.log) + sum((expect_log(text, p) for p in self.log_anywhere), [])


# ---- reading the outcome ------------------------------------------------------------------------

def journal(workdir: Path) -> list[dict]:
    """The trades of the demo's journal (trade_history.json), oldest first."""
    path = Path(workdir) / "trade_history.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())["trades"]


def log_text(workdir: Path) -> str:
    path = Path(workdir) / "whalebot.log"
    return path.read_text(errors="replace") if path.exists() else ""


def expect_trade(trades: list[dict], index: int, *, side: str, strategy: str, reason: str | None) -> list[str]:
    """Problems with trade `index` of the journal: its side, strategy and exit reason (None: still open)."""
    if len(trades) <= index:
        return [f"expected a trade #{index + 1} in the journal, found {len(trades)} trade(s)"]
    t = trades[index]
    problems = []
    if t["side"] != side:
        problems.append(f"trade #{index + 1} is a {t['side']}, expected a {side}")
    if t["strategy"] != strategy:
        problems.append(f"trade #{index + 1} was opened by strategy {t['strategy']!r}, expected {strategy!r}")
    if reason is None and t["status"] != "open":
        problems.append(f"trade #{index + 1} was closed ({t.get('reason')}), expected it still open")
    elif reason is not None and (t["status"] != "closed" or t.get("reason") != reason):
        got = t.get("reason") if t["status"] == "closed" else "still open"
        problems.append(f"trade #{index + 1} exit: {got}, expected {reason}")
    return problems


def density_kind(trades: list[dict], index: int, kind: str) -> list[str]:
    """Problems: trade `index` must be a density trade of `kind` as the journal shows it — a breakout
    rests its density ahead of the entry (an ask wall above a long), a bounce behind it."""
    if len(trades) <= index:
        return []  # expect_trade reports the missing trade
    t = trades[index]
    if t.get("density_price") is None:
        return [f"trade #{index + 1} has no density price in the journal"]
    ahead = (float(t["density_price"]) - float(t["entry_price"])) * (1 if t["side"] == "Buy" else -1) > 0
    got = "breakout" if ahead else "bounce"
    return [] if got == kind else [f"trade #{index + 1} is a {got} (density {t['density_price']}, entry "
                                   f"{t['entry_price']}), expected a {kind}"]


def expect_log(text: str, *patterns: str) -> list[str]:
    """Problems: the regular expressions must match lines of the log in this order (each one a line
    after the line the one before matched)."""
    lines = text.splitlines()
    problems, start = [], 0
    for p in patterns:
        at = next((i for i in range(start, len(lines)) if re.search(p, lines[i])), None)
        if at is not None:
            start = at + 1
        elif any(re.search(p, line) for line in lines[:start]):
            problems.append(f"the log line matching {p!r} comes only before the one matching the pattern before it")
        else:
            problems.append(f"the log has no line matching {p!r}")
    return problems
