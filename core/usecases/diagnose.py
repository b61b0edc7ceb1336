"""Use case `diagnose`: everything about one customer — what `/fixpass EMAIL` shows."""

from __future__ import annotations

import asyncio
import re

from core.domain.diagnose import Diagnosis
from core.domain.diagnose import diagnose as judge_customer
from core.domain.facts import Facts
from core.domain.identity import normalise_email
from core.domain.models import Booking, CheckoutSession, Window
from core.domain.reconcile import Reconciliation
from core.errors import UpstreamError, UsageError
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
    # If one read fails (Stripe down, say), the other is cancelled and awaited, so nothing is
    # left half-open when the clients close.
    try:
        async with asyncio.TaskGroup() as group:
            sanity = group.create_task(customer_and_bookings())
            stripe = group.create_task(reader.scan(reader.accounts_of(catalogue), window))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    customer, known_ids, bookings = sanity.result()
    sessions, scans = stripe.result()
    wanted = normalise_email(address)

    def is_mine(s: CheckoutSession) -> bool:
        return s.user_id in known_ids or normalise_email(s.email) == wanted

    mine = [s for s in sessions if is_mine(s)]
    # Whole-life payment: the customer's passes that started before the window are judged
    # with the purchases of their lives, as `check` does (cli-contract).
    probe = Reconciliation(
        tenants=catalogue.tenants, passes=catalogue.passes, now=window.end, window=window
    )
    probe.audit(
        Facts(subscriptions=customer.subscriptions, users=customer.users, sessions=mine),
        only=frozenset(s.id for s in customer.subscriptions),
    )
    since = probe.horizon
    if since is not None and since < window.start:
        try:
            older, _ = await reader.scan(reader.accounts_of(catalogue), Window(since, window.start))
        except UpstreamError as err:
            if err.service != "stripe":
                raise
            older = []
        mine += [s for s in older if is_mine(s) and s.created < window.start]
    related = [customer, await reader.related_to(mine)]
    facts = facts_from(catalogue, mine, scans, related, bookings=bookings)
    return judge_customer(
        address, facts, clerk_users=clerk_users, now=window.end, window=window, actor=actor
    )


#: Slack's rendering of a pasted address: `<mailto:a@b.c|a@b.c>`.
_MAILTO = re.compile(r"<mailto:([^|<>]+)(?:\|[^<>]*)?>")


def parse_email(text: str) -> str:
    """One email address from what a person typed: Slack's `<mailto:a@b|a@b>`, spaces, case.

    The local part is RFC 5322's dot-atom (letters, digits, ``!#$%&'*+-/=?^_`{|}~`` and, as
    RFC 6531 allows, any printable non-ASCII character; dots between) or a quoted string
    (`"a b"@example.com`), so `o'brien@…` and `kari+tag@…` are addresses; the domain is
    dot-separated labels of letters, digits and hyphens.

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
    local, _, domain = value.rpartition("@")
    if not _local_part(local) or not _domain(domain) or len(value) > 254 or not value.isprintable():
        shown = value if len(value) <= 60 else value[:57] + "…"
        raise UsageError(f"expected one email address, got {shown!r}")
    return value


#: RFC 5322 `atext` beyond letters and digits.
_ATEXT = frozenset("!#$%&'*+-/=?^_`{|}~")


def _local_part(local: str) -> bool:
    if not local or len(local) > 64:
        return False
    if len(local) >= 2 and local[0] == local[-1] == '"':
        inner = local[1:-1]
        i = 0
        while i < len(inner):
            if inner[i] == "\\":
                i += 2
                continue
            if inner[i] == '"':
                return False
            i += 1
        return i == len(inner) and bool(inner.strip())
    return all(
        atom and all(ch.isalnum() or ch in _ATEXT or not ch.isascii() for ch in atom)
        for atom in local.split(".")
    )


def _domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and all(
        label
        and len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in labels
    )
