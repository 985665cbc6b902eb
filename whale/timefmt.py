"""UTC time as the project writes it: `YYYY-MM-DDTHH:MM:SS.mmmZ` strings and epoch milliseconds.

The journal, the brokers and the position manager exchange times in these two forms; one
conversion keeps them identical everywhere.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np


def iso_utc(value: Any) -> str:
    """A UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, from epoch milliseconds (int), an aware datetime
    or an ISO 8601 string with an offset (or `Z`). Naive times are refused: their zone is a guess."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, np.integer)):
        when = datetime.datetime.fromtimestamp(int(value) / 1000, datetime.UTC)
    elif isinstance(value, datetime.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    else:
        raise ValueError(f"not a time: {value!r}")
    if when.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r} (give UTC, e.g. '2025-01-01T00:00:00Z')")
    when = when.astimezone(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def epoch_ms(iso: str) -> int:
    """The inverse of iso_utc: milliseconds since the epoch."""
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)

