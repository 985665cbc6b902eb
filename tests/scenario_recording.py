"""A density scenario of whale/scenarios run by the live bot against the simulator (the demo in
lockstep, as `demo --scenario` runs it) while tests/ws_recorder.py records the same simulator's
public streams over its own WebSocket connection: the recording `backtest --book` is then run on.

Two things make the scenario's run a recording a backtest can be compared with:

- **History.** `backtest --book` has only the recording for history (its first minute, and the
  candles built from its trades), while the demo's bot starts with the candle file's history. The
  ATR sets the stops, targets and stop moves, so the run replays a prelude of quiet minutes before
  the scenario's own candles (the recording holds them), and the history before the replay is made
  of the same quiet minutes: every candle before the entry has the same true range, so the Wilder
  ATR is the same number on both sides, however many of them each side has seen.
- **Triggered exits.** The simulator runs with `trigger_fill="book"` (docs/simulator.md, "Fill model"): a
  take-profit or stop the price crosses fills as Bybit fills it, by walking the book as it stands at the
  tick that crossed it, not around the level the candle path passed between two ticks. At that tick the
  simulator publishes the print, then the book delta it caused, both stamped with the tick's time; `backtest
  --book` triggers on the print and walks the book as it stands at the print's time, that delta included
  (whale.recording.lookahead reads ahead through it): the same book.
- **The lockstep.** The demo waits, before each pass and each simulator step, until the bot has read
  every public data message the simulator sent (Simulator.data_sent counts every connection). The
  recorder's connection is another subscriber: its frames are left out of that count (see
  `_exclude`), so the recorder neither stalls the bot nor changes what a pass sees.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests import ws_recorder
from whale.bot.demo import run_demo
from whale.bot.loop import BotHooks
from whale.commands.demo import DEMO_CONFIG
from whale.config import config_from_data
from whale.config.model import Config, replace_path
from whale.logs import setup_logging, shutdown_logging
from whale.scenarios import load_all
from whale.scenarios._base import Scripted
from whale.scenarios._paths import PathBuilder

# Quiet minutes replayed (and recorded) before the scenario's own candles: backtest --book builds its
# candles from the recording alone, and the ATR (14) needs 15 of them before an entry can be sized.
PRELUDE = 20
HISTORY = 20  # quiet minutes before the replay (the demo's candle history)
# A quiet minute swings this many % each way around the reference price: a true range of 106.8 USDT, about
# the ATR the scenarios' random-walk history ends with (106.7), so their targets and stops are as designed.
QUIET_WIGGLE = 0.089
SUBSCRIBE_TIMEOUT_S = 10.0
TRIGGER_FILL = "book"  # triggered exits fill on the book at the crossing tick, as on a recording (module doc)


def with_prelude(name: str, speed: float) -> Scripted:
    """Scenario `name` of whale/scenarios with PRELUDE quiet minutes replayed before its own candles
    (its script moved on by as many) and HISTORY quiet minutes of history instead of its random walk."""
    found = load_all()[name]
    if not issubclass(found, Scripted):
        raise ValueError(f"{name} is not a scripted density scenario")
    base: type[Scripted] = found

    class Prelude(base):  # type: ignore[valid-type, misc]
        script = {PRELUDE + k: actions for k, actions in base.script.items()}

        def build(self) -> PathBuilder:
            own = base.build(self)
            b = PathBuilder(history=HISTORY)
            b.rows = []
            b.flat(HISTORY + PRELUDE, wiggle=QUIET_WIGGLE)
            b.rows += own.rows[own.history:]
            return b

    Prelude.__name__ = f"Prelude{base.__name__}"
    Prelude.speed = speed
    return Prelude()


def scenario_config(scenario: Scripted, workdir: Path, overrides: dict | None = None) -> Config:
    """The config `demo --scenario` runs the scenario with (the demo config plus the scenario's keys),
    logging into the work dir, with `overrides` (dotted keys) on top."""
    cfg = config_from_data(json.loads(DEMO_CONFIG.read_text()), source=str(DEMO_CONFIG)).config
    for key, value in {**scenario.config, **(overrides or {})}.items():
        cfg = replace_path(cfg, key, value)
    return replace_path(cfg, "logging.file", str(workdir / "whalebot.log"))


@dataclass
class RecordedRun:
    trades: list[dict]  # the demo's journal (trade_history.json)
    recording: Path
    recorded: dict[str, int]  # messages written, by topic


class _Recorder:
    """tests/ws_recorder.py on its own thread, started from the scenario's first step (the bot is up,
    the replay not yet started), its connection left out of the lockstep's count."""

    def __init__(self, out: Path, symbol: str, depth: int) -> None:
        self.out = out
        self.symbol = symbol
        self.depth = depth
        self.counts: dict[str, int] = {}
        self.stop = threading.Event()
        self.error: list[BaseException] = []
        self.thread: threading.Thread | None = None
        self.observers: list = []  # the simulator's Conn of the recorder's connection
        self.missing: int | None = None  # frames written to the recorder and not read when it stopped

    def start(self, sim) -> None:
        hub = sim.core.hub
        before = set(hub.conns)
        _exclude(sim, self.observers)
        self.thread = threading.Thread(target=self._run, args=(sim.public_ws_url,), name="test-ws-recorder",
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while time.monotonic() < deadline and not self.error:
            new = [c for c in list(hub.conns) if c not in before and c.kind == "public"]
            if new and len(new[0].topics) == len(ws_recorder.TOPICS) and self.counts:
                self.observers.extend(new)
                return
            time.sleep(0.005)
        raise AssertionError(f"the recorder did not subscribe within {SUBSCRIBE_TIMEOUT_S} s: {self.error}")

    def _run(self, url: str) -> None:
        try:
            ws_recorder.record(url, [self.symbol], self.out, seconds=300.0, depth=self.depth,
                               until=self.stop.is_set, counts=self.counts)
        except Exception as exc:  # noqa: BLE001 - run_recorded reports it
            self.error.append(exc)

    def finish(self) -> None:
        """Wait (bounded) until the recorder has read every frame the simulator wrote to it, then stop it
        (on the bot's thread, at its last candle: the simulator is still up)."""
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while time.monotonic() < deadline:
            self.missing = sum(c.data_frames for c in self.observers) - sum(self.counts.values())
            if self.missing <= 0:
                break
            time.sleep(0.01)
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=SUBSCRIBE_TIMEOUT_S)


