"""OrderBook (whale.market.book) fed Bybit's messages through whale.bybit.public_messages: Bybit's book rules,
pure (no I/O)."""

import random
import time

import numpy as np

from whale.bybit.public_messages import book_data_update, snapshot_from_bybit
from whale.market.book import BookSnapshot, OrderBook


def snap(bids, asks, u=10, seq=100):
    return {"s": "BTCUSDT", "b": [[str(p), str(s)] for p, s in bids], "a": [[str(p), str(s)] for p, s in asks],
            "u": u, "seq": seq}


def delta(bids=(), asks=(), u=11, seq=101):
    return {"s": "BTCUSDT", "b": [[str(p), str(s)] for p, s in bids], "a": [[str(p), str(s)] for p, s in asks],
            "u": u, "seq": seq}


def apply_snapshot(book: OrderBook, data: dict, ts: int | None = None) -> bool:
    return book.apply(book_data_update(data, True, ts))


def apply_delta(book: OrderBook, data: dict, ts: int | None = None) -> bool:
    return book.apply(book_data_update(data, False, ts))


def test_snapshot_then_deltas_upsert_delete_sorted():
    b = OrderBook()
    assert apply_snapshot(b, snap([(100, 1), (99, 2)], [(101, 3), (102, 4)]), ts=5)
    assert b.best_bid() == 100 and b.best_ask() == 101 and b.mid() == 100.5 and b.ts == 5
    # insert out of order (bids are not guaranteed sorted in a delta), update, delete
    assert apply_delta(b, delta(bids=[(98, 5), (100.5, 1), (99, 0)], asks=[(101, 7)], u=11))
    bp, bs, ap, as_ = b.top(10)
    assert bp.tolist() == [100.5, 100, 98] and bs.tolist() == [1, 1, 5]
    assert ap.tolist() == [101, 102] and as_.tolist() == [7, 4]
    assert b.u == 11 and b.seq == 101


def test_delete_of_absent_level_is_ignored():
    b = OrderBook()
    apply_snapshot(b, snap([(100, 1)], [(101, 1)]))
    assert apply_delta(b, delta(bids=[(50, 0)], asks=[(500, 0)], u=11))
    assert b.as_lists() == {"b": [[100.0, 1.0]], "a": [[101.0, 1.0]]}


def test_deltas_before_snapshot_and_stale_u_are_ignored():
    b = OrderBook()
    assert apply_delta(b, delta(bids=[(100, 1)], u=5))  # before any snapshot: ignored, no resync asked
    assert not b.ready and b.bid_count == 0 and b.ignored == 1
    apply_snapshot(b, snap([(100, 1)], [(101, 1)], u=10))
    assert apply_delta(b, delta(bids=[(100, 9)], u=10))  # u <= stored u
    assert apply_delta(b, delta(bids=[(100, 9)], u=3))
    assert b.as_lists()["b"] == [[100.0, 1.0]] and b.ignored == 3


def test_gap_in_u_asks_for_resync_and_ignores_deltas_until_a_snapshot():
    b = OrderBook()
    apply_snapshot(b, snap([(100, 1)], [(101, 1)], u=10))
    assert not apply_delta(b, delta(bids=[(100, 2)], u=12))
    assert not b.ready and b.gaps == 1
    assert apply_delta(b, delta(bids=[(100, 3)], u=13))  # ignored while not ready
    assert apply_snapshot(b, snap([(100, 4)], [(101, 1)], u=20)) and b.ready
    assert b.as_lists()["b"] == [[100.0, 4.0]]


def test_gap_check_can_be_off():
    b = OrderBook(check_gaps=False)
    apply_snapshot(b, snap([(100, 1)], [(101, 1)], u=10))
    assert apply_delta(b, delta(bids=[(100, 2)], u=15)) and b.ready


def test_crossed_book_asks_for_resync():
    b = OrderBook()
    apply_snapshot(b, snap([(100, 1)], [(101, 1)], u=10))
    assert not apply_delta(b, delta(bids=[(101.5, 1)], u=11))
    assert not b.ready and b.crossings == 1


