"""The named simulator scenarios (whale/scenarios): each runs in-process exactly as
`python whalebot.py demo --scenario NAME` runs it (the demo config plus the scenario's keys, the
live loop against the embedded simulator in lockstep), and its test asserts the decision the bot
made and the reason it recorded in the journal and the log."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from whale.bot.demo import run_demo
from whale.candle_file import BUNDLED_DATA
from whale.commands.demo import DEMO_CONFIG
from whale.config import config_from_data
from whale.config.model import replace_path
from whale.logs import setup_logging, shutdown_logging
from whale.scenarios import load_all
from whale.scenarios._paths import PathBuilder, tick_path

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("wall-breakthrough", "wall-holds", "fading-move", "counter-wall", "taker-flow-reversal",
         "failed-breakout", "balance-floor", "connection-lost")


@pytest.fixture(autouse=True)
def _no_leaks(no_leaks):
    """The shared leak check (tests/conftest.py): the bot, the simulator and their threads are gone."""
    yield


def run_scenario(name: str, tmp_path: Path):
    """(scenario, DemoResult, work dir): the scenario run the way the demo command runs it."""
    scenario = load_all()[name]()
    cfg = config_from_data(json.loads(DEMO_CONFIG.read_text()), source=str(DEMO_CONFIG)).config
    for key, value in scenario.config.items():
        cfg = replace_path(cfg, key, value)
    workdir = tmp_path / name
    cfg = replace_path(cfg, "logging.file", str(workdir / "whalebot.log"))
    log = setup_logging(cfg, console=False)
    try:
        data = scenario.data()
        result = run_demo(cfg, data=BUNDLED_DATA if data is None else data, candles=scenario.candles,
                          workdir=workdir, log=log, speed=scenario.speed, scenario=scenario,
                          sim_options=scenario.sim_options())
    finally:
        shutdown_logging()
    return scenario, result, workdir


def trades(workdir: Path) -> list[dict]:
    return json.loads((workdir / "trade_history.json").read_text())["trades"]


def log_lines(workdir: Path) -> list[str]:
    return (workdir / "whalebot.log").read_text().splitlines()


def first(lines: list[str], pattern: str) -> int:
    """Index of the first log line matching `pattern` (fails when there is none)."""
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            return i
    raise AssertionError(f"no log line matches {pattern!r}")


def decided(name: str, tmp_path: Path, side: str, kind: str, reason: str):
    """Run a density scenario: it must be as expected (its check: the journal and its log lines,
    in order), with one trade in the journal, a closed density trade of `kind` (breakout: its wall
    ahead of the entry; bounce: behind it) closed for `reason`. Returns (the trade, the log lines,
    the DemoResult)."""
    scenario, result, workdir = run_scenario(name, tmp_path)
    assert scenario.check(result, workdir) == []
    (t,) = trades(workdir)
    assert (t["side"], t["strategy"], t["status"], t["reason"]) == (side, "density", "closed", reason)
    ahead = (Decimal(t["density_price"]) - Decimal(t["entry_price"])) * (1 if side == "Buy" else -1) > 0
    assert ahead == (kind == "breakout")
    return t, log_lines(workdir), result


def number(text: str) -> float:
    return float(text.replace(",", ""))


def exit_line(lines: list[str], pattern: str) -> re.Match:
    """The match of `pattern` in the log's first 'Closed' alert."""
    line = lines[first(lines, r"ALERT: Closed ")]
    m = re.search(pattern, line)
    assert m, line
    return m


def in_profit(t: dict, lines: list[str]) -> None:
    assert Decimal(t["pnl"]) > 0
    assert (Decimal(t["exit_price"]) - Decimal(t["entry_price"])) * (1 if t["side"] == "Buy" else -1) > 0


def back_below_the_wall(t: dict, lines: list[str]) -> None:
    """Out below the wall at 60,240.5 after being above it, before the stop."""
    m = exit_line(lines, r"below its density at 60,240\.5: price (?P<price>[\d,.]+) after reaching (?P<best>[\d,.]+)")
    assert number(m["price"]) < 60240.5 < number(m["best"])
    assert Decimal(t["exit_price"]) > Decimal(t["initial_stop"])


def selling_burst(t: dict, lines: list[str]) -> None:
    """The burst as the exit measured it: 12 BTC sold against the long, over both 2x thresholds."""
    m = exit_line(lines, r"taker sell volume (?P<sold>[\d.]+) over 10 s against the long: (?P<ratio>[\d.]+)x the "
                         r"volume with it \([\d.]+\) and (?P<average>[\d.]+)x its average")
    assert number(m["sold"]) >= 12 and number(m["ratio"]) >= 2 and number(m["average"]) >= 2


