"""What every sub-command does first: load and validate the config, then set up logging."""

from __future__ import annotations

import argparse
import signal
import threading


def add_display_options(p: argparse.ArgumentParser) -> None:
    """--display-every N and --verbose: the console shows one compact line per candle; the original's full
    display always goes to the log file, and to the console when asked."""
    p.add_argument("--display-every", type=int, default=0, metavar="N",
                   help="also print the full display (indicators, breakdown, positions, summary) every N candles "
                        "(default 0: only in the log file)")
    p.add_argument("--verbose", action="store_true", help="print the full display on every candle")


def check_display_options(args: argparse.Namespace) -> None:
    from whale.errors import BadInputError

    if args.display_every < 0:
        raise BadInputError(f"--display-every {args.display_every}: must be 0 (never) or a number of candles")


def load_cli_config(args: argparse.Namespace, *, console: bool = True, create_if_missing: bool = True):
    """(LoadedConfig, logger). Config problems raise ConfigError (exit 2) before anything runs. Only
    the default config.json is created when missing (`create_if_missing`, and the log says so): a
    path given with --config must exist, so a typo never trades the defaults."""
    from whale.logs import setup_logging

    loaded = load_args_config(args, create_if_missing=create_if_missing)
    log = setup_logging(loaded.config, console=console, log_level_override=args.log_level)
    loaded.log_to(log)
    return loaded, log


def config_or_defaults(args: argparse.Namespace):
    """(Config, logger) for the commands that need no config.json (download, record): the --config
    file when one is given (it must exist) or the default one exists, else every default (mainnet)."""
    from pathlib import Path

    from whale.config.model import Config, Logging
    from whale.logs import setup_logging

    if getattr(args, "config_given", False) or Path(args.config).exists():
        loaded, log = load_cli_config(args, create_if_missing=False)
        return loaded.config, log
    return Config(), setup_logging(Logging(file=""), log_level_override=args.log_level)


def load_args_config(args: argparse.Namespace, *, create_if_missing: bool = True):
    """The LoadedConfig of --config: a path given there must exist (ConfigError naming it, exit 2)."""
    from whale.config import ConfigError, load_config

    given = bool(getattr(args, "config_given", False))
    try:
        return load_config(args.config, create_if_missing=create_if_missing and not given)
    except ConfigError as exc:
        if given and exc.problems == [MISSING]:
            raise ConfigError(exc.source, [f"{MISSING} (check the --config path; only the default config.json is "
                                           "created when it is missing)"], file_level=True) from exc
        raise


MISSING = "the file does not exist"


def install_stop_handlers(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM set `stop`: the loop finishes its pass and shuts down cleanly (exit 0)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame) -> None:  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
