"""The backtest's wording: the warm-up error names the lines actually used, the summary says which
way funding went, and a config the original accepted (a higher timeframe equal to the interval)
backtests on the timeframes that remain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paths import BUNDLED
from whale.backtest.runner import run_backtest
from whale.commands.backtest import funding_text, parse_date, print_summary
from whale.config import config_from_data
from whale.config.model import Config
from whale.errors import BadInputError


def _candles(tmp_path: Path, count: int) -> Path:
    start = 1_700_000_100_000 - 1_700_000_100_000 % 900_000
    rows = [f"{start + 900_000 * i},100,101,99,100.5,3" for i in range(count)]
    path = tmp_path / "short.csv"
    path.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


def test_too_few_candles_names_the_lines_before_to(tmp_path):
    path = _candles(tmp_path, 120)
    start = 1_700_000_100_000 - 1_700_000_100_000 % 900_000
    with pytest.raises(BadInputError) as info:
        run_backtest(Config(), path, date_to=start + 40 * 900_000)
    message = str(info.value)
    assert "lines 2-41 (the candles before --to" in message and "give 40 15m candle(s)" in message, message
    with pytest.raises(BadInputError) as info:  # without --to: the whole file, and no "before --to"
        run_backtest(Config(), path)
    assert "lines 2-121 give 120 15m candle(s)" in str(info.value)


def test_too_few_candles_for_one_config_candle_is_bad_input(tmp_path):
    """Five 1m candles make no complete 15m candle: the same clear warm-up error, not a TypeError."""
    start = 1_700_000_100_000 - 1_700_000_100_000 % 900_000 + 60_000  # off the 15m grid
    rows = [f"{start + 60_000 * i},100,101,99,100.5,3" for i in range(5)]
    path = tmp_path / "tiny.csv"
    path.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    with pytest.raises(BadInputError) as info:
        run_backtest(Config(), path)
    assert "lines 2-6 give 0 15m candle(s)" in str(info.value), str(info.value)


def test_funding_is_worded_by_direction():
    assert funding_text(0.4567) == "funding paid 0.46"
    assert funding_text(-0.12) == "funding received 0.12"
    assert funding_text(0.001) == "funding 0.00"


def test_interval_60_with_60_among_the_higher_timeframes_backtests(tmp_path, capsys):
    loaded = config_from_data({"interval": "60", "signal_score_threshold": 1.0,
                               "mtf_analysis": {"higher_timeframes": ["60", "240"]}})
    assert loaded.config.mtf_analysis.higher_timeframes == ("240",)
    result = run_backtest(loaded.config, BUNDLED)
    assert result.interval == "60" and result.report["bars"] > 300
    assert result.report["funding"] != 0.0 or result.report["trades"] == 0
    print_summary(result.report, tmp_path)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("net PnL"))
    assert re.search(r"funding (paid|received) \d+\.\d\d$|funding 0\.00$", line), line
    assert "funding +" not in line and "funding -" not in line


def test_a_real_range_with_funding_prints_paid_or_received(tmp_path, capsys):
    cfg = config_from_data({"signal_score_threshold": 1.0}).config
    result = run_backtest(cfg, BUNDLED, date_from=parse_date("2025-05-20", "--from"))
    r = result.report
    assert r["trades"] > 0 and r["funding"] != 0.0
    print_summary(r, tmp_path)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("net PnL"))
    word = "paid" if r["funding"] > 0 else "received"
    assert line.endswith(f"funding {word} {abs(r['funding']):.2f}"), line
