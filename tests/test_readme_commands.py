"""The README's command table lists every option of every command, required ones bare and optional
ones in brackets, as argparse defines them (issue 11 item 18), so the table stays true."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from whale.cli import DEFAULT_COMMAND, build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
COMMON = {"--config", "--log-level", "--help"}  # the paragraph above the table says every command takes them
OPTION = re.compile(r"--[a-z][a-z0-9-]*")


def table_rows() -> dict[str, str]:
    """{command: the usage text of its row} from the table under "## Commands"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `python whalebot.py"):
            continue
        usage = re.split(r"(?<!\\)\|", line)[1].strip().strip("`")
        words = usage.split()
        name = words[2] if len(words) > 2 and not words[2].startswith(("[", "-")) else DEFAULT_COMMAND
        rows[name] = usage
    return rows


def options_in(usage: str) -> dict[str, bool]:
    """{option: required} as written: an option inside [...] is optional."""
    found, depth = {}, 0
    i = 0
    while i < len(usage):
        ch = usage[i]
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        m = OPTION.match(usage, i)
        if m:
            found[m.group(0)] = depth == 0
            i = m.end()
            continue
        i += 1
    return found


def parser_options() -> dict[str, dict[str, bool]]:
    parser, _ = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out: dict[str, dict[str, bool]] = {}
    for name, p in sub.choices.items():
        opts = {}
        for action in p._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if long and long[0] not in COMMON:
                opts[long[0]] = bool(action.required)
        out[name] = opts
    return out


def test_every_command_has_a_row_and_every_option_is_listed_as_argparse_has_it():
    rows, real = table_rows(), parser_options()
    assert sorted(rows) == sorted(real), "one table row per command"
    problems = []
    for name, opts in real.items():
        listed = {o: r for o, r in options_in(rows[name]).items() if o not in COMMON}
        for opt, required in opts.items():
            if opt not in listed:
                problems.append(f"{name}: {opt} is missing from the table")
            elif listed[opt] != required:
                problems.append(f"{name}: {opt} is {'required' if required else 'optional'} but the table shows it "
                                f"{'bare (required)' if listed[opt] else 'in brackets (optional)'}")
        problems += [f"{name}: the table lists {opt}, which the command does not have" for opt in listed
                     if opt not in opts]
    assert not problems, "\n".join(problems)


def test_the_paragraph_names_the_options_every_command_takes():
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1].split("\n| command", 1)[0]
    for opt in ("--config FILE", "--log-level", "--help"):
        assert f"`{opt}" in section
