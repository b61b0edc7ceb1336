"""What people read, cleaned at the edge: no internal failure-mode codes (FM-xx), and times as
each reader lives them — Slack date tokens in Slack, PASSBOT_TIMEZONE (named once) in text.

The core writes its sentences with UTC times ("on 2026-11-27 12:00 UTC"), which is right for
logs and JSON; every message and every text output passes through here on its way to a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from handlers.blocks.refs import zone_name

_FM_ITEM = r"(?:see\s+)?FM-\d+(?:\s*/\s*\d+)*"
_PAREN = re.compile(r"[ \t]*\(([^()]*FM-\d[^()]*)\)")
_BARE = re.compile(r"(?:[ \t]*[,;]?[ \t]*)\b" + _FM_ITEM + r"(?:'s)?\b:?")
_STAMP = re.compile(r"(?<!\|)\b(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})?(?: ?UTC|Z)(?![\w|])")


def strip_codes(text: str) -> str:
    """The text without FM-xx codes: "(FM-09)" goes, "(§7.4, FM-27)" keeps "(§7.4)"."""
    if "FM-" not in text:
        return text

    def paren(match: re.Match[str]) -> str:
        parts = [p for p in re.split(r"\s*[,;]\s*", match.group(1)) if p.strip()]
        kept = [p for p in parts if not re.fullmatch(_FM_ITEM, p.strip())]
        rest = re.sub(_FM_ITEM, "", ", ".join(kept)).strip(" ,;")
        return f" ({rest})" if rest else ""

    return _BARE.sub("", _PAREN.sub(paren, text))


def _instant(match: re.Match[str]) -> datetime:
    return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}").replace(tzinfo=UTC)


def slack_text(text: str) -> str:
    """For Slack's mrkdwn: codes stripped, each UTC time a date token (the reader's own zone;
    the UTC time is the fallback)."""

    def token(match: re.Match[str]) -> str:
        stamp = int(_instant(match).timestamp())
        return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{match.group(0)}>"

    return _STAMP.sub(token, strip_codes(text))


def local_text(text: str, tz: tzinfo) -> str:
    """For a terminal: codes stripped, each UTC time in `tz`; the zone is named once, on the
    first line, unless the text already names it."""
    converted = [False]

    def local(match: re.Match[str]) -> str:
        converted[0] = True
        return _instant(match).astimezone(tz).strftime("%Y-%m-%d %H:%M")

    out = _STAMP.sub(local, strip_codes(text))
    label = f"times in {zone_name(tz, datetime.now(tz=UTC))}"
    if converted[0] and label not in out:
        first, sep, rest = out.partition("\n")
        out = f"{first}  ({label}){sep}{rest}"
    return out


def for_slack(value: Any) -> Any:
    """A message, view or block list with every mrkdwn text passed through `slack_text` and
    every other string through `strip_codes` (plain text cannot hold date tokens)."""
    if isinstance(value, str):
        return strip_codes(value)
    if isinstance(value, list):
        return [for_slack(v) for v in value]
    if isinstance(value, Mapping):
        out = {k: for_slack(v) for k, v in value.items() if k not in ("value", "url")}
        out.update({k: value[k] for k in ("value", "url") if k in value})
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            out["text"] = slack_text(value["text"])
        return out
    return value
