"""`python whalebot.py sim`: the Bybit V5 simulator alone on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
from typing import TYPE_CHECKING

from whale.errors import BadInputError

if TYPE_CHECKING:
    from whale.market.candles import Candles
    from whale.sim.server import SimConfig

DEFAULT_REPLAY = 1000  # candles left to replay when the file is too short for the warm-up as history

DESCRIPTION = """Serve a local Bybit V5 exchange (REST + WebSocket on one port of 127.0.0.1) that replays
candle files, one per symbol, or a book recording (--book), on one clock and one account: pybit and
plain WebSocket clients can
trade against it with the default credentials (not secret): key WHALEBOT-SIM-KEY, secret
WHALEBOT-SIM-SECRET-NOT-A-SECRET. The first line on stdout is SIM READY with the URLs; logs go to
stderr. See docs/simulator.md."""


def register(subparsers, parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from whale.sim.defaults import DEFAULT_PORT
    p = subparsers.add_parser("sim", parents=[parent], help="run the Bybit V5 simulator alone on 127.0.0.1",
                              description=DESCRIPTION)
    p.add_argument("--data", metavar="FILE", action="append", default=None,
                   help="candle CSV (timestamp_ms,open,high,low,close,volume; gzip allowed); repeat it to serve "
                        "several symbols on one account, each named by its file (ETHUSDT-PERP_1m.csv.gz -> "
                        "ETHUSDT); default: the bundled BTCUSDT 1m file")
    p.add_argument("--symbol", default=None,
                   help="symbol to serve, with one --data file (default: from the file name, else BTCUSDT)")
    p.add_argument("--speed", default="1", metavar="X",
                   help="replay speed: 1 = real time, 60 = one 1m candle per second, max (or 0) = as fast as "
                        "possible (default 1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--api-key", default=None, help="API key clients must use (default WHALEBOT-SIM-KEY)")
    p.add_argument("--api-secret", default=None, help="its secret (default WHALEBOT-SIM-SECRET-NOT-A-SECRET)")
    p.add_argument("--faults", default="", metavar="SPEC",
                   help="faults to inject, e.g. drop_ws_every=500,order_timeout_after=1,rate_limit=order/create:5 "
                        "(see docs/simulator.md)")
    p.add_argument("--history", type=int, default=None, metavar="N",
                   help="candles of the file served as history before the replay starts (default: enough for "
                        "the default config's warm-up, so a bot with it trades from the first replayed candle)")
    p.add_argument("--balance", type=float, default=10_000.0, metavar="USDT",
                   help="starting wallet balance (default 10000)")
    p.add_argument("--stream-rates", default="", metavar="SPEC",
                   help="benchmarks: push the public streams on Bybit's wall-clock periods with a churning book "
                        "(bybit = orderbook.1 10ms, .50 20ms, .200 100ms, .1000 200ms, tickers 100ms, trade "
                        "bursts 100ms; or items such as book50=20ms,tickers=100ms; see docs/simulator.md)")
    p.add_argument("--trigger-fill", choices=("level", "book"), default=None,
                   help="how a triggered take-profit, stop, trailing stop or conditional order fills: level = "
                        "around its level, which the candle path passed between two ticks (the candle backtest's "
                        "fill model, the default); book = as Bybit does, a market order taking the book as it "
                        "stands at the tick that crossed it")
    p.add_argument("--book", default=None, metavar="DIR",
                   help="serve a book recording (docs/recording.md) instead of candle files: its books, trades and "
                        "tickers as recorded, candles built from its trades, market orders filled on its book")
    p.add_argument("--symbols", default=None, metavar="S[,S...]",
                   help="with --book: the recording's symbols to serve (default: all)")
    p.add_argument("--from", dest="date_from", default=None, metavar="DATE",
                   help="with --book: replay from this UTC time (YYYY-MM-DD or YYYY-MM-DDTHH:MM); the recording "
                        "before it is served as history")
    p.add_argument("--to", dest="date_to", default=None, metavar="DATE",
                   help="with --book: stop before this UTC time")
    p.add_argument("--latency-ms", type=int, default=None, metavar="MS",
                   help="with --book: a market order takes the book as it stands this long after it is sent "
                        "(default 100, the config's backtest.latency_ms default)")
    return p


def _speed(text: str) -> float:
    if text.strip().lower() in ("max", "inf", "0"):
        return 0.0
    try:
        x = float(text)
    except ValueError:
        raise BadInputError(f"--speed {text!r}: expected a number such as 1 or 60, or max") from None
    if not x > 0 or x == float("inf"):
        raise BadInputError(f"--speed {text!r}: must be above 0 (or max)")
    return x


def warmup_history(candles: Candles) -> tuple[int, str]:
    """Candles of `candles`' interval that cover the default config's warm-up (its interval's candles,
    higher timeframes included, plus one for the candle a bot sees forming), and what that is in words."""
    from whale.config.model import Config
    from whale.market.intervals import interval_ms, label
    from whale.strategy.analyzer import Analyzer

    cfg = Config()
    need = Analyzer(cfg, cfg.interval).warmup_candles
    count = math.ceil((need + 1) * interval_ms(cfg.interval) / interval_ms(candles.interval))
    return count, f"the default config's warm-up of {need} {label(cfg.interval)} candles"


def _history(requested: int | None, candles: Candles, n: int, files: int = 1) -> int:
    """--history, or the default config's warm-up; data too short for that is said, not refused.
    `n` is the length of the replay's timeline (the union of the `files` files' candles)."""
    if requested is not None:
        return requested
    from whale.market.intervals import label

    log = logging.getLogger("whalebot.sim")
    count, why = warmup_history(candles)
    if count < n:
        log.info(f"sim: serving {count} {label(candles.interval)} candles as history ({why})")
        return count
    replay = max(1, min(DEFAULT_REPLAY, n // 2))
    data = "the data file has" if files == 1 else f"the timeline of the {files} data files has"
    log.warning(f"sim: {data} only {n} {label(candles.interval)} candles, but {why} needs {count} as "
                f"history: serving {n - replay} and replaying {replay}, so a bot with the default config warms "
                f"up on the replay before it trades (give a longer file, or --history N to choose)")
    return n - replay


def run(args: argparse.Namespace) -> int:
    from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET
    from whale.sim.faults import parse_faults
    from whale.sim.server import SimConfig, Simulator, load_data, timeline
    from whale.sim.streams import parse_stream_rates

    if (args.api_key is None) != (args.api_secret is None):
        raise BadInputError("--api-key and --api-secret go together (or leave both out for the fake defaults)")
    if not 0 <= args.port <= 65535:
        raise BadInputError(f"--port {args.port}: must be 0..65535")
    if args.balance <= 0:
        raise BadInputError("--balance must be above 0")
    if args.history is not None and args.history < 1:
        raise BadInputError("--history must be 1 or more")
    if args.symbol is not None and not args.symbol.strip():
        raise BadInputError("--symbol must not be empty")
    for name, value in (("--api-key", args.api_key), ("--api-secret", args.api_secret)):
        if value is not None and not (value.isascii() and value.isprintable() and value.strip() == value and value):
            raise BadInputError(f"{name}: use printable ASCII without spaces at the ends, as Bybit's keys are "
                                f"(clients send the key in an HTTP header)")
    speed = _speed(args.speed)
    faults = parse_faults(args.faults)
    rates = parse_stream_rates(args.stream_rates)
    _log_to_stderr(args.log_level or "INFO")
    key, secret = args.api_key or DEFAULT_API_KEY, args.api_secret or DEFAULT_API_SECRET
    if args.book is not None:
        config = _book_config(args, speed, faults, rates, key, secret)
    else:
        for flag, value in (("--symbols", args.symbols), ("--from", args.date_from), ("--to", args.date_to),
                            ("--latency-ms", args.latency_ms)):
            if value is not None:
                raise BadInputError(f"{flag} goes with --book (a recording); candle files use --data and --history")
        data = load_data(args.data, args.symbol)
        history = _history(args.history, data[0][1], len(timeline([c for _, c in data])), len(data))
        config = SimConfig(data=dict(data), speed=speed, port=args.port, faults=faults, history_candles=history,
                           start_balance=args.balance, stream_rates=rates, api_key=key, api_secret=secret,
                           trigger_fill=args.trigger_fill or "level")
    sim = Simulator(config)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sim.start()
        # One write: print() writes the line and its newline apart, and with unbuffered output (PYTHONUNBUFFERED)
        # a log line from the simulator's thread can land between them when stdout and stderr share a pipe.
        sys.stdout.write(sim.ready_line + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
        logging.getLogger("whalebot.sim").info("sim: stopping")
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _book_config(args: argparse.Namespace, speed: float, faults, rates, key: str, secret: str) -> SimConfig:
    """The SimConfig of `sim --book DIR`."""
    from whale.commands.backtest import parse_date
    from whale.sim.server import SimConfig

    for flag, value in (("--data", args.data), ("--symbol", args.symbol), ("--history", args.history)):
        if value is not None:
            raise BadInputError(f"{flag} goes with candle files; with --book use --symbols and --from")
    if args.trigger_fill is not None:
        raise BadInputError("--trigger-fill goes with candle files: on a recording, a triggered stop or target "
                            "always fills on the recorded book at the print that crossed it")
    if rates is not None:
        raise BadInputError("--stream-rates goes with candle files: a recording plays at its own rates (--speed)")
    latency = 100 if args.latency_ms is None else args.latency_ms
    if not 0 <= latency <= 10_000:
        raise BadInputError(f"--latency-ms {latency}: must be 0..10000")
    symbols = None
    if args.symbols is not None:
        symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
        if not symbols:
            raise BadInputError("--symbols: name at least one symbol, e.g. BTCUSDT,ETHUSDT")
    date_from = parse_date(args.date_from, "--from")
    date_to = parse_date(args.date_to, "--to")
    if date_from is not None and date_to is not None and date_from >= date_to:
        raise BadInputError(f"--from {args.date_from} is not before --to {args.date_to}")
    return SimConfig(book=args.book, book_symbols=symbols, book_from_ms=date_from, book_to_ms=date_to,
                     latency_ms=latency, speed=speed, port=args.port, faults=faults, start_balance=args.balance,
                     api_key=key, api_secret=secret)


def _log_to_stderr(level: str) -> None:
    """The simulator's log on stderr, in the bot's console format (UTC time - LEVEL - message)."""
    from whale.logs import ConsoleFormatter, use_colour

    logger = logging.getLogger("whalebot.sim")
    if not any(getattr(h, "_whalebot_sim", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ConsoleFormatter(use_colour(sys.stderr)))
        handler._whalebot_sim = True  # type: ignore[attr-defined]  # our tag, so a second call adds no handler
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
