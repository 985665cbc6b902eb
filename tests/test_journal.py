"""The journal: records, atomic writes, the lock, corrupt files, the tracker and its summary."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from whale.backtest.metrics import max_drawdown, trade_stats
from whale.errors import EXIT_RUNTIME, WhaleError
from whale.journal import (
    JournalData,
    JournalError,
    JournalFile,
    PerformanceTracker,
    TradeRecord,
    describe_trade,
    encode,
    format_summary_lines,
    journal_filename,
    lock_holder,
    migrations,
    records,
)
from whale.logs import NEON_CYAN, NEON_YELLOW
from whale.strategy.stops import EXIT_REASONS, STOP_BREAKEVEN
from whale.timefmt import iso_utc

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


class FakeClock:
    def __init__(self, ms: int = T0) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


def record(n: int = 1, **kw) -> TradeRecord:
    fields = dict(id=f"wb-{n}", symbol="BTCUSDT", side="Buy", qty=Decimal("0.010"), network="testnet", mode="paper",
                  strategy="indicators", entry_time=T0 + n * 60_000, entry_price=Decimal("65000.5"),
                  entry_order_link_id=f"wb-{n}", initial_stop=Decimal("64000.1"), stop_loss=Decimal("64000.1"),
                  take_profit=Decimal("67000"), entry_atr=420.5)
    fields.update(kw)
    return TradeRecord(**fields)


def tracker(tmp_path, name: str = "trade_history.paper.json", **kw) -> PerformanceTracker:
    args = dict(network="testnet", mode="paper", symbol="BTCUSDT", clock=FakeClock())
    args.update(kw)
    return PerformanceTracker(tmp_path / name, **args)


def on_disk(path: Path) -> dict:
    """The file as JSON, checking that every amount is a string (entry_atr is market data: a float)."""
    doc = json.loads(path.read_text())
    for trade in doc["trades"]:
        for name in records._DECIMAL_FIELDS:
            assert trade[name] is None or isinstance(trade[name], str), (name, trade[name])
    return doc


# ----------------------------------------------------------------------------------------------
# Records


def test_record_roundtrip_is_exact_and_amounts_are_strings(tmp_path):
    exact = Decimal("0.1000000000000000055511151231257827")
    r = record(qty=exact, fees=Decimal("-0.00012"), funding=Decimal("1E-7"), density_price=64950, notes=["adopted"])
    data = r.to_json()
    assert data["qty"] == "0.1000000000000000055511151231257827"
    assert data["funding"] == "0.0000001" and data["density_price"] == "64950" and data["notes"] == ["adopted"]
    back = TradeRecord.from_json(json.loads(json.dumps(data)))
    assert back == r and back.qty == exact and isinstance(back.fees, Decimal) and back.notes == ("adopted",)
    # floats from the maths go through their shortest repr; times are normalised to UTC ISO
    r2 = record(stop_loss=64000.1, entry_time="2025-01-01T02:00:00+02:00")
    assert r2.stop_loss == Decimal("64000.1") and r2.entry_time == "2025-01-01T00:00:00.000Z"
    assert iso_utc(T0) == "2025-01-01T00:00:00.000Z"


@pytest.mark.parametrize("change, problem", [
    (dict(side="Long"), "side"),
    (dict(qty="abc"), "qty"),
    (dict(qty=Decimal("NaN")), "qty"),
    (dict(qty=0), "qty"),
    (dict(reason="target"), "reason"),
    (dict(status="closed"), "closed trade needs"),
    (dict(stop_kind=5), "stop_kind"),
    (dict(entry_time="2025-01-01T00:00:00"), "zone"),
    (dict(network="moon"), "network"),
    (dict(notes="a note"), "notes"),
])
def test_record_validation(change, problem):
    with pytest.raises(ValueError, match=problem):
        record(**change)


def test_every_exit_reason_is_accepted():
    for reason in EXIT_REASONS:
        r = record(status="closed", exit_time=T0, exit_price="1", pnl="0", reason=reason)
        assert r.reason == reason


# ----------------------------------------------------------------------------------------------
# The tracker


def test_every_mutation_persists_at_once_and_a_restart_restores_metadata(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    with tracker(tmp_path) as t:
        assert t.warnings == [] and not path.exists()  # loading writes nothing
        t.open_trade(record(1))
        doc = on_disk(path)
        assert doc["version"] == migrations.FORMAT_VERSION
        assert (doc["symbols"], doc["network"], doc["mode"]) == (["BTCUSDT"], "testnet", "paper")
        assert doc["updated"] == "2025-01-01T00:00:00.000Z" and doc["paper_state"] == {}
        assert [x["id"] for x in doc["trades"]] == ["wb-1"] and doc["trades"][0]["status"] == "open"
        t.update_trade("wb-1", stop_loss=Decimal("65000.5"), stop_kind=STOP_BREAKEVEN, breakeven_done=True,
                       density_price=Decimal("64800"))
        assert on_disk(path)["trades"][0]["stop_loss"] == "65000.5"
        t.add_note("wb-1", "stop confirmed on the exchange")
        t.open_trade(record(2, side="Sell", adopted=True, entry_order_link_id=None, strategy="density"))
        before = t.get("wb-1")
    with tracker(tmp_path) as t2:
        assert t2.warnings == []
        assert t2.get("wb-1") == before
        restored = t2.get("wb-1")
        assert restored.stop_kind == STOP_BREAKEVEN and restored.breakeven_done and restored.density_price == 64800
        assert restored.initial_stop == Decimal("64000.1") and restored.entry_atr == 420.5
        assert restored.notes == ("stop confirmed on the exchange",)
        assert [x.id for x in t2.open_trades()] == ["wb-1", "wb-2"] and t2.get("wb-2").adopted


def test_every_save_is_the_whole_journal_encoded_afresh(tmp_path):
    """A save re-encodes only the trades that changed (JournalText): the file must stay byte for byte what
    encoding the whole journal gives, through every kind of change, with text json has to escape."""
    path = tmp_path / "trade_history.paper.json"

    def fresh(t: PerformanceTracker) -> str:
        return encode(JournalData(list(t.symbols), t.network, t.mode, on_disk(path)["updated"], t.all_trades(),
                                  t._paper_state, t._safety).to_json())  # what _persist saves

    with tracker(tmp_path) as t:
        steps = [lambda: t.open_trade(record(1)),
                 lambda: t.open_trade(record(2, side="Sell", notes=("déjà vu \u2028 \"quoted\"\n", "tab\t"))),
                 lambda: t.update_trade("wb-1", stop_loss=Decimal("65000.5"), breakeven_done=True),
                 lambda: t.set_paper_state({"BTCUSDT": {"qty": "0.010", "nested": [1, {"a": []}], "empty": {}}}),
                 lambda: t.add_note("wb-2", "ünïcode"),
                 lambda: t.close_trade("wb-1", Decimal("66000"), T0 + 9 * 60_000, Decimal("1.2"), Decimal("0"), None,
                                       EXIT_REASONS[1]),
                 lambda: t.add_pending(record(3, status="pending")),
                 lambda: t.drop_pending("wb-3"),
                 lambda: t.set_safety_state({"state": "ACTIVE", "peak": 10_000.5})]
        for step in steps:
            step()
            assert path.read_text(encoding="utf-8") == fresh(t)
        assert [x["id"] for x in on_disk(path)["trades"]] == ["wb-1", "wb-2"]


@pytest.mark.parametrize("durable", [True, False])
def test_a_journal_that_need_not_survive_a_crash_saves_without_fsync(tmp_path, monkeypatch, durable):
    """backtest --book's journal (durable=False) skips the fsyncs, ~7 a trade; the live bot's keeps them."""
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    with tracker(tmp_path, durable=durable) as t:
        synced.clear()  # taking the lock writes and syncs the holder's pid
        t.open_trade(record(1))
        t.update_trade("wb-1", stop_loss=Decimal("65000.5"))
        assert on_disk(t.path)["trades"][0]["stop_loss"] == "65000.5"
    assert len(synced) == (4 if durable else 0)  # the file and its directory, each save


def test_close_trade_records_the_real_exit(tmp_path):
    with tracker(tmp_path) as t:
        t.open_trade(record(1, fees=Decimal("0.36")))
        t.open_trade(record(2, side="Sell"))
        closed = t.close_trade("wb-1", "65500.5", T0 + 3_600_000, Decimal("0.72"), Decimal("0.05"), None,
                               "take_profit", ["wb-1-tp"])
        # pnl None: (exit - entry) x qty x direction - fees - funding
        assert closed.pnl == Decimal("5.000") - Decimal("0.72") - Decimal("0.05")
        assert closed.status == "closed" and closed.exit_order_link_ids == ("wb-1-tp",)
        assert closed.exit_time == "2025-01-01T01:00:00.000Z"
        short = t.close_trade("wb-2", Decimal("65100.5"), T0 + 7_200_000, None, None, None, "stop_loss", "wb-2-sl")
        assert short.pnl == Decimal("-1.000") and short.exit_order_link_ids == ("wb-2-sl",)
        given = on_disk(tmp_path / "trade_history.paper.json")["trades"][0]
        assert given["pnl"] == "4.2300" and given["exit_price"] == "65500.5" and given["reason"] == "take_profit"
        assert t.open_trades() == [] and [x.id for x in t.closed_trades()] == ["wb-1", "wb-2"]
        assert describe_trade(closed) == ("BTCUSDT Buy 0.010 @ 65000.5 -> 65500.5 (take_profit), "
                                          "PnL +4.23 USDT (fees 0.72, funding 0.05)")
        with pytest.raises(ValueError, match="already closed"):
            t.close_trade("wb-1", 1, T0, None, None, None, "manual")
        with pytest.raises(ValueError, match="reason"):
            t.close_trade("wb-2", 1, T0, None, None, None, "because")


def test_mutations_refuse_what_would_corrupt_the_log(tmp_path):
    t = tracker(tmp_path)
    t.open_trade(record(1))
    with pytest.raises(ValueError, match="already in the journal"):
        t.open_trade(record(1))
    with pytest.raises(ValueError, match="cannot change status"):
        t.update_trade("wb-1", status="closed")
    with pytest.raises(ValueError, match="side"):
        t.update_trade("wb-1", side="Up")
    with pytest.raises(KeyError):
        t.update_trade("nope", stop_loss=1)
    with pytest.raises(ValueError, match="mainnet"):
        t.open_trade(record(3, network="mainnet"))
    assert t.get("wb-1").side == "Buy"  # a refused change leaves the record as it was
    t.close()
    t.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        t.update_trade("wb-1", stop_loss=1)


def test_paper_state_is_saved_in_the_same_file(tmp_path):
    with tracker(tmp_path) as t:
        state = {"balance": Decimal("1004.28"), "positions": [{"id": "wb-1", "stop": Decimal("64000.1")}], "n": 1.5}
        t.set_paper_state(state)
        state["balance"] = Decimal("0")  # the tracker keeps its own copy
        with pytest.raises(ValueError, match="JSON"):
            t.set_paper_state({"bad": {1, 2}})
    with tracker(tmp_path) as t2:
        assert t2.paper_state() == {"balance": "1004.28", "positions": [{"id": "wb-1", "stop": "64000.1"}], "n": 1.5}
    with tracker(tmp_path, "trade_history.json", mode="live") as live:
        with pytest.raises(ValueError, match="paper"):
            live.set_paper_state({})
    assert journal_filename(True) == "trade_history.paper.json" and journal_filename(False) == "trade_history.json"


def test_summary_uses_the_backtest_metrics(tmp_path):
    pnls = ["10", "-4", "0", "6", "-8", "3.5"]
    with tracker(tmp_path, start_balance=100) as t:
        assert t.summary()["trades"] == 0 and t.summary()["profit_factor"] is None
        for n, pnl in enumerate(pnls, start=1):
            t.open_trade(record(n))
            t.close_trade(f"wb-{n}", "65000", T0 + n * 3_600_000, "0.1", "0.01", pnl, "manual")
        t.open_trade(record(99))
        s = t.summary()
        net = np.array([float(p) for p in pnls])
        expected = trade_stats(net)
        for key in expected:
            assert s[key] == expected[key], key
        assert (s["trades"], s["wins"], s["losses"], s["open"]) == (6, 3, 2, 1)  # zero is neither
        assert s["win_rate"] == pytest.approx(0.5) and s["total_pnl"] == pytest.approx(7.5)
        assert s["profit_factor"] == pytest.approx(19.5 / 12)
        assert s["fees"] == pytest.approx(0.6) and s["funding"] == pytest.approx(0.06)
        frac, usdt = max_drawdown(100 + np.concatenate([[0.0], np.cumsum(net)]))
        assert (s["max_drawdown"], s["max_drawdown_usdt"]) == (frac, usdt)
        assert usdt == pytest.approx(8.0) and frac == pytest.approx(8 / 112)
        no_start = t.summary(start_balance=None)
        assert no_start["max_drawdown"] == frac  # the tracker's start balance
        t.start_balance = None
        assert t.summary()["max_drawdown"] is None and t.summary()["max_drawdown_usdt"] == pytest.approx(8.0)
        assert t.summary(start_balance=1000)["max_drawdown"] == pytest.approx(8 / 1012)
        lines = t.summary_lines(colour=False, start_balance=100)
        assert lines[0] == "--- Performance Summary (BTCUSDT, testnet, paper) ---"
        assert lines[1] == "Trades: 6 (open: 1) | Wins: 3 | Losses: 2 | Win rate: 50.00%"
        assert lines[2] == "Total PnL: +7.50 USDT | Avg PnL: +1.25 USDT"
        assert lines[4] == "Profit factor: 1.62 | Max drawdown: 7.14% (8.00 USDT)"
        coloured = t.summary_lines(colour=True)
        assert coloured[0].startswith(NEON_YELLOW) and coloured[1].startswith(NEON_CYAN)
        assert all("\x1b" not in line for line in lines)


def test_a_first_losing_trade_is_a_drawdown_from_the_start_balance(tmp_path):
    with tracker(tmp_path, start_balance=Decimal("100")) as t:
        t.open_trade(record(1))
        t.close_trade("wb-1", "64000", T0 + 3_600_000, "0", "0", "-5", "stop_loss")
        s = t.summary()
        assert (s["max_drawdown"], s["max_drawdown_usdt"], s["losses"]) == (0.05, 5.0, 1)


def test_summary_text_without_losses_or_trades():
    assert format_summary_lines({"trades": 2, "wins": 2, "profit_factor": None, "max_drawdown": None},
                                colour=False)[4] == "Profit factor: n/a (no losses) | Max drawdown: 0.00 USDT"
    assert "Profit factor: n/a |" in format_summary_lines({}, colour=False)[4]


# ----------------------------------------------------------------------------------------------
# Other networks, symbols and modes


def test_a_journal_from_another_network_is_kept_but_reported(tmp_path):
    with tracker(tmp_path) as t:
        t.open_trade(record(1))
        t.open_trade(record(2))
        t.close_trade("wb-2", "65100.5", T0 + 3_600_000, None, None, None, "manual")
    with tracker(tmp_path, network="mainnet") as main:
        assert any("testnet" in w and "suspicious" in w for w in main.warnings)
        assert any("2 trade(s)" in w and "(1 open)" in w and "testnet/paper/BTCUSDT" in w for w in main.warnings)
        assert main.open_trades() == [] and main.closed_trades() == [] and main.summary()["trades"] == 0
        assert len(main.all_trades()) == 2
        main.open_trade(record(3, network="mainnet"))
    doc = on_disk(tmp_path / "trade_history.paper.json")
    assert [x["id"] for x in doc["trades"]] == ["wb-1", "wb-2", "wb-3"] and doc["network"] == "mainnet"
    with tracker(tmp_path, network="mainnet", mode="live") as live:
        assert any("last written by a mainnet/paper bot" in w for w in live.warnings)


def test_one_journal_holds_every_symbol_of_the_account(tmp_path):
    """Journal v3: the account's trades of every symbol, each PositionManager picking its own; a
    summary per symbol and in total; open trades of a symbol no longer traded are reported."""
    with tracker(tmp_path, symbol=None, symbols=["BTCUSDT", "ETHUSDT"]) as t:
        t.open_trade(record(1))
        t.open_trade(record(2, symbol="ETHUSDT", entry_price=Decimal("2500"), qty=Decimal("0.5")))
        t.close_trade("wb-1", "65100.5", T0 + 3_600_000, None, None, None, "manual")
        t.close_trade("wb-2", "2490", T0 + 3_600_000, None, None, None, "manual")
        t.open_trade(record(3, symbol="ETHUSDT", entry_price=Decimal("2500")))
        assert t.summary()["trades"] == 2 and t.summary(symbol="ETHUSDT")["trades"] == 1
        assert t.summary(symbol="ETHUSDT")["open"] == 1 and t.summary(symbol="BTCUSDT")["open"] == 0
        lines = t.summary_lines(colour=False)
        assert lines[0] == "--- Performance Summary (BTCUSDT, ETHUSDT, testnet, paper) ---"
        assert "--- BTCUSDT: its trades ---" in lines and "--- ETHUSDT: its trades ---" in lines
    assert on_disk(tmp_path / "trade_history.paper.json")["symbols"] == ["BTCUSDT", "ETHUSDT"]
    with tracker(tmp_path) as btc_only:
        assert len(btc_only.open_trades()) == 1  # the account's, whatever its symbol
        assert any("open trades of ETHUSDT, which `symbols` no longer lists" in w for w in btc_only.warnings)


# ----------------------------------------------------------------------------------------------
# Atomic writes


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_a_failed_write_leaves_the_old_content(tmp_path, monkeypatch, failing):
    path = tmp_path / "trade_history.paper.json"
    t = tracker(tmp_path)
    t.open_trade(record(1))
    old = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "write":
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FailingFile(fd))
    else:
        monkeypatch.setattr(os, failing, boom)
    with pytest.raises(JournalError, match="previous content is unchanged|No space"):
        t.update_trade("wb-1", stop_loss=Decimal("64500"))
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert t.get("wb-1").stop_loss == Decimal("64500")  # memory keeps what happened; the next save catches up
    t.update_trade("wb-1", take_profit=Decimal("68000"))
    assert on_disk(path)["trades"][0]["stop_loss"] == "64500"
    t.close()


class _FailingFile:
    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.close(self.fd)

    def write(self, data):
        os.write(self.fd, data[: len(data) // 2])  # half written, then the disk is full
        raise OSError(28, "No space left on device")


def _spawn(script: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_line(proc: subprocess.Popen, expected: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.strip() == expected:
                return
            if not line:
                break
    proc.kill()
    raise AssertionError(f"child did not say {expected!r}: {proc.stderr.read()}")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()


WRITER = """
import sys
from whale.journal import PerformanceTracker
t = PerformanceTracker(sys.argv[1], network="testnet", mode="paper", symbol="BTCUSDT")
print("go", flush=True)
i = 0
while True:
    i += 1
    t.set_paper_state({"i": i, "pad": "x" * (i * 37 % 20000)})
