"""The offline demo: the embedded simulator replays real candles in lockstep with the live loop,
which trades against it over real HTTP and WebSocket with auth — every byte of the live client
runs, nothing is faked. The next candle starts only once the bot has handled the previous
closed one, so no candle is skipped whatever the machine's speed.

Inside a candle the lockstep goes further (`Lockstep`), so the same demo gives the same trades
every run: each step the simulator publishes (a flush of book deltas, ticker, trades and klines,
or a tick's private events) waits until the bot has read every data message sent so far and then
finished a pass of its loop; and each pass begins only once everything the simulator has sent has
arrived. What a pass sees is then always a whole number of steps, the same in every run."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whale.bot.loop import Bot, BotHooks, BotOptions, EmergencyStop
from whale.candle_file import BUNDLED_DATA, guess_symbol, load_candle_file
from whale.config.model import Config, Overrides, replace_path
from whale.errors import BadInputError, WhaleError
from whale.market.candles import Candles
from whale.market.instruments import instrument_for
from whale.market.intervals import interval_ms, is_multiple, label
from whale.sim import SimConfig, Simulator
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET
from whale.warmup import prepare_kernels

HANDLE_TIMEOUT_S = 60.0  # the bot must handle a closed candle within this (else the demo stops)
ARRIVAL_WAIT_S = 1.0  # the longest a pass waits for messages in flight (a dropped connection loses them)
BOOK_HISTORY_MINUTES = 1  # demo --book and backtest --book: the recording's first minute is history, not traded
RUN_FILES = ("trade_history.json", "signals.csv")  # what one demo run writes and must not share
WORKDIR_FILES = (*RUN_FILES, "whalebot.log")  # what the closing line may list


@dataclass
class DemoResult:
    workdir: Path
    candles: int  # primary candles the bot decided on
    elapsed_s: float
    summary: list[str]
    trades_closed: int
    open_position: bool
    emergency: list[str] | None = None  # the safety monitor's reasons when it stopped the bot
    files: tuple[str, ...] = ()  # which of WORKDIR_FILES the work dir holds afterwards


class Lockstep:
    """The handshake between the in-process simulator and the bot, by counts of WebSocket data messages
    per stream: what the simulator wrote to its open connections (Simulator.data_sent) and what the
    bot's client has handled on its current ones (BybitWebSocketManager.data_received).

    - before each pass (bot thread): wait until everything sent has been handled, so a pass never
      sees half a step (the trades of a flush without its book delta);
    - after each pass: remember what the pass began with, and tell the simulator;
    - the simulator's step gate (sim thread): True once a finished pass began with everything sent
      so far. A pass that placed an order made the exchange send more (fills, position): the gate
      then waits for the next pass, which reads them."""

    def __init__(self, sim: Simulator, stop: threading.Event) -> None:
        self.sim = sim
        self.stop = stop
        self.bot: Bot | None = None
        self.seen: dict[str, int] | None = None  # what the last finished pass began with

    def before_pass(self) -> None:
        bot = self.bot
        if bot is None:
            return
        deadline = time.monotonic() + ARRIVAL_WAIT_S
        while not covers(bot.data.data_received(), self.sim.data_sent()):
            if self.stop.is_set() or time.monotonic() > deadline:
                return  # a lost connection's messages never arrive: the pass goes on with what there is
            time.sleep(0.0002)

    def on_pass(self, received: dict[str, int]) -> None:
        self.seen = received
        self.sim.step_done()

    def settled(self) -> bool:
        seen = self.seen
        return seen is not None and covers(seen, self.sim.data_sent())


def covers(received: dict[str, int], sent: dict[str, int]) -> bool:
    """Every stream has handled at least as many data messages as were sent to it."""
    return all(received.get(stream, 0) >= count for stream, count in sent.items())


def check_fresh_workdir(workdir: Path) -> None:
    """Refuse a work dir that already holds a demo's journal or signals (exit 2). Each demo starts a
    fresh simulator: reusing the journal would mix two runs' trades, and signals.csv would get a
    second copy of the rows, so it would no longer equal the backtest's. Deleting a trader's
    earlier results without asking would be worse, so the user picks a new dir or removes them."""
    found = [name for name in RUN_FILES if (workdir / name).exists()]
    if found:
        raise BadInputError(f"work dir {workdir} already holds {' and '.join(found)} from an earlier demo run; a "
                            "demo starts from a fresh simulator and would mix the two runs. Pass a new --workdir "
                            "(or leave it out for workdirs/demo-<UTC stamp>/), or delete "
                            f"{'those files' if len(found) > 1 else 'that file'} first")


def files_in(workdir: Path) -> tuple[str, ...]:
    """The run's files that exist (a run that never reached a candle writes no journal)."""
    return tuple(name for name in WORKDIR_FILES if (workdir / name).exists())


