"""The journal file's content (JournalData) and its JSON text: Decimals as strings, never floats,
no NaN or infinity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from whale.journal import migrations
from whale.journal.records import TradeRecord, decimal_text

_DOC_KEYS = ("version", "symbols", "network", "mode", "updated", "trades", "paper_state", "safety")


@dataclass
class JournalData:
    """The whole file: one account's journal. `symbols` / `network` / `mode` / `updated` describe its
    last writer (each trade carries its own symbol, network and mode); `paper_state` belongs to the
    paper account (a position per symbol), `safety` to the account's safety monitor
    (whale.risk.safety; it names the network and mode it belongs to)."""

    symbols: list[str] = field(default_factory=list)
    network: str | None = None
    mode: str | None = None
    updated: str | None = None
    trades: list[TradeRecord] = field(default_factory=list)
    paper_state: dict = field(default_factory=dict)
    safety: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return self._doc([t.to_json() for t in self.trades])

    def _doc(self, trades: list | None) -> dict:
        return {"version": migrations.FORMAT_VERSION, "symbols": list(self.symbols), "network": self.network,
                "mode": self.mode,
                "updated": self.updated, "trades": trades,
                "paper_state": self.paper_state, "safety": self.safety}

    @classmethod
    def from_json(cls, doc: Any) -> JournalData:
        if not isinstance(doc, dict):
            raise ValueError(f"the file must hold a JSON object, not {type(doc).__name__}")
        unknown = sorted(set(doc) - set(_DOC_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}")
        for key in ("network", "mode", "updated"):
            if doc.get(key) is not None and not isinstance(doc[key], str):
                raise ValueError(f"{key}: a string is needed, got {doc[key]!r}")
        symbols = doc.get("symbols") or []
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise ValueError(f"symbols: a list of strings is needed, got {symbols!r}")
        trades = doc.get("trades", [])
        if not isinstance(trades, list):
            raise ValueError("trades: a list is needed")
        records, seen = [], set()
        for n, raw in enumerate(trades):
            try:
                record = TradeRecord.from_json(raw)
            except ValueError as exc:
                label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
                raise ValueError(f"trades[{n}]" + (f" ({label})" if label else "") + f": {exc}") from exc
            if record.id in seen:
                raise ValueError(f"trades[{n}]: the id {record.id!r} is used twice")
            seen.add(record.id)
            records.append(record)
        paper_state = doc.get("paper_state", {})
        if paper_state is None:
            paper_state = {}
        if not isinstance(paper_state, dict):
            raise ValueError("paper_state: a JSON object is needed")
        safety = doc.get("safety") or {}
        if not isinstance(safety, dict):
            raise ValueError("safety: a JSON object is needed")
        return cls(list(symbols), doc.get("network"), doc.get("mode"), doc.get("updated"), records, paper_state,
                   safety)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return decimal_text(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be stored in the journal: {value!r}")


_OPTIONS: dict[str, Any] = {"indent": 2, "ensure_ascii": False, "allow_nan": False, "default": _json_default}


def encode(doc: Any) -> str:
    """JSON text of the journal (Decimals as strings, no NaN or infinity)."""
    return json.dumps(doc, **_OPTIONS) + "\n"


def _nested(text: str, level: int) -> str:
    """JSON text made at the top level, as it reads `level` levels deep (json indents each line by 2 a level;
    a JSON string never holds a raw newline)."""
    return text.replace("\n", "\n" + "  " * level)


class JournalText:
    """`encode(data.to_json())` of successive saves, each trade's text kept while its record is the same
    object (a TradeRecord is immutable: the tracker replaces it on every change). A save then encodes the
    trades that changed, not the whole history again: backtest --book saves thousands of times a day, and
    each save used to cost every trade ever closed."""

    def __init__(self) -> None:
        self._trades: dict[str, tuple[TradeRecord, str]] = {}

    def __call__(self, data: JournalData) -> str:
        kept: dict[str, tuple[TradeRecord, str]] = {}
        parts = []
        for t in data.trades:
            got = self._trades.get(t.id)
            if got is None or got[0] is not t:
                got = (t, _nested(json.dumps(t.to_json(), **_OPTIONS), 2))
            kept[t.id] = got
            parts.append(got[1])
        self._trades = kept
        trades = "[\n    " + ",\n    ".join(parts) + "\n  ]" if parts else "[]"
        items = [f"  {json.dumps(k, ensure_ascii=False)}: "
                 f"{trades if k == 'trades' else _nested(json.dumps(v, **_OPTIONS), 1)}"
                 for k, v in data._doc(None).items()]
        return "{\n" + ",\n".join(items) + "\n}\n"
