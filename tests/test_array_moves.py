"""whale.array_moves.move: one memmove inside a kernel gives what numpy's slice copy gives, overlapping either way."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from whale.array_moves import move


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
