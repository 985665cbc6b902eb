"""bench/replay_fingerprint.py: the before/after proof of the replay's speed work must be deterministic
and must show a change in a decision."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import replay_fingerprint


def run(monkeypatch: pytest.MonkeyPatch, out: Path, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["replay_fingerprint.py", str(out), *args])
    assert replay_fingerprint.main() == 0
    return out.read_text()


@pytest.fixture(scope="module")
def sample_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    with pytest.MonkeyPatch.context() as mp:
        return run(mp, tmp_path_factory.mktemp("fp") / "base.txt", "--runs", "sample-density")


def test_two_runs_of_the_sample_give_the_same_text_and_it_holds_every_decision(
        sample_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(monkeypatch, tmp_path / "again.txt", "--runs", "sample-density") == sample_text
    assert sample_text.startswith("== sample-density: events ")
    assert "symbol,side,qty,entry_time,entry_price" in sample_text  # trades.csv
    assert "time,time_ms,symbol,event,side,price" in sample_text  # densities.csv
    assert len(sample_text.splitlines()) > 20  # and the equity curve and signals.csv


def test_a_changed_setting_changes_the_text(sample_text: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A fingerprint that missed a decision would prove nothing: a different position size must show."""
    changed = dict(replay_fingerprint.DENSITY_CONFIG)
    changed["trade_management"] = {**changed["trade_management"], "risk_per_trade_percent": 0.5}
    monkeypatch.setattr(replay_fingerprint, "DENSITY_CONFIG", changed)
    assert run(monkeypatch, tmp_path / "b.txt", "--runs", "sample-density") != sample_text


def test_an_unknown_run_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["replay_fingerprint.py", str(tmp_path / "x.txt"), "--runs", "nope"])
    with pytest.raises(SystemExit) as exc:
        replay_fingerprint.main()
    assert exc.value.code == 2
    assert not (tmp_path / "x.txt").exists()
