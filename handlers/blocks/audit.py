"""`/passaudit`: the fixes passbot applied, newest first, with who approved them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from core.domain.audit_filter import PAGE, AuditPage
from core.domain.links import Links
from core.ports import AuditEntry
from handlers.blocks.kit import (
    Block,
    Message,
    actions,
    button,
    code,
    escape,
    header,
    line_sections,
    message,
    section,
    summarised,
)
from handlers.blocks.refs import link, slack_time
from handlers.ids import ActionId, BlockId
from handlers.payloads import AuditNextValue

SHOWN_ENTRIES = 20


def _doc_link(doc_id: str, links: Links | None) -> str:
    if links is None:
        return code(doc_id)
    kind = "user" if doc_id.startswith("user-") else "subscription"
    return link(links.studio(doc_id, kind), doc_id)


def audit_line(entry: AuditEntry, tz: tzinfo, links: Links | None = None) -> str:
    """One applied fix, each document it wrote linked to Studio (with `links`)."""
    who = f"<@{escape(entry.actor)}>" if entry.source == "slack" else escape(entry.actor)
    email = f" ({escape(entry.actor_email)})" if entry.actor_email else ""
    docs = ", ".join(_doc_link(d, links) for d in entry.documents[:3])
    if len(entry.documents) > 3:
        docs += f" and {len(entry.documents) - 3} more"
    return (
        f"• #{entry.id} {slack_time(entry.at, tz)} · {who}{email} "
        f"via {escape(entry.source)} · {escape(entry.action)} "
        f"{code(entry.session) if entry.session else ''} → {docs}"
    )


def build_audit_log(entries: Sequence[AuditEntry], *, tz: tzinfo) -> Message:
    """Recent audit entries ("first 20 of 87" when there are more)."""
    if not entries:
        return message("No fixes applied yet.", [section("No fixes applied yet.")])
    lines = [audit_line(e, tz) for e in entries]
    blocks = [
        header("Recent fixes"),
        *summarised(
            lines,
            shown=SHOWN_ENTRIES,
            title=f"*{len(lines)} {'fix' if len(lines) == 1 else 'fixes'}*",
            more="entries",
        ),
    ]
    return message(f"{len(lines)} recent fixes", blocks)


def build_audit_page(page: AuditPage[AuditEntry], *, tz: tzinfo, links: Links) -> Message:
    """One page of `/passaudit [filter]`: each entry linked to what it wrote, and "Next 20"
    while there are more."""
    label = page.filter.label
    if not page.total:
        text = f"No fixes applied{' ' + label if label else ' yet'}."
        return message(text, [section(text if page.filter.actor else escape(text))])
    first, last = page.offset + 1, page.offset + len(page.entries)
    title = (
        f"*Fixes {label}* — {first}–{last} of {page.total}"
        if label
        else (f"*Fixes* — {first}–{last} of {page.total}")
    )
    blocks: list[Block] = [
        header("Recent fixes"),
        *line_sections([audit_line(e, tz, links) for e in page.entries], title=title),
    ]
    if page.next_offset is not None:
        value = AuditNextValue.make(page.filter.text, page.next_offset).encode()
        more = min(PAGE, page.total - page.next_offset)
        blocks.append(
            actions(
                button(f"Next {more}", action_id=ActionId.AUDIT_NEXT, value=value),
                block_id=BlockId.AUDIT_NEXT.value,
            )
        )
    return message(f"{page.total} fixes {label}".strip(), blocks)
