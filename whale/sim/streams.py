"""Stream-rate mode, for benchmarks: public streams pushed on Bybit's wall-clock periods instead of
the replay's ticks, so a client sees the message rates of a live market (20 symbols at Bybit's
rates: about 1,500 messages/s).

SPEC (`sim --stream-rates SPEC`, `SimConfig(stream_rates=SPEC)`) is a comma-separated list:

  bybit          every stream below at Bybit's push period
  book1=10ms     orderbook.1    (Bybit: 10 ms)
  book50=20ms    orderbook.50   (20 ms)
  book200=100ms  orderbook.200  (100 ms)
  book1000=200ms orderbook.1000 (200 ms)
  tickers=100ms  tickers        (100 ms)
  trades=100ms   publicTrade: every period, the replay's prints since the last one plus a burst of
                 0-5 small prints at the last price

A period is `20ms`, `0.1s` or a plain number of ms; `off` leaves a stream to the replay. Streams
not named keep the normal behaviour (updates with the replay's ticks). Later items override earlier
ones (`bybit,book50=10ms`).

The pacer wakes on the earliest due stream, churns every book near its touch as of the wall clock
(`Book.set_noise`: levels inserted, removed and resized there, the best prices still following the
replayed price path), moves replay time on between the replay's ticks, and publishes each due
stream of every symbol (deltas only when something changed; tickers and books change every
period). A missed period is skipped, never sent twice. Candles, klines and private events still
come from the replay at its speed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from whale.errors import BadInputError
from whale.sim.clock import ReplayClock, WallClock
from whale.sim.ws import Hub

if TYPE_CHECKING:
    from whale.sim.listing import Listing
    from whale.sim.replay import Replay

log = logging.getLogger("whalebot.sim")

STREAMS: dict[str, float] = {"book1": 10.0, "book50": 20.0, "book200": 100.0, "book1000": 200.0,
                             "tickers": 100.0, "trades": 100.0}  # Bybit's push periods in ms
BEHIND_SECONDS = 0.5  # a stream this far behind its schedule re-anchors (skips the missed periods)


@dataclass(frozen=True)
class StreamRates:
    periods_ms: tuple[tuple[str, float], ...]  # (stream, period ms), in STREAMS' order

    @property
    def streams(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.periods_ms)

    def describe(self) -> str:
        return ", ".join(f"{name} every {period:g} ms" for name, period in self.periods_ms)


def parse_stream_rates(text: str | None) -> StreamRates | None:
    """Parse SPEC (see the module docstring); None or "" = off. A bad item is a BadInputError naming it."""
    periods: dict[str, float | None] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if item.lower() == "bybit":
            periods.update(STREAMS)
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip().lower()
        if key not in STREAMS:
            raise BadInputError(f"--stream-rates: {item!r}: unknown stream {key!r}; one of bybit, "
                                f"{', '.join(STREAMS)}")
        if not sep or not value:
            raise BadInputError(f"--stream-rates: {item!r} is not stream=PERIOD (e.g. book50=20ms)")
        periods[key] = None if value == "off" else _period_ms(item, value)
    kept = tuple((name, p) for name in STREAMS if (p := periods.get(name)) is not None)
    return StreamRates(kept) if kept else None


def _period_ms(item: str, value: str) -> float:
    scale = 1.0
    if value.endswith("ms"):
        value = value[:-2]
    elif value.endswith("s"):
        value, scale = value[:-1], 1000.0
    try:
        ms = float(value) * scale
    except ValueError:
        raise BadInputError(f"--stream-rates: {item!r}: the period must be like 20ms, 0.1s or 20") from None
    if not 1.0 <= ms <= 60_000.0:
        raise BadInputError(f"--stream-rates: {item!r}: the period must be 1 ms to 60 s")
    return ms


class Pacer:
    """Publishes the paced streams of every symbol on their wall-clock periods (one task on the loop)."""

    def __init__(self, rates: StreamRates, listings: Sequence[Listing], hub: Hub, replay: Replay,
                 clock: ReplayClock, wall: WallClock) -> None:
        self.rates = rates
        self.listings = list(listings)
        self.hub = hub
        self.replay = replay
        self.clock = clock
        self.wall = wall
        self.wakes = 0

    async def run(self) -> None:
        log.info("sim: stream-rate mode: %s", self.rates.describe())
        periods = {name: ms / 1000.0 for name, ms in self.rates.periods_ms}
        start = self.wall.monotonic()
        due = dict.fromkeys(periods, start)
        while True:
            now = self.wall.monotonic()
            ready = [name for name, at in due.items() if at <= now]
            for name in ready:
                nxt = due[name] + periods[name]
                due[name] = nxt if nxt > now - BEHIND_SECONDS else now + periods[name]
            if ready:
                try:
                    self.publish(ready, int((now - start) * 1000))
                except Exception:  # noqa: BLE001 - a bug is logged; the streams go on
                    log.exception("sim: stream-rate publishing failed")
                await self.hub.backpressure()
            await asyncio.sleep(max(0.0, min(due.values()) - self.wall.monotonic()))

    def publish(self, streams: list[str], noise_ms: int) -> None:
        """One wake: churn the books as of `noise_ms`, move replay time on, publish `streams`."""
        self.wakes += 1
        est = self.replay.estimated_now()
        if est is not None:
            self.clock.set(est)
        now = self.clock.now_ms()
        for lst in self.listings:
            lst.book.set_noise(noise_ms)
            lst.market.seq += 1  # the cross sequence moves with the book
        with self.hub.batched():
            for lst in self.listings:
                for name in streams:
                    lst.feed.publish_paced(name, now)
