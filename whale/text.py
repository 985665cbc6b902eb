"""Small wording helpers for what the bot prints (counts with the right plural)."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 trade', '2 trades', '0 trades'; `many` for an irregular plural."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
