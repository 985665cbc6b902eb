"""Book levels as Bybit's wire writes them, shared by the candle replay's and the recording's markets."""

from __future__ import annotations

from typing import Any


class WireLevels:
    """levels()/format_levels() for a market with `book` (levels(): bid ticks, sizes, ask ticks, sizes)
    and `inst` (price_text, qty_text)."""

    book: Any
    inst: Any

    def levels(self, depth: int) -> tuple[list[list[str]], list[list[str]]]:
        bids, bsz, asks, asz = self.book.levels()
        return self.format_levels(bids[:depth], bsz[:depth]), self.format_levels(asks[:depth], asz[:depth])

    def format_levels(self, ticks, sizes) -> list[list[str]]:
        pt, qt = self.inst.price_text, self.inst.qty_text
        ticks = ticks.tolist() if hasattr(ticks, "tolist") else ticks
        sizes = sizes.tolist() if hasattr(sizes, "tolist") else sizes
        return [[pt(t), qt(s)] for t, s in zip(ticks, sizes, strict=True)]
