"""FeatureBuffer's extra rows: added in one copy, NaN until written, a known name given back."""

import numpy as np

from whale.strategy.buffer import FeatureBuffer


def test_extra_rows_are_added_at_once_and_known_names_come_back():
    buf = FeatureBuffer(("open", "close"), [], capacity=8)
    buf.X[:, :] = 1.0
    first = buf.add_rows(["a", "b", "a"])
    assert first == [2, 3, 2]
    assert buf.X.shape == (4, buf.capacity)
    assert np.isnan(buf.X[2:]).all() and (buf.X[:2] == 1.0).all()  # the old rows kept, the new ones NaN
    assert buf.add_row("b") == 3 and buf.add_rows(["close", "c"]) == [1, 4]
    assert buf.X.shape[0] == 5 and buf.rows["c"] == 4
