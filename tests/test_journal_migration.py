"""Journal migrations: real v1 and v2 journals written by those releases (tests/fixtures/journal/v1/,
v2/) load, are migrated to the current format with the original kept as `<journal>.v<N>.bak`, and
lose nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from whale.journal import JournalError, PerformanceTracker, migrations

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "journal" / "v1"
FIXTURES_V2 = Path(__file__).resolve().parent / "fixtures" / "journal" / "v2"
CASES = [  # fixture, file name, network, mode
    ("live", "trade_history.json", "custom", "live"),
    ("paper", "trade_history.paper.json", "custom", "paper"),
    ("demo", "trade_history.json", "custom", "demo"),
]


class FixedClock:
    def now_ms(self) -> int:
        return 1_767_225_600_000  # 2026-01-01


def load(tmp_path: Path, name: str, network: str, mode: str) -> PerformanceTracker:
    return PerformanceTracker(tmp_path / name, network=network, mode=mode, symbol="BTCUSDT", clock=FixedClock())


@pytest.mark.parametrize("fixture, name, network, mode", CASES)
def test_a_v1_journal_of_the_v1_release_is_migrated_and_the_original_kept(tmp_path, fixture, name, network, mode):
    original = (FIXTURES / fixture / name).read_bytes()
    (tmp_path / name).write_bytes(original)
    v1 = json.loads(original)
    assert v1["version"] == 1
    with load(tmp_path, name, network, mode) as t:
        assert t.warnings == [] and t.corrupt_path is None
        backup = tmp_path / f"{name}.v1.bak"
        assert t.backup_path == backup and backup.read_bytes() == original
        assert len(t.notices) == 1 and "migrated from format version 1 to 3" in t.notices[0]
        assert backup.name in t.notices[0]
        # Every trade as it was, field by field; the paper wallet too (a position per symbol since v3).
        assert [r.to_json() for r in t.all_trades()] == v1["trades"]
        assert paper_positions(t.paper_state()) == paper_positions(v1["paper_state"], "BTCUSDT")
        assert len(t.open_trades()) == sum(x["status"] == "open" for x in v1["trades"])
        assert t.pending_trades() == [] and t.safety_state() == {}
    doc = json.loads((tmp_path / name).read_text())
    assert doc["version"] == migrations.FORMAT_VERSION == 3 and doc["safety"] == {}
    assert doc["trades"] == v1["trades"] and doc["symbols"] == ["BTCUSDT"]
    assert not list(tmp_path.glob("*.corrupt-*")) and not list(tmp_path.glob(".*.tmp"))
    # A second start reads the v2 file as it is: nothing migrated, no second backup.
    with load(tmp_path, name, network, mode) as t:
        assert t.notices == [] and t.backup_path is None
    assert sorted(p.name for p in tmp_path.glob(f"{name}.v1.bak*")) == [f"{name}.v1.bak"]


def test_a_migration_interrupted_before_the_new_file_reuses_its_backup(tmp_path):
    name = "trade_history.json"
    original = (FIXTURES / "live" / name).read_bytes()
    (tmp_path / name).write_bytes(original)
    (tmp_path / f"{name}.v1.bak").write_bytes(original)  # the backup was written, then the bot died
    with load(tmp_path, name, "custom", "live") as t:
        assert t.backup_path == tmp_path / f"{name}.v1.bak"
    assert not (tmp_path / f"{name}.v1.bak-2").exists()


def test_an_older_backup_with_other_content_is_never_overwritten(tmp_path):
    name = "trade_history.paper.json"
    original = (FIXTURES / "paper" / name).read_bytes()
    (tmp_path / name).write_bytes(original)
    (tmp_path / f"{name}.v1.bak").write_text("an older journal the user kept")
    with load(tmp_path, name, "custom", "paper") as t:
        assert t.backup_path == tmp_path / f"{name}.v1.bak-2"
    assert (tmp_path / f"{name}.v1.bak").read_text() == "an older journal the user kept"
    assert (tmp_path / f"{name}.v1.bak-2").read_bytes() == original


def test_the_chain_applies_one_step_per_version(tmp_path, monkeypatch):
    """A later format adds one function: here a pretend v4 that renames the safety block. Loading a
    v1 file runs v1->v2, v2->v3 then v3->v4, and keeps the v1 original."""
    def v3_to_v4(doc: dict) -> dict:
        out = dict(doc, version=4)
        out["safety"] = dict(out.pop("safety"), note="v4")
        return out

    monkeypatch.setattr(migrations, "FORMAT_VERSION", 4)
    monkeypatch.setitem(migrations.MIGRATIONS, 3, v3_to_v4)
    name = "trade_history.json"
    shutil.copy(FIXTURES / "live" / name, tmp_path / name)
    with load(tmp_path, name, "custom", "live") as t:
        assert "from format version 1 to 4" in t.notices[0]
    doc = json.loads((tmp_path / name).read_text())
    assert doc["version"] == 4 and doc["safety"] == {"note": "v4"}
    assert (tmp_path / f"{name}.v1.bak").exists()


def paper_positions(state: dict, v2_symbol: str | None = None) -> dict:
    """The paper wallet's positions by symbol, from a v3 state or (with its symbol) a v1/v2 one."""
    if v2_symbol is None:
        return state.get("positions", {})
    return {v2_symbol: state["position"]} if state.get("position") else {}


