"""The replay driver: plays candles tick by tick along the bar path, paced against the wall clock
at `speed` (replay ms per wall ms; 0 = as fast as possible), or in lockstep (a controller permits
each next candle).

Per tick: the market moves, the matching engine checks triggers, private events go out. Public
streams are flushed whenever the next tick is far enough away to be worth its own update, and
always at a candle's close (klines with confirm true), so at high speed the updates of a candle
are coalesced into one message per stream.

A step gate (`step_gate`, the in-process demo's handshake) makes the replay repeatable: after each
step it publishes (a flush of the public streams, a tick's private events) the replay waits until
the gate says the client has processed everything sent so far, and only then plays on. With a gate
a paced replay flushes every tick, so which ticks share a message never depends on the wall clock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from whale.sim.clock import WallClock
from whale.sim.feed import Feed
from whale.sim.market import Market
from whale.sim.matching import Exchange
from whale.sim.tape import Tape
from whale.sim.ws import Hub

log = logging.getLogger("whalebot.sim")

FLUSH_MIN_SECONDS = 0.004  # a wait shorter than this is not worth a separate update
BEHIND_SECONDS = 2.0  # further behind the schedule than this: re-anchor instead of bursting
GATE_TIMEOUT_S = 60.0  # the longest a step waits for its gate (a client that stopped answering)
GATE_POLL_S = 0.05  # the gate is checked again this often even without a poke


class Replay:
    def __init__(self, tape: Tape, market: Market, exchange: Exchange, feed: Feed, hub: Hub, wall: WallClock,
                 speed: float, lockstep: bool, start_index: int) -> None:
        self.tape = tape
        self.market = market
        self.exchange = exchange
        self.feed = feed
        self.hub = hub
        self.wall = wall
        self.speed = max(0.0, float(speed))
        self.lockstep = lockstep
        self.start_index = start_index
        self.index = start_index  # the next candle to play
        self.emitted = 0
        self.permitted = 0
        self.idle = threading.Event()
        self.finished = threading.Event()
        self.cond = threading.Condition()
        self.listeners: list[Callable[[int, int], None]] = []
        self.step_gate: Callable[[], bool] | None = None  # True once the client processed all sent so far
        self._gate_wake = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._anchor: tuple[float, int] | None = None

    # ------------------------------------------------------------------ control (any thread)

    def advance(self, n: int) -> None:
        with self.cond:
            self.permitted = max(self.permitted, self.emitted) + int(n)
            if not self.finished.is_set():
                self.idle.clear()
        self._poke()

    def set_lockstep(self, on: bool) -> None:
        with self.cond:
            self.lockstep = on
            self.permitted = self.emitted
            if not on:
                self.idle.clear()
        self._poke()

    def _poke(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def poke_gate(self) -> None:
        """The client finished a pass (any thread): look at the step gate again now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._gate_wake.set)
            except RuntimeError:  # the loop closed meanwhile: nothing waits any more
                pass

    async def _settle(self) -> None:
        """Wait until the step gate holds (no gate: return at once)."""
        gate = self.step_gate
        if gate is None:
            return
        deadline = time.monotonic() + GATE_TIMEOUT_S
        while True:
            self._gate_wake.clear()  # before looking: a poke that comes after the look wakes the wait
            if gate():
                return
            if time.monotonic() > deadline:
                log.warning("sim: the client did not finish the step within %.0f s; playing on", GATE_TIMEOUT_S)
                return
            try:
                await asyncio.wait_for(self._gate_wake.wait(), GATE_POLL_S)
            except TimeoutError:
                pass

    def wait_candles(self, count: int, timeout: float | None) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.emitted >= count or self.finished.is_set(), timeout)

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bug must not leave controllers waiting forever
            log.exception("sim: the replay failed; the market stops here")
            with self.cond:
                self.finished.set()
                self.idle.set()
                self.cond.notify_all()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        tape = self.tape
        if self.lockstep:
            log.info("sim: lockstep replay of %d candles from %d, waiting for the controller",
                     tape.n - self.index, self.index)
        else:
            log.info("sim: replaying %d candles from %d at speed %s", tape.n - self.index, self.index,
                     self.speed or "max")
        while True:
            if self.index >= tape.n:
                with self.cond:
                    self.finished.set()
                    self.idle.set()
                    self.cond.notify_all()
                log.info("sim: replay finished after %d candles; still serving", self.emitted)
                return
            with self.cond:
                blocked = self.lockstep and self.emitted >= self.permitted
                if blocked:
                    self.idle.set()
                    self._wake.clear()
            if blocked:
                await self._wake.wait()
                self._anchor = None
                continue
            await self._play(self.index)
            if not self.speed:
                await asyncio.sleep(0)

    async def _play(self, i: int) -> None:
        tape, market, exchange, hub = self.tape, self.market, self.exchange, self.hub
        base_ts = int(tape.candles.ts[i])
        times = (tape.offsets + base_ts).tolist()
        ticks = tape.ticks[i].tolist()
        qty = int(tape.trade_steps[i])
        speed = self.speed
        gated = self.step_gate is not None
        await self._settle()  # what came before this candle (start-up, orders between candles) is processed
        for k in range(tape.k):
            now = times[k]
            if speed:
                await self._pace(now, flush=not gated)
            tick = ticks[k]
            market.play(i, k, tick, now, qty)
            exchange.on_tick(tick, now, k == 0)
            if exchange.events:
                hub.publish_private(exchange.drain())
                await self._settle()
            if gated and speed and k < tape.k - 1:  # paced and gated: each tick is its own step
                self.feed.flush()
                await self._settle()
        market.close_candle(i)  # first: closing moves the ticker (prevPrice1h, open interest), and the
        self.feed.flush(closing=i)  # same flush must carry it, or WS lags REST until the next tick
        await self._settle()
        with self.cond:
            self.emitted += 1
            self.index = i + 1
            self.cond.notify_all()
        for fn in list(self.listeners):
            try:
                fn(i, base_ts)
            except Exception:  # noqa: BLE001 - a controller's hook must not stop the market
                log.exception("sim: candle listener failed")
        await hub.backpressure()

    async def _pace(self, replay_ms: int, flush: bool = True) -> None:
        mono = self.wall.monotonic()
        if self._anchor is None:
            self._anchor = (mono, replay_ms)
            return
        a_wall, a_replay = self._anchor
        wait = a_wall + (replay_ms - a_replay) / (self.speed * 1000.0) - mono
        if wait > FLUSH_MIN_SECONDS:
            if flush:
                self.feed.flush()
            await asyncio.sleep(wait)
        elif wait < -BEHIND_SECONDS:
            self._anchor = (mono, replay_ms)
