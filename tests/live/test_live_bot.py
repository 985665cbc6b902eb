"""The live loop against the embedded simulator over real HTTP and WebSocket (demo mode, lockstep):
parity with the backtest, faults on every path, journal problems and secrets."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from whale.backtest.runner import run_backtest
from whale.bot.demo import run_demo
from whale.candle_file import BUNDLED_DATA
from whale.config.model import Config, replace_path
from whale.logs import setup_logging, shutdown_logging
from whale.strategy.stops import EXIT_REASONS

pytestmark = pytest.mark.net

CANDLES = 64  # 16 hours of 15-minute candles per run: quick, and the bot trades in it


def demo_cfg(**overrides) -> Config:
    # Half the default risk keeps 15-minute entries inside the 300 % exposure cap, so these runs trade.
    cfg = replace_path(Config(), "signal_score_threshold", 1.0)
    cfg = replace_path(cfg, "trade_management.risk_per_trade_percent", 0.5)
    cfg = replace_path(cfg, "indicators.orderbook_imbalance", False)
    for key, value in overrides.items():
        cfg = replace_path(cfg, key.replace("__", "."), value)
    return cfg


def run(tmp_path: Path, cfg: Config | None = None, *, candles: int = CANDLES, name: str = "w", data=BUNDLED_DATA,
        **kw):
    workdir = tmp_path / name
    cfg = replace_path(cfg or demo_cfg(), "logging.file", str(workdir / "whalebot.log"))
    log = setup_logging(cfg, console=False)
    try:
        result = run_demo(cfg, data=data, candles=candles, workdir=workdir, log=log, **kw)
    finally:
        shutdown_logging()
    return result, workdir


def journal(workdir: Path) -> list[dict]:
    return json.loads((workdir / "trade_history.json").read_text())["trades"]


def signal_rows(workdir: Path) -> list[str]:
    """signals.csv's rows, without the header: `symbol,timestamp_ms,score,signal`."""
    return (workdir / "signals.csv").read_text().splitlines()[1:]


def row_ts(row: str) -> int:
    return int(row.split(",")[1])


class Scenario:
    """before_step hook: run `action(sim, bot)` once, when `when(sim, bot)` first holds."""

    def __init__(self, when, action):
        self.when, self.action, self.done = when, action, False

    def before_step(self, sim, bot):
        if not self.done and self.when(sim, bot):
            self.done = True
            self.action(sim, bot)


def in_position(sim, bot) -> bool:
    return bool(bot.traders) and bot.trader().pm.trade is not None


def test_demo_decisions_equal_the_backtest(tmp_path):
    cfg = demo_cfg()
    result, workdir = run(tmp_path, cfg, candles=96)
    assert result.candles == 96 and result.trades_closed >= 1
    rows = signal_rows(workdir)
    assert len(rows) == 96
    bt = run_backtest(cfg, BUNDLED_DATA)
    bt_rows = {int(t): f"BTCUSDT,{int(t)},{'' if s != s else f'{s:.10f}'},{['SELL', 'HOLD', 'BUY'][g + 1]}"
               for t, s, g in zip(bt.ts, bt.scores, bt.signals, strict=True)}
    assert [bt_rows.get(row_ts(r)) for r in rows] == rows
    # The journal holds real exits: price, fees and a reason for each closed trade.
    closed = [t for t in journal(workdir) if t["status"] == "closed"]
    assert len(closed) == result.trades_closed
    assert all(Decimal(t["fees"]) > 0 and t["reason"] in EXIT_REASONS and t["reason"] != "end_of_backtest"
               for t in closed)


def test_stream_dropped_with_an_open_position_misses_nothing(tmp_path):
    drops = Scenario(in_position, lambda sim, bot: sim.faults.drop_connections("all"))
    result, workdir = run(tmp_path, scenario=drops)
    assert drops.done, "the bot never held a position: the fault was not exercised"
    rows = signal_rows(workdir)
    ts = [row_ts(r) for r in rows]
    assert len(ts) == CANDLES and ts == sorted(set(ts))
    assert np.all(np.diff(ts) == 900_000), "a candle was skipped after the reconnect"
    log = (workdir / "whalebot.log").read_text()
    assert re.search(r"(reconnect|connected)", log, re.I)
    # The journal agrees with the exchange at the end: no open trade unknown to it.
    trades = journal(workdir)
    assert sum(t["status"] == "open" for t in trades) == (1 if result.open_position else 0)


class ExchangeAudit:
    """Arms the order/create timeout, then (once the bot holds the position that order opened) asks
    the simulator over REST what executed under the entry's orderLinkId."""

    def __init__(self):
        self.armed = False
        self.executions = None
        self.link = None

    def before_step(self, sim, bot):
        from whale.bybit.endpoints import Endpoints
        from whale.bybit.rest import BybitRest
        from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET

        if not self.armed and bool(bot.traders):
            sim.faults.fail_next_order("timeout", "after")
            self.armed = True
        elif self.armed and self.executions is None and in_position(sim, bot):
            self.link = bot.trader().pm.trade.entry_order_link_id
            rest = BybitRest(Endpoints("custom", sim.rest_url, sim.public_ws_url, sim.private_ws_url),
                             DEFAULT_API_KEY, DEFAULT_API_SECRET)
            try:
                self.executions = rest.executions("BTCUSDT", link_id=self.link)
                self.position = sim.position()
            finally:
                rest.close()


