"""Words in what the bot prints (issue 11 item 5): intervals by their label ("15m", never "15
candles"), plurals right ("1 trade closed"), and the demo's --help naming the config it loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from whale.bot.demo import DemoResult
from whale.cli import main
from whale.commands.demo import closing_lines
from whale.config.model import Config
from whale.strategy.analyzer import Analyzer
from whale.text import plural

ROOT = Path(__file__).resolve().parents[1]
# An interval variable printed as it is ("{interval} candles", "{t.interval} trend"), not by label().
RAW_INTERVAL = re.compile(r"\{(?![^{}]*label\()[^{}]*\b(?:interval|htf|iv|primary)\b[^{}]*\}\s+(?:candles?|trend)\b")


def test_no_message_prints_an_interval_without_its_label():
    found = []
    for path in sorted((ROOT / "whale").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in RAW_INTERVAL.finditer(text):
            found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}")
    assert not found, "print intervals with whale.market.intervals.label():\n" + "\n".join(found)


def test_the_warm_up_reason_names_intervals_by_label():
    reason = Analyzer(Config(), "15").warmup_reason
    assert "closed 1h candles for the 1h trend" in reason and "60 candles" not in reason


@pytest.mark.parametrize("count, noun, text", [(0, "trade", "0 trades"), (1, "trade", "1 trade"),
                                               (2, "trade", "2 trades"), (1, "candle", "1 candle"),
                                               (192, "candle", "192 candles")])
def test_plural(count, noun, text):
    assert plural(count, noun) == text


def test_the_demo_closing_line_counts_in_words(tmp_path):
    one = DemoResult(tmp_path, candles=1, elapsed_s=2.0, summary=[], trades_closed=1, open_position=False,
                     files=("trade_history.json",))
    lines = closing_lines(one, tmp_path)
    assert lines[0] == "Demo finished in 2.0 s: 1 candle decided, 1 trade closed."
    many = DemoResult(tmp_path, candles=192, elapsed_s=9.5, summary=[], trades_closed=13, open_position=True)
    assert closing_lines(many, tmp_path)[0] == ("Demo finished in 9.5 s: 192 candles decided, 13 trades closed, "
                                                "one position still open.")


def test_demo_help_names_the_demo_config(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "data/demo-config.json" in help_text
    assert "(default: config.json" not in help_text
