"""Fulfilment as counts (pure): "10,007 of 10,012 — 5 missing", never a rate rounded up to
100.0 % while some are missing (issue 11)."""

from __future__ import annotations


def of_total(part: int, whole: int, *, short: str = "missing") -> str:
    """`part` of `whole`, and how many fall short, with thousands separators.

    Args:
        short: what the ones that fall short are ("missing", "late or missing").
    """
    if whole <= 0:
        return "none"
    text = f"{part:,} of {whole:,}"
    if part < whole:
        text += f" — {whole - part:,} {short}"
    return text
