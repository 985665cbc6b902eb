"""`python whalebot.py check-config [--config F]`: validate a config file and exit.

Prints the deprecation warnings and `config OK` (exit 0), or every problem (exit 2). Unlike the
other commands it never creates a missing file.
"""

from __future__ import annotations

import argparse
import sys

from whale.config import ConfigError, load_config
from whale.errors import EXIT_BAD_INPUT, EXIT_OK


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        "check-config", parents=[parent], help="validate the config file and exit",
        description="Validate the config file: every problem is listed with its key path "
                    "(exit 2); deprecated keys of the original Whalebot are listed as warnings. "
                    "The file is never created or changed.")


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load_config(args.config, create_if_missing=False)
    except ConfigError as exc:
        for warning in exc.warnings:
            print(f"warning: {warning}")
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    print("config OK")
    return EXIT_OK