"""


@pytest.mark.net  # child processes
def test_kill_9_during_writes_leaves_a_whole_file(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    for delay in (0.15, 0.4):
        proc = _spawn(WRITER, str(path))
        try:
            _wait_line(proc, "go")
            time.sleep(delay)
        finally:
            _kill(proc)
        with tracker(tmp_path) as t:  # the lock died with the writer
            assert t.warnings == []
            state = t.paper_state()
            assert state["i"] > 1 and state["pad"] == "x" * (state["i"] * 37 % 20000)
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # leftovers removed


# ----------------------------------------------------------------------------------------------
# The lock


HOLDER = """
import sys, time
from whale.journal import PerformanceTracker
t = PerformanceTracker(sys.argv[1], network="testnet", mode="paper", symbol="BTCUSDT")
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.net  # child processes
def test_a_second_bot_is_refused_until_the_first_is_killed(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    proc = _spawn(HOLDER, str(path))
    try:
        _wait_line(proc, "locked")
        with pytest.raises(WhaleError) as err:
            tracker(tmp_path)
        assert err.value.exit_code == EXIT_RUNTIME
        assert str(err.value) == (f"another Whalebot (pid {proc.pid}) is using {path} — stop it first, "
                                  "or give this bot its own --workdir/journal")
        assert lock_holder(path) == proc.pid
    finally:
        _kill(proc)
    assert lock_holder(path) is None  # kill -9 left no stale lock
    with tracker(tmp_path) as t:
        assert (tmp_path / "trade_history.paper.json.lock").read_text().strip() == str(os.getpid())
        assert t.open_trades() == []


def test_the_lock_also_holds_within_one_process(tmp_path):
    first = tracker(tmp_path)
    with pytest.raises(JournalError, match=f"pid {os.getpid()}"):
        tracker(tmp_path)
    first.close()
    tracker(tmp_path).close()
    f = JournalFile(tmp_path / "x.json")
    with pytest.raises(JournalError, match="lock"):
        f.load()
    with pytest.raises(JournalError, match="lock"):
        f.save(JournalData())


# ----------------------------------------------------------------------------------------------
# Corrupt files


def _valid_doc() -> dict:
    return {"version": migrations.FORMAT_VERSION, "symbols": ["BTCUSDT"], "network": "testnet", "mode": "paper",
            "updated": None, "trades": [record(1).to_json()], "paper_state": {}, "safety": {}}


def _with(**changes) -> str:
    doc = _valid_doc()
    doc.update(changes)
    return json.dumps(doc)


def _bad_trade(**changes) -> str:
    doc = _valid_doc()
    doc["trades"][0].update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize("content, problem", [
    ('{"version": 1, "trades": [', "invalid JSON at line 1"),
    ("", "it is empty"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("[1, 2]", "no format version"),
    (_with(version=0), "format version is 0"),
    (_with(trades={"a": 1}), "trades: a list is needed"),
    (_with(paper_state=[1]), "paper_state"),
    (_with(extra=1), "unknown key"),
    (_bad_trade(qty="0.01.2"), r"trades\[0\] \(wb-1\): qty: not a decimal number"),
    (_bad_trade(entry_price="NaN"), "entry_price: not a finite amount"),
    (_bad_trade(stop_los="1"), "unknown field"),
    (_bad_trade(reason="profit"), "reason"),
    (json.dumps({**_valid_doc(), "trades": [record(1).to_json(), record(1).to_json()]}), "used twice"),
])
def test_a_corrupt_file_is_moved_aside_and_reported(tmp_path, content, problem):
    path = tmp_path / "trade_history.json"
    raw = content.encode() if isinstance(content, str) else content
    path.write_bytes(raw)
    clock = FakeClock(T0 + 3_723_000)
    with tracker(tmp_path, "trade_history.json", mode="live", clock=clock) as t:
        aside = tmp_path / "trade_history.json.corrupt-20250101T010203Z"
        assert t.corrupt_path == aside and aside.read_bytes() == raw and not path.exists()
        assert len(t.warnings) == 1
        assert re.search(problem, t.warnings[0]), t.warnings[0]
        assert str(aside) in t.warnings[0] and "from the exchange" in t.warnings[0]
        assert t.all_trades() == []
        t.open_trade(record(5, mode="live"))  # a new file; the corrupt one is untouched
    assert aside.read_bytes() == raw and [x["id"] for x in on_disk(path)["trades"]] == ["wb-5"]


def test_corrupt_files_never_overwrite_each_other_and_paper_mode_says_what_it_loses(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    for n in range(2):
        path.write_text(f"garbage {n}")
        with tracker(tmp_path) as t:
            assert "paper wallet" in t.warnings[-1]
    assert (tmp_path / "trade_history.paper.json.corrupt-20250101T000000Z").read_text() == "garbage 0"
    assert (tmp_path / "trade_history.paper.json.corrupt-20250101T000000Z-2").read_text() == "garbage 1"


def test_a_newer_format_is_refused_and_not_moved(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    path.write_text(_with(version=migrations.FORMAT_VERSION + 1))
    with pytest.raises(JournalError, match="newer Whalebot"):
        tracker(tmp_path)
    assert path.exists() and lock_holder(path) is None  # the lock was released on the way out


def test_hand_typed_numbers_are_read(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    doc = _valid_doc()
    doc["trades"][0]["qty"] = 0.01
    doc["trades"][0]["fees"] = 1
    path.write_text(json.dumps(doc))
    with tracker(tmp_path) as t:
        assert t.warnings == [] and t.get("wb-1").qty == Decimal("0.01") and t.get("wb-1").fees == 1


def test_the_setup_kind_is_stored_and_old_journals_infer_it(tmp_path):
    """A density trade's setup (breakout / bounce) survives a restart; a journal written before the
    field existed still loads, a wall ahead of the entry meaning a breakout."""
    with tracker(tmp_path) as t:
        t.open_trade(record(1, strategy="density", density_price=Decimal("65100"), setup="bounce"))
    with tracker(tmp_path) as t:
        assert t.get("wb-1").setup == "bounce" and t.get("wb-1").setup_kind() == "bounce"
    path = tmp_path / "trade_history.paper.json"
    doc = json.loads(path.read_text())
    old = doc["trades"][0]
    del old["setup"]
    doc["trades"] = [dict(old, id="long-ahead"), dict(old, id="long-behind", density_price="64900"),
                     dict(old, id="short-ahead", side="Sell", density_price="64900", initial_stop="66000",
                          stop_loss="66000", take_profit="64000"),
                     dict(old, id="plain", strategy="indicators", density_price=None)]
    path.write_text(json.dumps(doc))
    with tracker(tmp_path) as t:
        kinds = {r.id: (r.setup, r.setup_kind()) for r in t.all_trades()}
    assert kinds == {"long-ahead": (None, "breakout"), "long-behind": (None, "bounce"),
                     "short-ahead": (None, "breakout"), "plain": (None, "indicators")}
    with pytest.raises(ValueError, match="setup"):
        record(2, setup="scalp")


# ----------------------------------------------------------------------------------------------
# Pending entries and the safety state (format version 2)


def test_an_entry_is_journaled_pending_before_sending_then_confirmed_or_dropped(tmp_path):
    path = tmp_path / "trade_history.paper.json"
    with tracker(tmp_path) as t:
        t.add_pending(record(1, status="pending"))
        t.add_pending(record(2, status="pending", side="Sell"))
        assert t.open_trades() == [] and t.closed_trades() == []
        assert [x.id for x in t.pending_trades()] == ["wb-1", "wb-2"]
        assert on_disk(path)["trades"][0]["status"] == "pending"  # on disk before the order goes out
        assert describe_trade(t.get("wb-1")) == ("BTCUSDT Buy 0.010 @ 65000.5 (pending: sent as wb-1, fill not "
                                                 "confirmed)")
        with pytest.raises(ValueError, match="pending"):
            t.close_trade("wb-1", 1, T0, None, None, None, "manual")
        with pytest.raises(ValueError, match="open_trade needs status 'open'"):
            t.open_trade(record(3, status="pending"))
        with pytest.raises(ValueError, match="entry_order_link_id"):
            t.add_pending(record(4, status="pending", entry_order_link_id=None))
    with tracker(tmp_path) as t:  # a restart sees them
        assert [x.id for x in t.pending_trades()] == ["wb-1", "wb-2"]
        opened = t.confirm_entry("wb-1", entry_price="65010.5", entry_time=T0 + 5000, qty="0.010", fees="0.39",
                                 note="filled", stop_loss=Decimal("64010.1"))
        assert opened.is_open and opened.entry_price == Decimal("65010.5") and opened.fees == Decimal("0.39")
        assert opened.stop_loss == Decimal("64010.1") and opened.notes == ("filled",)
        dropped = t.drop_pending("wb-2")
        assert dropped.id == "wb-2" and t.get("wb-2") is None
        with pytest.raises(ValueError, match="only a pending entry"):
            t.drop_pending("wb-1")
    doc = on_disk(path)
    assert [(x["id"], x["status"]) for x in doc["trades"]] == [("wb-1", "open")]


def test_the_safety_state_is_kept_for_the_same_network_and_mode(tmp_path):
    with tracker(tmp_path) as t:
        assert t.safety_state() == {}
        t.set_safety_state({"day": 20089, "peak_equity": "1012.5", "daily_halt": True})
    doc = on_disk(tmp_path / "trade_history.paper.json")
    assert doc["safety"] == {"day": 20089, "peak_equity": "1012.5", "daily_halt": True, "network": "testnet",
                             "mode": "paper"}
    with tracker(tmp_path) as t:
        assert t.safety_state()["peak_equity"] == "1012.5" and t.safety_state()["daily_halt"] is True
    with tracker(tmp_path, network="mainnet") as t:  # another network's halt is not this bot's
        assert t.safety_state() == {}


def test_a_journal_saved_at_close_writes_once_and_holds_every_change(tmp_path, monkeypatch):
    """backtest --book's journal (save_each_change=False) is written at close, once, with everything; the live
    bot's (the default) is on disk after every change."""
    writes = []
    real = JournalFile.write_atomic
    monkeypatch.setattr(JournalFile, "write_atomic",
                        lambda self, payload: (writes.append(payload), real(self, payload)))
    with tracker(tmp_path / "end", durable=False, save_each_change=False) as t:
        t.open_trade(record(1))
        t.update_trade("wb-1", stop_loss=Decimal("65000.5"))
        t.close_trade("wb-1", "65500.5", T0 + 3_600_000, None, None, None, "take_profit")
        assert writes == []
    assert len(writes) == 1
    saved = on_disk(t.path)["trades"][0]
    assert saved["stop_loss"] == "65000.5" and saved["exit_price"] == "65500.5" and saved["status"] == "closed"
    writes.clear()
    with tracker(tmp_path / "each") as t:
        t.open_trade(record(1))
        t.update_trade("wb-1", stop_loss=Decimal("65000.5"))
        assert len(writes) == 2 and on_disk(t.path)["trades"][0]["stop_loss"] == "65000.5"
    assert len(writes) == 2  # nothing left to write at close
