"""The replay driver: plays candles tick by tick along the bar path, paced against the wall clock
at `speed` (replay ms per wall ms; 0 = as fast as possible), or in lockstep (a controller permits
each next candle).

Per tick: the market moves, the matching engine checks triggers, private events go out. Public
streams are flushed whenever the next tick is far enough away to be worth its own update, and
always at a candle's close (klines with confirm true), so at high speed the updates of a candle
are coalesced into one message per stream.
"""

from __future__ import annotations

import asyncio
import logging
import threading
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
        for k in range(tape.k):
            now = times[k]
            if speed:
                await self._pace(now)
            tick = ticks[k]
            market.play(i, k, tick, now, qty)
            exchange.on_tick(tick, now, k == 0)
            if exchange.events:
                hub.publish_private(exchange.drain())
        market.close_candle(i)  # first: closing moves the ticker (prevPrice1h, open interest), and the
        self.feed.flush(closing=i)  # same flush must carry it, or WS lags REST until the next tick
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

    async def _pace(self, replay_ms: int) -> None:
        mono = self.wall.monotonic()
        if self._anchor is None:
            self._anchor = (mono, replay_ms)
            return
        a_wall, a_replay = self._anchor
        wait = a_wall + (replay_ms - a_replay) / (self.speed * 1000.0) - mono
        if wait > FLUSH_MIN_SECONDS:
            self.feed.flush()
            await asyncio.sleep(wait)
        elif wait < -BEHIND_SECONDS:
            self._anchor = (mono, replay_ms)