def test_u_equal_1_is_a_restart_snapshot_even_as_delta():
    b = OrderBook()
    apply_snapshot(b, snap([(100, 1), (99, 1)], [(101, 1)], u=500))
    assert apply_delta(b, delta(bids=[(90, 1)], asks=[(95.5, 2)], u=1))
    assert b.as_lists() == {"b": [[90.0, 1.0]], "a": [[95.5, 2.0]]}
    assert b.u == 1 and b.restarts == 1
    assert apply_delta(b, delta(bids=[(91, 1)], u=2))  # continues from 1
    assert b.best_bid() == 91


def test_any_later_snapshot_replaces_the_book():
    b = OrderBook()
    apply_snapshot(b, snap([(100, 1), (99, 1)], [(101, 1)], u=10))
    apply_snapshot(b, snap([(50, 1)], [(51, 1)], u=11))
    assert b.as_lists() == {"b": [[50.0, 1.0]], "a": [[51.0, 1.0]]} and b.snapshots == 2


def test_depth_within_imbalance_and_snapshot_copies():
    b = OrderBook()
    apply_snapshot(b, snap([(100, 1), (99.5, 2), (98, 4)], [(100.5, 1), (101, 3), (103, 8)]))
    mid = b.mid()
    assert mid == 100.25
    bid, ask = b.depth_within(1.0)  # 99.2475 .. 101.2525
    assert (bid, ask) == (3.0, 4.0)
    assert b.imbalance(2) == (3 - 4) / 7
    assert b.volumes(1) == (1.0, 1.0)
    s = b.snapshot(2)
    assert isinstance(s, BookSnapshot) and s.bid_px.tolist() == [100, 99.5] and s.ask_px.tolist() == [100.5, 101]
    s.bid_px[0] = 0  # a copy
    assert b.best_bid() == 100
    assert snapshot_from_bybit(snap([(99, 1), (100, 2)], [(102, 1), (101, 1)])).bid_px.tolist() == [100, 99]


def _random_change(rng, side, price_of):
    """One random level change (insert, update, delete, or delete of an absent level), applied to
    the reference dict too."""
    p = price_of(rng.randint(0, 259))
    s = 0.0 if rng.random() < 0.4 else round(rng.uniform(0.1, 9), 3)
    if s:
        side[p] = s
    else:
        side.pop(p, None)
    return p, s


def test_random_replay_equals_a_reference_dict_book():
    """Thousands of random deltas (inserts, updates, deletes, absent deletes) against a naive
    reference: the sorted accessors always agree."""
    rng = random.Random(7)
    b = OrderBook(check_gaps=True)
    bids = {round(100 - i * 0.5, 1): 1.0 for i in range(1, 200)}
    asks = {round(100 + i * 0.5, 1): 1.0 for i in range(0, 200)}
    apply_snapshot(b, snap(sorted(bids.items(), reverse=True), sorted(asks.items()), u=1000))
    u = 1000
    for _ in range(3000):
        u += 1
        db, da = [], []
        for _ in range(rng.randint(1, 6)):
            db.append(_random_change(rng, bids, lambda n: round(100 - (n + 1) * 0.5, 1)))
            da.append(_random_change(rng, asks, lambda n: round(100 + n * 0.5, 1)))
        assert apply_delta(b, delta(db, da, u=u))
        if u % 97 == 0:
            bp, bs, ap, as_ = b.top(50)
            ref_b = sorted(bids.items(), reverse=True)[:50]
            ref_a = sorted(asks.items())[:50]
            assert list(zip(bp.tolist(), bs.tolist(), strict=True)) == ref_b
            assert list(zip(ap.tolist(), as_.tolist(), strict=True)) == ref_a
    assert b.as_lists()["b"] == [[p, s] for p, s in sorted(bids.items(), reverse=True)]


def test_fast_enough_for_every_update_of_a_1000_level_book():
    b = OrderBook()
    levels = 1000
    apply_snapshot(b, snap([(10000 - i, 1.0) for i in range(1, levels + 1)],
                          [(10000 + i, 1.0) for i in range(levels)], u=1))
    n = 2000
    t0 = time.perf_counter()
    for k in range(n):
        p = 10000 - 1 - (k % 40)
        apply_delta(b, delta(bids=[(p, 1 + k % 3), (p - 0.5, k % 2)], asks=[(10000 + (k % 40), 2)], u=k + 2))
        b.top(50)
        b.imbalance(20)
    per_update_us = (time.perf_counter() - t0) / n * 1e6
    assert per_update_us < 500, per_update_us  # typically ~30 us on the dev machine
    assert np.all(np.diff(b.top(1000)[0]) < 0)
