"""The replay driver: one clock over the union timeline of every symbol's candles. Each step of the
timeline (one candle of the replay interval) plays, tick by tick along the bar path, the candle of
every symbol that has one at that time, symbols in their listed order; a symbol whose data starts
later joins there, one whose data ends earlier stops publishing. Paced against the wall clock at
`speed` (replay ms per wall ms; 0 = as fast as possible), or in lockstep (a controller permits each
next step).

Per tick: the markets move, the matching engines check triggers, private events go out. Public
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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from whale.sim.account import Account
from whale.sim.clock import WallClock
from whale.sim.ws import Hub

if TYPE_CHECKING:
    from whale.sim.listing import Listing

log = logging.getLogger("whalebot.sim")

FLUSH_MIN_SECONDS = 0.004  # a wait shorter than this is not worth a separate update
BEHIND_SECONDS = 2.0  # further behind the schedule than this: re-anchor instead of bursting
GATE_TIMEOUT_S = 60.0  # the longest a step waits for its gate (a client that stopped answering)
GATE_POLL_S = 0.05  # the gate is checked again this often even without a poke


class Replay:
    def __init__(self, times: np.ndarray, listings: Sequence[Listing], account: Account, hub: Hub, wall: WallClock,
                 speed: float, lockstep: bool, start_index: int) -> None:
        self.times = times  # the union timeline: open times of the replay interval's candles, ascending
        self.n = len(times)
        self.listings = list(listings)
        self.account = account
        self.hub = hub
        self.wall = wall
        self.speed = max(0.0, float(speed))
        self.lockstep = lockstep
        self.start_index = start_index
        self.index = start_index  # the next step of the timeline to play
        self._cursor = [lst.start for lst in self.listings]  # each symbol's next candle
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
        self._waiting_for: int | None = None  # the replay time of the tick the pacing sleeps towards
        self._playing: list[Listing] = []  # the symbols of the step in progress

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

    def estimated_now(self) -> int | None:
        """Replay time now by the wall clock while the pacing waits for the next tick (never past that
        tick), for stream-rate mode's timestamps between ticks; None when not waiting."""
        target, anchor = self._waiting_for, self._anchor
        if target is None or anchor is None or not self.speed:
            return None
        a_wall, a_replay = anchor
        est = a_replay + int((self.wall.monotonic() - a_wall) * self.speed * 1000.0)
        return min(est, target - 1)

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
        if self.lockstep:
            log.info("sim: lockstep replay of %d candles from %d, waiting for the controller",
                     self.n - self.index, self.index)
        else:
            log.info("sim: replaying %d candles from %d at speed %s", self.n - self.index, self.index,
                     self.speed or "max")
        while True:
            if self.index >= self.n:
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

    def _members(self, t: int) -> list[tuple[Listing, int]]:
        """The symbols with a candle opening at `t`, and that candle's index in each one's data."""
        out = []
        cursor = self._cursor
        for n, lst in enumerate(self.listings):
            i = cursor[n]
            if i < lst.tape.n and int(lst.tape.candles.ts[i]) == t:
                out.append((lst, i))
                cursor[n] = i + 1
        return out

    async def _play(self, j: int) -> None:
        hub, account = self.hub, self.account
        base_ts = int(self.times[j])
        members = self._members(base_ts)
        self._playing = [lst for lst, _ in members]
        first = members[0][0].tape  # every symbol has the same interval, so the same tick offsets
        times = (first.offsets + base_ts).tolist()
        rows = [(lst.market, lst.exchange, lst.tape.ticks[i].tolist(), int(lst.tape.trade_steps[i]), i)
                for lst, i in members]
        speed = self.speed
        gated = self.step_gate is not None
        await self._settle()  # what came before this step (start-up, orders between candles) is processed
        for k in range(first.k):
            now = times[k]
            if speed:
                await self._pace(now, flush=not gated)
            for market, exchange, ticks, qty, i in rows:
                tick = ticks[k]
                market.play(i, k, tick, now, qty)
                exchange.on_tick(tick, now, k == 0)
            if account.events:
                hub.publish_private(account.drain())
                await self._settle()
            if gated and speed and k < first.k - 1:  # paced and gated: each tick is its own step
                self._flush_playing()
                await self._settle()
        await self._close_step(j, base_ts, members)

    async def _close_step(self, j: int, base_ts: int, members: list[tuple[Listing, int]]) -> None:
        """Step j is played: close its candles (klines with confirm true), count it, call the listeners."""
        hub = self.hub
        for lst, i in members:
            lst.market.close_candle(i)  # first: closing moves the ticker (prevPrice1h, open interest), and the
        with hub.batched():  # same flush must carry it, or WS lags REST until the next tick
            for lst, i in members:
                lst.feed.flush_unbatched(closing=i)
        self._playing = []
        await self._settle()
        with self.cond:
            self.emitted += 1
            self.index = j + 1
            self.cond.notify_all()
        for fn in list(self.listeners):
            try:
                fn(j, base_ts)
            except Exception:  # noqa: BLE001 - a controller's hook must not stop the market
                log.exception("sim: candle listener failed")
        await hub.backpressure()

    def _flush_playing(self) -> None:
        with self.hub.batched():
            for lst in self._playing:
                lst.feed.flush_unbatched()

    async def _pace(self, replay_ms: int, flush: bool = True) -> None:
        mono = self.wall.monotonic()
        if self._anchor is None:
            self._anchor = (mono, replay_ms)
            return
        a_wall, a_replay = self._anchor
        wait = a_wall + (replay_ms - a_replay) / (self.speed * 1000.0) - mono
        if wait > FLUSH_MIN_SECONDS:
            if flush:
                self._flush_playing()
            self._waiting_for = replay_ms
            try:
                await asyncio.sleep(wait)
            finally:
                self._waiting_for = None
        elif wait < -BEHIND_SECONDS:
            self._anchor = (mono, replay_ms)
