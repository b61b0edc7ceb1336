"""Use case `diagnose`: everything about one customer — what `/fixpass EMAIL` shows."""

from __future__ import annotations

import asyncio
import re

from core.domain.diagnose import Diagnosis
from core.domain.diagnose import diagnose as judge_customer
from core.domain.identity import normalise_email
from core.domain.models import Booking
from core.errors import UsageError
from core.ports import Related, UserDirectory
from core.usecases.reading import Reader, facts_from


async def diagnose(
    reader: Reader,
    users: UserDirectory,
    email: str,
    *,
    days: int | None = None,
    actor: str | None = None,
) -> Diagnosis:
    """The customer's users, Clerk accounts, purchases, passes and findings.

    Raises:
        UsageError: the text is not one email address.
    """
    address = parse_email(email)
    window = reader.window(days)
    catalogue, clerk_users = await asyncio.gather(reader.catalogue(), users.users_by_email(address))
    clerk_ids = sorted({c.id for c in clerk_users})

    async def customer_and_bookings() -> tuple[Related, set[str], list[Booking]]:
        customer = await reader.passes.customer(address, clerk_ids=clerk_ids)
        known_ids = set(clerk_ids) | {u.clerk_id for u in customer.users if u.clerk_id}
        refs = sorted({u.id for u in customer.users} | known_ids)
        return customer, known_ids, (await reader.passes.bookings(refs) if refs else [])

    # The Sanity reads need only the Clerk ids: they run while the accounts are scanned.
    (customer, known_ids, bookings), (sessions, scans) = await asyncio.gather(
        customer_and_bookings(), reader.scan(reader.accounts_of(catalogue), window)
    )
    wanted = normalise_email(address)
    mine = [s for s in sessions if s.user_id in known_ids or normalise_email(s.email) == wanted]
    related = [customer, await reader.related_to(mine)]
    facts = facts_from(catalogue, mine, scans, related, bookings=bookings)
    return judge_customer(
        address, facts, clerk_users=clerk_users, now=window.end, window=window, actor=actor
    )


#: Slack's rendering of a pasted address: `<mailto:a@b.c|a@b.c>`.
_MAILTO = re.compile(r"<mailto:([^|<>]+)(?:\|[^<>]*)?>")


def parse_email(text: str) -> str:
    """One email address from what a person typed: Slack's `<mailto:a@b|a@b>`, spaces, case.

    Raises:
        UsageError: when the text is not exactly one address.
    """
    value = (text or "").strip()
    link = _MAILTO.fullmatch(value)
    if link is not None:
        value = link.group(1)
    value = value.strip()
    if value[:7].lower() == "mailto:":  # a link copied as text
        value = value[7:]
    local, _, domain = value.partition("@")
    if (
        not local
        or not domain
        or "@" in domain
        or "." not in domain.strip(".")
        or not all(ch.isalnum() or ch in "-." for ch in domain)  # `x@y.no`, |, $ … are not
        or len(value) > 254
        or any(ch.isspace() or ch in "<>,;:\"'()[]\\" for ch in value)
        or not value.isprintable()
    ):
        shown = value if len(value) <= 60 else value[:57] + "…"
        raise UsageError(f"expected one email address, got {shown!r}")
    return value
