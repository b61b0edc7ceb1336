"""A finding on a card, with its "Not a problem" button; the modal that asks why; the card once
it is dismissed. Shared by the /fixpass card, the summaries and the early warning."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from core.domain.findings import Finding
from core.usecases.feedback import MAX_REASON, Dismissal
from handlers.blocks.kit import (
    MAX_SECTION_TEXT,
    Block,
    Message,
    View,
    button,
    code,
    context,
    escape,
    message,
    modal,
    section,
    text_input,
    truncate,
)
from handlers.ids import (
    ActionId,
    BlockId,
    CallbackId,
    InputId,
    finding_block_id,
    fix_block_id,
    fix_note_block_id,
)
from handlers.payloads import DismissMeta, DismissValue


def finding_ref(key: str) -> str:
    """A short, stable reference to a finding for block ids (keys can be long)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def dismiss_button(finding: Finding, *, fix: str | None) -> dict[str, Any]:
    """ "Not a problem": opens a form asking why (anyone may say so; who and why are shown)."""
    return button(
        "Not a problem",
        action_id=ActionId.FINDING_DISMISS,
        value=DismissValue.make(finding.key, fix=fix).encode(),
    )


def finding_section(text: str, finding: Finding, *, fix: str | None, seen: set[str]) -> Block:
    """The finding's section with its "Not a problem" button beside it. A finding whose key is
    already on the message (`seen`) gets neither a block id nor a second button."""
    ref = finding_ref(finding.key)
    if ref in seen:
        return section(text)
    seen.add(ref)
    return section(text, block_id=finding_block_id(ref), accessory=dismiss_button(finding, fix=fix))


# ----------------------------------------------------------------------------- the modal


def build_dismiss_modal(meta: DismissMeta, *, about: str) -> View:
    """ "Why is this not a problem?": one required text, the finding it is about above it."""
    blocks = [
        section(truncate(about, MAX_SECTION_TEXT)),
        text_input(
            "Why is this not a problem?",
            block_id=BlockId.DISMISS_REASON,
            action_id=InputId.DISMISS_REASON,
            placeholder="e.g. the school gave this customer the pass by hand",
            multiline=True,
            min_length=3,
            max_length=MAX_REASON,
        ),
        context(
            "Recorded with your name and shown on the card. It leaves the summaries and counts "
            "as a false positive in /passstats."
        ),
    ]
    return modal(
        "Not a problem?",
        blocks,
        callback_id=CallbackId.DISMISS,
        submit="Dismiss",
        private_metadata=meta.encode(),
    )


def section_text(blocks: Sequence[Block], block_id: str) -> str:
    """The text of the section with this block id on a card ("" when it is not there)."""
    for block in blocks:
        if block.get("block_id") == block_id and block.get("type") == "section":
            return str((block.get("text") or {}).get("text") or "")
    return ""


# ----------------------------------------------------------------------------- dismissed


def dismissed_line(dismissal: Dismissal, tz: tzinfo) -> str:
    """ "🙈 Not a problem — dismissed by <@U…> at 09:14: “why”"."""
    when = dismissal.at.astimezone(tz).strftime("%H:%M")
    return (
        f"🙈 Not a problem — dismissed by <@{escape(dismissal.by)}> at {when}: "
        f"“{escape(dismissal.reason)}”"
    )


def build_card_dismissed(
    blocks: Sequence[Block], block_id: str, dismissal: Dismissal, *, fix: str | None, tz: tzinfo
) -> Message:
    """The card once a finding is dismissed: its "Not a problem" and approve buttons gone, and
    who dismissed it and why in their place."""
    ref = block_id.split(":", 1)[1] if ":" in block_id else block_id
    note_id = fix_note_block_id(fix or ref)
    fix_id = fix_block_id(fix) if fix else None
    line = dismissed_line(dismissal, tz)
    status = context(line, block_id=note_id)
    has_fix = fix_id is not None and any(b.get("block_id") == fix_id for b in blocks)
    out: list[Block] = []
    placed = False
    for block in blocks:
        bid = block.get("block_id")
        if bid == note_id:
            continue
        if fix_id is not None and bid == fix_id:
            out.append(status)
            placed = True
            continue
        if bid == block_id:
            out.append({k: v for k, v in block.items() if k != "accessory"})
            if not has_fix:
                out.append(status)
                placed = True
            continue
        out.append(block)
    if not placed:
        out.append(status)
    return message(line, out)


def build_dismissed_note(dismissal: Dismissal, *, tz: tzinfo) -> Message:
    """A reply saying a finding was dismissed, when its card cannot be updated."""
    line = f"{dismissed_line(dismissal, tz)} · {code(dismissal.key)}"
    return message(line, [section(line)])