# The decision each density scenario must make — the trade's side, the density setup that opened it
# (breakout or bounce) and the exit reason in the journal — and a check of how it came out. The
# scenario's own check asserts its log lines, in order.
DENSITY_CASES = {
    "wall-breakthrough": ("Buy", "breakout", "take_profit", in_profit),
    "wall-holds": ("Buy", "bounce", "take_profit", in_profit),
    "failed-breakout": ("Buy", "breakout", "return_to_range", back_below_the_wall),
    "fading-move": ("Sell", "bounce", "momentum_slowdown", in_profit),
    "counter-wall": ("Buy", "bounce", "counter_density", in_profit),
    "taker-flow-reversal": ("Buy", "bounce", "aggressive_reversal", selling_burst),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", DENSITY_CASES)
def test_density_scenario_decides_and_records_its_reason(name, tmp_path):
    side, kind, reason, check = DENSITY_CASES[name]
    t, lines, result = decided(name, tmp_path, side, kind, reason)
    check(t, lines)
    assert result.trades_closed == 1 and not result.open_position


# ---- the safety monitor ----------------------------------------------------------------------------

@pytest.mark.timeout(90)
def test_balance_floor_closes_everything_and_stops(tmp_path):
    t, lines, result = decided("balance-floor", tmp_path, "Buy", "bounce", "emergency")
    assert result.emergency and result.emergency[0].startswith("equity ")
    assert "is below the balance floor 100 USDT" in result.emergency[0]
    assert not result.open_position and result.candles < load_all()["balance-floor"]().candles  # stopped early
    state = first(lines, r"ERROR - ALERT: Trading state ACTIVE -> EMERGENCY: "
                         r"equity [\d.]+ USDT is below the balance floor")
    closed = first(lines, r"ALERT: Closed BTCUSDT Buy .* \(emergency\)")
    stopped = first(lines, r"ERROR - ALERT: EMERGENCY: closing every position and stopping")
    assert first(lines, r"ALERT: Opened BTCUSDT Buy") < state < closed < stopped


@pytest.mark.timeout(120)
def test_connection_lost_halts_then_resumes(tmp_path):
    scenario, result, workdir = run_scenario("connection-lost", tmp_path)
    assert scenario.check(result, workdir) == []
    assert result.candles == scenario.candles and result.emergency is None
    lines = log_lines(workdir)
    halted = first(lines, r"WARNING - ALERT: Trading state ACTIVE -> HALTED: "
                          r"stream public silent for \d+ s \(limit 3 s\)")
    refused = first(lines, r"No entry: trading state is HALTED")
    active = first(lines, r"INFO - ALERT: Trading state HALTED -> ACTIVE")
    assert halted < refused < active
    scores = [line for line in lines[halted:refused] if "Raw Signal Score" in line]
    assert re.search(r"Raw Signal Score: 1\.36, Final Signal: BUY", scores[-1])  # the signal it refused
    assert not any("ALERT: Opened" in line for line in lines[halted:active])
    # Every candle was decided, in order: the outage lost none (REST filled the gap).
    rows = (workdir / "signals.csv").read_text().splitlines()[1:]
    ts = [int(r.split(",")[1]) for r in rows]  # symbol,timestamp_ms,score,signal
    assert len(ts) == 8 and all(b - a == 60_000 for a, b in zip(ts, ts[1:], strict=False))


# ---- the command line --------------------------------------------------------------------------------

def whalebot(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "whalebot.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.timeout(60)
def test_list_scenarios_lists_the_eight_one_line_each():
    out = whalebot("demo", "--list-scenarios", timeout=50)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(NAMES)
    registry = load_all()
    for line in lines:
        name, summary = line.split(maxsplit=1)
        assert summary == registry[name].summary and len(summary) <= 110


@pytest.mark.timeout(90)
def test_demo_scenario_command_runs_to_as_expected(tmp_path):
    out = whalebot("demo", "--scenario", "counter-wall", "--workdir", str(tmp_path / "w"), timeout=80)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Scenario counter-wall: expected" in out.stdout and "-> as expected" in out.stdout
    assert (tmp_path / "w" / "trade_history.json").exists()


@pytest.mark.timeout(30)
def test_unknown_scenario_is_a_clear_error():
    out = whalebot("demo", "--scenario", "wall-hold", timeout=25)
    assert out.returncode == 2 and "did you mean 'wall-holds'" in out.stdout + out.stderr


# ---- the path builder ---------------------------------------------------------------------------------

def test_paths_replay_the_four_points_in_order():
    b = PathBuilder().bar(0.0, 0.02, -0.30, -0.01)
    c = b.candles()
    assert b.replayed == 1 and c.close[b.history - 1] == 60_000.0
    path = tick_path(c.open[-1], c.high[-1], c.low[-1], c.close[-1])
    assert len(path) == 16 and path[0] == b.at(0.0) and path[5] == b.at(0.02) and path[10] == b.at(-0.30)
    assert path[15] == b.at(-0.01)
    with pytest.raises(ValueError, match="no candle visits"):
        b.bar(0.0, 0.1, 0.2, 0.3)  # a rising candle visits its low before its high


def test_every_scenario_is_documented():
    docs = (ROOT / "docs" / "scenarios.md").read_text()
    for name in load_all():
        assert f"`{name}`" in docs, name


def test_a_check_says_what_differs(tmp_path):
    """A scenario's check is not vacuous: another exit reason, a missing or misplaced log line."""
    scenario = load_all()["counter-wall"]()
    trade = {"side": "Buy", "strategy": "density", "status": "closed", "reason": "momentum_slowdown",
             "entry_price": "59902.8", "density_price": "59790.5"}
    (tmp_path / "trade_history.json").write_text(json.dumps({"trades": [trade]}))
    (tmp_path / "whalebot.log").write_text("x - density entry: bounce: bid density 59,790.5 (5, ...)\n"
                                           "x - ask density 60,210.5 appeared\n")
    problems = scenario.check(None, tmp_path)
    assert problems[0] == "trade #1 exit: momentum_slowdown, expected counter_density"
    assert any("comes only before the one matching" in p for p in problems)
    assert any("no line matching" in p and "counter_density" in p for p in problems)
