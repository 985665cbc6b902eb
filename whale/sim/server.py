"""The simulator's Python API: build it from a SimConfig, start() it (returns once serving on
127.0.0.1), drive or watch the replay, inject faults, stop() it (joins its one thread).

It serves one or several symbols (one candle file each, or a book recording: `book`) on one replay
clock and one account. The
members about one symbol (`last_price`, `orderbook`, `position`, `walls`, `instrument`, `candles`)
serve the first symbol, or the one named (`for_symbol(s)`, `orderbook(depth, symbol=s)`,
`position(idx, symbol=s)`, `walls(s)`), so single-symbol callers need not know about the others.

Everything runs on one asyncio event loop in one background thread: the HTTP server that also
upgrades `/v5/public/linear` and `/v5/private` to WebSocket (one port for REST and both streams),
the replay, the matching engines, the stream-rate pacer. Methods called from other threads are
marshalled onto that loop, so the engines have a single writer and need no locks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from whale.candle_file import BUNDLED_DATA, guess_symbol, load_candle_file
from whale.config.model import Fees
from whale.errors import BadInputError, WhaleError
from whale.market.candles import Candles
from whale.market.intervals import label
from whale.sim import payloads
from whale.sim.account import Account
from whale.sim.auth import Credentials
from whale.sim.book import Book
from whale.sim.clock import ReplayClock, WallClock
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET, HOST
from whale.sim.faults import Faults, FaultSpec, parse_faults
from whale.sim.feed import Feeds
from whale.sim.httpio import HttpError, read_request, response_bytes
from whale.sim.instrument import SimInstrument
from whale.sim.limits import RateLimiter
from whale.sim.listing import Listing
from whale.sim.matching import TRIGGER_FILLS
from whale.sim.recorded_replay import BookListing, BookReplay, Lookahead, RecordedSetup, load_recording
from whale.sim.replay import Replay
from whale.sim.rest import Rest
from whale.sim.streams import Pacer, StreamRates, parse_stream_rates
from whale.sim.ws import Hub
from whale.sim.wsproto import handshake_response
from whale.warmup import compile_fill_kernels

log = logging.getLogger("whalebot.sim")

WS_PATHS = {"/v5/public/linear": "public", "/v5/private": "private"}
CALL_TIMEOUT = 30.0

DataSource = str | Path | Candles
# One candle file (or Candles) for one symbol; several files (symbols from their names); or
# {symbol: file or Candles}. None = the bundled BTCUSDT 1m file.
SimData = DataSource | Sequence[DataSource] | Mapping[str, DataSource] | None


@dataclass(frozen=True)
class SimConfig:
    data: SimData = None  # candle file(s) or Candles, see SimData; None = the bundled BTCUSDT 1m file
    symbol: str | None = None  # one file only: None = from the file name, else BTCUSDT
    speed: float = 1.0  # replay ms per wall ms (1 = real time, 60 = a 1m candle per second); 0 = max
    port: int = 0  # 0 = any free port
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    faults: str | FaultSpec = ""
    history_candles: int = 1000  # candles of the timeline served as history before the replay starts
    start_ms: int | None = None  # or: replay from the first candle at/after this time (all before = history)
    lockstep: bool = False  # the next candle starts only when advance()/step() says so
    fees: Fees = field(default_factory=Fees)
    start_balance: float = 10_000.0  # USDT
    leverage: float = 10.0  # initial leverage of every position
    ticks_per_candle: int = 16  # 3*m+1: the bar path's 4 points joined by m steps per leg
    book_levels: int = 1000  # levels per side (the deepest stream and REST limit)
    book_level_ticks: int | None = None  # grid spacing; None = the 200-level book spans about 1 %
    book_level_qty: float | None = None  # mean level size; None = median candle volume / 50
    book_churn_seconds: float = 600.0  # a level's size is redrawn once per this much replay time
    seed: int = 1
    enforce_rate_limits: bool = True  # Bybit's per-endpoint limits; rate_limit faults apply regardless
    stream_rates: str | StreamRates | None = None  # stream-rate mode (benchmarks), see whale.sim.streams
    book: str | Path | None = None  # a book recording to serve instead of candles (whale.sim.recorded_replay)
    book_symbols: tuple[str, ...] | None = None  # its symbols to serve (None: all)
    book_from_ms: int | None = None  # replay from this time (the minute holding it); before it is history
    book_to_ms: int | None = None  # and stop before this one
    latency_ms: int = 100  # recorded books: a market order takes the book as it stands this long after it
    # Candle files: what a triggered TP/SL/trailing stop/conditional order fills around (whale.sim.matching):
    # "level" (the candle fill model) or "book" (the book at the crossing tick, as Bybit and recorded books do).
    trigger_fill: str = "level"


class Core:
    """The state that lives on the loop thread: one account, one replay clock and timeline, and a
    Listing per symbol (instrument, tape, book, market, engine, streams)."""

    def __init__(self, cfg: SimConfig, data: list[tuple[str, Candles]], wall: WallClock, run,
                 recording: RecordedSetup | None = None) -> None:
        if recording is None:
            self.times = timeline([c for _, c in data])
            start = _start_index(cfg, self.times)
        else:
            self.times, start = recording.times, recording.start_index
        self.wall = wall
        self.started_ms = wall.now_ms()  # when the simulated account and its API key were "created"
        self.clock = ReplayClock(int(self.times[start]) - 1)
        spec = cfg.faults if isinstance(cfg.faults, FaultSpec) else parse_faults(cfg.faults)
        self.faults = Faults(spec, run)
        self.creds = Credentials(cfg.api_key, cfg.api_secret)
        self.hub = Hub(self.faults, wall, self.creds, recording.symbols[0] if recording else data[0][0])
        self.hub.creation_time = self.clock.now_ms
        self.account = Account(cfg.fees, cfg.start_balance, self.clock, leverage=cfg.leverage)
        rates = parse_stream_rates(cfg.stream_rates) if isinstance(cfg.stream_rates, str | None) else \
            cfg.stream_rates
        paced = rates.streams if rates is not None else frozenset()
        start_ms = int(self.times[start])
        self.listings: dict[str, Listing] = {}
        if recording is None:
            self.listings = {sym: Listing(sym, candles, cfg, start_ms, self.clock, self.account, self.hub, paced)
                             for sym, candles in data}
        else:
            source = Lookahead(recording.reader().timed_events())
            books = {sym: BookListing(recording, sym, self.clock, self.account, self.hub, source, cfg.latency_ms)
                     for sym in recording.symbols}
            self.listings = books  # type: ignore[assignment]  # the same members, on a recorded book
        for tick in sorted({lst.instrument.tick for lst in self.listings.values()}):
            compile_fill_kernels(tick, cfg.fees)  # not on the first order, while a client waits
        self.feeds = Feeds(self.hub, [lst.feed for lst in self.listings.values()])
        self.limiter = RateLimiter(self.faults, wall, cfg.enforce_rate_limits)
        self.rest = Rest(self)
        if recording is None:
            self.replay = Replay(self.times, list(self.listings.values()), self.account, self.hub, wall, cfg.speed,
                                 cfg.lockstep, start)
        else:
            self.replay = BookReplay(self.times, books, self.account, self.hub, wall, cfg.speed, cfg.lockstep, start,
                                     source, self.clock)
        self.pacer = Pacer(rates, list(self.listings.values()), self.hub, self.replay, self.clock, wall) \
            if rates is not None else None

    @property
    def first(self) -> Listing:
        return next(iter(self.listings.values()))

    def listing(self, symbol: str | None) -> Listing:
        """The listing of `symbol` (None = the first); a symbol not served is a ValueError naming them."""
        if symbol is None:
            return self.first
        lst = self.listings.get(symbol)
        if lst is None:
            raise ValueError(f"the simulator serves {', '.join(self.listings)}, not {symbol!r}")
        return lst

    def publish_account(self) -> None:
        self.hub.publish_private(self.account.drain())


def timeline(candle_sets: Sequence[Candles]) -> np.ndarray:
    """The union of the open times of every symbol's candles, ascending: the replay's one clock."""
    if len(candle_sets) == 1:
        return candle_sets[0].ts
    return np.unique(np.concatenate([c.ts for c in candle_sets]))


def _start_index(cfg: SimConfig, times: np.ndarray) -> int:
    n = len(times)
    if cfg.start_ms is not None:
        start = int(np.searchsorted(times, cfg.start_ms, side="left"))
        what = f"start time {cfg.start_ms}"
    else:
        start = int(cfg.history_candles)
        what = f"history of {cfg.history_candles} candles"
    if start < 1 or start >= n:
        raise BadInputError(f"simulator: the {what} leaves no history or nothing to replay "
                            f"(the data has {n} candles)")
    return start


def load_data(data: SimData, symbol: str | None = None) -> list[tuple[str, Candles]]:
    """(symbol, candles) of every symbol to serve, in order. One source takes `symbol`, else the
    symbol in its file name, else BTCUSDT; several sources need their symbols in their file names
    (or a {symbol: source} mapping). Every symbol must have the same candle interval."""
    if isinstance(data, Mapping):
        if symbol is not None:
            raise BadInputError("simulator: give the symbol with each data source, not as --symbol, when there "
                                "are several")
        pairs = [(str(sym).upper(), _candles(src)) for sym, src in data.items()]
    elif data is None or isinstance(data, str | Path | Candles):
        pairs = [_one(data, symbol)]
    else:
        sources = list(data)
        if not sources:
            raise BadInputError("simulator: no data files given")
        if len(sources) == 1:
            pairs = [_one(sources[0], symbol)]
        elif symbol is not None:
            raise BadInputError(f"--symbol goes with one --data file only; with {len(sources)} the symbols come "
                                f"from the file names (e.g. ETHUSDT-PERP_1m.csv.gz)")
        else:
            pairs = [(_symbol_of(src), _candles(src)) for src in sources]
    seen: dict[str, int] = {}
    for n, (sym, _) in enumerate(pairs):
        if not sym:
            raise BadInputError("simulator: empty symbol")
        if sym in seen:
            raise BadInputError(f"simulator: {sym} is given twice (data sources {seen[sym] + 1} and {n + 1}); "
                                f"one file per symbol")
        seen[sym] = n
    intervals = {c.interval for _, c in pairs}
    if len(intervals) > 1:
        which = ", ".join(f"{sym} {label(c.interval)}" for sym, c in pairs)
        raise BadInputError(f"simulator: every symbol must have candles of the same interval, one replay clock "
                            f"plays them all ({which})")
    return pairs


def _one(src: DataSource | None, symbol: str | None) -> tuple[str, Candles]:
    if isinstance(src, Candles):
        return (symbol or "BTCUSDT").upper(), src
    path = Path(src) if src is not None else BUNDLED_DATA
    return (symbol or guess_symbol(path) or "BTCUSDT").upper(), load_candle_file(path).candles


def _symbol_of(src: DataSource) -> str:
    if isinstance(src, Candles):
        raise BadInputError("simulator: with several data sources, pass Candles as {symbol: candles}")
    sym = guess_symbol(Path(src))
    if sym is None:
        raise BadInputError(f"{src}: cannot tell the symbol from the file name; with several --data files each "
                            f"name must start with its symbol (e.g. ETHUSDT-PERP_1m.csv.gz)")
    return sym


def _candles(src: DataSource) -> Candles:
    return src if isinstance(src, Candles) else load_candle_file(Path(src)).candles


class WallControl:
    """Scripted large resting orders ("walls") in one symbol's simulated book. Prices and sizes are in
    the instrument's units; erosion runs over replay time. `sim.walls` is the first symbol's;
    `sim.walls("ETHUSDT")` another's."""

    def __init__(self, sim: Simulator, symbol: str | None = None) -> None:
        self._sim = sim
        self._symbol = symbol

    def __call__(self, symbol: str) -> WallControl:
        """The walls of `symbol`'s book."""
        self._sim.core.listing(symbol)  # a symbol not served fails here, not on first use
        return WallControl(self._sim, symbol)

    @property
    def _listing(self) -> Listing:
        lst = self._sim.core.listing(self._symbol)
        if not isinstance(lst.book, Book):
            raise WhaleError("walls are scripted in the simulator's synthetic book; a recorded book (sim --book) "
                             "has only what was recorded")
        return lst

    def add(self, price, qty, side: str | None = None) -> int:
        """A wall of `qty` at `price` (side: "Buy" below the price, "Sell" above; None = by position)."""
        def do():
            lst = self._listing
            w = lst.book.add_wall(self._ticks(price), self._steps(qty), side)
            lst.feed.flush()
            return w.wall_id
        return self._sim.call(do)

    def erode(self, wall_id: int, percent: float, seconds: float) -> None:
        """Shrink the wall by `percent` of its current size, linearly over `seconds` of replay time."""
        self._apply(lambda b: b.erode_wall(wall_id, percent / 100.0, int(seconds * 1000)))

    def set_qty(self, wall_id: int, qty) -> None:
        self._apply(lambda b: b.set_wall(wall_id, self._steps(qty)))

    def remove(self, wall_id: int) -> None:
        self._apply(lambda b: b.remove_wall(wall_id))

    def list(self) -> list[dict]:
        def do():
            lst = self._listing
            inst = lst.instrument
            return [{"id": w.wall_id, "side": w.side, "price": inst.fmt_price(w.tick * inst.tick),
                     "qty": inst.fmt_qty(w.steps_at(lst.book.now) * inst.step)} for w in lst.book.walls.values()]
        return self._sim.call(do)

    def _apply(self, fn: Callable[[Book], object]) -> None:
        def do():
            lst = self._listing
            fn(lst.book)
            lst.feed.flush()
        self._sim.call(do)

    def _ticks(self, price) -> int:
        inst = self._listing.instrument
        return int((Decimal(str(price)) / inst.rules.tick_size).to_integral_value())

    def _steps(self, qty) -> int:
        inst = self._listing.instrument
        return max(1, int((Decimal(str(qty)) / inst.rules.qty_step).to_integral_value()))


