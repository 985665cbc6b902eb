"""docs/scenarios.md says how density erosion shows in the log the way the code does it."""

from __future__ import annotations

from pathlib import Path

from whale.strategy.density import ERODED, DensityEvent

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"


def test_erosion_events_are_documented_at_info_with_their_text():
    text = " ".join(DOC.read_text().split())
    assert "erosion events at DEBUG" not in text
    assert "each erosion threshold the wall crosses at INFO" in text
    event = DensityEvent(ERODED, "ask", 60240.5, 3.0, 5.0, 40.0, 0, 120.0, threshold=30.0)
    head, _, _ = event.text.partition(" eroded ")
    assert f"`{head} eroded" in text  # the doc quotes the line the loop logs (loop.py logs ev.text at INFO)
