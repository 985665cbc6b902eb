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