def _exclude(sim, observers: list) -> None:
    """Make the simulator's data count (what the lockstep waits for the bot to read) leave out the
    frames written to `observers`. The recorder's frames are read before the total: a frame sent
    between the two reads can only make the count larger than the bot's share, so a pass waits a
    little longer, never starts early."""
    counted = sim.data_sent

    def data_sent() -> dict[str, int]:
        theirs = sum(c.data_frames for c in list(observers))
        sent = counted()
        sent["public"] = sent.get("public", 0) - theirs
        return sent

    sim.data_sent = data_sent


def run_recorded(name: str, tmp: Path, *, speed: float = 600.0, overrides: dict | None = None,
                 trigger_fill: str = TRIGGER_FILL) -> RecordedRun:
    """Run scenario `name` (with the prelude) in the demo while recording its simulator (whose triggered
    exits fill by `trigger_fill`, see the module doc)."""
    scenario = with_prelude(name, speed)
    workdir = tmp / "demo"
    cfg = scenario_config(scenario, workdir, overrides)
    recorder = _Recorder(tmp / "rec", cfg.symbol, int(cfg.density.book_depth))
    first_step = scenario.before_step

    def before_step(sim, bot) -> None:
        if scenario.step == 0:
            recorder.start(sim)
        first_step(sim, bot)

    scenario.before_step = before_step  # type: ignore[method-assign]
    data = scenario.data()
    last = int(data.ts[-1])

    def on_candle(ts: int) -> None:  # the bot's thread, before the demo closes the simulator
        if ts >= last:
            recorder.finish()

    log = setup_logging(cfg, console=False)
    try:
        run_demo(cfg, data=data, candles=scenario.candles, workdir=workdir, log=log, speed=scenario.speed,
                 scenario=scenario, sim_options={**scenario.sim_options(), "trigger_fill": trigger_fill},
                 bot_hooks=BotHooks(on_candle=on_candle))
    finally:
        shutdown_logging()
        recorder.stop.set()
        if recorder.thread is not None:
            recorder.thread.join(timeout=SUBSCRIBE_TIMEOUT_S)
    if recorder.error:
        raise AssertionError(f"the recorder failed: {recorder.error[0]!r}") from recorder.error[0]
    assert recorder.missing == 0, f"the recorder stopped {recorder.missing} frame(s) short of the end (None: never)"
    trades = json.loads((workdir / "trade_history.json").read_text())["trades"]
    return RecordedRun(trades, tmp / "rec", dict(recorder.counts))

