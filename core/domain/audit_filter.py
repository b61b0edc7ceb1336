"""`/passaudit [email | @user | N days]`: which audit entries a person asked for (pure)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from core.domain.models import JSON
from core.errors import UsageError


class AuditEntry(Protocol):
    """What the filter reads of an audit entry (core.ports.AuditEntry has it)."""

    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def documents(self) -> tuple[str, ...]: ...
    @property
    def id(self) -> int | None: ...


#: Entries on one page ("next 20").
PAGE = 20
USAGE = "usage: /passaudit [email | @user | N days]"

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_DAYS = re.compile(r"(\d{1,4})\s*(?:d|days?)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Nothing (every entry), one approver, one customer (by email), or the last N days."""

    text: str = ""
    actor: str | None = None
    email: str | None = None
    days: int | None = None

    @property
    def label(self) -> str:
        """How the filter reads on the answer."""
        if self.actor:
            return f"approved by <@{self.actor}>"
        if self.email:
            return f"for {self.email}"
        if self.days:
            return f"in the last {self.days} days"
        return ""


def parse_audit_filter(text: str) -> AuditFilter:
    """What follows `/passaudit`.

    Raises:
        UsageError: anything but nothing, an email, a user mention or a number of days.
    """
    value = " ".join((text or "").split())
    if not value:
        return AuditFilter()
    if mention := _MENTION.fullmatch(value):
        return AuditFilter(value, actor=mention.group(1))
    if (days := _DAYS.fullmatch(value)) and 1 <= int(days.group(1)) <= 3660:
        return AuditFilter(value, days=int(days.group(1)))
    if "@" in value and not value.startswith("@"):
        return AuditFilter(value, email=value)
    raise UsageError(f"{USAGE} — got {value[:40]!r}")


E = TypeVar("E", bound=AuditEntry)


def select(
    entries: Sequence[E],
    wanted: AuditFilter,
    *,
    now: datetime,
    documents: Collection[str] = (),
) -> list[E]:
    """The entries the filter keeps, newest first. `documents`: for an email filter, the
    customer's subscriptions (and users): an entry that wrote any of them is theirs."""
    out = []
    for entry in entries:
        if wanted.actor and entry.actor != wanted.actor:
            continue
        if wanted.days and entry.at < now - timedelta(days=wanted.days):
            continue
        if wanted.email and not set(entry.documents) & set(documents):
            continue
        out.append(entry)
    return sorted(out, key=lambda e: (e.at, e.id or 0), reverse=True)


@dataclass(frozen=True, slots=True)
class AuditPage(Generic[E]):
    """One page of the filtered audit, and where the next one starts (None: the last)."""

    filter: AuditFilter
    entries: tuple[E, ...]
    offset: int
    total: int

    @property
    def next_offset(self) -> int | None:
        """The next page's first entry, if there is one."""
        after = self.offset + len(self.entries)
        return after if after < self.total else None

    def to_json(self) -> JSON:
        """As JSON (ids and counts: what the page shows)."""
        return {
            "filter": self.filter.text,
            "offset": self.offset,
            "total": self.total,
            "entries": [e.id for e in self.entries],
        }


def page_of(selected: Sequence[E], wanted: AuditFilter, offset: int) -> AuditPage[E]:
    """The page starting at `offset` (clamped to what exists)."""
    start = max(0, min(offset, len(selected)))
    return AuditPage(wanted, tuple(selected[start : start + PAGE]), start, len(selected))
