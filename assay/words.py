"""Counts in words that agree: ``1 record``, ``2 records``, ``1 day``, ``0 resources gone``."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun`, singular for exactly one; `plural` where adding "s" is wrong."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
