"""The journal's format versions and the chain that brings an older file up to FORMAT_VERSION.

One function per format step, applied in order on load. A new format version adds
FORMAT_VERSION + 1, one function `_vN_to_vN1(doc) -> doc` and its entry in MIGRATIONS, and a
fixture written by the release before it (tests/fixtures/journal/vN/). Readers use
`migrations.FORMAT_VERSION` (the module attribute), never a copy of it.
"""

from __future__ import annotations

from collections.abc import Callable

FORMAT_VERSION = 3


def _v1_to_v2(doc: dict) -> dict:
    """v2 adds pending entries (status `pending`: journaled before the order is sent) and the safety
    monitor's state (`safety`). A v1 file has neither: its trades stay exactly as they were."""
    out = dict(doc)
    out["version"] = 2
    out.setdefault("safety", {})
    return out


def _v2_to_v3(doc: dict) -> dict:
    """v3 is one journal for the account (every symbol): the header's `symbol` (its last writer's one
    symbol) becomes `symbols`, and the paper wallet's one position becomes a position per symbol
    (`positions`, `funding_from_ms` per symbol, each kept fill with its symbol). The trades already
    carry their symbol and stay exactly as they were; the safety state is the account's as it was."""
    out = dict(doc)
    out["version"] = 3
    symbol = out.pop("symbol", None)
    if not symbol:  # a v2 file always names its writer's symbol; else its newest trade's
        symbol = next((t.get("symbol") for t in reversed(out.get("trades") or []) if isinstance(t, dict)), None)
    out["symbols"] = [symbol] if symbol else []
    out["paper_state"] = _paper_state_v3(out.get("paper_state") or {}, symbol)
    return out


def _paper_state_v3(state: dict, symbol: str | None) -> dict:
    """The v2 paper wallet (one symbol's position) as the v3 paper account."""
    if not isinstance(state, dict) or not state:
        return state
    out = {k: v for k, v in state.items() if k not in ("position", "funding_from_ms")}
    position, funding = state.get("position"), state.get("funding_from_ms")
    if (position or funding is not None or state.get("last_exits") or state.get("last_entries")) and not symbol:
        raise ValueError("paper_state: a position or fill of the paper wallet, but no symbol in the file to give it")
    out["positions"] = {symbol: dict(position, position_idx=position.get("position_idx", 0))} if position else {}
    out["funding_from_ms"] = {symbol: funding} if funding is not None else {}
    out["last_exits"] = [dict(e, symbol=e.get("symbol", symbol)) for e in state.get("last_exits") or []]
    out["last_entries"] = [dict(e, symbol=e.get("symbol", symbol)) for e in state.get("last_entries") or []]
    return out


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2, 2: _v2_to_v3}


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
