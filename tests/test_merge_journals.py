"""`python whalebot.py merge-journals --out DIR DIR1 DIR2`: single-symbol work directories' journals
become one account journal; what cannot be one account is refused with a message and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from whale.cli import main
from whale.config.model import Fees
from whale.journal import PerformanceTracker, TradeRecord, migrations
from whale.market.instruments import KNOWN
from whale.venue.paper import PaperExecution

T0 = 1_750_000_000_000
ROOT = Path(__file__).resolve().parents[1]


def record(n: int, symbol: str, **kw) -> TradeRecord:
    fields = dict(id=f"wb-{symbol}-{n}", symbol=symbol, side="Buy", qty=Decimal("0.010"), network="custom",
                  mode="live", strategy="indicators", entry_time=T0 + n * 60_000, entry_price=Decimal("100"),
                  stop_loss=Decimal("90"), initial_stop=Decimal("90"))
    fields.update(kw)
    return TradeRecord(**fields)


def single_symbol_dir(tmp_path: Path, name: str, symbol: str, *, closed: int = 2, open_one: bool = True,
                      mode: str = "live", network: str = "custom", safety: dict | None = None) -> Path:
    d = tmp_path / name
    journal = "trade_history.paper.json" if mode == "paper" else "trade_history.json"
    with PerformanceTracker(d / journal, network=network, mode=mode, symbol=symbol, start_balance=1000) as t:
        for n in range(closed):
            t.open_trade(record(n, symbol, mode=mode, network=network))
            t.close_trade(f"wb-{symbol}-{n}", "101", T0 + n * 60_000 + 30_000, None, None, None, "take_profit")
        if open_one:
            t.open_trade(record(closed, symbol, mode=mode, network=network))
        if safety is not None:
            t.set_safety_state(safety)
    return d


def merged(out: Path, name: str = "trade_history.json") -> dict:
    return json.loads((out / name).read_text())


def test_two_single_symbol_directories_become_one_account_journal(tmp_path, capsys):
    btc = single_symbol_dir(tmp_path, "btc", "BTCUSDT", safety={"day": 20000, "peak_equity": "1010",
                                                                 "day_start_equity": "1000", "daily_halt": False})
    eth = single_symbol_dir(tmp_path, "eth", "ETHUSDT", closed=1,
                            safety={"day": 20001, "peak_equity": "1012", "day_start_equity": "1005",
                                    "daily_halt": True, "daily_reason": "daily loss"})
    before = {p: p.read_bytes() for p in (btc / "trade_history.json", eth / "trade_history.json")}
    out = tmp_path / "account"
    assert main(["merge-journals", "--out", str(out), str(btc), str(eth)]) == 0
    said = capsys.readouterr().out
    assert "Merged into" in said and "5 trade(s) of BTCUSDT, ETHUSDT (2 open)" in said
    assert f"{btc / 'trade_history.json'}: BTCUSDT: 3 trade(s), 1 open" in said
    assert "daily-loss halt" in said and str(eth) in said
    doc = merged(out)
    assert doc["version"] == migrations.FORMAT_VERSION and doc["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert [t["entry_time"] for t in doc["trades"]] == sorted(t["entry_time"] for t in doc["trades"])
    assert doc["safety"]["daily_halt"] is True and doc["safety"]["day"] == 20001  # the newest day's, one wallet
    assert all(p.read_bytes() == b for p, b in before.items())  # the sources are only read
    # A two-symbol bot takes it over: both open trades are its own.
    with PerformanceTracker(out / "trade_history.json", network="custom", mode="live",
                            symbols=["BTCUSDT", "ETHUSDT"]) as t:
        assert t.warnings == [] and sorted(x.symbol for x in t.open_trades()) == ["BTCUSDT", "ETHUSDT"]
        assert t.summary()["trades"] == 3 and t.summary(symbol="ETHUSDT")["trades"] == 1


def test_paper_wallets_are_added_up(tmp_path, capsys):
    dirs = []
    for symbol, price, balance in (("BTCUSDT", 60_000.0, "1000"), ("ETHUSDT", 2_500.0, "990.5")):
        d = single_symbol_dir(tmp_path, symbol.lower(), symbol, closed=0, open_one=False, mode="paper")
        with PerformanceTracker(d / "trade_history.paper.json", network="custom", mode="paper", symbol=symbol) as t:
            paper = PaperExecution(lambda s: KNOWN[s], Fees(),
                                   start_balance=Decimal(balance), leverage=Decimal(5), save=t.set_paper_state)
            paper.on_tick(symbol, price, T0)
            paper.open_position(symbol, 1, Decimal("0.05"), Decimal(str(price * 0.9)), None, f"wb-{symbol}")
        dirs.append(d)
    out = tmp_path / "account"
    assert main(["merge-journals", "--out", str(out), *map(str, dirs)]) == 0
    said = capsys.readouterr().out
    assert "paper balances added up" in said and "safety state: none" in said
    state = merged(out, "trade_history.paper.json")["paper_state"]
    assert sorted(state["positions"]) == ["BTCUSDT", "ETHUSDT"]
    want = sum(Decimal(json.loads((d / "trade_history.paper.json").read_text())["paper_state"]["balance"])
               for d in dirs)
    assert Decimal(state["balance"]) == want
    account = PaperExecution(lambda s: KNOWN[s], Fees(),
                             start_balance=Decimal(1), leverage=Decimal(5), state=state)
    assert {p.symbol for p in account.positions()} == {"BTCUSDT", "ETHUSDT"} and account.balance == want


@pytest.mark.parametrize("case, expect", [
    ("network", "the journals mix networks (custom in"),
    ("mode", "mix modes"),
    ("duplicate", "the same trade twice"),
    ("same-symbol-open", "BTCUSDT has an open trade in"),
    ("out-exists", "exists: merge into a new --out directory"),
    ("empty", "no trade_history.json or trade_history.paper.json"),
    ("twice", "is given twice"),
])
def test_what_cannot_be_one_account_is_refused(tmp_path, capsys, case, expect):
    a = single_symbol_dir(tmp_path, "a", "BTCUSDT")
    out = tmp_path / "account"
    if case == "network":
        b = single_symbol_dir(tmp_path, "b", "ETHUSDT", network="testnet")
    elif case == "mode":
        b = single_symbol_dir(tmp_path, "b", "ETHUSDT", mode="demo")
    elif case == "duplicate":
        b = tmp_path / "b"
        b.mkdir()
        (b / "trade_history.json").write_bytes((a / "trade_history.json").read_bytes())
    elif case == "same-symbol-open":
        b = single_symbol_dir(tmp_path, "b", "BTCUSDT", closed=0)
        doc = json.loads((b / "trade_history.json").read_text())
        doc["trades"][0]["id"] = "wb-other-1"
        (b / "trade_history.json").write_text(json.dumps(doc))
    elif case == "out-exists":
        b = single_symbol_dir(tmp_path, "b", "ETHUSDT")
        out = single_symbol_dir(tmp_path, "account", "SOLUSDT")
    elif case == "empty":
        a, b = tmp_path / "x", tmp_path / "y"
        a.mkdir()
        b.mkdir()
    else:
        b = a
    assert main(["merge-journals", "--out", str(out), str(a), str(b)]) == 2
    assert expect in capsys.readouterr().err
    if case != "out-exists":
        assert not (out / "trade_history.json").exists()


def test_a_journal_a_running_bot_holds_is_refused(tmp_path, capsys):
    a = single_symbol_dir(tmp_path, "a", "BTCUSDT")
    b = single_symbol_dir(tmp_path, "b", "ETHUSDT")
    with PerformanceTracker(b / "trade_history.json", network="custom", mode="live", symbol="ETHUSDT"):
        assert main(["merge-journals", "--out", str(tmp_path / "account"), str(a), str(b)]) == 1
    assert "held by a running bot" in capsys.readouterr().err
    assert not (tmp_path / "account").exists()


def test_an_older_journal_is_read_as_it_is_and_merged(tmp_path, capsys):
    """A v1 journal of the v1 release merges (migrated in memory; the source file is not changed)."""
    src = ROOT / "tests" / "fixtures" / "journal" / "v1" / "live" / "trade_history.json"
    a = tmp_path / "old"
    a.mkdir()
    (a / "trade_history.json").write_bytes(src.read_bytes())
    b = single_symbol_dir(tmp_path, "b", "ETHUSDT", closed=1, open_one=False)
    assert main(["merge-journals", "--out", str(tmp_path / "account"), str(a), str(b)]) == 0
    assert "(format version 1, read as" in capsys.readouterr().out
    assert (a / "trade_history.json").read_bytes() == src.read_bytes() and not list(a.glob("*.bak"))
    v1 = json.loads(src.read_bytes())
    doc = merged(tmp_path / "account")
    assert {t["id"] for t in v1["trades"]} < {t["id"] for t in doc["trades"]}


@pytest.mark.net  # a subprocess
def test_the_command_line(tmp_path):
    a = single_symbol_dir(tmp_path, "a", "BTCUSDT")
    b = single_symbol_dir(tmp_path, "b", "ETHUSDT")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    proc = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "merge-journals", "--out",
                           str(tmp_path / "account"), str(a), str(b)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Merged into" in proc.stdout and "--workdir" in proc.stdout
