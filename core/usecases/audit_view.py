"""`/passaudit [email | @user | N days]`: the audit log filtered and paged. An email is
resolved to the customer's documents with one Sanity query (entries name the documents they
wrote, not the customer)."""

from __future__ import annotations

from core.domain.audit_filter import AuditPage, page_of, parse_audit_filter, select
from core.ports import AuditEntry
from core.usecases.diagnose import parse_email
from core.usecases.services import Services

#: How far back the audit is read (entries are few: one per applied fix).
READ_LIMIT = 10_000


async def audit_page(services: Services, text: str, *, offset: int = 0) -> AuditPage[AuditEntry]:
    """The page of entries `text` asks for, from `offset`.

    Raises:
        UsageError: the text is no filter (the usage line), or a bad email.
    """
    wanted = parse_audit_filter(text)
    documents: set[str] = set()
    if wanted.email:
        email = parse_email(wanted.email)
        customer = await services.passes.customer(email, clerk_ids=[])
        documents = {s.id for s in customer.subscriptions} | {u.id for u in customer.users}
    entries = services.audit.recent(READ_LIMIT)
    chosen = select(entries, wanted, now=services.clock.now(), documents=documents)
    return page_of(chosen, wanted, offset)
