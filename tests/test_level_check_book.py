"""The recorder's LevelCheckBook answers every book message as OrderBook does (the stream manager's
resubscriptions depend on those answers), and the recorder never loads numba."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.paths import REPO_ROOT
from whale.market.book import OrderBook
from whale.market.level_check_book import LevelCheckBook

COUNTERS = ("ready", "u", "seq", "ts", "version", "snapshots", "restarts", "ignored", "gaps", "crossings")


def _levels(rng: np.random.Generator, lo: int, hi: int, k: int, removals: float) -> list[tuple[float, float]]:
    prices = rng.choice(np.arange(lo, hi), size=min(k, hi - lo), replace=False)
    return [(p / 10, 0.0 if rng.random() < removals else float(rng.integers(1, 50)) / 1000) for p in prices.tolist()]


def _state(book: OrderBook) -> tuple:
    return (tuple(getattr(book, c) for c in COUNTERS), book.bid_count, book.ask_count, book.best_bid(),
            book.best_ask(), book.mid(), book.spread(), len(book))


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_get_the_same_answers_and_counters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    check_gaps = seed % 3 != 0
    books = (OrderBook("BTCUSDT", check_gaps=check_gaps), LevelCheckBook("BTCUSDT", check_gaps=check_gaps))
    u = 0
    seen = set()
    for step in range(3000):
        r = rng.random()
        if r < 0.04 or step == 0:  # a snapshot: most around 100.0, some crossed, some a restart (u == 1)
            u = 1 if rng.random() < 0.2 else u + 1
            bids = _levels(rng, 900, 1000, int(rng.integers(0, 40)), 0.0)
            asks = _levels(rng, 1000 if rng.random() < 0.9 else 950, 1100, int(rng.integers(0, 40)), 0.0)
            answers = [b.apply_snapshot(bids, asks, u, step, 1_000 + step) for b in books]
        elif r < 0.05:
            for b in books:
                b.reset()
            answers = [None, None]
        else:  # a delta: usually the next id, sometimes a gap, a stale or a missing one; levels may cross
            u = u + int(rng.choice([1, 1, 1, 1, 1, 1, 2, 0, -1])) if rng.random() < 0.97 else 0
            cross = rng.random() < 0.03
            bids = _levels(rng, 900, 1000 if not cross else 1010, int(rng.integers(0, 8)), 0.3)
            asks = _levels(rng, 1000 if not cross else 990, 1100, int(rng.integers(0, 8)), 0.3)
            if rng.random() < 0.5:
                answers = [b.apply_delta(bids, asks, u, step, 1_000 + step) for b in books]
            else:  # a recording's columns: bid then ask levels from an offset in shared arrays
                pad = int(rng.integers(0, 3))
                px = np.array([0.0] * pad + [p for p, _ in bids + asks])
                sz = np.array([0.0] * pad + [s for _, s in bids + asks])
                answers = [b.apply_levels(px, sz, pad, len(bids), len(asks), u, step, None) for b in books]
        assert answers[0] == answers[1], f"step {step}"
        assert _state(books[0]) == _state(books[1]), f"step {step}"
        seen.add((answers[0], books[0].ready))
    assert {(True, True), (False, False)} <= seen  # applied, and refused (gap or crossed) both happened
    assert books[0].gaps or not check_gaps
    assert books[0].crossings and books[0].ignored


def test_reads_it_does_not_keep_say_so() -> None:
    book = LevelCheckBook("BTCUSDT")
    book.apply_snapshot([(100.0, 1.0)], [(101.0, 1.0)], 1)
    with pytest.raises(TypeError, match="LevelCheckBook.snapshot: a recorder's check book keeps no copy"):
        book.snapshot(5)
    with pytest.raises(TypeError, match="take_density_rows"):
        book.take_density_rows()


@pytest.mark.net  # a subprocess: a fresh interpreter, to see what the recorder loads
def test_the_recorder_never_loads_numba(tmp_path) -> None:
    """Its books take messages as the stream manager gives them (no connection is opened here)."""
    code = f"""
import sys
from whale.bybit.endpoints import Endpoints
from whale.bybit.public_messages import book_update
from whale.recording.recorder import Recorder
r = Recorder(Endpoints("custom", "http://127.0.0.1:9", "ws://127.0.0.1:9", "ws://127.0.0.1:9"), ["BTCUSDT"],
             {str(tmp_path)!r})
market = r.markets["BTCUSDT"]
for kind, u, bids in (("snapshot", 1, [["100.0", "1"]]), ("delta", 2, [["100.5", "2"]]), ("delta", 3, [["101", "1"]])):
    msg = {{"topic": "orderbook.200.BTCUSDT", "type": kind, "ts": 1, "data": {{"s": "BTCUSDT", "b": bids,
           "a": [["101.0", "3"]], "u": u, "seq": u}}}}
    ok = market.on_book(book_update(msg))
assert not ok and market.book.crossings == 1 and market.book.bid_count == 3, market.book_stats()
assert "numba" not in sys.modules, sorted(m for m in sys.modules if m.startswith("numba"))[:3]
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
