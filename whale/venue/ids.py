"""Client order ids (Bybit's orderLinkId): every order the bot sends carries a fresh one, recorded
before it is sent, so an order whose outcome is unknown is looked up by it, never sent again
(docs/architecture.md, principle 4)."""

from __future__ import annotations

import itertools
import re
import secrets
import time

import numpy as np

LINK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")  # what Bybit (and most venues) accept
_link_counter = itertools.count()


def new_link_id(purpose: str = "order") -> str:
    """A fresh client order id: "wb-" + purpose (letters/digits, at most 8) + time (base 36 ms) + a
    process counter + 32 random bits; at most 36 characters of [A-Za-z0-9_-], unique forever."""
    code = re.sub(r"[^A-Za-z0-9]", "", purpose)[:8] or "order"
    stamp = np.base_repr(time.time_ns() // 1_000_000, 36).lower()
    count = np.base_repr(next(_link_counter) % (36 ** 3), 36).lower().rjust(3, "0")
    return f"wb-{code}-{stamp}{count}-{secrets.token_hex(4)}"


def check_link_id(link_id: str) -> str:
    if not isinstance(link_id, str) or not LINK_ID_RE.match(link_id):
        raise ValueError(f"orderLinkId {link_id!r}: at most 36 characters of [A-Za-z0-9_-]")
    return link_id