def test_order_create_timeout_after_executing_leaves_no_duplicate(tmp_path):
    audit = ExchangeAudit()
    result, workdir = run(tmp_path, scenario=audit, sim_options={"faults": "timeout_seconds=4"}, rest_timeout_s=1.5)
    log = (workdir / "whalebot.log").read_text()
    assert "timeout after executing" in log and "looking it up by orderLinkId" in log
    first = journal(workdir)[0]
    assert first["entry_order_link_id"] == audit.link
    # Exactly one order executed under that link id: the bot never resent it.
    assert audit.executions and len({e.order_id for e in audit.executions}) == 1
    assert sum(e.qty for e in audit.executions) == Decimal(first["qty"])


def test_rate_limit_storm_is_survived(tmp_path):
    faults = "rate_limit=position/list:1/2,rate_limit=order/create:1/2,rate_limit=execution/list:2/1"
    result, workdir = run(tmp_path, sim_options={"faults": faults})
    assert result.candles == CANDLES
    assert len(signal_rows(workdir)) == CANDLES
    log = (workdir / "whalebot.log").read_text()
    assert "(retCode 10006)" in log, "the storm never hit the bot"


def test_malformed_message_on_each_stream_is_skipped(tmp_path):
    def corrupt(sim, bot):
        sim.faults.send_malformed("public")
        sim.faults.send_malformed("private")

    sc = Scenario(lambda sim, bot: bool(bot.traders), corrupt)
    result, workdir = run(tmp_path, scenario=sc)
    assert sc.done and result.candles == CANDLES
    log = (workdir / "whalebot.log").read_text().lower()
    assert "malformed" in log


def test_corrupt_journal_is_moved_aside_and_the_bot_runs(tmp_path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    (workdir / "trade_history.json").write_text('{"version": 1, "trades": [ {broken')
    result, workdir = run(tmp_path, candles=16, prepared_workdir=True)
    aside = list(workdir.glob("trade_history.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text().startswith('{"version": 1, "trades": [ {broken')
    log = (workdir / "whalebot.log").read_text()
    assert "corrupt" in log.lower() and str(aside[0].name) in log
    assert result.candles == 16


def test_api_keys_never_reach_a_log_file(tmp_path):
    key, secret = "TESTKEY-a1b2c3d4e5", "TESTSECRET-f6g7h8i9j0k1l2m3"
    result, workdir = run(tmp_path, candles=24, api_key=key, api_secret=secret)
    assert result.candles == 24
    for f in workdir.rglob("*"):
        if f.is_file():
            text = f.read_bytes()
            assert key.encode() not in text and secret.encode() not in text, f


def test_wrong_api_key_is_a_clear_failure(tmp_path):
    from whale.errors import WhaleError

    workdir = tmp_path / "w"
    cfg = replace_path(demo_cfg(), "logging.file", str(workdir / "whalebot.log"))
    log = setup_logging(cfg, console=False)
    try:
        with pytest.raises(WhaleError) as exc:
            run_demo(cfg, data=BUNDLED_DATA, candles=8, workdir=workdir, log=log,
                     sim_options={"api_key": "SOMEONE-ELSES-KEY", "api_secret": "SOMEONE-ELSES-SECRET"})
    finally:
        shutdown_logging()
    assert "10003" in str(exc.value) or "key" in str(exc.value).lower()


def test_demo_journal_has_network_mode_and_link_ids(tmp_path):
    result, workdir = run(tmp_path, candles=96)
    doc = json.loads((workdir / "trade_history.json").read_text())
    assert doc["network"] == "custom" and doc["mode"] == "demo"
    for t in doc["trades"]:
        assert t["entry_order_link_id"] and len(t["entry_order_link_id"]) <= 36
        if t["status"] == "closed":
            assert t["exit_order_link_ids"]
    logging.getLogger("whalebot").handlers.clear()



def _kernel_overloads() -> dict[str, int]:
    """Every numba kernel of ours that is loaded, with how many compiled signatures it holds."""
    import sys

    from numba.core.registry import CPUDispatcher

    out = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("whale.") and module is not None:
            for attr, value in vars(module).items():
                if isinstance(value, CPUDispatcher) and value.__module__ == name:
                    out[f"{name}.{attr}"] = len(value.overloads)
    return out


def late_kernels_in_a_demo(tmp_path: Path) -> dict:
    """Run a demo that trades; return the kernels first used after start-up, and the closed trades."""
    seen = {}

    def snapshot(sim, bot):
        seen.update(_kernel_overloads())

    cfg = demo_cfg(trade_management__enable_trailing_stop=True)
    result, _ = run(tmp_path, cfg, scenario=Scenario(lambda sim, bot: True, snapshot))
    late = {k: [seen.get(k, 0), n] for k, n in _kernel_overloads().items() if n > seen.get(k, 0)}
    return {"late": late, "trades_closed": result.trades_closed, "kernels_at_start": sum(seen.values())}


def test_no_kernel_is_first_compiled_or_loaded_after_start_up(tmp_path):
    """Start-up compiles every kernel the loop uses (whale.warmup): with a cold cache the first book
    update, entry or stop move would otherwise stall the main thread for up to seconds. A fresh
    process, so that kernels loaded by earlier tests do not hide a late one."""
    code = ("import json, sys; from pathlib import Path; "
            "from tests.live.test_live_bot import late_kernels_in_a_demo; "
            "print(json.dumps(late_kernels_in_a_demo(Path(sys.argv[1]))))")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=repo, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["trades_closed"] >= 1, "the run must enter, move stops and exit to exercise the kernels"
    assert out["kernels_at_start"] > 0
    assert out["late"] == {}, "kernels first used after start-up: add them to whale/warmup.py"
