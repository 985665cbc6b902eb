"""The simulator's Python API: build it from a SimConfig, start() it (returns once serving on
127.0.0.1), drive or watch the replay, inject faults, stop() it (joins its one thread).

Everything runs on one asyncio event loop in one background thread: the HTTP server that also
upgrades `/v5/public/linear` and `/v5/private` to WebSocket (one port for REST and both streams),
the replay, the matching engine. Methods called from other threads are marshalled onto that loop,
so the engine has a single writer and needs no locks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from whale.candle_file import BUNDLED_DATA, guess_symbol, load_candle_file
from whale.config.model import Fees
from whale.errors import BadInputError, WhaleError
from whale.market.candles import Candles
from whale.sim import payloads
from whale.sim.auth import Credentials
from whale.sim.book import Book
from whale.sim.clock import ReplayClock, WallClock
from whale.sim.defaults import DEFAULT_API_KEY, DEFAULT_API_SECRET, HOST
from whale.sim.faults import Faults, FaultSpec, parse_faults
from whale.sim.feed import Feed
from whale.sim.httpio import HttpError, read_request, response_bytes
from whale.sim.instrument import SimInstrument, sim_instrument
from whale.sim.limits import RateLimiter
from whale.sim.market import Market
from whale.sim.matching import Exchange, Ids
from whale.sim.replay import Replay
from whale.sim.rest import Rest
from whale.sim.tape import Tape
from whale.sim.ws import Hub
from whale.sim.wsproto import handshake_response
from whale.warmup import compile_fill_kernels

log = logging.getLogger("whalebot.sim")

WS_PATHS = {"/v5/public/linear": "public", "/v5/private": "private"}
CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class SimConfig:
    data: str | Path | Candles | None = None  # candle file (or Candles); None = the bundled BTCUSDT 1m file
    symbol: str | None = None  # None = from the file name, else BTCUSDT
    speed: float = 1.0  # replay ms per wall ms (1 = real time, 60 = a 1m candle per second); 0 = max
    port: int = 0  # 0 = any free port
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    faults: str | FaultSpec = ""
    history_candles: int = 1000  # base candles served as history before the replay starts
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


class Core:
    """The state that lives on the loop thread."""

    def __init__(self, cfg: SimConfig, candles: Candles, symbol: str, wall: WallClock, run) -> None:
        start = _start_index(cfg, candles)
        self.wall = wall
        self.started_ms = wall.now_ms()  # when the simulated account and its API key were "created"
        self.instrument: SimInstrument = sim_instrument(symbol, candles.close)
        self.tape = Tape(candles, self.instrument, cfg.ticks_per_candle)
        self.clock = ReplayClock(int(candles.ts[start]) - 1)
        inst = self.instrument
        ref = float(candles.close[start - 1])
        level_ticks = cfg.book_level_ticks or max(1, int(round(0.01 * ref / 200 / inst.tick)))
        level_qty = cfg.book_level_qty or float(np.median(candles.volume)) / 50.0
        self.book = Book(level_ticks, level_qty / inst.step, int(cfg.book_churn_seconds * 1000), cfg.seed,
                         max(1, cfg.book_levels))
        self.market = Market(self.tape, self.book, self.clock, cfg.fees, start)
        self.ids = Ids()
        self.exchange = Exchange(inst, cfg.fees, cfg.start_balance, self.clock, self.book, self.ids,
                                 self.market.last_tick, cfg.leverage)
        compile_fill_kernels(inst.tick, cfg.fees)  # not on the first order, while a client waits
        spec = cfg.faults if isinstance(cfg.faults, FaultSpec) else parse_faults(cfg.faults)
        self.faults = Faults(spec, run)
        self.creds = Credentials(cfg.api_key, cfg.api_secret)
        self.hub = Hub(self.faults, wall, self.creds, symbol)
        self.hub.creation_time = self.clock.now_ms
        self.feed = Feed(self.hub, self.market, self.tape)
        self.limiter = RateLimiter(self.faults, wall, cfg.enforce_rate_limits)
        self.rest = Rest(self)
        self.replay = Replay(self.tape, self.market, self.exchange, self.feed, self.hub, wall, cfg.speed,
                             cfg.lockstep, start)

    def publish_account(self) -> None:
        self.hub.publish_private(self.exchange.drain())


def _start_index(cfg: SimConfig, candles: Candles) -> int:
    n = len(candles)
    if cfg.start_ms is not None:
        start = int(np.searchsorted(candles.ts, cfg.start_ms, side="left"))
        what = f"start time {cfg.start_ms}"
    else:
        start = int(cfg.history_candles)
        what = f"history of {cfg.history_candles} candles"
    if start < 1 or start >= n:
        raise BadInputError(f"simulator: the {what} leaves no history or nothing to replay "
                            f"(the data has {n} candles)")
    return start


def load_data(data: str | Path | Candles | None, symbol: str | None) -> tuple[Candles, str]:
    """The candles to replay and the symbol to serve them as (from the file name, else BTCUSDT)."""
    if isinstance(data, Candles):
        return data, (symbol or "BTCUSDT").upper()
    path = Path(data) if data is not None else BUNDLED_DATA
    candles = load_candle_file(path).candles
    return candles, (symbol or guess_symbol(path) or "BTCUSDT").upper()


def _load(cfg: SimConfig) -> tuple[Candles, str]:
    return load_data(cfg.data, cfg.symbol)


class WallControl:
    """Scripted large resting orders ("walls") in the simulated book. Prices and sizes are in the
    instrument's units; erosion runs over replay time."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def add(self, price, qty, side: str | None = None) -> int:
        """A wall of `qty` at `price` (side: "Buy" below the price, "Sell" above; None = by position)."""
        def do():
            core = self._sim.core
            w = core.book.add_wall(self._ticks(price), self._steps(qty), side)
            core.feed.flush()
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
            core = self._sim.core
            inst = core.instrument
            return [{"id": w.wall_id, "side": w.side, "price": inst.fmt_price(w.tick * inst.tick),
                     "qty": inst.fmt_qty(w.steps_at(core.book.now) * inst.step)} for w in core.book.walls.values()]
        return self._sim.call(do)

    def _apply(self, fn: Callable[[Book], object]) -> None:
        def do():
            fn(self._sim.core.book)
            self._sim.core.feed.flush()
        self._sim.call(do)

    def _ticks(self, price) -> int:
        inst = self._sim.core.instrument
        return int((Decimal(str(price)) / inst.rules.tick_size).to_integral_value())

    def _steps(self, qty) -> int:
        inst = self._sim.core.instrument
        return max(1, int((Decimal(str(qty)) / inst.rules.qty_step).to_integral_value()))


