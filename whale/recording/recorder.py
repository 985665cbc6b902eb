"""The recorder behind `python whalebot.py record`: the public streams of some symbols, as received,
into a RecordingWriter per symbol (docs/recording.md).

It rides on the bot's own WebSocket manager (whale/bybit/ws.py) through its raw tap: one public
connection for every symbol, with the manager's reconnects, pings, resubscriptions and book checks.
What the recorder adds:

- every public topic message goes to its symbol's writer with the local receive time;
- an interruption (a reconnect, a resynchronised book) writes a gap marker at once; the writer then
  drops deltas until the fresh snapshot the resubscription brings;
- `tick()` (the caller's loop, twice a second) flushes quiet writers, so a kill loses at most the
  last second, and drains the candles the manager's market state collects (bounded memory);
- counts for the minute's log line and the summary: events a second, bytes an hour.

The writers are touched by the stream thread (messages) and the caller's thread (tick, close): one
lock guards them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whale.bybit.endpoints import Endpoints
from whale.bybit.ws import BybitWebSocketManager
from whale.logs import get_logger
from whale.market.instruments import Instrument
from whale.market.level_check_book import LevelCheckBook
from whale.market.state import Markets
from whale.recording.writer import RecordingWriter
from whale.text import plural
from whale.venue.protocols import PUBLIC, SymbolStreams

log = get_logger("recording")

KLINE_INTERVAL = "1"  # kline.1: the 1-minute candles, kept as a check on the candles built from trades


@dataclass
class SymbolCounts:
    """What one symbol's recording holds so far."""

    messages: int = 0  # public messages written (or dropped while waiting for a snapshot)
    skipped: int = 0  # messages the writer refused (malformed)
    gaps: int = 0  # interruptions marked
    last_ts: int = 0  # the newest exchange timestamp seen (ms)


@dataclass
class RecordSummary:
    """The figures of a recording: per symbol its counts and its writer's stats, and the time it ran."""

    seconds: float
    counts: dict[str, SymbolCounts]
    bytes: dict[str, int]
    files: dict[str, list[Path]]
    dropped: dict[str, int]
    reconnects: int = 0
    resyncs: int = 0
    malformed: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(c.messages for c in self.counts.values())

    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def bytes_per_hour(self, symbol: str | None = None) -> float:
        total = self.bytes[symbol] if symbol else sum(self.bytes.values())
        return total * 3600.0 / self.seconds if self.seconds > 0 else 0.0


