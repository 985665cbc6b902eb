"""What every sub-command does first: load and validate the config, then set up logging."""

from __future__ import annotations

import argparse


def load_cli_config(args: argparse.Namespace, *, console: bool = True, create_if_missing: bool = True):
    """(LoadedConfig, logger). Config problems raise ConfigError (exit 2) before anything runs."""
    from whale.config import load_config
    from whale.logs import setup_logging

    loaded = load_config(args.config, create_if_missing=create_if_missing)
    log = setup_logging(loaded.config, console=console, log_level_override=args.log_level)
    loaded.log_to(log)
    return loaded, log
