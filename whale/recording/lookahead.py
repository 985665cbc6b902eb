"""The recording's events still to play, read ahead on demand: how a replay knows the book as it will
stand a latency from now (the fill rule on recorded books, whale.book_fills). One implementation for
`sim --book` (whale.sim.recorded_replay) and `backtest --book` (whale.backtest.book_replay)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from whale.book_fills import BookUpdate
from whale.recording.reader import BookEvent, Event

Units = Callable[[Sequence[tuple[float, float]]], Sequence[tuple[Any, Any]]]


class Lookahead:
    """The recording's events still to play, each with its key on the recording's clock (the running
    maximum of its symbol's stamps); read ahead on demand (`read_through`) so that the book as it
    will stand a latency from now is known."""

    def __init__(self, events: Iterator[tuple[int, Event]]) -> None:
        """`events`: `(key, event)` in order (RecordingReader.timed_events)."""
        self._events = events
        self._buf: deque[tuple[int, Event]] = deque()
        self.done = False

    def _read(self) -> bool:
        if self.done:
            return False
        item = next(self._events, None)
        if item is None:
            self.done = True
            return False
        self._buf.append(item)
        return True

    def peek(self) -> int | None:
        """The key of the next event, or None at the end."""
        if not self._buf and not self._read():
            return None
        return self._buf[0][0]

    def pop(self) -> tuple[int, Event]:
        if not self._buf:
            self.peek()
        return self._buf.popleft()

    def __iter__(self) -> Iterator[tuple[int, Event]]:
        """`(key, event)` in order, each taken out as it is yielded: peek and pop in one step (a replay's
        loop, one step an event). Events read ahead meanwhile (`read_through`) come first, in order."""
        buf = self._buf
        while buf:
            yield buf.popleft()
        for item in self._events:
            yield item
            while buf:  # read ahead (or put back) while the event was played: those come next
                yield buf.popleft()
        self.done = True

    def put_back(self, key: int, ev: Event) -> None:
        """An event taken (iteration, pop) that is not played yet: it is the next one again."""
        self._buf.appendleft((key, ev))

    def read_through(self, until_ms: int) -> None:
        while (not self._buf or self._buf[-1][0] <= until_ms) and self._read():
            pass

    def book_updates(self, symbol: str, units: Units | None = None) -> Iterator[BookUpdate]:
        """The book messages of `symbol` still to play (levels through `units`, e.g. to ticks and steps;
        as recorded when None)."""
        for key, ev in self._buf:
            if isinstance(ev, BookEvent) and ev.symbol == symbol:
                if units is None:
                    yield BookUpdate(key, ev.snapshot, ev.bids, ev.asks)
                else:
                    yield BookUpdate(key, ev.snapshot, units(ev.bids), units(ev.asks))
