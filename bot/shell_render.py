"""How the shell shows Slack: Block Kit as terminal lines (mentions by name, links with their
address, every button numbered — accessories such as "Not a problem" included)."""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any


@dataclass
class Workspace:
    """The sandbox world's Slack: users, groups and channels, for names in the rendering."""

    users: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    #: The reader's zone (PASSBOT_TIMEZONE): Slack's date tokens show in it, as Slack would.
    tz: tzinfo = UTC

    @classmethod
    def of(cls, world: dict[str, Any], tz: tzinfo = UTC) -> Workspace:
        slack = world.get("slack") or {}
        return cls(
            users={u["id"]: u.get("name") or u["id"] for u in slack.get("users", [])},
            groups={g["id"]: g.get("handle") or g["id"] for g in slack.get("usergroups", [])},
            channels={c["id"]: c.get("name") or c["id"] for c in slack.get("channels", [])},
            tz=tz,
        )

    def channel_name(self, channel: str) -> str:
        if channel in self.channels:
            return "#" + self.channels[channel]
        return channel

    def text(self, mrkdwn: str) -> str:
        """Slack mrkdwn as a terminal shows it: mentions by name, links by label, unescaped."""

        def mention(match: re.Match[str]) -> str:
            return "@" + self.users.get(match.group(1), match.group(1))

        def group(match: re.Match[str]) -> str:
            return "@" + self.groups.get(match.group(1), match.group(1))

        out = re.sub(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", mention, mrkdwn)
        out = re.sub(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>", group, out)

        def date(match: re.Match[str]) -> str:
            local = datetime.fromtimestamp(int(match.group(1)), tz=self.tz)
            return local.strftime("%Y-%m-%d %H:%M" if "{time}" in match.group(2) else "%Y-%m-%d")

        out = re.sub(r"<!date\^(\d+)\^([^|>^]*)(?:\^[^|>]*)?\|[^>]*>", date, out)
        out = re.sub(r"<mailto:[^|<>]+\|([^>]*)>", r"\1", out)
        out = re.sub(r"<(https?://[^|<>]+)\|([^>]*)>", r"\2 [\1]", out)
        out = re.sub(r"<[^|<>]+\|([^>]*)>", r"\1", out)
        out = re.sub(r"<([^|<>]+)>", r"\1", out)
        return html.unescape(out)


def element_text(element: dict[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return str(text or "")


def mostly_same(before: list[str], after: list[str]) -> bool:
    """Whether an edit kept most lines (then only the changes are worth printing)."""
    kept = sum(1 for line in difflib.ndiff(before, after) if line.startswith("  "))
    return kept * 2 >= max(len(before), len(after))


def render_blocks(
    blocks: Sequence[dict[str, Any]], workspace: Workspace, *, number_from: int = 1
) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Blocks as lines of text, and their buttons in order (block id, element)."""
    lines: list[str] = []
    buttons: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {element_text(block)} ==")
        elif kind == "section":
            if block.get("text"):
                lines.extend(workspace.text(element_text(block)).splitlines())
            for item in block.get("fields") or []:
                lines.append("  " + workspace.text(element_text({"text": item})))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":  # "Not a problem", "Show": pressable too
                buttons.append((str(block.get("block_id", "")), accessory))
                lines.append(f"   [{number_from + len(buttons) - 1}] {element_text(accessory)}")
        elif kind == "context":
            parts = [workspace.text(element_text({"text": e})) for e in block.get("elements", [])]
            lines.extend("  " + line for line in " · ".join(parts).splitlines())
        elif kind == "divider":
            lines.append("- " * 30)
        elif kind == "actions":
            labels = []
            for element in block.get("elements", []):
                if element.get("type") != "button":
                    continue
                buttons.append((str(block.get("block_id", "")), element))
                labels.append(f"[{number_from + len(buttons) - 1}] {element_text(element)}")
            lines.append("   ".join(labels))
    return lines, buttons
