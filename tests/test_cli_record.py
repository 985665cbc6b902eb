"""`record`'s bad arguments: exit 2 with one message naming the option, before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from whale.cli import main


@pytest.mark.parametrize("args,needle", [
    (["--depth", "7"], "--depth 7: expected one of 1, 50, 200, 500, 1000"),
    (["--symbols", " , "], "--symbols: name at least one symbol"),
    (["--symbols", "BTC-USDT"], "--symbols 'BTC-USDT': 'BTC-USDT' is not a symbol"),
    (["--hours", "0"], "--hours 0.0: must be above 0"),
    (["--hours", "-1"], "--hours -1.0: must be above 0"),
    (["--hours", "inf"], "--hours inf: must be above 0"),
    (["--hours", "soon"], "argument --hours: invalid float value: 'soon'"),
    (["--out", "FILE"], "exists and is not a directory"),
])
def test_bad_arguments_exit_2_naming_the_option(tmp_path: Path, capsys, args, needle):
    (tmp_path / "FILE").write_text("x")
    base = {"--symbols": "BTCUSDT", "--out": str(tmp_path / "rec")}
    for i in range(0, len(args), 2):
        base[args[i]] = str(tmp_path / "FILE") if args[i + 1] == "FILE" else args[i + 1]
    argv = ["record", "--config", str(tmp_path / "none.json")]
    for k, v in base.items():
        argv += [k, v]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "rec").exists() or not any((tmp_path / "rec").iterdir())


def test_out_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["record", "--symbols", "BTCUSDT"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err


def test_the_minute_line_and_the_summary_give_events_a_second_and_bytes_an_hour():
    from whale.recording.recorder import RecordSummary, SymbolCounts, progress_line, summary_lines

    def at(seconds: float, messages: int, size: int, gaps: int = 0) -> RecordSummary:
        return RecordSummary(seconds=seconds, counts={"BTCUSDT": SymbolCounts(messages=messages, gaps=gaps)},
                             bytes={"BTCUSDT": size}, files={"BTCUSDT": [Path("rec/BTCUSDT/a.wbr.gz")]},
                             dropped={"BTCUSDT": 3}, reconnects=1)

    minute = progress_line(at(120.0, 4_000, 3_000_000, 1), at(60.0, 1_000, 1_000_000))
    assert minute == "recording: BTCUSDT 50.0 events/s, 120.00 MB/h (3.00 MB so far); 1 gap"
    lines = summary_lines(at(3600.0, 36_000, 5_000_000, 2))
    assert lines[0] == ("recorded 3,600 s: 36,000 events (10.0/s), 5.00 MB (5.00 MB/h, 120.0 MB/day); reconnects 1, "
                        "book resyncs 0")
    assert lines[1].startswith("  BTCUSDT: 36,000 events, 5.00 MB (5.00 MB/h), 1 file in rec/BTCUSDT, 2 gaps, 3 deltas")