class SymbolView:
    """One symbol's side of the Python API (`sim.for_symbol("ETHUSDT")`): the same per-symbol members
    the Simulator has for its first symbol."""

    def __init__(self, sim: Simulator, symbol: str) -> None:
        self._sim = sim
        self.symbol = symbol
        self.walls = sim.walls(symbol)

    @property
    def _listing(self) -> Listing:
        return self._sim.core.listing(self.symbol)

    @property
    def instrument(self) -> SimInstrument:
        return self._listing.instrument

    @property
    def candles(self) -> Candles:
        return self._listing.candles

    @property
    def replay_start_index(self) -> int:
        """Index in this symbol's candles of its first replayed candle (0 when it joins late)."""
        return self._listing.start

    @property
    def trading(self) -> bool:
        return self._sim.call(lambda: self._listing.market.trading)

    @property
    def last_price(self) -> float:
        return self._sim.call(lambda: self._listing.market.last_price)

    def orderbook(self, depth: int = 50) -> dict:
        """The simulator's own book now: {"b": [[price, size], ...] best first, "a": [...]}."""
        def do():
            b, a = self._listing.market.levels(depth)
            return {"b": b, "a": a}
        return self._sim.call(do)

    def position(self, idx: int = 0) -> dict:
        """A position as /v5/position/list shows it."""
        def do():
            ex = self._listing.exchange
            return payloads.position_rest(ex.positions[idx], ex)
        return self._sim.call(do)


