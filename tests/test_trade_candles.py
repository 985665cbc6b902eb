"""Candles from trade prints (whale/market/trade_candles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from whale.market.intervals import MINUTE_MS
from whale.market.resample import resample
from whale.market.trade_candles import trade_candles

T0 = 1_748_736_000_000  # 2025-06-01 00:00 UTC, a Sunday


def prints(*rows):
    ts, px, sz = zip(*rows, strict=True)
    return np.array(ts), np.array(px), np.array(sz)


def test_ohlcv_and_turnover_of_each_minute():
    tc = trade_candles(*prints((T0 + 5, 100.0, 1.0), (T0 + 20_000, 103.0, 0.5), (T0 + 59_999, 99.0, 2.0),
                               (T0 + MINUTE_MS, 98.5, 1.0), (T0 + MINUTE_MS + 1, 99.5, 0.25)))
    c = tc.candles
    assert c.ts.tolist() == [T0, T0 + MINUTE_MS] and c.interval == "1"
    assert (c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist()) == \
        ([100.0, 98.5], [103.0, 99.5], [99.0, 98.5], [99.0, 99.5])
    assert c.volume.tolist() == [3.5, 1.25]
    assert tc.turnover.tolist() == pytest.approx([100.0 + 51.5 + 198.0, 98.5 + 24.875])
    assert tc.prints.tolist() == [3, 2]


def test_a_minute_without_prints_is_flat_at_the_close_before_it():
    c = trade_candles(*prints((T0 + 10, 100.0, 1.0), (T0 + 30, 101.0, 1.0),
                              (T0 + 3 * MINUTE_MS + 7, 105.0, 2.0))).candles
    assert c.ts.tolist() == [T0 + k * MINUTE_MS for k in range(4)]
    assert c.close.tolist() == [101.0, 101.0, 101.0, 105.0]
    assert c.open.tolist()[1:3] == c.high.tolist()[1:3] == c.low.tolist()[1:3] == [101.0, 101.0]
    assert c.volume.tolist() == [2.0, 0.0, 0.0, 2.0]


def test_open_and_close_follow_the_recordings_order_and_a_late_print_joins_its_candle():
    """Bybit's order is its sequence: within a candle the first print recorded opens it even if
    stamped a millisecond later; a print stamped in the minute before belongs there."""
    c = trade_candles(*prints((T0 + 100, 100.0, 1.0), (T0 + 99, 102.0, 1.0), (T0 + MINUTE_MS + 5, 90.0, 1.0),
                              (T0 + 59_000, 95.0, 1.0))).candles
    assert c.open.tolist() == [100.0, 90.0]
    assert c.close.tolist() == [95.0, 90.0]
    assert c.low.tolist() == [95.0, 90.0] and c.volume.tolist() == [3.0, 1.0]


def test_the_window_bounds_the_candles_and_fills_to_its_end():
    ts, px, sz = prints((T0 - 5, 90.0, 1.0), (T0 + 10, 100.0, 1.0), (T0 + MINUTE_MS + 10, 101.0, 1.0),
                        (T0 + 5 * MINUTE_MS, 120.0, 1.0))
    c = trade_candles(ts, px, sz, start_ms=T0 + 30_000, end_ms=T0 + 4 * MINUTE_MS).candles
    assert c.ts.tolist() == [T0 + k * MINUTE_MS for k in range(4)]
    assert c.close.tolist() == [100.0, 101.0, 101.0, 101.0]
    assert c.volume.sum() == 2.0


def test_candles_before_the_first_print_need_the_price_before_it():
    ts, px, sz = prints((T0 + 2 * MINUTE_MS + 1, 100.0, 1.0))
    assert len(trade_candles(ts, px, sz, start_ms=T0)) == 1
    c = trade_candles(ts, px, sz, start_ms=T0, prev_close=99.0).candles
    assert c.close.tolist() == [99.0, 99.0, 100.0] and c.volume.tolist() == [0.0, 0.0, 1.0]


def test_no_prints():
    empty = np.zeros(0)
    assert len(trade_candles(empty, empty, empty)) == 0
    c = trade_candles(empty, empty, empty, start_ms=T0, end_ms=T0 + 2 * MINUTE_MS, prev_close=5.0).candles
    assert c.close.tolist() == [5.0, 5.0] and c.volume.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("interval", ["3", "5", "15", "60", "240", "D", "W", "M"])
def test_any_interval_is_the_minutes_resampled(interval):
    """With prints in every minute (a flat minute opens at the close before it, a longer candle at
    its first print, so the two differ only where a candle's first minute has none)."""
    rng = np.random.default_rng(3)
    n = 80 * 86_400 // 20
    ts = T0 - 40 * 86_400_000 + np.arange(n) * 20_000 + rng.integers(0, 20_000, n)
    px = np.round(100 + np.cumsum(rng.normal(0, 0.2, n)), 1)
    sz = np.round(rng.uniform(0.001, 2.0, n), 3)
    direct = trade_candles(ts, px, sz, interval).candles
    via_minutes = resample(trade_candles(ts, px, sz, "1").candles, interval)
    common, a, b = np.intersect1d(direct.ts, via_minutes.ts, return_indices=True)
    assert len(common) >= len(via_minutes) and len(common) >= len(direct) - 2  # resample drops partial edges
    for name in ("open", "high", "low", "close"):
        assert getattr(direct, name)[a].tolist() == getattr(via_minutes, name)[b].tolist(), name
    assert direct.volume[a] == pytest.approx(via_minutes.volume[b])


def test_lengths_must_match():
    with pytest.raises(ValueError, match="same length"):
        trade_candles(np.zeros(2), np.zeros(3), np.zeros(2))
