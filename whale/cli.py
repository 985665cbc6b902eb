"""Command-line entry: parse arguments, pick a sub-command, map failures to exit codes.

Each sub-command lives in `whale.commands.<name>` with `register(subparsers)` and
`run(args) -> int`; this module only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from whale import __version__
from whale.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUNTIME, WhaleError

# Order is the order shown in --help; the first is the default when no sub-command is given.
COMMAND_MODULES = ("run", "demo", "backtest", "optimize", "walkforward", "check_config", "sim", "download", "close_all",
                   "merge_journals", "import_tardis", "record")
DEFAULT_COMMAND = "run"


DEFAULT_CONFIG = "config.json"


class _ConfigPath(argparse.Action):
    """--config FILE, remembering that it was given: a path the user wrote must exist (a typo must not
    trade the defaults); only the default config.json may be created when missing."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)
        namespace.config_given = True


def common_options(config_help: str | None = None) -> argparse.ArgumentParser:
    """Options every sub-command accepts (README.md#commands). `config_help` replaces the help of
    --config for a sub-command whose default is not config.json (the demo's)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE", action=_ConfigPath,
                        help=config_help or f"config file (default: {DEFAULT_CONFIG}, created with every default "
                                            "when missing; a FILE given here must exist)")
    parent.set_defaults(config_given=False)
    parent.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), default=None,
                        help="override logging.level from the config")
    return parent


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 with one line, as for every bad input
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    parser = _Parser(prog="whalebot.py", description="Whalebot: indicator and order-book trading bot for "
                     "Bybit USDT perpetuals.")
    parser.add_argument("--version", action="version", version=f"whalebot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = []
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"whale.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"whale.commands.{module_name}":
                continue  # not built yet
            raise
        # A fresh copy per sub-command: argparse shares a parent's actions, so one sub-command's
        # set_defaults would otherwise change the others' defaults.
        sub = module.register(subparsers, common_options(getattr(module, "CONFIG_HELP", None)))
        sub.set_defaults(handler=module.run)
        names.append(sub.prog.split()[-1])
    return parser, names


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, names = build_parser()
    if DEFAULT_COMMAND in names and (not args_list or (args_list[0].startswith("-")
                                                      and args_list[0] not in ("-h", "--help", "--version"))):
        args_list.insert(0, DEFAULT_COMMAND)
    args = parser.parse_args(args_list)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args) or EXIT_OK)
    except WhaleError as exc:
        from whale.logs import redact  # a message may quote a URL that carries a secret

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_RUNTIME
