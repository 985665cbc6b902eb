"""The reader's fast paths give what the plain computation gives: the JSON of text records
(whale.recording.reader._json_text: the scanner's fast path for a text that is one compact value, and
everything else - whitespace around the value, extra data, no value - the full decoder's way, with its
errors), and a batch's prints (Batch.prints: the side names taken by numpy, any unknown code no side)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from whale.recording.reader import _NO_SIDE, _SIDES, _empty_batch, _json_text

VALUES = ['{"lastPrice":"60000.1","bid1Size":"1.5"}', '{"a":[1,2.5,{"b":null}],"c":true}', '{}', '[]', '"text"',
          '12.5', 'null', ' {"a":1}', '{"a":1} ', '\t{"a": 1}\n', '{"a": {"b": [1, 2]}}', '{"a":"é\\u00e9"}']
BAD = ['', ' ', '{"a":1} x', '{"a":1}{"b":2}', '{"a":', '{"a" 1}', 'x', '1 2']


@pytest.mark.parametrize("text", VALUES)
def test_the_value_is_json_loads(text: str) -> None:
    assert _json_text(text) == json.loads(text)
    assert type(_json_text(text)) is type(json.loads(text))


@pytest.mark.parametrize("text", BAD)
def test_a_bad_text_fails_as_json_loads_does(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        _json_text(text)
    assert (got.value.msg, got.value.pos) == (expected.value.msg, expected.value.pos)


def test_prints_name_each_side_as_the_side_table_does():
    b = _empty_batch("BTCUSDT", Path("x"), 1)
    codes = [1, -1, 0, 2, -2, 3, -3, 7, -9, 1]
    b.t_side = np.array(codes, dtype=np.int64)
    b.t_ts = np.arange(len(codes), dtype=np.int64) + 1_000
    b.t_px = np.linspace(100.0, 101.0, len(codes))
    b.t_sz = np.linspace(0.5, 1.5, len(codes))
    expected = [(1_000 + i, _SIDES.get(c, _NO_SIDE)[0], float(b.t_sz[i]), float(b.t_px[i]))
                for i, c in enumerate(codes)]
    assert b.prints() == expected
    assert [p[1] for p in b.prints()] == ["Buy", "Sell", "", "Buy", "Sell", "", "", "", "", "Buy"]
    assert all(type(p[0]) is int and type(p[1]) is str for p in b.prints())
