"""The incremental density tracker equals the full recomputation, update by update.

Random books (a tick grid, walls that appear, erode, refill and go, a mid that walks and jumps,
one-sided and empty moments, levels beyond the view, repeated sizes) are changed by random deltas
and now and then replaced by a snapshot. Every update is fed three ways:

- the reference (tests/density_reference.py, the tracker as it was: a full rescan of the book's
  first `book_depth` levels a side on every update);
- `DensityTracker.update` with those same arrays (the live loop's way);
- `DensityTracker.apply_delta` / `apply_snapshot` with Bybit's messages (the recording's way),
  the tracker keeping the whole book and using its first `book_depth` levels.

After every update the events, every density's fields (pending ones included), the mid, the
median, the band imbalance and the spoof count must be equal: exactly, not approximately.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.density_reference import FullDensityTracker
from whale.config.model import Density
from whale.strategy.density import DensityTracker

TICK = 0.5


def _settings(depth: int) -> Density:
    return Density(book_depth=depth, depth_percent=0.6, multiplier=3.0, min_notional=2_000.0, min_lifetime_sec=0.5,
                   breakout_erosion_percent=30.0, bounce_density_erosion_exit_percent=65.0)


class RandomBook:
    """A book on a tick grid with its own rules of change; deltas are what Bybit would send."""

    def __init__(self, rng: np.random.Generator, levels: int) -> None:
        self.rng = rng
        self.levels = levels
        self.mid_ticks = 2000
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.snapshot()

    def _size(self) -> float:
        r = self.rng.random()
        if r < 0.25:
            return float(self.rng.choice([0.5, 1.0, 1.5]))  # repeated sizes: ties in the sorted sizes
        if r < 0.28:
            return round(float(self.rng.uniform(8.0, 30.0)), 3)  # a wall
        return round(float(self.rng.uniform(0.01, 3.0)), 3)

    def snapshot(self) -> tuple[dict[float, float], dict[float, float]]:
        rng = self.rng
        self.bids = {(self.mid_ticks - 1 - int(k)) * TICK: self._size() for k in
                     rng.choice(3 * self.levels, size=self.levels, replace=False)}
        self.asks = {(self.mid_ticks + 1 + int(k)) * TICK: self._size() for k in
                     rng.choice(3 * self.levels, size=self.levels, replace=False)}
        if rng.random() < 0.1:
            self.bids = {}  # a one-sided book
        return dict(self.bids), dict(self.asks)

    def delta(self) -> tuple[dict[float, float], dict[float, float]]:
        rng = self.rng
        db: dict[float, float] = {}
        da: dict[float, float] = {}
        r = rng.random()
        if r < 0.15:  # the mid walks: the touch of one side is eaten, the other side follows
            step = int(rng.integers(1, 6))
            self.mid_ticks += step if rng.random() < 0.5 else -step
        for side, out, sign in ((self.bids, db, -1), (self.asks, da, 1)):
            for _ in range(int(rng.integers(0, 8))):
                dist = int(rng.geometric(0.08))
                price = (self.mid_ticks + sign * dist) * TICK
                if rng.random() < 0.3 and side:
                    price = float(rng.choice(list(side)))  # change or remove a level it holds
                    out[price] = 0.0 if rng.random() < 0.4 else self._size()
                else:
                    out[price] = self._size()
            if side:  # a wall erodes
                top = max(side, key=lambda p: side[p])
                if side[top] > 5.0 and rng.random() < 0.3:
                    out[top] = round(side[top] * float(rng.uniform(0.6, 0.98)), 3)
            if rng.random() < 0.03:
                out[(self.mid_ticks + sign * 10_000) * TICK] = 0.0  # removing a level it never held
        # keep the book uncrossed: levels on the wrong side of the mid are removed
        for p in list(self.bids) + list(db):
            if p >= self.mid_ticks * TICK:
                db[p] = 0.0
        for p in list(self.asks) + list(da):
            if p <= self.mid_ticks * TICK:
                da[p] = 0.0
        for side, changes in ((self.bids, db), (self.asks, da)):
            for p, q in changes.items():
                if q > 0.0:
                    side[p] = q
                else:
                    side.pop(p, None)
        return db, da

    def top(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        bp = sorted(self.bids, reverse=True)[:n]
        ap = sorted(self.asks)[:n]
        return (np.array(bp, dtype=np.float64), np.array([self.bids[p] for p in bp], dtype=np.float64),
                np.array(ap, dtype=np.float64), np.array([self.asks[p] for p in ap], dtype=np.float64))


def _arrays(levels: dict[float, float], shuffle: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    items = list(levels.items())
    shuffle.shuffle(items)  # Bybit does not promise the order of a delta's levels
    return (np.array([p for p, _ in items], dtype=np.float64), np.array([q for _, q in items], dtype=np.float64))


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _state(t) -> tuple:
    return (t.mid, t.median, t.imbalance, t.spoofs_filtered, t.last_ms)


def _check(ref, other, now, ref_events, events, how: str) -> None:
    assert events == ref_events, f"{how}: events differ at {now}"
    assert other.densities(include_pending=True) == ref.densities(include_pending=True), f"{how}: densities at {now}"
    assert other.densities() == ref.densities(), f"{how}: stable densities at {now}"
    assert all(_same(a, b) for a, b in zip(_state(other), _state(ref), strict=True)), (
        f"{how}: state {_state(other)} != {_state(ref)} at {now}")


@pytest.mark.parametrize("seed", range(12))
def test_incremental_tracking_equals_the_full_recomputation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    depth = 12 + seed % 3 * 10  # the view: fewer levels than the book holds, or about as many
    settings = _settings(depth)
    book = RandomBook(rng, levels=depth + 8)
    ref = FullDensityTracker(settings)
    live = DensityTracker(settings)
    fed = DensityTracker(settings)
    shuffle = np.random.default_rng(1000 + seed)
    now = 1_700_000_000_000
    seen = {"appeared": 0, "eroded": 0, "vanished": 0, "consumed": 0}
    bids, asks = book.snapshot()
    snapshot = True
    for step in range(600):
        now += int(rng.integers(20, 150))
        if step:
            snapshot = rng.random() < 0.01
            bids, asks = book.snapshot() if snapshot else book.delta()
        arrays = book.top(depth)
        ref_events = ref.update(now, *arrays)
        _check(ref, live, now, ref_events, live.update(now, *arrays), "update")
        bp, bs = _arrays(bids, shuffle)
        ap, as_ = _arrays(asks, shuffle)
        events = fed.apply_snapshot(now, bp, bs, ap, as_) if snapshot else fed.apply_delta(now, bp, bs, ap, as_)
        if arrays[0].size == 0 and arrays[2].size == 0:
            ref_events = []  # an empty book is no data for all of them
        _check(ref, fed, now, ref_events, events, "apply")
        for ev in ref_events:
            seen[ev.kind] += 1
    assert seen["appeared"] > 0 and seen["eroded"] > 0 and seen["vanished"] + seen["consumed"] > 0, seen


def test_the_book_copy_is_the_book_and_a_snapshot_replaces_it() -> None:
    tracker = DensityTracker(_settings(5))
    bp = np.array([99.0, 100.0, 98.0])
    bs = np.array([1.0, 2.0, 0.0])  # a size 0 in a snapshot is no level
    ap = np.array([101.0, 102.0])
    as_ = np.array([3.0, 4.0])
    tracker.apply_snapshot(1, bp, bs, ap, as_)
    top = tracker.book_top(10)
    assert top[0].tolist() == [100.0, 99.0] and top[1].tolist() == [2.0, 1.0]
    assert top[2].tolist() == [101.0, 102.0] and top[3].tolist() == [3.0, 4.0]
    tracker.apply_delta(2, np.array([100.0, 97.5]), np.array([0.0, 5.0]), np.array([101.5]), np.array([6.0]))
    assert tracker.book_top(10)[0].tolist() == [99.0, 97.5]
    assert tracker.book_size("ask", 101.5) == 6.0 and tracker.book_size("bid", 100.0) == 0.0
    tracker.apply_snapshot(3, np.array([50.0]), np.array([1.0]), np.array([51.0]), np.array([1.0]))
    assert tracker.book_top(10)[0].tolist() == [50.0] and tracker.book_top(10)[2].tolist() == [51.0]
    assert tracker.mid == 50.5


def test_a_book_of_more_levels_than_the_room_grows_it() -> None:
    tracker = DensityTracker(_settings(5))
    n = 1000
    bp = 100.0 - np.arange(1, n + 1) * 0.01
    ap = 100.0 + np.arange(1, n + 1) * 0.01
    sizes = np.ones(n)
    tracker.apply_snapshot(1, bp, sizes, ap, sizes)
    assert tracker.book_top(2000)[0].size == n
    assert tracker.median == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_the_live_books_changes_feed_the_tracker_as_a_copy_of_the_book_would(seed: int, monkeypatch) -> None:
    """The live loop feeds the tracker the levels MarketState's book changed since its last pass
    (MarketState.density_levels), not a copy of the book: the same events and densities as `update`
    with the book's first `book_depth` levels, also when several updates come between two passes,
    when a side is empty for a while, after a snapshot, and when more changes waited than the book
    logs (it then gives the whole book)."""
    from whale.market import book as book_module
    from whale.market.book import BookUpdate
    from whale.market.state import MarketState

    monkeypatch.setattr(book_module, "MAX_CHANGES", 25)  # small, so that the overflow happens too
    rng = np.random.default_rng(50 + seed)
    depth = 12 + seed % 3 * 10
    settings = _settings(depth)
    book = RandomBook(rng, levels=depth + 8)
    market = MarketState("TESTUSDT")
    copied = DensityTracker(settings)  # the way before: a copy of the book's top on each pass
    fed = DensityTracker(settings)
    now = 1_700_000_000_000
    bids, asks = book.snapshot()
    snapshot = True
    version = -1
    whole = passes = 0
    seen: set[str] = set()
    for step in range(800):
        now += int(rng.integers(20, 150))
        if step:
            snapshot = rng.random() < 0.01
            bids, asks = book.snapshot() if snapshot else book.delta()
        market.on_book(BookUpdate(snapshot, list(bids.items()), list(asks.items()), ts=now))
        if rng.random() < 0.4:
            continue  # more updates before the loop's next pass
        if market.book.version == version:
            continue
        version = market.book.version
        snap = market.snapshot_book(depth)
        levels = market.density_levels()
        assert (levels is None) == (snap.bid_px.size == 0 or snap.ask_px.size == 0)
        if levels is None:
            continue
        passes += 1
        whole += levels[0]
        expected = copied.update(now, snap.bid_px, snap.bid_sz, snap.ask_px, snap.ask_sz)
        _check(copied, fed, now, expected, fed.apply_book_changes(now, levels), "changes")
        for d in fed.densities(include_pending=True):  # first_seen: get()'s first_seen_ms, stable ones only
            assert fed.first_seen(d.side, d.price) == (None if d.pending else d.first_seen_ms)
        seen.update(ev.kind for ev in expected)
    assert passes > 300 and 1 < whole < passes and {"appeared", "eroded"} <= seen, (passes, whole, seen)


def test_changes_beyond_the_room_grow_it_and_are_all_applied() -> None:
    """apply_changes checks the room in the kernel (NEED_ROOM: nothing applied) and calls again after growing
    it: changes that add more levels than the arrays hold give the book and the band apply_delta gives."""
    settings = _settings(40)
    rows = DensityTracker(settings)
    delta = DensityTracker(settings)
    room = rows._band.capacity
    now = 1_700_000_000_000
    for k in range(3):  # each call adds more levels a side than the room: the first grows it, the next ones too
        n = room * 2 + 7
        bp = 1000.0 - np.arange(1, n + 1) * 0.5 - k * 0.25
        ap = 1000.0 + np.arange(1, n + 1) * 0.5 + k * 0.25
        bs = 1.0 + (np.arange(n) % 7) * 0.25
        as_ = 1.5 + (np.arange(n) % 5) * 0.5
        bs[3] = as_[4] = 50.0  # a wall on each side
        px = np.stack((bp, ap))
        sz = np.stack((bs, as_))
        now += 1000
        expected = delta.apply_delta(now, bp, bs, ap, as_)
        assert rows.apply_changes(now, px, sz, n, n) == expected
        assert _state(rows) == _state(delta)
        assert [b.tolist() for b in rows.book_top(10_000)] == [b.tolist() for b in delta.book_top(10_000)]
        assert rows.densities(include_pending=True) == delta.densities(include_pending=True) != []
        assert rows._band.capacity >= rows.book_top(10_000)[0].size > room  # it grew
        room = rows._band.capacity


@pytest.mark.parametrize("capacity", [8, 64])
def test_the_band_sizes_stay_sorted_through_batched_commits(capacity: int) -> None:
    """The band's sorted sizes are brought up to date once an update (density_band._ws_commit merges the sizes
    noted as added and removed): after any batch, with repeated sizes, sizes added and removed in the same batch,
    and batches longer than the note lists (they commit early), the row is exactly the sorted band sizes."""
    from whale.strategy import density_band as band

    rng = np.random.default_rng(capacity)
    st = band.BandState(capacity, capacity, 0.01, 3.0, 0.0, 0.0, (10.0,))
    room = st.ws.shape[1]  # the band's most sizes, and the length of each note list
    held: list[float] = []
    early = cancelled = 0
    for _ in range(400):
        added: list[float] = []
        for notes in range(1, int(rng.integers(0, 2 * room)) + 1):
            if held and (len(held) == room or rng.random() < 0.5):
                size = held.pop(int(rng.integers(len(held))))
                cancelled += size in added
                band._ws_note(st.ws, st.ist, band.I_NREM, size)
            else:
                size = float(rng.choice([0.5, 1.0, 1.5]) if rng.random() < 0.4 else round(rng.uniform(0.01, 3), 3))
                held.append(size)
                added.append(size)
                band._ws_note(st.ws, st.ist, band.I_NADD, size)
            early += int(st.ist[band.I_NADD]) + int(st.ist[band.I_NREM]) < notes  # a full list committed
        band._ws_commit(st.ws, st.ist)
        m = int(st.ist[band.I_M])
        assert st.ws[int(st.ist[band.I_WROW]), :m].tolist() == sorted(held)
    assert early and cancelled, (early, cancelled)
