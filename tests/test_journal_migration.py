"""Journal migrations: real v1 journals written by the v1 release (tests/fixtures/journal/v1/) load,
are migrated to the current format with the original kept as `<journal>.v1.bak`, and lose nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from whale.journal import JournalError, PerformanceTracker, migrations

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "journal" / "v1"
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
        assert len(t.notices) == 1 and "migrated from format version 1 to 2" in t.notices[0]
        assert backup.name in t.notices[0]
        # Every trade as it was, field by field; the paper wallet too.
        assert [r.to_json() for r in t.all_trades()] == v1["trades"]
        assert t.paper_state() == v1["paper_state"]
        assert len(t.open_trades()) == sum(x["status"] == "open" for x in v1["trades"])
        assert t.pending_trades() == [] and t.safety_state() == {}
    doc = json.loads((tmp_path / name).read_text())
    assert doc["version"] == migrations.FORMAT_VERSION == 2 and doc["safety"] == {}
    assert doc["trades"] == v1["trades"] and doc["paper_state"] == v1["paper_state"]
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
    """A later format adds one function: here a pretend v3 that renames the safety block. Loading a
    v1 file runs v1->v2 then v2->v3, and keeps the v1 original."""
    def v2_to_v3(doc: dict) -> dict:
        out = dict(doc, version=3)
        out["safety"] = dict(out.pop("safety"), note="v3")
        return out

    monkeypatch.setattr(migrations, "FORMAT_VERSION", 3)
    monkeypatch.setitem(migrations.MIGRATIONS, 2, v2_to_v3)
    name = "trade_history.json"
    shutil.copy(FIXTURES / "live" / name, tmp_path / name)
    with load(tmp_path, name, "custom", "live") as t:
        assert "from format version 1 to 3" in t.notices[0]
    doc = json.loads((tmp_path / name).read_text())
    assert doc["version"] == 3 and doc["safety"] == {"note": "v3"}
    assert (tmp_path / f"{name}.v1.bak").exists()


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
