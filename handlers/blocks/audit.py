"""`/passaudit`: the fixes passbot applied, newest first, with who approved them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from core.ports import AuditEntry
from handlers.blocks.kit import Message, code, escape, header, message, section, summarised

SHOWN_ENTRIES = 20


def audit_line(entry: AuditEntry, tz: tzinfo) -> str:
    """One applied fix."""
    who = f"<@{escape(entry.actor)}>" if entry.source == "slack" else escape(entry.actor)
    email = f" ({escape(entry.actor_email)})" if entry.actor_email else ""
    docs = ", ".join(code(d) for d in entry.documents[:3])
    if len(entry.documents) > 3:
        docs += f" and {len(entry.documents) - 3} more"
    return (
        f"• #{entry.id} {entry.at.astimezone(tz).strftime('%Y-%m-%d %H:%M')} · {who}{email} "
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
