"""What every sub-command does first: load and validate the config, then set up logging."""

from __future__ import annotations

import argparse
import signal
import threading


def load_cli_config(args: argparse.Namespace, *, console: bool = True, create_if_missing: bool = True):
    """(LoadedConfig, logger). Config problems raise ConfigError (exit 2) before anything runs."""
    from whale.config import load_config
    from whale.logs import setup_logging

    loaded = load_config(args.config, create_if_missing=create_if_missing)
    log = setup_logging(loaded.config, console=console, log_level_override=args.log_level)
    loaded.log_to(log)
    return loaded, log


def install_stop_handlers(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM set `stop`: the loop finishes its pass and shuts down cleanly (exit 0)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame) -> None:  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
