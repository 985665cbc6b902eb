"""--config paths (issue 11 item 6): a path given with --config must exist (exit 2, naming it; a typo
must never trade the defaults); only the default config.json is created when it is missing, and the
log says so. In-process: nothing starts before the config is read."""

from __future__ import annotations

import pytest
import urllib3  # noqa: F401 - imported here: its import probes IPv6 with bind(('::1', 0)), which the net guard refuses

from whale.cli import build_parser, main
from whale.commands._shared import load_cli_config
from whale.config import ConfigError
from whale.config.loader import load_config
from whale.errors import EXIT_BAD_INPUT
from whale.logs import shutdown_logging


@pytest.fixture(autouse=True)
def _logging_reset():
    yield
    shutdown_logging()


@pytest.mark.parametrize("command", [["run"], ["backtest"], ["close-all", "--yes"], ["demo"], ["check-config"],
                                     ["download", "--from", "2025-01-01", "--to", "2025-01-02", "--out", "x.csv"]])
def test_a_config_path_that_does_not_exist_is_exit_2_naming_it(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "newfile2.json"
    code = main([*command, "--config", str(missing)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert f"{missing}: the file does not exist" in err
    assert not missing.exists() and not (tmp_path / "config.json").exists()


def test_only_the_default_config_json_is_created_and_the_log_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    parser, _ = build_parser()
    loaded, _log = load_cli_config(parser.parse_args(["backtest"]), console=True)
    assert loaded.created and (tmp_path / "config.json").exists()
    assert "WARNING - config.json did not exist: created it with the defaults" in capsys.readouterr().out
    # The same name written out with --config is a path the user chose: it must exist.
    (tmp_path / "config.json").unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        load_cli_config(parser.parse_args(["backtest", "--config", "config.json"]), console=False)
    assert not (tmp_path / "config.json").exists()


def test_the_hint_for_an_empty_file_promises_no_default_file(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(path, create_if_missing=False)
    text = str(info.value)
    assert "the file is empty" in text
    assert "writes one" not in text and "delete it" not in text and "created" not in text
    assert "write {} to take every key's default" in text
