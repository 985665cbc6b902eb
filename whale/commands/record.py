"""`python whalebot.py record`: record the public streams of some symbols into a book recording.

    python whalebot.py record --symbols BTCUSDT,ETHUSDT --depth 200 --out recordings/ [--hours 24]

Subscribes to orderbook.DEPTH, publicTrade, tickers and kline.1 of each symbol on the exchange of the
config (`exchange.network`: mainnet, testnet, or custom with its URLs, e.g. `python whalebot.py sim`)
and writes them in the format of docs/recording.md: one file per symbol and UTC hour under
OUT/<SYMBOL>/, a gap marker and a fresh snapshot after every reconnect, at most the last second lost
to a kill. A log line every minute gives events a second and bytes an hour; a summary at the end.
Ctrl-C, SIGTERM or the end of --hours stop it cleanly (exit 0). No API keys are needed.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from whale.errors import EXIT_OK, BadInputError

DEPTHS = (1, 50, 200, 500, 1000)  # Bybit's linear order book depths (the simulator serves 1, 50, 200, 1000)
REPORT_EVERY_S = 60.0
READY_TIMEOUT_S = 30.0


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "record", parents=[parent], help="record order books, trades, tickers and klines into a book recording",
        description="Record the public streams (orderbook.DEPTH, publicTrade, tickers, kline.1) of some symbols "
                    "from the config's exchange (exchange.network; custom URLs reach `python whalebot.py sim`) "
                    "into the book recording format (docs/recording.md): one file per symbol and UTC hour under "
                    "OUT/<SYMBOL>/. Ctrl-C or SIGTERM stops it (exit 0).")
    p.add_argument("--symbols", required=True, metavar="S[,S...]", help="symbols to record, e.g. BTCUSDT,ETHUSDT")
    p.add_argument("--depth", type=int, default=200, metavar="N",
                   help="order book depth to subscribe: 1, 50, 200, 500 or 1000 (default 200)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="recording directory to write into")
    p.add_argument("--hours", type=float, default=None, metavar="H",
                   help="stop after H hours (default: until Ctrl-C or SIGTERM)")
    p.add_argument("--trade-ids", action="store_true",
                   help="keep the trades' ids (left out by default: no decision uses them, see docs/recording.md)")
    return p


def parse_symbols(text: str) -> tuple[str, ...]:
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if not symbols:
        raise BadInputError("--symbols: name at least one symbol, e.g. BTCUSDT,ETHUSDT")
    for s in symbols:
        if not (s.isascii() and s.isalnum()):
            raise BadInputError(f"--symbols {text!r}: {s!r} is not a symbol (letters and digits, e.g. BTCUSDT)")
    return symbols


def check_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The symbols; every bad argument raises BadInputError naming its option (exit 2)."""
    symbols = parse_symbols(args.symbols)
    if args.depth not in DEPTHS:
        raise BadInputError(f"--depth {args.depth}: expected one of {', '.join(map(str, DEPTHS))}")
    if args.hours is not None and not 0 < args.hours < float("inf"):
        raise BadInputError(f"--hours {args.hours}: must be above 0")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from exc
    return symbols


def _settings(args: argparse.Namespace):
    """(endpoints, logger): the config's exchange; without a config file, the defaults (mainnet)."""
    from whale.bybit.endpoints import endpoints_for
    from whale.commands._shared import config_or_defaults

    cfg, log = config_or_defaults(args)
    return endpoints_for(cfg), log


def source_of(endpoints) -> str:
    """`sim` for a custom exchange on this machine (the simulator), else `bybit`."""
    from urllib.parse import urlsplit

    host = urlsplit(endpoints.public_ws_url).hostname or ""
    return "sim" if endpoints.network == "custom" and host in ("127.0.0.1", "localhost", "::1") else "bybit"


def run(args: argparse.Namespace) -> int:
    symbols = check_args(args)  # before anything that imports the network clients

    from whale.bybit.errors import AbortedError
    from whale.bybit.rest import BybitRest
    from whale.commands._shared import install_stop_handlers
    from whale.errors import StartupCancelled
    from whale.recording.recorder import Recorder, progress_line, summary_lines

    endpoints, log = _settings(args)
    stop = threading.Event()
    install_stop_handlers(stop)
    rest = BybitRest(endpoints, abort=stop)
    instruments = {}
    try:
        for sym in symbols:  # the files' units; a symbol the exchange does not trade stops here (exit 2)
            try:
                instruments[sym] = rest.instrument(sym)
            except BadInputError as exc:
                raise BadInputError(f"--symbols {sym}: not traded as a linear contract on {endpoints.rest_host}") \
                    from exc
    except AbortedError:  # Ctrl-C or SIGTERM while asking: a clean stop
        return EXIT_OK
    finally:
        rest.close()
    if stop.is_set():
        return EXIT_OK
    recorder = Recorder(endpoints, symbols, args.out, depth=args.depth, source=source_of(endpoints),
                        instruments=instruments, writer_options={"trade_ids": bool(args.trade_ids)})
    hours = f" for {args.hours:g} h" if args.hours else " until Ctrl-C or SIGTERM"
    log.info(f"recording {', '.join(symbols)} (orderbook.{args.depth}, publicTrade, tickers, kline.1) from "
             f"{endpoints.public_ws_host} into {args.out}{hours}")
    deadline = time.monotonic() + args.hours * 3600.0 if args.hours else None
    recorder.start()
    try:
        try:
            if not recorder.wait_ready(READY_TIMEOUT_S, stop):
                log.warning(f"recording: no subscription acknowledged by {endpoints.public_ws_host} after "
                            f"{READY_TIMEOUT_S:.0f} s; still trying")
        except StartupCancelled:  # stopped while connecting
            pass
        before = recorder.summary()
        next_report = time.monotonic() + REPORT_EVERY_S
        while not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                log.info(f"recording: --hours {args.hours:g} reached")
                break
            recorder.tick()
            if now >= next_report:
                current = recorder.summary()
                log.info(progress_line(current, before))
                before, next_report = current, now + REPORT_EVERY_S
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - now))
            stop.wait(wait)
    finally:
        summary = recorder.stop()
    for line in summary_lines(summary):
        log.info(line)
    return EXIT_OK