def demo_symbol(cfg: Config, data: Path, symbol: str | None = None) -> tuple[Config, str | None]:
    """The config for the symbol the demo replays: `symbol` (--symbol), else the one in the data file's
    name (as `backtest` takes it), else the config's. A symbol other than the config's gets its
    effective config (its overrides, when the config lists it) and a note for the log; ETH candles
    served as BTCUSDT would be rounded to BTC's 0.1 tick and decide differently from the backtest."""
    chosen = (symbol or guess_symbol(data) or cfg.symbol).strip().upper()
    if chosen == cfg.symbol:
        return (cfg.for_symbol(chosen) if len(cfg.symbols) > 1 else cfg), None
    how = "from --symbol" if symbol else f"from the data file's name {data.name}"
    note = f"trading {chosen}, {how} (the config's symbol is {cfg.symbol})"
    if chosen in cfg.symbols:
        return cfg.for_symbol(chosen), note
    return dataclasses.replace(cfg, symbols=(chosen,), overrides=Overrides()), note


def demo_config(cfg: Config, sim: Simulator, workdir: Path) -> Config:
    """The user's strategy, pointed at the simulator, with real (simulated) orders and logs in the work dir."""
    for key, value in (("network", "custom"), ("rest_url", sim.rest_url), ("public_ws_url", sim.public_ws_url),
                       ("private_ws_url", sim.private_ws_url), ("dry_run", False),
                       ("logging.file", str(workdir / "whalebot.log"))):
        cfg = replace_path(cfg, key, value)
    return cfg


DemoData = Path | Candles | Mapping[str, Path | Candles]


def bundled_data(symbol: str) -> Path:
    """The bundled 1-minute perpetual candles of `symbol` (data/<SYMBOL>-PERP_1m.csv.gz); BadInputError
    naming the symbols that have some."""
    path = BUNDLED_DATA.parent / f"{symbol}-PERP_1m.csv.gz"
    if not path.exists():
        have = sorted(p.name.split("-PERP_")[0] for p in BUNDLED_DATA.parent.glob("*-PERP_1m.csv.gz"))
        raise BadInputError(f"no bundled candles for {symbol} (bundled: {', '.join(have)}); download some with "
                            f"python whalebot.py download --symbol {symbol} ... and give them with --data FILE")
    return path


def _sources(cfg: Config, data: DemoData) -> dict[str, tuple[str, Candles]]:
    """symbol -> (where the candles come from, its candles), for every symbol of the config."""
    if not isinstance(data, Mapping):
        if len(cfg.symbols) != 1:
            raise BadInputError(f"one candle source for {len(cfg.symbols)} symbols: give each symbol its data")
        data = {cfg.symbols[0]: data}
    missing = [sym for sym in cfg.symbols if sym not in data]
    if missing:
        raise BadInputError(f"no candles for {', '.join(missing)}: give --data for every symbol of --symbols")
    out = {}
    for sym in cfg.symbols:
        src = data[sym]
        out[sym] = (_name(src), src if isinstance(src, Candles) else load_candle_file(src).candles)
    return out


