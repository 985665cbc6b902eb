"""`python whalebot.py demo`: the full live loop against the embedded simulator, offline."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from whale.candle_file import BUNDLED_DATA

if TYPE_CHECKING:
    from whale.bot.demo import DemoResult

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "data" / "demo-config.json"
DEMO_CONFIG_NAME = "data/demo-config.json"
DEFAULT_CANDLES = 192
CONFIG_HELP = (f"config file (default: {DEMO_CONFIG_NAME}, the demo's own: the defaults with signal_score_threshold "
               "1.0 and a 1,000 USDT balance; a FILE given here must exist)")


def register(subparsers, parent) -> argparse.ArgumentParser:
    from whale.commands._shared import add_display_options

    p = subparsers.add_parser("demo", parents=[parent], help="the live bot against the embedded simulator (offline)",
                              description="Replays real candles in a local Bybit V5 simulator and runs the full live "
                                          "loop against it over HTTP and WebSocket with auth.")
    p.set_defaults(config=None)
    p.add_argument("--data", action="append", metavar="FILE",
                   help="candles to replay (default: bundled); repeat it for several symbols, each file named by "
                        "its symbol (ETHUSDT_1m.csv.gz)")
    p.add_argument("--symbol", metavar="S", help="symbol the simulator serves and the bot trades (default: from the "
                                                "data file's name, as backtest takes it, else the config's)")
    p.add_argument("--symbols", metavar="S1,S2", help="several symbols on one account, each with its bundled candles "
                                                      "(BTCUSDT, ETHUSDT) or a --data file named by it")
    p.add_argument("--candles", type=int, default=DEFAULT_CANDLES, metavar="N",
                   help=f"candles of the config's interval to replay (default {DEFAULT_CANDLES})")
    p.add_argument("--workdir", metavar="DIR", help="where the journal, logs and signals.csv go "
                                                    "(default: workdirs/demo-<UTC stamp>/; kept)")
    add_display_options(p)
    p.add_argument("--scenario", metavar="NAME", help="run a named simulator scenario (see --list-scenarios)")
    p.add_argument("--list-scenarios", action="store_true", help="list the named scenarios and exit")
    p.add_argument("--book", metavar="DIR", help="run against the simulator serving a book recording (sim --book) "
                                                 "instead of candles: its books and trades as recorded, in lockstep; "
                                                 "--symbols picks the recording's symbols (default all)")
    return p


def demo_symbols(cfg, symbols_arg: str | None, data_args: list[str] | None, symbol_arg: str | None):
    """(the config, {symbol: candle file}, a note for the log or None). --symbols: several symbols on
    one account, each with its bundled file unless a --data file (named by its symbol) gives it;
    several --data files: their symbols; else one symbol as whale.bot.demo.demo_symbol picks it
    (--symbol, the data file's name, the config's)."""
    from whale.bot.demo import bundled_data, demo_symbol
    from whale.candle_file import guess_symbol
    from whale.config.model import replace_path
    from whale.errors import BadInputError

    files = [Path(d) for d in data_args or []]
    if symbols_arg is None and len(files) <= 1:
        cfg, note = demo_symbol(cfg, files[0] if files else BUNDLED_DATA, symbol_arg)
        return cfg, {cfg.symbols[0]: files[0] if files else BUNDLED_DATA}, note
    if symbol_arg is not None:
        raise BadInputError("--symbol names the one symbol of one data file; with several use --symbols S1,S2")
    symbols = [s.strip().upper() for s in (symbols_arg or "").split(",") if s.strip()]
    if symbols_arg is not None and not symbols:
        raise BadInputError("--symbols: give symbols separated by commas, e.g. --symbols BTCUSDT,ETHUSDT")
    if len(set(symbols)) != len(symbols):
        raise BadInputError(f"--symbols {symbols_arg}: a symbol is listed twice")
    by_name: dict[str, Path] = {}
    for f in files:
        name = guess_symbol(f)
        if name is None:
            raise BadInputError(f"--data {f}: the file name does not start with a symbol such as BTCUSDT; with "
                                f"several symbols each file's name gives its symbol")
        if name in by_name:
            raise BadInputError(f"--data {f}: {name} again (also {by_name[name]})")
        by_name[name] = f
    extra = sorted(set(by_name) - set(symbols)) if symbols else []
    if extra:
        raise BadInputError(f"--data files of {', '.join(extra)} are not in --symbols {symbols_arg}")
    symbols = symbols or list(by_name)
    cfg = replace_path(cfg, "symbols", symbols)
    return cfg, {s: by_name.get(s) or bundled_data(s) for s in symbols}, None


def run(args: argparse.Namespace) -> int:
    from whale.bot.demo import run_demo
    from whale.commands._shared import check_display_options, install_stop_handlers, load_args_config
    from whale.config import config_from_data
    from whale.errors import BadInputError
    from whale.logs import setup_logging, strip_ansi, use_colour
    from whale.market.intervals import label
    from whale.scenarios import load_all
    from whale.text import plural

    scenarios = load_all()
    if args.list_scenarios:
        width = max((len(n) for n in scenarios), default=0)
        for name, cls in scenarios.items():
            print(f"{name.ljust(width)}  {cls.summary}")
        return 0
    scenario = None
    if args.scenario is not None:
        if args.scenario not in scenarios:
            import difflib

            close = difflib.get_close_matches(args.scenario, scenarios, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise BadInputError(f"--scenario {args.scenario!r} is not a scenario{hint}; "
                                f"python whalebot.py demo --list-scenarios lists them")
        scenario = scenarios[args.scenario]()
    if args.symbol is not None and (scenario is not None or not args.symbol.strip()):
        raise BadInputError("--symbol must not be empty" if scenario is None else
                            "--symbol does not apply to a --scenario, which replays its own BTCUSDT path")
    check_display_options(args)
    if args.candles < 1:
        raise BadInputError("--candles must be at least 1")
    if args.config is None:
        loaded = config_from_data(json.loads(DEMO_CONFIG.read_text()), source=str(DEMO_CONFIG))
        config_note = f"config {DEMO_CONFIG_NAME} (the demo's own; --config FILE runs yours)"
    else:
        loaded = load_args_config(args, create_if_missing=False)
        config_note = f"config {args.config}"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(args.workdir) if args.workdir else Path("workdirs") / f"demo-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    from whale.config.model import replace_path

    cfg = loaded.config
    if scenario is not None:
        for key, value in scenario.config.items():
            cfg = replace_path(cfg, key, value)
    cfg = replace_path(cfg, "logging.file", str(workdir / "whalebot.log"))
    log = setup_logging(cfg, console=True, log_level_override=args.log_level)
    loaded.log_to(log)
    stop = threading.Event()
    install_stop_handlers(stop)
    if args.book is not None:
        if scenario is not None or args.data or args.symbol is not None:
            raise BadInputError("--book replays a recording: leave out --data, --symbol and --scenario "
                                "(--symbols picks the recording's symbols)")
        from whale.bot.demo import run_demo_book

        picked = None if args.symbols is None else [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        log.info(f"Demo: the simulator serves the recording {args.book}; {config_note}; work dir {workdir}")
        result = run_demo_book(cfg, book=args.book, symbols=picked, workdir=workdir, log=log, stop=stop,
                               display_every=args.display_every, verbose=args.verbose)
    elif scenario is None:
        cfg, data, note = demo_symbols(cfg, args.symbols, args.data, args.symbol)
        if note:
            log.info(f"Demo: {note}")
        names = ", ".join(f"{s} ({Path(d).name})" for s, d in data.items()) if len(data) > 1 else \
            Path(next(iter(data.values()))).name
        log.info(f"Demo: replaying {plural(args.candles, label(cfg.interval) + ' candle')} of {names} "
                 f"in the simulator; {config_note}; work dir {workdir}")
        result = run_demo(cfg, data=data if len(data) > 1 else next(iter(data.values())), candles=args.candles,
                          workdir=workdir, log=log, stop=stop, display_every=args.display_every, verbose=args.verbose)
    else:
        if args.symbols is not None or (args.data and len(args.data) > 1):
            raise BadInputError("a scenario trades one symbol on its own candles: leave out --symbols and --data")
        log.info(f"Scenario {scenario.name}: {scenario.summary}; {config_note}; work dir {workdir}")
        scripted = scenario.data()
        one = Path(args.data[0]) if args.data else BUNDLED_DATA
        result = run_demo(cfg, data=one if scripted is None else scripted, candles=scenario.candles,
                          workdir=workdir, log=log, stop=stop, speed=scenario.speed, scenario=scenario,
                          sim_options=scenario.sim_options(), display_every=args.display_every, verbose=args.verbose)
    for line in result.summary if use_colour(sys.stdout) else [strip_ansi(x) for x in result.summary]:
        print(line)
    for line in closing_lines(result, workdir):
        print(line)
    if result.emergency:
        print("EMERGENCY stop by the safety monitor: " + "; ".join(result.emergency))
    if scenario is not None:
        problems = scenario.check(result, workdir)
        print(f"Scenario {scenario.name}: expected {scenario.expected}")
        print("  -> as expected" if not problems else "  -> NOT as expected: " + "; ".join(problems))
        return 0 if not problems else 1
    return 1 if result.emergency else 0


def closing_lines(result: DemoResult, workdir: Path) -> list[str]:
    """What the demo prints after its summary: how long, what it decided, where its files are."""
    from whale.text import plural

    still_open = ", one position still open" if result.open_position else ""
    return [f"Demo finished in {result.elapsed_s:.1f} s: {plural(result.candles, 'candle')} decided, "
            f"{plural(result.trades_closed, 'trade')} closed{still_open}.",
            f"Work dir (kept): {workdir}/ ({', '.join(result.files)})"]
