"""Bounded caches, evicted by use (least recently used first).

`RowCache` holds indicator rows per indicator group and its own parameters (and the MTF trend row
per timeframes, methods and period). `UnitSlab` holds scorer unit rows (whale/strategy/scoring.py)
as the rows of one matrix, so the second scoring stage reads them in place: a trial names the
slots of its scorers and nothing is copied.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

GB = 1024 ** 3
DEFAULT_BUDGET = 2 * GB  # per worker process (issue 13): rows of a year of 15 m candles take 280 KB each


class RowCache:
    """key -> dict of rows, at most `budget` bytes; a hit makes the entry the most recently used."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, tuple[dict[str, np.ndarray], int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]
        self.misses += 1
        rows = make()
        size = sum(r.nbytes for r in rows.values())
        while self._items and self.used + size > self.budget:
            _, (_, old) = self._items.popitem(last=False)
            self.used -= old
        self._items[key] = (rows, size)
        self.used += size
        return rows


class UnitSlab:
    """Unit rows of length n as the rows of one growing matrix, at most `budget` bytes.

    `slot(key, fill)` returns the row index of `key`, calling fill(matrix, slot) to compute it on a
    miss. Slots handed out since the last `new_trial()` are pinned: eviction never takes a row the
    current trial is about to read.
    """

    def __init__(self, n: int, budget: int, initial: int = 64) -> None:
        self.n = n
        self.max_slots = max(int(budget // max(n * 8, 1)), 40)  # at least every scorer of one trial
        self.rows = np.zeros((min(initial, self.max_slots), n))
        self._slots: OrderedDict[Hashable, int] = OrderedDict()
        self._free: list[int] = list(range(self.rows.shape[0] - 1, -1, -1))
        self._pinned: set[int] = set()
        self.hits = 0
        self.misses = 0

    @property
    def used_bytes(self) -> int:
        return len(self._slots) * self.n * 8

    def new_trial(self) -> None:
        self._pinned.clear()

    def slot(self, key: Hashable, fill: Callable[[np.ndarray, int], None]) -> int:
        s = self._slots.get(key)
        if s is not None:
            self._slots.move_to_end(key)
            self.hits += 1
            self._pinned.add(s)
            return s
        self.misses += 1
        s = self._take()
        fill(self.rows, s)
        self._slots[key] = s
        self._pinned.add(s)
        return s

    def _take(self) -> int:
        if self._free:
            return self._free.pop()
        cap = self.rows.shape[0]
        if cap < self.max_slots:
            grown = np.zeros((min(cap * 2, self.max_slots), self.n))
            grown[:cap] = self.rows
            self.rows = grown
            self._free = list(range(grown.shape[0] - 1, cap, -1))
            return cap
        for key, s in self._slots.items():  # least recently used first
            if s not in self._pinned:
                del self._slots[key]
                return s
        raise MemoryError("the unit-row cache is too small for one trial's scorers")