def run_demo(cfg: Config, *, data: DemoData, candles: int, workdir: Path, log: logging.Logger,
             speed: float = 0.0, stop: threading.Event | None = None, bot_hooks: BotHooks | None = None,
             scenario=None, api_key: str = DEFAULT_API_KEY, api_secret: str = DEFAULT_API_SECRET,
             sim_options: dict | None = None, rest_timeout_s: float = 10.0,
             prepared_workdir: bool = False, display_every: int = 0, verbose: bool = False) -> DemoResult:
    """Replay the last `candles` candles of the config's interval from `data` (one source for a
    one-symbol config, else {symbol: source} for every symbol: the simulator serves them all on one
    account and one clock, up to the last candle they all have). `scenario` (optional) has
    before_step(sim, bot), called before each simulator step: tests and named scenarios use it to
    script walls, faults and balance changes while the bot runs. `prepared_workdir` lets a caller
    start on a work dir it filled on purpose (e.g. a corrupt journal) instead of a fresh one."""
    t_start = time.monotonic()
    if not prepared_workdir:
        check_fresh_workdir(workdir)
    sources = _sources(cfg, data)
    primary = cfg.interval
    p_ms = interval_ms(primary)
    for name, base in sources.values():
        if not is_multiple(primary, base.interval):
            raise BadInputError(f"{name}: its {label(base.interval)} candles cannot make the config's "
                                f"{label(primary)} candles; use a config interval that is a multiple of "
                                f"{label(base.interval)}")
    intervals = {base.interval for _, base in sources.values()}
    if len(intervals) > 1:
        raise BadInputError(f"the candle files have different intervals ({', '.join(sorted(intervals))}): the "
                            f"simulator replays them on one clock; give files of one interval")
    base_ms = interval_ms(next(iter(intervals)))
    # Replay the last `candles` primary candles every symbol has; everything before is history.
    last_close = min(int(base.ts[-1]) + base_ms for _, base in sources.values())
    end_ms = last_close - last_close % p_ms
    start_ms = end_ms - candles * p_ms
    for name, base in sources.values():
        if start_ms <= int(base.ts[0]) + 10 * p_ms:
            raise BadInputError(f"{name}: {len(base)} {label(base.interval)} candles are too few to replay "
                                f"{candles} {label(primary)} candles after some history"
                                f"{' (up to the last candle every symbol has)' if len(sources) > 1 else ''}; ask for "
                                f"fewer with --candles")
    trimmed = {sym: base.slice(0, int(np.searchsorted(base.ts, end_ms))) for sym, (_, base) in sources.items()}
    union = np.unique(np.concatenate([c.ts for c in trimmed.values()]))
    steps = int(np.searchsorted(union, end_ms)) - int(np.searchsorted(union, start_ms))
    first_ts = int(union[0])
    history = int((start_ms - first_ts) // p_ms) + 2
    stop = stop or threading.Event()
    one = len(trimmed) == 1
    sim_kw = dict(data=next(iter(trimmed.values())) if one else trimmed, symbol=cfg.symbols[0] if one else None,
                  speed=speed, port=0, lockstep=True, start_ms=start_ms, fees=cfg.fees,
                  start_balance=cfg.trade_management.account_balance, api_key=api_key, api_secret=api_secret)
    sim_kw.update(sim_options or {})
    simcfg = SimConfig(**sim_kw)

    def due(want: int) -> list[str]:
        """The symbols with a primary candle opening at `want` (their data covers it)."""
        return [sym for sym, c in trimmed.items()
                if np.searchsorted(c.ts, want + p_ms) > np.searchsorted(c.ts, want)]

    first_symbol = cfg.symbols[0]
    return _run_on_sim(cfg, simcfg, steps=steps, base_ms=base_ms, due=due, history=history, workdir=workdir,
                       log=log, stop=stop, bot_hooks=bot_hooks, scenario=scenario, api_key=api_key,
                       api_secret=api_secret, rest_timeout_s=rest_timeout_s, display_every=display_every,
                       verbose=verbose, instrument=instrument_for(first_symbol, trimmed[first_symbol].close),
                       t_start=t_start)


def run_demo_book(cfg: Config, *, book: Path | str, workdir: Path, log: logging.Logger,
                  symbols: list[str] | None = None, stop: threading.Event | None = None,
                  bot_hooks: BotHooks | None = None, api_key: str = DEFAULT_API_KEY,
                  api_secret: str = DEFAULT_API_SECRET, display_every: int = 0, verbose: bool = False,
                  from_ms: int | None = None, to_ms: int | None = None) -> DemoResult:
    """`demo --book DIR`: the live bot over real sockets against the simulator serving a recording
    (`sim --book`'s machinery in process: its books, trades and tickers as recorded, candles from its
    trades, market orders filled on the recorded book `backtest.latency_ms` after they are sent), in
    lockstep: each recorded event is a step the bot has handled before the next one plays, so a run
    repeats exactly. The simulator plays the first minute before the bot starts (BOOK_HISTORY_MINUTES):
    the bot finds a book, a price and that minute's candle, as `backtest --book` does."""
    from whale.sim.recorded_replay import load_recording

    t_start = time.monotonic()
    check_fresh_workdir(workdir)
    setup = load_recording(book, symbols, from_ms, to_ms)
    cfg = replace_path(cfg, "symbols", list(setup.symbols))
    if not is_multiple(cfg.interval, "1"):
        raise BadInputError(f"interval {cfg.interval!r}: a recording's candles are built by the minute")
    stop = stop or threading.Event()
    simcfg = SimConfig(data=None, book=Path(book), book_symbols=tuple(setup.symbols), book_from_ms=from_ms,
                       book_to_ms=to_ms, latency_ms=int(cfg.backtest.latency_ms), speed=0.0, port=0, lockstep=True,
                       fees=cfg.fees, start_balance=cfg.trade_management.account_balance, api_key=api_key,
                       api_secret=api_secret)
    steps = len(setup.times) - setup.start_index

    def due(want: int) -> list[str]:
        """Every symbol closes a candle at each primary boundary (candles between prints are flat)."""
        return [sym for sym in setup.symbols
                if int(setup.candles[sym].candles.ts[0]) <= want <= int(setup.candles[sym].candles.ts[-1])]

    first = setup.symbols[0]
    prints = setup.prints[first]
    return _run_on_sim(cfg, simcfg, steps=steps, base_ms=interval_ms("1"), due=due, history=None, workdir=workdir,
                       log=log, stop=stop, bot_hooks=bot_hooks, scenario=None, api_key=api_key,
                       api_secret=api_secret, rest_timeout_s=10.0, display_every=display_every, verbose=verbose,
                       instrument=instrument_for(first, prints.price[:1000]), t_start=t_start,
                       pre_steps=BOOK_HISTORY_MINUTES)


def _run_on_sim(cfg: Config, simcfg: SimConfig, *, steps: int, base_ms: int, due, history: int | None,
                workdir: Path, log: logging.Logger, stop: threading.Event, bot_hooks: BotHooks | None, scenario,
                api_key: str, api_secret: str, rest_timeout_s: float, display_every: int, verbose: bool,
                instrument, t_start: float, pre_steps: int = 0) -> DemoResult:
    """The demo proper: the simulator of `simcfg` in process, the bot against it, and the controller that
    steps it `steps` times (each `base_ms` of replay) in lockstep with the bot's closed candles."""
    p_ms = interval_ms(cfg.interval)
    handled: dict[str, int] = {sym: -1 for sym in cfg.symbols}
    cond = threading.Condition()
    ready = threading.Event()
    failure: list[str] = []

    def on_ready() -> None:
        ready.set()
        if bot_hooks and bot_hooks.on_ready:
            bot_hooks.on_ready()

    def on_symbol_candle(symbol: str, ts: int) -> None:
        with cond:
            handled[symbol] = max(handled.get(symbol, -1), ts)
            cond.notify_all()

    def on_candle(ts: int) -> None:
        if bot_hooks and bot_hooks.on_candle:
            bot_hooks.on_candle(ts)

    # Compile first, with progress (30-60 s on a cold cache), the simulator's market included: the bot's
    # start-up then finds every kernel ready, and nothing goes silent while a stream waits.
    made: list[Simulator] = []
    first_symbol = cfg.symbols[0]
    prepare_kernels(cfg.for_symbol(first_symbol), instrument, log,
                    extra=[("the simulator's market replay", lambda: made.append(Simulator(simcfg)))])
    with made[0] as sim:
        for _ in range(pre_steps):  # replay before the bot starts: history to it (a recording's first minute)
            if not sim.step(1, timeout=30.0):
                raise WhaleError("demo stopped: the simulator did not play the recording's first minute within 30 s")
        run_cfg = demo_config(cfg, sim, workdir)
        lockstep = Lockstep(sim, stop)
        hooks = BotHooks(on_ready=on_ready, on_candle=on_candle, on_symbol_candle=on_symbol_candle,
                         before_pass=lockstep.before_pass, on_pass=lockstep.on_pass)
        bot = Bot(run_cfg, BotOptions(mode="demo", workdir=workdir, api_key=api_key, api_secret=api_secret,
                                      history_candles=history, rest_timeout_s=rest_timeout_s, hooks=hooks,
                                      market_time_checks=True, display_every=display_every, verbose=verbose), log)
        lockstep.bot = bot
        sim.set_step_gate(lockstep.settled)
        emitted: list[int] = []
        sim.add_candle_listener(lambda index, open_ms: emitted.append(open_ms))

        def controller() -> None:
            try:
                deadline = time.monotonic() + 120.0
                while not ready.wait(0.1):
                    if stop.is_set():
                        return
                    if time.monotonic() > deadline:
                        failure.append("the bot did not start within 120 s")
                        return
                for _ in range(steps - pre_steps):
                    if stop.is_set():
                        return
                    if scenario is not None:
                        scenario.before_step(sim, bot)
                    if not sim.step(1, timeout=30.0):
                        failure.append("the simulator did not emit the next candle within 30 s")
                        return
                    close = emitted[-1] + base_ms
                    if close % p_ms == 0:
                        want = close - p_ms
                        symbols = due(want)

                        def handled_or_stopped(want: int = want, symbols: list[str] = symbols) -> bool:
                            return all(handled[sym] >= want for sym in symbols) or stop.is_set()

                        with cond:
                            if not cond.wait_for(handled_or_stopped, HANDLE_TIMEOUT_S):
                                late = [sym for sym in symbols if handled[sym] < want]
                                failure.append(f"the bot did not handle the candle of {want} "
                                               f"({', '.join(late)}) within {HANDLE_TIMEOUT_S:.0f} s")
                                return
            finally:
                stop.set()

        ctl = threading.Thread(target=controller, name="whalebot-demo-controller", daemon=True)
        ctl.start()
        emergency = None
        try:
            bot.run(stop)
        except EmergencyStop as exc:
            emergency = exc.reasons
        finally:
            stop.set()
            with cond:  # a controller waiting for a candle the stopped bot will never handle wakes now, not in 60 s
                cond.notify_all()
            ctl.join(timeout=HANDLE_TIMEOUT_S + 5)
    if failure:
        raise WhaleError(f"demo stopped: {failure[0]}")
    return DemoResult(workdir, bot.decisions, time.monotonic() - t_start, bot.summary_lines(),
                      len(bot.tracker.closed_trades()),
                      any(t.pm.trade is not None for t in bot.traders.values()), emergency, files_in(workdir))


def _name(data: Path | Candles) -> str:
    return "the scenario's candles" if isinstance(data, Candles) else str(data)
