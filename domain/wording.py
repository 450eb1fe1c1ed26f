"""Small pieces of wording every card and report shares."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 participant', '2 participants' (or the plural given: '2 people')."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"
