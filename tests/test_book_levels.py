"""OrderBook's levels (sorted arrays changed by numba kernels, whale.market.book_levels) against a plain
dict model of Bybit's rules, delta by delta: deltas as (price, size) pairs and as decoded columns give
the same book; the change log replayed onto a copy gives the book too."""

from __future__ import annotations

import numpy as np
import pytest

from whale.market import book as book_module
from whale.market.book import OrderBook


def _model_apply(side: dict[float, float], rows: list[tuple[float, float]]) -> None:
    for p, s in rows:
        if s > 0:
            side[p] = s
        else:
            side.pop(p, None)


def _lists(bids: dict[float, float], asks: dict[float, float]) -> dict[str, list[list[float]]]:
    return {"b": [[p, bids[p]] for p in sorted(bids, reverse=True)], "a": [[p, asks[p]] for p in sorted(asks)]}


def _rows(rng: np.random.Generator, side: dict[float, float], mid: int, sign: int) -> list[tuple[float, float]]:
    rows = []
    for _ in range(int(rng.integers(0, 40))):
        r = rng.random()
        if r < 0.3 and side:
            rows.append((float(rng.choice(list(side))), 0.0))  # remove a level it holds
        elif r < 0.35:
            rows.append(((mid + sign * int(rng.integers(500, 900))) * 0.5, 0.0))  # one it does not hold
        else:
            rows.append(((mid + sign * int(rng.integers(1, 400))) * 0.5, round(float(rng.uniform(0.001, 9.0)), 3)))
    if rows and rng.random() < 0.1:
        rows.append(rows[0])  # a price twice in one delta: the later one wins
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_the_array_book_is_the_dict_book(seed: int, monkeypatch) -> None:
    monkeypatch.setattr(book_module, "MAX_CHANGES", 60)
    rng = np.random.default_rng(seed)
    pairs, columns, copy = OrderBook("X", check_gaps=False), OrderBook("X", check_gaps=False), OrderBook("X")
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    mid = 20_000
    wholes = 0
    for step in range(400):
        if step % 150 == 0:  # a snapshot (a price twice: the last positive size wins; size 0 is no level)
            snap_b = [((mid - int(k)) * 0.5, 1.0 + k % 7) for k in rng.choice(np.arange(1, 600), 250, replace=False)]
            snap_a = [((mid + int(k)) * 0.5, 1.0 + k % 5) for k in rng.choice(np.arange(1, 600), 250, replace=False)]
            snap_b += [(snap_b[0][0], 2.5), ((mid - 700) * 0.5, 0.0)]
            bids = {p: s for p, s in snap_b if s > 0}
            asks = {p: s for p, s in snap_a if s > 0}
            for b in (pairs, columns):
                assert b.apply_snapshot(snap_b, snap_a, ts=step)
            copy.apply_snapshot(snap_b, snap_a, ts=step)
        else:
            db, da = _rows(rng, bids, mid, -1), _rows(rng, asks, mid, 1)
            _model_apply(bids, db)
            _model_apply(asks, da)
            assert pairs.apply_delta([(str(p), str(s)) for p, s in db], da, ts=step)
            pad = int(rng.integers(0, 3))  # the levels somewhere inside a longer column, as in a decoded batch
            px = np.array([7.0] * pad + [p for p, _ in db + da], dtype=np.float64)
            sz = np.array([1.0] * pad + [s for _, s in db + da], dtype=np.float64)
            assert columns.apply_levels(px, sz, pad, len(db), len(da), ts=step)
        want = _lists(bids, asks)
        assert pairs.as_lists() == want and columns.as_lists() == want, step
        assert pairs.best_bid() == max(bids) and pairs.best_ask() == min(asks)
        assert len(pairs) == min(len(bids), len(asks))
        if rng.random() < 0.3:  # the density tracker's read: the changes since the last one
            changes = pairs.take_changes()
            if changes is None:
                wholes += 1
                copy.apply_snapshot(list(pairs.side(asks=False).items()), list(pairs.side(asks=True).items()))
            else:
                cpx, csz, nb, na = changes
                copy.apply_levels(cpx, csz, 0, nb, na)
            assert copy.as_lists() == want, step
    assert wholes >= 4  # the first read, after each snapshot, and after an overflow of the log


def test_a_crossing_delta_and_a_gap_ask_for_a_snapshot() -> None:
    b = OrderBook("X")
    assert b.apply_snapshot([(100.0, 1.0)], [(101.0, 1.0)], update_id=5)
    assert not b.apply_levels(np.array([101.5, 0.0]), np.array([1.0, 1.0]), 0, 1, 0, update_id=6)
    assert not b.ready and b.crossings == 1 and b.best_bid() == 101.5  # applied, then flagged
    assert b.apply_levels(np.array([99.0]), np.array([1.0]), 0, 1, 0, update_id=7) and b.ignored == 1  # not ready
    assert b.apply_snapshot([(100.0, 1.0)], [(101.0, 1.0)], update_id=10)
    assert not b.apply_delta([(99.0, 2.0)], [], update_id=12) and b.gaps == 1 and 99.0 not in b.side(asks=False)