class Recorder:
    """Record `symbols` from `endpoints`' public stream into `out/<SYMBOL>/` (see the module doc).

    `instruments` gives each symbol's tickSize and qtyStep as the files' units (else the writer infers
    them from the first values). `start()`, then `tick()` about twice a second, then `stop()`."""

    def __init__(self, endpoints: Endpoints, symbols: Sequence[str], out: Path | str, *, depth: int = 200,
                 source: str = "bybit", instruments: Mapping[str, Instrument] | None = None,
                 stale_after_s: float = 30.0, writer_options: Mapping[str, Any] | None = None,
                 manager_options: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.symbols = tuple(symbols)
        self.out = Path(out)
        self.depth = int(depth)
        self.clock = clock
        self._lock = threading.Lock()
        self.writers: dict[str, RecordingWriter] = {}
        for sym in self.symbols:
            rules = (instruments or {}).get(sym)
            self.writers[sym] = RecordingWriter(
                self.out, sym, depth=self.depth, source=source,
                price_unit=str(rules.tick_size) if rules else None, size_unit=str(rules.qty_step) if rules else None,
                **dict(writer_options or {}))
        self.counts = {sym: SymbolCounts() for sym in self.symbols}
        # The manager keeps each symbol's market state (its book checks decide when to resynchronise);
        # the recorder drains its candles in tick() and keeps a short trade tail.
        # Its books are LevelCheckBooks: the same checks without numba, which would take the recorder past 200 MB.
        self.markets = Markets(self.symbols, max_candles=10, max_trades=100, max_price_history=100,
                               book_type=LevelCheckBook)
        wanted = [SymbolStreams(sym, (KLINE_INTERVAL,), self.depth) for sym in self.symbols]
        self.manager = BybitWebSocketManager(endpoints, self.markets, wanted, stale_after_s=stale_after_s, tap=self,
                                             **dict(manager_options or {}))
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._closed = False

    # ------------------------------------------------------------------ the raw tap (stream thread)

    def message(self, msg: dict, recv_us: int) -> None:
        topic = str(msg.get("topic") or "")
        symbol = topic.rsplit(".", 1)[-1]
        writer = self.writers.get(symbol)
        if writer is None:
            return  # not one of ours
        counts = self.counts[symbol]
        with self._lock:
            if self._closed:
                return
            try:
                writer.write_message(msg, recv_us)
            except Exception:
                counts.skipped += 1
                raise  # the manager logs it once per kind and counts it
            counts.messages += 1
            ts = msg.get("ts")
            if isinstance(ts, int) and ts > counts.last_ts:
                counts.last_ts = ts

    def interrupted(self, symbols: tuple[str, ...], reason: str) -> None:
        recv_us = time.time_ns() // 1000
        with self._lock:
            if self._closed:
                return
            for sym in symbols:
                writer = self.writers.get(sym)
                counts = self.counts.get(sym)
                if writer is None or counts is None or not counts.messages:
                    continue  # nothing recorded yet: the file's first record is already a gap
                # The exchange time of the gap: the newest seen (a replaying simulator's clock is not ours).
                writer.gap(reason, counts.last_ts, recv_us)
                counts.gaps += 1
        log.warning(f"recording {', '.join(symbols)}: stream interrupted ({reason}); a gap is marked and the book "
                    f"starts again from the next snapshot")

    # ------------------------------------------------------------------ lifecycle (caller's thread)

    def start(self) -> Recorder:
        self.started_at = self.clock()
        self.manager.start()
        return self

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """True once the public stream is subscribed (False after `timeout` s)."""
        return self.manager.wait_ready(timeout, (PUBLIC,), stop=stop)

    def tick(self) -> None:
        """Flush writers a quiet stream left unflushed for a second; drop the candles nobody reads."""
        with self._lock:
            if self._closed:
                return
            for writer in self.writers.values():
                writer.tick()
        for sym in self.symbols:
            self.markets[sym].pop_closed()

    def stop(self) -> RecordSummary:
        """Close the connection, then finish every file (gzip trailer, fsync)."""
        self.manager.stop()
        with self._lock:
            if not self._closed:
                self._closed = True
                for writer in self.writers.values():
                    writer.close()
        self.stopped_at = self.clock()
        return self.summary()

    def summary(self) -> RecordSummary:
        end = self.stopped_at if self.stopped_at is not None else self.clock()
        seconds = max(0.0, end - (self.started_at if self.started_at is not None else end))
        stats = self.manager.stats()
        public = [v for k, v in stats.items() if isinstance(v, dict) and k.startswith(PUBLIC)]
        with self._lock:
            return RecordSummary(
                seconds=seconds,
                counts={s: SymbolCounts(**vars(c)) for s, c in self.counts.items()},
                bytes={s: w.stats.bytes_written for s, w in self.writers.items()},
                files={s: list(w.stats.files) for s, w in self.writers.items()},
                dropped={s: w.stats.dropped for s, w in self.writers.items()},
                reconnects=sum(int(v.get("reconnects", 0)) for v in public),
                resyncs=int(stats.get("resyncs", 0)),
                malformed=dict(stats.get("malformed", {})))


def progress_line(now: RecordSummary, before: RecordSummary | None) -> str:
    """The minute's log line: per symbol the events a second and bytes an hour since `before`."""
    parts = []
    span = now.seconds - (before.seconds if before else 0.0)
    for sym, c in now.counts.items():
        events = c.messages - (before.counts[sym].messages if before else 0)
        size = now.bytes[sym] - (before.bytes[sym] if before else 0)
        rate = events / span if span > 0 else 0.0
        per_hour = size * 3600.0 / span if span > 0 else 0.0
        parts.append(f"{sym} {rate:,.1f} events/s, {per_hour / 1e6:,.2f} MB/h ({now.bytes[sym] / 1e6:,.2f} MB so far)")
    return f"recording: {'; '.join(parts)}; {plural(sum(c.gaps for c in now.counts.values()), 'gap')}"


def summary_lines(s: RecordSummary) -> list[str]:
    """The summary printed at the end."""
    lines = [f"recorded {s.seconds:,.0f} s: {s.events:,} events ({s.events_per_second():,.1f}/s), "
             f"{sum(s.bytes.values()) / 1e6:,.2f} MB ({s.bytes_per_hour() / 1e6:,.2f} MB/h, "
             f"{s.bytes_per_hour() * 24 / 1e6:,.1f} MB/day); reconnects {s.reconnects}, book resyncs {s.resyncs}"]
    for sym, c in s.counts.items():
        files = s.files[sym]
        where = f"{files[0].parent}" if files else "no file"
        lines.append(f"  {sym}: {c.messages:,} events, {s.bytes[sym] / 1e6:,.2f} MB "
                     f"({s.bytes_per_hour(sym) / 1e6:,.2f} MB/h), {plural(len(files), 'file')} in {where}, "
                     f"{plural(c.gaps, 'gap')}, {s.dropped[sym]:,} deltas dropped "
                     f"awaiting a snapshot, {c.skipped:,} malformed")
    return lines
