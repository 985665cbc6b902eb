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
    p.add_argument("--data", default=str(BUNDLED_DATA), metavar="FILE", help="candles to replay (default: bundled)")
    p.add_argument("--symbol", metavar="S", help="symbol the simulator serves and the bot trades (default: from the "
                                                "data file's name, as backtest takes it, else the config's)")
    p.add_argument("--candles", type=int, default=DEFAULT_CANDLES, metavar="N",
                   help=f"candles of the config's interval to replay (default {DEFAULT_CANDLES})")
    p.add_argument("--workdir", metavar="DIR", help="where the journal, logs and signals.csv go "
                                                    "(default: workdirs/demo-<UTC stamp>/; kept)")
    add_display_options(p)
    p.add_argument("--scenario", metavar="NAME", help="run a named simulator scenario (see --list-scenarios)")
    p.add_argument("--list-scenarios", action="store_true", help="list the named scenarios and exit")
    return p


def run(args: argparse.Namespace) -> int:
    from whale.bot.demo import demo_symbol, run_demo
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
    if scenario is None:
        cfg, note = demo_symbol(cfg, Path(args.data), args.symbol)
        if note:
            log.info(f"Demo: {note}")
        log.info(f"Demo: replaying {plural(args.candles, label(cfg.interval) + ' candle')} of {Path(args.data).name} "
                 f"in the simulator; {config_note}; work dir {workdir}")
        result = run_demo(cfg, data=Path(args.data), candles=args.candles, workdir=workdir, log=log, stop=stop,
                          display_every=args.display_every, verbose=args.verbose)
    else:
        log.info(f"Scenario {scenario.name}: {scenario.summary}; {config_note}; work dir {workdir}")
        data = scenario.data()
        result = run_demo(cfg, data=Path(args.data) if data is None else data, candles=scenario.candles,
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
