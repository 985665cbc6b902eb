"""The journal's format versions and the chain that brings an older file up to FORMAT_VERSION.

One function per format step, applied in order on load. A new format version adds
FORMAT_VERSION + 1, one function `_vN_to_vN1(doc) -> doc` and its entry in MIGRATIONS, and a
fixture written by the release before it (tests/fixtures/journal/vN/). Readers use
`migrations.FORMAT_VERSION` (the module attribute), never a copy of it.
"""

from __future__ import annotations

from collections.abc import Callable

FORMAT_VERSION = 2


def _v1_to_v2(doc: dict) -> dict:
    """v2 adds pending entries (status `pending`: journaled before the order is sent) and the safety
    monitor's state (`safety`). A v1 file has neither: its trades stay exactly as they were."""
    out = dict(doc)
    out["version"] = 2
    out.setdefault("safety", {})
    return out


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


def migrate(doc: dict) -> dict:
    """The document brought from its version up to FORMAT_VERSION, one step at a time."""
    version = doc["version"]
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ValueError(f"no migration from format version {version}")
        doc = step(doc)
        if doc.get("version") != version + 1:
            raise AssertionError(f"the migration from version {version} must produce version {version + 1}")
        version += 1
    return doc
