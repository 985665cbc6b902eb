"""whale.sorted_rows: `move` (one memmove inside a kernel) gives what numpy's slice copy gives, overlapping either
way; `lower` and `upper` find what numpy's searchsorted finds, within the row's first n values."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from whale.sorted_rows import lower, move, upper


@njit(cache=True)
def _row_move(a, s, dst, src, count):
    move(a[s], dst, src, count)


@pytest.mark.parametrize(("dst", "src", "count"), [(3, 2, 10), (2, 3, 10), (0, 5, 5), (7, 0, 13), (4, 4, 6), (1, 9, 0),
                                                   (1, 9, -3)])
def test_move_is_a_slice_copy(dst, src, count):
    a = np.arange(40.0).reshape(2, 20) * 1.5
    want = a.copy()
    if count > 0:
        want[1, dst:dst + count] = a[1, src:src + count].copy()
    _row_move(a, 1, dst, src, count)
    assert np.array_equal(a, want)  # the other row and the rest of this one untouched


def test_lower_and_upper_are_searchsorted_on_the_used_part():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 12))
        row = np.sort(rng.integers(-5, 6, 12).astype(np.float64))
        used = np.sort(row[:n])
        row[:n] = used
        row[n:] = -100.0  # the unused tail must not be looked at
        key = float(rng.integers(-7, 8))
        assert lower(row, n, key) == np.searchsorted(used, key, side="left")
        assert upper(row, n, key) == np.searchsorted(used, key, side="right")