class Simulator:
    """An embedded Bybit V5 exchange on 127.0.0.1. Use as a context manager or start()/stop()."""

    def __init__(self, config: SimConfig | None = None, wall_clock: WallClock | None = None) -> None:
        self.config = config or SimConfig()
        self.wall = wall_clock or WallClock()
        candles, symbol = _load(self.config)
        self.symbol = symbol
        self.core = Core(self.config, candles, symbol, self.wall, self.call)
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
        log.info("sim: serving %s on %s (REST and WebSocket)", self.symbol, self.rest_url)
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
        replay_task = asyncio.create_task(self.core.replay.run(), name="sim-replay")
        self._started.set()
        await self._stopping.wait()
        server.close()
        replay_task.cancel()
        self.core.hub.close_all()
        tasks = list(self._conn_tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(replay_task, *tasks, return_exceptions=True)
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
        return self.core.tape.candles

    @property
    def replay_start_index(self) -> int:
        return self.core.replay.start_index

    @property
    def replay_index(self) -> int:
        """Index of the next candle to play (== closed candles so far)."""
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
        return self.core.instrument

    # ------------------------------------------------------------------ market and account

    @property
    def last_price(self) -> float:
        return self.call(lambda: self.core.market.last_price)

    def orderbook(self, depth: int = 50) -> dict:
        """The simulator's own book now: {"b": [[price, size], ...] best first, "a": [...]}."""
        def do():
            b, a = self.core.market.levels(depth)
            return {"b": b, "a": a}
        return self.call(do)

    def set_balance(self, amount) -> None:
        """Set the USDT wallet balance (pushes a wallet update)."""
        def do():
            self.core.exchange.set_balance(amount)
            self.core.publish_account()
        self.call(do)

    def wallet(self) -> dict:
        """The account as /v5/account/wallet-balance shows it."""
        return self.call(lambda: payloads.wallet_account(self.core.exchange))

    def position(self, idx: int = 0) -> dict:
        """A position as /v5/position/list shows it."""
        return self.call(lambda: payloads.position_rest(self.core.exchange.positions[idx], self.core.exchange))
