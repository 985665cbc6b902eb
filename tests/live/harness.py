"""Helpers for the reliability tests: an in-process simulator that outlives the bots it serves,
the bot as a real process (`python whalebot.py --config ... --workdir ...`) or as a Bot on a thread,
the PositionManager on the real Bybit client, and what the exchange and the journal hold."""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from whale.alerts import AlertSystem
from whale.bybit.endpoints import Endpoints
from whale.bybit.execution import BybitExecution
from whale.bybit.rest import BybitRest
from whale.config.model import Config, replace_path, to_dict
from whale.journal import PerformanceTracker
from whale.positions import PositionManager
from whale.sim import SimConfig, Simulator
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET

ROOT = Path(__file__).resolve().parents[2]
SYM = "BTCUSDT"


def wait_for(pred: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def start_sim(candles, **kw) -> Simulator:
    """A simulator replaying 1-minute candles by itself (speed 60: a candle a second)."""
    cfg = dict(data=candles, speed=60.0, lockstep=False, history_candles=1000, enforce_rate_limits=False)
    cfg.update(kw)
    return Simulator(SimConfig(**cfg)).start()


def endpoints(sim: Simulator) -> Endpoints:
    return Endpoints("custom", sim.rest_url, sim.public_ws_url, sim.private_ws_url)


def live_config(workdir: Path, sim: Simulator, **overrides) -> Config:
    """Real orders on the simulator (`dry_run: false`, `network: custom`), 1-minute candles, a low
    threshold so that the bot trades often, a safety check every second."""
    cfg = Config()
    values = {"network": "custom", "rest_url": sim.rest_url, "public_ws_url": sim.public_ws_url,
              "private_ws_url": sim.private_ws_url, "dry_run": False, "interval": "1",
              "mtf_analysis.enabled": False, "signal_score_threshold": 0.3, "cooldown_sec": 0.0,
              "trade_management.leverage": 20.0, "trade_management.risk_per_trade_percent": 0.1,
              "indicators.orderbook_imbalance": False, "loop_delay": 1.0, "safety.check_interval_sec": 1.0,
              "logging.file": str(workdir / "whalebot.log")}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    for key, value in values.items():
        cfg = replace_path(cfg, key, value)
    return cfg


def proc_env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    e.update({"BYBIT_API_KEY": DEFAULT_API_KEY, "BYBIT_API_SECRET": DEFAULT_API_SECRET, "PYTHONUNBUFFERED": "1"})
    return e


class BotProcess:
    """`python whalebot.py --config CONFIG --workdir WORKDIR`, its log file and its exit."""

    def __init__(self, workdir: Path, cfg: Config) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.config = workdir / "config.json"
        self.config.write_text(json.dumps(to_dict(cfg)))
        self.log_path = workdir / "whalebot.log"
        self.log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.err = (workdir / f"stderr-{time.monotonic_ns()}.txt").open("w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "whalebot.py"), "--config", str(self.config),
                                      "--workdir", str(workdir)], cwd=workdir, stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=proc_env())

    def log(self) -> str:
        """What this process wrote to whalebot.log."""
        try:
            return self.log_path.read_text(errors="replace")[self.log_start:]
        except OSError:
            return ""

    def wait_log(self, text: str, timeout: float) -> str:
        return wait_for(lambda: text in self.log() and self.log(), timeout, f"{text!r} in the bot's log")

    def stderr(self) -> str:
        self.err.flush()
        return Path(self.err.name).read_text(errors="replace")

    def sigterm(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return code, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.err.close()


class BotThread:
    """A Bot (the live loop) on a thread of this process, stopped like Ctrl-C does (the stop event)."""

    def __init__(self, workdir: Path, cfg: Config, sim: Simulator, *, rest_timeout_s: float = 10.0,
                 on_candle: Callable[[Any, int], None] | None = None) -> None:
        from whale.bot.loop import Bot, BotHooks, BotOptions
        from whale.logs import setup_logging

        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.log = setup_logging(cfg, console=False)
        hooks = BotHooks(on_candle=(lambda ts: on_candle(self.bot, ts)) if on_candle else None)
        self.bot = Bot(cfg, BotOptions(mode="live", workdir=workdir, api_key=DEFAULT_API_KEY,
                                       api_secret=DEFAULT_API_SECRET, history_candles=1000,
                                       rest_timeout_s=rest_timeout_s, hooks=hooks), self.log)
        self.thread = threading.Thread(target=self._run, name="test-bot", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.bot.run(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            self.error = exc

    def ready(self) -> bool:
        return bool(self.bot.traders) and getattr(self.bot, "signals", None) is not None and \
            getattr(self.bot.account, "safety", None) is not None

    def stop(self, timeout: float = 30.0) -> float:
        """Set the stop event; the seconds until the bot's thread ended."""
        from whale.logs import shutdown_logging

        t0 = time.monotonic()
        self.stop_event.set()
        self.thread.join(timeout)
        elapsed = time.monotonic() - t0
        shutdown_logging()
        assert not self.thread.is_alive(), "the bot did not stop"
        return elapsed


def exchange_client(sim: Simulator, **kw) -> BybitRest:
    return BybitRest(endpoints(sim), DEFAULT_API_KEY, DEFAULT_API_SECRET, **kw)


def pm_on_sim(tmp_path: Path, sim: Simulator, *, name: str = "trade_history.json", cfg: Config | None = None,
              clock: Any = None, market: Callable[[], tuple[float | None, float | None]] | None = None,
              stop_results: list | None = None, log_name: str = "whalebot.test.reliability"):
    """The PositionManager on the real Bybit broker and client (as the live bot builds them; the client
    waits at most 2 s for a rate limit), on a fresh tracker. Returns (pm, rest, tracker)."""
    cfg = cfg or Config()
    log = logging.getLogger(log_name)
    rest = exchange_client(sim, max_rate_limit_wait_s=2.0)
    broker = BybitExecution(rest, log=log).for_symbol(SYM)
    tracker = PerformanceTracker(tmp_path / name, network="custom", mode="live", symbol=SYM)
    results = stop_results if stop_results is not None else []
    kw: dict = {"on_stop_result": lambda ok, detail: results.append((ok, detail))}
    if clock is not None:
        kw["monotonic"] = clock
    accepted = inspect.signature(PositionManager).parameters  # the same test runs against older code
    pm = PositionManager(cfg, broker, tracker, AlertSystem(log), log, new_link_id=_link_ids(),
                         now_ms=lambda: sim.replay_time_ms, market=market or (lambda: (None, sim.last_price)),
                         **{k: v for k, v in kw.items() if k in accepted})
    return pm, rest, tracker


def _link_ids() -> Callable[[str], str]:
    from whale.venue.ids import new_link_id
    return new_link_id


def journal(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text())["trades"]
    except (OSError, ValueError, KeyError):
        return []


def sim_position(sim: Simulator) -> dict:
    return sim.position(0)


def sim_size(sim: Simulator) -> Decimal:
    return Decimal(sim.position(0).get("size") or "0")


def our_fills(sim: Simulator) -> dict[str, dict]:
    """Every order of the bot that executed on the simulator (orderLinkId `wb-...`): qty, average
    price and fee summed over its executions, from the simulator's own records."""
    def collect():
        out: dict[str, dict] = {}
        for f in sim.core.first.exchange.fills:
            if not f.link_id.startswith("wb-") or f.exec_type != "Trade":
                continue
            o = out.setdefault(f.link_id, {"qty": Decimal(0), "value": Decimal(0), "fee": Decimal(0)})
            o["qty"] += f.qty
            o["value"] += f.qty * f.price
            o["fee"] += f.fee
        return out
    return sim.call(collect)


def step_until(sim: Simulator, pred: Callable[[], Any], *, max_candles: int, what: str, pause: float = 0.3) -> Any:
    """Lockstep: replay one candle at a time (`pause` s apart, so the bot keeps up) until `pred()`."""
    for _ in range(max_candles):
        value = pred()
        if value:
            return value
        assert sim.step(1, timeout=30.0), "the simulator did not replay the next candle"
        time.sleep(pause)
    value = pred()
    assert value, f"{what}: not after {max_candles} candles"
    return value


def steps(sim: Simulator, n: int, pause: float = 0.3) -> None:
    for _ in range(n):
        assert sim.step(1, timeout=30.0), "the simulator did not replay the next candle"
        time.sleep(pause)
