"""`python whalebot.py demo`: the full live loop against the embedded simulator, offline."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from whale.candle_file import BUNDLED_DATA

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "data" / "demo-config.json"
DEFAULT_CANDLES = 192


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", parents=[parent], help="the live bot against the embedded simulator (offline)",
                              description="Replays real candles in a local Bybit V5 simulator and runs the full live "
                                          "loop against it over HTTP and WebSocket with auth.")
    p.set_defaults(config=None)
    p.add_argument("--data", action="append", metavar="FILE",
                   help="candles to replay (default: the bundled file of each symbol); repeat it for several "
                        "symbols, each file named by its symbol (ETHUSDT_1m.csv.gz)")
    p.add_argument("--symbols", metavar="S1,S2", help="trade these symbols on one account (default: the config's); "
                                                      "each needs bundled candles (BTCUSDT, ETHUSDT) or a --data file")
    p.add_argument("--candles", type=int, default=DEFAULT_CANDLES, metavar="N",
                   help=f"candles of the config's interval to replay (default {DEFAULT_CANDLES})")
    p.add_argument("--workdir", metavar="DIR", help="where the journal, logs and signals.csv go "
                                                    "(default: workdirs/demo-<UTC stamp>/; kept)")
    p.add_argument("--scenario", metavar="NAME", help="run a named simulator scenario (see --list-scenarios)")
    p.add_argument("--list-scenarios", action="store_true", help="list the named scenarios and exit")
    return p


def demo_symbols(cfg, symbols_arg: str | None, data_args: list[str] | None, scenario: bool):
    """(the config with the demo's symbols, {symbol: candle file}). --symbols picks the symbols (their
    bundled files unless --data gives them); several --data files name their symbols; one --data
    file is the config's one symbol's."""
    from whale.bot.demo import bundled_data
    from whale.candle_file import guess_symbol
    from whale.config.model import replace_path
    from whale.errors import BadInputError

    files = [Path(d) for d in data_args or []]
    symbols = [s.strip().upper() for s in symbols_arg.split(",") if s.strip()] if symbols_arg else []
    if symbols_arg is not None and not symbols:
        raise BadInputError("--symbols: give symbols separated by commas, e.g. --symbols BTCUSDT,ETHUSDT")
    if len(set(symbols)) != len(symbols):
        raise BadInputError(f"--symbols {symbols_arg}: a symbol is listed twice")
    if scenario and (len(symbols) > 1 or len(files) > 1):
        raise BadInputError("a scenario trades one symbol: leave out --symbols and give at most one --data")
    by_name: dict[str, Path] = {}
    if len(files) > 1 or (files and symbols and len(symbols) > 1):
        for f in files:
            name = guess_symbol(f)
            if name is None:
                raise BadInputError(f"--data {f}: the file name does not start with a symbol such as BTCUSDT; with "
                                    f"several symbols each file's name gives its symbol")
            if name in by_name:
                raise BadInputError(f"--data {f}: {name} again (also {by_name[name]})")
            by_name[name] = f
        if symbols and set(symbols) != set(by_name) and not set(by_name) <= set(symbols):
            raise BadInputError(f"--data files of {', '.join(sorted(set(by_name) - set(symbols)))} are not in "
                                f"--symbols {symbols_arg}")
        symbols = symbols or list(by_name)
    if symbols:
        cfg = replace_path(cfg, "symbols", symbols)
    symbols = list(cfg.symbols)
    if len(symbols) == 1 and len(files) == 1 and not by_name:
        return cfg, {symbols[0]: files[0]}
    if len(symbols) == 1 and not files:
        return cfg, {symbols[0]: BUNDLED_DATA if symbols[0] == "BTCUSDT" else bundled_data(symbols[0])}
    return cfg, {s: by_name.get(s) or bundled_data(s) for s in symbols}


def run(args: argparse.Namespace) -> int:
    from whale.bot.demo import run_demo
    from whale.commands._shared import install_stop_handlers
    from whale.config import config_from_data, load_config
    from whale.errors import BadInputError
    from whale.logs import setup_logging, strip_ansi, use_colour
    from whale.scenarios import load_all

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
    if args.candles < 1:
        raise BadInputError("--candles must be at least 1")
    if args.config is None:
        loaded = config_from_data(json.loads(DEMO_CONFIG.read_text()), source=str(DEMO_CONFIG))
    else:
        loaded = load_config(args.config, create_if_missing=False)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(args.workdir) if args.workdir else Path("workdirs") / f"demo-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    from whale.config.model import replace_path

    cfg = loaded.config
    if scenario is not None:
        for key, value in scenario.config.items():
            cfg = replace_path(cfg, key, value)
    cfg, data = demo_symbols(cfg, args.symbols, args.data, scenario is not None)
    cfg = replace_path(cfg, "logging.file", str(workdir / "whalebot.log"))
    log = setup_logging(cfg, console=True, log_level_override=args.log_level)
    loaded.log_to(log)
    stop = threading.Event()
    install_stop_handlers(stop)
    if scenario is None:
        names = ", ".join(f"{s} ({Path(d).name})" for s, d in data.items())
        log.info(f"Demo: replaying {args.candles} {cfg.interval} candles of {names} in the simulator; "
                 f"work dir {workdir}")
        result = run_demo(cfg, data=data, candles=args.candles, workdir=workdir, log=log, stop=stop)
    else:
        log.info(f"Scenario {scenario.name}: {scenario.summary}; work dir {workdir}")
        scripted = scenario.data()
        result = run_demo(cfg, data=data if scripted is None else scripted, candles=scenario.candles,
                          workdir=workdir, log=log, stop=stop, speed=scenario.speed, scenario=scenario,
                          sim_options=scenario.sim_options())
    for line in result.summary if use_colour(sys.stdout) else [strip_ansi(x) for x in result.summary]:
        print(line)
    print(f"Demo finished in {result.elapsed_s:.1f} s: {result.candles} candles decided, "
          f"{result.trades_closed} trades closed{', one position still open' if result.open_position else ''}.")
    print(f"Work dir (kept): {workdir}/ ({', '.join(result.files)})")
    if result.emergency:
        print("EMERGENCY stop by the safety monitor: " + "; ".join(result.emergency))
    if scenario is not None:
        problems = scenario.check(result, workdir)
        print(f"Scenario {scenario.name}: expected {scenario.expected}")
        print("  -> as expected" if not problems else "  -> NOT as expected: " + "; ".join(problems))
        return 0 if not problems else 1
    return 1 if result.emergency else 0
