"""The book a recorder keeps: OrderBook's stream checks on levels held in dicts, without numba.

The recorder (whale.recording.recorder) writes the book messages as received; it keeps a book only
so that the stream manager can check the stream (consecutive update ids, a crossed book) and ask
for a fresh snapshot, as it does for the bot. OrderBook keeps its levels in arrays changed by numba
kernels; importing numba and loading its compiled code cost a process about 140 MB, which would take
a recorder of two symbols at depth 200 past its 200 MB budget. At a recorder's rate (about ten book
messages a second a symbol) dicts are plenty.

What a book message does to the book's state and counters (ready, u, gaps, crossings, ignored,
restarts, version) is OrderBook's own code (`apply_snapshot`, `apply_delta`, `apply_levels`); only
where the levels live differs (`_store`, `_apply_rows`, `_crossed` and the reads).
tests/test_level_check_book.py plays random streams (gaps, stale ids, crossings, restarts) into both
and compares every answer and counter.
The reads a recorder never makes (copies of the levels, the change log) raise TypeError.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from whale.market.book import OrderBook


class LevelCheckBook(OrderBook):
    def __init__(self, symbol: str = "", *, check_gaps: bool = True) -> None:
        super().__init__(symbol, check_gaps=check_gaps)
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}

    def _load(self) -> None:
        """No kernels: the levels are dicts."""

    def reset(self) -> None:
        super().reset()
        self._bids, self._asks = {}, {}

    def _store(self, bids: dict[float, float], asks: dict[float, float]) -> None:
        self._bids, self._asks = dict(bids), dict(asks)

    def _apply_rows(self, px: np.ndarray, sz: np.ndarray, start: int, nb: int, na: int) -> bool:
        for side, lo, hi in ((self._bids, start, start + nb), (self._asks, start + nb, start + nb + na)):
            for price, size in zip(px[lo:hi].tolist(), sz[lo:hi].tolist(), strict=True):
                if size > 0.0:
                    side[price] = size
                else:
                    side.pop(price, None)
        return self._crossed()

    def _crossed(self) -> bool:
        return bool(self._bids and self._asks and max(self._bids) >= min(self._asks))

    def __len__(self) -> int:
        return min(len(self._bids), len(self._asks))

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def best_bid(self) -> float | None:
        return max(self._bids) if self._bids else None

    def best_ask(self) -> float | None:
        return min(self._asks) if self._asks else None

    def mid(self) -> float | None:
        bid, ask = self.best_bid(), self.best_ask()
        return None if bid is None or ask is None else (bid + ask) / 2.0

    def spread(self) -> float | None:
        bid, ask = self.best_bid(), self.best_ask()
        return None if bid is None or ask is None else ask - bid


def _not_kept(name: str) -> Callable[..., NoReturn]:
    def read(self: LevelCheckBook, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"LevelCheckBook.{name}: a recorder's check book keeps no copy of its levels for reading")

    return read


for _name in ("top", "side", "snapshot", "as_lists", "depth_within", "imbalance", "volumes", "take_changes",
              "take_change_rows", "take_density_rows"):
    assert hasattr(OrderBook, _name), _name  # a read renamed in OrderBook must be renamed here
    setattr(LevelCheckBook, _name, _not_kept(_name))