def test_the_change_rows_stay_as_taken_while_the_book_logs_the_next_ones() -> None:
    """take_change_rows hands over the change log itself, not a copy: the book logs into its other pair
    of arrays from then on, so deltas applied before the reader is done (a stream thread) cannot
    overwrite what it holds, and the next call gives exactly those deltas."""
    b = OrderBook("X")
    assert b.apply_snapshot([(100.0, 1.0), (99.0, 1.0)], [(101.0, 1.0)], update_id=1)
    assert b.take_change_rows() is None  # after a snapshot: the whole book

    def lists(rows):
        px, sz, nb, na = rows
        return px[0, :nb].tolist(), sz[0, :nb].tolist(), px[1, :na].tolist(), sz[1, :na].tolist()

    assert b.apply_delta([(99.5, 2.0)], [(101.0, 0.0), (102.0, 3.0)], update_id=2)
    first = b.take_change_rows()
    assert lists(first) == ([99.5], [2.0], [101.0, 102.0], [0.0, 3.0])
    for u in range(3, 40):  # more than the held arrays' first columns, and more than their room
        assert b.apply_delta([(90.0 + u * 0.01, float(u))], [(110.0 + u * 0.01, float(u))], update_id=u)
    assert lists(first) == ([99.5], [2.0], [101.0, 102.0], [0.0, 3.0])
    second = b.take_change_rows()
    assert second[0] is not first[0]
    assert lists(second) == ([90.0 + u * 0.01 for u in range(3, 40)], [float(u) for u in range(3, 40)],
                             [110.0 + u * 0.01 for u in range(3, 40)], [float(u) for u in range(3, 40)])
    assert b.apply_delta([(98.0, 5.0)], [], update_id=40)
    px, sz, nb, na = b.take_changes()  # the copying form: the same changes, bids then asks
    assert (px.tolist(), sz.tolist(), nb, na) == ([98.0], [5.0], 1, 0)


def test_the_change_log_grows_until_max_changes_then_the_whole_book_is_taken(monkeypatch) -> None:
    """The change log starts small and grows with the changes waiting; past MAX_CHANGES it stops and the
    reader takes the whole book; the book is the same either way."""
    monkeypatch.setattr(book_module, "MAX_CHANGES", 300)
    b = OrderBook("X", check_gaps=False)
    assert b.apply_snapshot([(100.0, 1.0)], [(101.0, 1.0)])
    assert b.take_changes() is None  # the whole book first; the log starts from here
    changes = []
    for i in range(10):  # 200 changes waiting: more than the log's first room
        px, sz = np.array([99.0 - 0.5 * j for j in range(20)]), np.full(20, 1.0 + i)
        assert b.apply_levels(px, sz, 0, 20, 0)
        changes += list(zip(px.tolist(), sz.tolist(), strict=True))
    got = b.take_changes()
    assert got is not None and got[2:] == (200, 0)
    assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == changes
    for i in range(16):  # 320 bid changes waiting: past MAX_CHANGES
        px, sz = np.array([99.0 - 0.5 * j for j in range(20)] + [102.0 + i]), np.full(21, 20.0 + i)
        assert b.apply_levels(px, sz, 0, 20, 1)
    assert b.take_changes() is None
    assert b.as_lists()["b"][:3] == [[100.0, 1.0], [99.0, 35.0], [98.5, 35.0]] and b.bid_count == 21
    assert b.as_lists()["a"] == [[101.0, 1.0]] + [[102.0 + i, 20.0 + i] for i in range(16)]


def test_take_density_rows_gives_each_takes_changes_through_both_logs_as_they_grow() -> None:
    """take_density_rows (MarketState.density_levels): None while a side is empty (the changes wait), the whole
    book when the changes cannot be taken, else `(False, *take_change_rows())`; round after round the book logs
    into its two pairs of arrays in turn, each growing past its first room, and each take holds exactly the
    changes applied since the one before."""
    b = OrderBook("X", check_gaps=False)
    assert b.take_density_rows() is None  # no book yet
    assert b.apply_snapshot([(100.0, 1.0), (99.0, 2.0)], [(101.0, 3.0)])
    whole, px, sz, nb, na = b.take_density_rows()
    assert whole and (px.tolist(), sz.tolist(), nb, na) == ([100.0, 99.0, 101.0], [1.0, 2.0, 3.0], 2, 1)
    for r in range(8):
        count = 10 + 30 * r  # from a few changes to more than either log's first room
        bid = [(90.0 - 0.01 * j, float(r + 1)) for j in range(count)]
        ask = [(110.0 + 0.01 * j, float(r + 2)) for j in range(count // 2)]
        assert b.apply_delta(bid, ask)
        if r == 3:  # an empty side: the changes wait for the next take, with the ones after them
            assert b.apply_delta([], [(101.0, 0.0)] + [(p, 0.0) for p, _ in ask])
            assert b.take_density_rows() is None
            assert b.apply_delta([], ask)
            ask = ask + [(101.0, 0.0)] + [(p, 0.0) for p, _ in ask] + ask
        whole, px, sz, nb, na = b.take_density_rows()
        assert not whole and (nb, na) == (len(bid), len(ask)), r
        assert list(zip(px[0, :nb].tolist(), sz[0, :nb].tolist(), strict=True)) == bid, r
        assert list(zip(px[1, :na].tolist(), sz[1, :na].tolist(), strict=True)) == ask, r
