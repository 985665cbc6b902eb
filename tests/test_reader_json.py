"""The reader's JSON of text records (whale.recording.reader._json_text): the scanner's fast path for a
text that is one compact value gives what json.loads gives, and everything else (whitespace around the
value, extra data, no value) goes the full decoder's way, with its errors."""

from __future__ import annotations

import json

import pytest

from whale.recording.reader import _json_text

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