class Simulator:
    """An embedded Bybit V5 exchange on 127.0.0.1. Use as a context manager or start()/stop()."""

    def __init__(self, config: SimConfig | None = None, wall_clock: WallClock | None = None) -> None:
        self.config = config or SimConfig()
        self.wall = wall_clock or WallClock()
        cfg = self.config
        if cfg.trigger_fill not in TRIGGER_FILLS:
            raise BadInputError(f"simulator: trigger_fill {cfg.trigger_fill!r} must be one of "
                                f"{', '.join(TRIGGER_FILLS)}")
        recording = None
        data: list[tuple[str, Candles]] = []
        if cfg.book is not None:
            if cfg.data is not None or cfg.symbol is not None:
                raise BadInputError("simulator: serve candle files (data) or a book recording (book), not both")
            if cfg.stream_rates:
                raise BadInputError("simulator: stream-rate mode paces a synthetic book; a recording plays at its "
                                    "own rates (--speed)")
            if cfg.latency_ms < 0:
                raise BadInputError(f"simulator: latency {cfg.latency_ms} ms must be 0 or more")
            recording = load_recording(cfg.book, cfg.book_symbols, cfg.book_from_ms, cfg.book_to_ms)
            self.symbols = list(recording.symbols)
        else:
            data = load_data(cfg.data, cfg.symbol)
            self.symbols = [sym for sym, _ in data]
        self.symbol = self.symbols[0]  # the first symbol: what the single-symbol members below serve
        self.core = Core(cfg, data, self.wall, self.call, recording)
        self.faults = self.core.faults
        self.walls = WallControl(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._conn_tasks: set[asyncio.Task] = set()
        self._transports: set[asyncio.WriteTransport] = set()
        self._port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._thread_main, name="whalebot-sim", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            err = self._start_error
            raise WhaleError(f"simulator: cannot listen on {HOST}:{self.config.port} ({err}); "
                             f"choose another --port, or 0 for any free port") from err
        log.info("sim: serving %s on %s (REST and WebSocket)", ", ".join(self.symbols), self.rest_url)
        return self

    def stop(self) -> None:
        """Close every connection, stop the replay and join the thread (idempotent)."""
        thread = self._thread
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass
        if threading.current_thread() is thread:
            return  # called from a candle listener: the loop winds down after it returns
        thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        try:
            server = await asyncio.start_server(self._on_connection, HOST, self.config.port, limit=64 * 1024)
        except OSError as exc:
            self._start_error = exc
            self._started.set()
            return
        self._port = server.sockets[0].getsockname()[1]
        tasks = [asyncio.create_task(self.core.replay.run(), name="sim-replay")]
        if self.core.pacer is not None:
            tasks.append(asyncio.create_task(self.core.pacer.run(), name="sim-stream-rates"))
        self._started.set()
        await self._stopping.wait()
        server.close()
        for t in tasks:
            t.cancel()
        self.core.hub.close_all()
        tasks += list(self._conn_tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for transport in list(self._transports):
            transport.abort()
        for _ in range(3):  # let the transports' connection_lost callbacks close their sockets
            await asyncio.sleep(0)
        await server.wait_closed()
        log.info("sim: stopped")

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # always: asyncio runs this callback as a task
            self._conn_tasks.add(task)
        self._transports.add(writer.transport)
        try:
            while True:
                req = await read_request(reader)
                if req is None:
                    break
                if req.wants_websocket:
                    kind = WS_PATHS.get(req.path)
                    if kind is None:
                        raise HttpError(404, f"no WebSocket at {req.path}; use /v5/public/linear or /v5/private")
                    writer.write(handshake_response(req))
                    await self.core.hub.serve(kind, reader, writer)
                    return
                answer = await self.core.rest.handle(req)
                if not isinstance(answer, bytes):  # HOLD: close without an answer (a timeout fault)
                    break
                writer.write(answer)
                await writer.drain()
                if not req.keep_alive:
                    break
        except HttpError as exc:
            writer.write(response_bytes(exc.status, str(exc).encode(), keep_alive=False, content_type="text/plain"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - a bug answers 500 and is logged; the server keeps serving
            log.exception("sim: request failed")
            if not writer.is_closing():
                writer.write(response_bytes(500, b"simulator error", keep_alive=False, content_type="text/plain"))
        finally:
            self._conn_tasks.discard(task)
            if not writer.is_closing():
                writer.close()
            await asyncio.sleep(0)  # the transport closes its socket on the next loop pass
            self._transports.discard(writer.transport)

    # ------------------------------------------------------------------ running things on the loop

    def call(self, fn: Callable[[], object], timeout: float = CALL_TIMEOUT):
        """Run `fn` on the simulator's loop thread and return its result (directly when already there,
        or when the loop is not running)."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._thread:
            return fn()
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def runner() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
        loop.call_soon_threadsafe(runner)
        return fut.result(timeout)

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{HOST}:{self._port}"

    @property
    def public_ws_url(self) -> str:
        return f"ws://{HOST}:{self._port}/v5/public/linear"

    @property
    def private_ws_url(self) -> str:
        return f"ws://{HOST}:{self._port}/v5/private"

    @property
    def ready_line(self) -> str:
        return f"SIM READY rest={self.rest_url} public_ws={self.public_ws_url} private_ws={self.private_ws_url}"

    # ------------------------------------------------------------------ replay control

    def advance(self, candles: int = 1) -> None:
        """Permit `candles` more candles (lockstep); returns at once."""
        self.core.replay.advance(candles)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every permitted candle has been emitted (lockstep) or the replay finished."""
        return self.core.replay.idle.wait(timeout)

    def step(self, candles: int = 1, timeout: float | None = 30.0) -> bool:
        """advance(candles) then wait_idle(timeout): True when the candles' closed klines are out."""
        self.advance(candles)
        return self.wait_idle(timeout)

    def wait_candles(self, count: int, timeout: float | None = None) -> bool:
        """Block until at least `count` candles have been emitted since the replay began."""
        return self.core.replay.wait_candles(count, timeout)

    def set_lockstep(self, on: bool) -> None:
        self.core.replay.set_lockstep(on)

    def set_step_gate(self, gate: Callable[[], bool] | None) -> None:
        """The in-process client's handshake (the demo): after each step it publishes, the replay waits
        until `gate()` (called on the sim thread, keep it short) says the client has processed everything
        sent so far; `step_done()` asks it to look again. None: no gate."""
        self.core.replay.step_gate = gate

    def step_done(self) -> None:
        """The client finished processing a step (any thread): the gate is looked at again now."""
        self.core.replay.poke_gate()

    def data_sent(self) -> dict[str, int]:
        """Data frames written so far to the open WebSocket connections, by kind (public, private)."""
        return self.core.hub.data_sent()

    def add_candle_listener(self, fn: Callable[[int, int], None]) -> None:
        """fn(index, open_time_ms) after each candle's closed kline went out (runs on the sim thread:
        keep it short and never block)."""
        self.core.replay.listeners.append(fn)

    def remove_candle_listener(self, fn: Callable[[int, int], None]) -> None:
        self.core.replay.listeners.remove(fn)

    @property
    def candles(self) -> Candles:
        """The first symbol's candles (`for_symbol(s).candles` for another's)."""
        return self.core.first.candles

    @property
    def timeline(self) -> np.ndarray:
        """Open times of the replay's steps: the union of every symbol's candles (one symbol: its own)."""
        return self.core.times

    @property
    def replay_start_index(self) -> int:
        """Index in the timeline of the first replayed step (one symbol: in its candles)."""
        return self.core.replay.start_index

    @property
    def replay_index(self) -> int:
        """Index in the timeline of the next step to play (== steps closed so far)."""
        return self.core.replay.index

    @property
    def candles_emitted(self) -> int:
        return self.core.replay.emitted

    @property
    def finished(self) -> bool:
        return self.core.replay.finished.is_set()

    @property
    def replay_time_ms(self) -> int:
        return self.core.clock.now_ms()

    @property
    def instrument(self) -> SimInstrument:
        """The first symbol's instrument (`for_symbol(s).instrument` for another's)."""
        return self.core.first.instrument

    # ------------------------------------------------------------------ market and account

    def for_symbol(self, symbol: str) -> SymbolView:
        """`symbol`'s instrument, candles, price, book, positions and walls (ValueError if not served)."""
        self.core.listing(symbol)
        return SymbolView(self, symbol)

    @property
    def last_price(self) -> float:
        """The first symbol's last price (`for_symbol(s).last_price` for another's)."""
        return self.for_symbol(self.symbol).last_price

    def orderbook(self, depth: int = 50, symbol: str | None = None) -> dict:
        """A symbol's own book now (default the first): {"b": [[price, size], ...] best first, "a": [...]}."""
        return self.for_symbol(symbol or self.symbol).orderbook(depth)

    def position(self, idx: int = 0, symbol: str | None = None) -> dict:
        """A position of a symbol (default the first) as /v5/position/list shows it."""
        return self.for_symbol(symbol or self.symbol).position(idx)

    def set_balance(self, amount) -> None:
        """Set the account's USDT wallet balance (pushes a wallet update)."""
        def do():
            self.core.account.set_balance(amount)
            self.core.publish_account()
        self.call(do)

    def wallet(self) -> dict:
        """The account (every symbol) as /v5/account/wallet-balance shows it."""
        return self.call(lambda: payloads.wallet_account(self.core.account))
