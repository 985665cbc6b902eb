"""`python whalebot.py` (the default sub-command): the live loop — paper trading with `dry_run: true`,
real orders with `dry_run: false` and API keys from `.env` / the environment."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

KEY_VAR, SECRET_VAR = "BYBIT_API_KEY", "BYBIT_API_SECRET"
STARTUP_TIMEOUT_S = 25.0  # = whale.bot.loop.DEFAULT_DEADLINE_S (not imported: --help stays light)


def register(subparsers, parent) -> argparse.ArgumentParser:
    from whale.commands._shared import add_display_options

    p = subparsers.add_parser("run", parents=[parent], help="the live bot (default; paper trading unless dry_run is "
                                                          "false)",
                              description="Trade on Bybit (or any Bybit-compatible host) with the config's strategy. "
                                          "dry_run: true trades on paper with real public data and needs no keys.")
    p.add_argument("--workdir", metavar="DIR", default=".",
                   help="where trade_history.json and signals.csv live (default: the current directory)")
    p.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_S, metavar="S",
                   help=f"one deadline for DNS, connect and the first data (default {STARTUP_TIMEOUT_S:.0f} s, "
                        "so an unreachable exchange ends the bot within 30 s)")
    add_display_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from whale.bot.loop import Bot, BotOptions
    from whale.commands._shared import check_display_options, install_stop_handlers, load_cli_config
    from whale.errors import BadInputError, StartupCancelled
    from whale.logs import register_secret, use_colour

    stop = threading.Event()
    install_stop_handlers(stop)  # first: a Ctrl-C / SIGTERM during start-up must stop it (exit 0)
    check_display_options(args)
    if not args.startup_timeout > 0:
        raise BadInputError(f"--startup-timeout {args.startup_timeout:g}: must be a number of seconds above 0")
    load_dotenv(Path(args.workdir) / ".env" if Path(args.workdir, ".env").exists() else None)
    key, secret = os.environ.get(KEY_VAR) or None, os.environ.get(SECRET_VAR) or None
    register_secret(key)
    register_secret(secret)
    loaded, log = load_cli_config(args, console=True)
    cfg = loaded.config
    if not cfg.dry_run and not (key and secret):
        raise BadInputError(f"dry_run is false (real orders), but {KEY_VAR} and {SECRET_VAR} are not set: put them "
                            f"in .env or the environment, or set dry_run to true to trade on paper")
    bot = Bot(cfg, BotOptions(mode="paper" if cfg.dry_run else "live", workdir=Path(args.workdir), api_key=key,
                              api_secret=secret, startup_deadline_s=args.startup_timeout, config_path=str(args.config),
                              display_every=args.display_every, verbose=args.verbose), log)
    try:
        bot.run(stop)  # start-up failures raise WhaleError: one message, exit 1 (2 for bad keys or config)
    except StartupCancelled:
        print("Stopped during start-up (Ctrl-C or SIGTERM); nothing was traded.", file=sys.stderr)
        return 0
    for line in bot.summary_lines(colour=use_colour(sys.stdout)):
        print(line)
    log.info("Whalebot stopped.")
    return 0