@pytest.mark.parametrize("fixture, name, network, mode", CASES)
def test_a_v2_journal_of_the_v2_release_becomes_the_account_journal(tmp_path, fixture, name, network, mode):
    """v3: one journal for the account. The header's one symbol becomes `symbols`, the paper wallet's
    one position a position per symbol; trades and the safety state stay exactly as they were."""
    original = (FIXTURES_V2 / fixture / name).read_bytes()
    (tmp_path / name).write_bytes(original)
    v2 = json.loads(original)
    assert v2["version"] == 2 and v2["symbol"] == "BTCUSDT"
    with load(tmp_path, name, network, mode) as t:
        assert t.warnings == [] and t.corrupt_path is None
        assert t.backup_path == tmp_path / f"{name}.v2.bak" and t.backup_path.read_bytes() == original
        assert len(t.notices) == 1 and "migrated from format version 2 to 3" in t.notices[0]
        assert [r.to_json() for r in t.all_trades()] == v2["trades"]
        assert len(t.open_trades()) == sum(x["status"] == "open" for x in v2["trades"])
        assert t.safety_state() == v2["safety"]
        state = t.paper_state()
    doc = json.loads((tmp_path / name).read_text())
    assert doc["version"] == 3 and "symbol" not in doc and doc["symbols"] == ["BTCUSDT"]
    assert doc["trades"] == v2["trades"] and doc["safety"] == v2["safety"]
    if mode == "paper":
        old = v2["paper_state"]
        assert state["positions"] == {"BTCUSDT": old["position"]} and state["balance"] == old["balance"]
        assert state["funding_from_ms"] == {"BTCUSDT": old["funding_from_ms"]}
        assert [dict(e, symbol="BTCUSDT") for e in old["last_exits"]] == state["last_exits"]
        assert [dict(e, symbol="BTCUSDT") for e in old["last_entries"]] == state["last_entries"]
    else:
        assert state == {}


def test_the_v2_paper_wallet_trades_on_in_the_paper_account(tmp_path):
    """The migrated paper state is what the paper Execution reads: the open position, its stop, the
    wallet, and the last fills by which a restart finds an entry or exit."""
    from decimal import Decimal

    from whale.config.model import Fees
    from whale.market.instruments import KNOWN
    from whale.venue.paper import PaperExecution

    name = "trade_history.paper.json"
    shutil.copy(FIXTURES_V2 / "paper" / name, tmp_path / name)
    v2 = json.loads((FIXTURES_V2 / "paper" / name).read_text())
    with load(tmp_path, name, "custom", "paper") as t:
        paper = PaperExecution(lambda s: KNOWN[s], Fees(), start_balance=Decimal(1000), leverage=Decimal(5),
                               state=t.paper_state())
        (pos,) = paper.positions()
        old = v2["paper_state"]["position"]
        assert (pos.symbol, int(pos.side), str(pos.size), str(pos.stop_loss)) == ("BTCUSDT", old["side"], old["size"],
                                                                                   old["stop_loss"])
        assert paper.balance == Decimal(v2["paper_state"]["balance"])
        entry = v2["paper_state"]["last_entries"][-1]
        found = paper.lookup_order("BTCUSDT", entry["link_id"], 1)
        assert found.state == "filled" and found.fill is not None and str(found.fill.price) == entry["price"]


def test_a_newer_version_is_refused_and_a_bad_one_is_corrupt(tmp_path):
    name = "trade_history.json"
    doc = json.loads((FIXTURES / "live" / name).read_text())
    (tmp_path / name).write_text(json.dumps(dict(doc, version=migrations.FORMAT_VERSION + 1)))
    with pytest.raises(JournalError, match="newer Whalebot"):
        load(tmp_path, name, "custom", "live")
    assert (tmp_path / name).exists() and not list(tmp_path.glob("*.bak"))
    (tmp_path / name).write_text(json.dumps(dict(doc, version=0)))
    with load(tmp_path, name, "custom", "live") as t:
        assert t.corrupt_path is not None and "format version is 0" in t.warnings[0]
    assert not list(tmp_path.glob("*.bak"))
