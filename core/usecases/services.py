"""The use cases: fetch through the ports, judge with the pure core, write through Sanity, audit.

Both entry points — the Slack bot and the command line — call these and nothing else. Reads are
batched: one Sanity query per Stripe page, one Stripe request per page, accounts read
concurrently within a limit.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from core.domain.diagnose import Diagnosis, diagnose
from core.domain.facts import Facts
from core.domain.findings import CreateDoc, PatchDoc
from core.domain.fixes import FixPlan, plan_fix
from core.domain.identity import normalise_email
from core.domain.models import (
    JSON,
    AccountScan,
    Booking,
    CheckoutSession,
    SanityUser,
    Subscription,
    Window,
)
from core.domain.purchase import Purchase
from core.domain.reconcile import ReconcileReport, Reconciliation, reconcile
from core.errors import NotFoundError, RefusedError, UpstreamError, UsageError
from core.ports import (
    Applied,
    AuditEntry,
    AuditLog,
    Catalogue,
    Clock,
    PassStore,
    PaymentsSource,
    Related,
    UserDirectory,
)

#: Called as pages arrive: (account label, sessions read so far in total).
Progress = Callable[[str, int], None]

PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class FixOutcome:
    """What `fix SESSION` did, or would do."""

    session: str
    plan: FixPlan
    purchase: Purchase
    applied: bool
    document: JSON | None
    applied_result: Applied | None = None
    audit_id: int | None = None

    @property
    def already_fixed(self) -> bool:
        """Nothing needed writing: the pass was already there and right."""
        if self.plan.already_fixed:
            return True
        result = self.applied_result
        return result is not None and not result.created and not result.patched

    def to_json(self) -> JSON:
        """The contract's `fix --json` document."""
        applied = self.applied and not self.already_fixed
        result = self.applied_result
        return {
            "session": self.session,
            "applied": applied,
            "already_fixed": self.already_fixed,
            "created": list(result.created) if result else [],
            "patched": [d for d in (result.patched if result else ()) if d not in self.deactivated],
            "deactivated": self.deactivated if applied else [],
            "document": self.document,
            "refused": self.plan.refused,
            "would_create": self.plan.created if not self.applied else [],
            "would_patch": self.plan.patched if not self.applied else [],
            "would_deactivate": self.plan.deactivated if not self.applied else [],
            "findings": [f.to_json() for f in self.plan.resolves + self.plan.unresolved],
            "transaction_id": result.transaction_id if result else None,
        }

    @property
    def deactivated(self) -> list[str]:
        """Documents the plan deactivates."""
        return self.plan.deactivated


@dataclass
class Services:
    """passbot's use cases over its ports."""

    payments: PaymentsSource
    passes: PassStore
    users: UserDirectory
    audit: AuditLog
    clock: Clock
    lookback_days: int = 35
    concurrency: int = 8
    _catalogue: Catalogue | None = field(default=None, repr=False)

    # ------------------------------------------------------------------------------ reading

    def window(self, days: int | None) -> Window:
        """The window ending now and reaching back `days` (default: the configured lookback)."""
        if days is not None and days < 1:
            raise UsageError("--days must be at least 1")
        now = self.clock.now()
        return Window(now - timedelta(days=days or self.lookback_days), now)

    async def catalogue(self) -> Catalogue:
        """Tenants and passes (read once per use case)."""
        return await self.passes.catalogue()

    @staticmethod
    def accounts_of(
        catalogue: Catalogue, tenant: str | None = None
    ) -> list[tuple[str | None, str | None]]:
        """(account, tenant) pairs to read: every school's connected account, and the platform
        account for pre-Connect purchases (FM-10)."""
        pairs: list[tuple[str | None, str | None]] = [
            (t.account_id, t.id)
            for t in catalogue.tenants
            if t.account_id and (tenant is None or t.id == tenant)
        ]
        return [*pairs, (None, None)]

    async def scan(
        self,
        accounts: Sequence[tuple[str | None, str | None]],
        window: Window,
        *,
        on_page: Callable[[list[CheckoutSession]], object] | None = None,
        progress: Progress | None = None,
        collect: bool = True,
    ) -> tuple[list[CheckoutSession], list[AccountScan]]:
        """Read every session in the window on every account, concurrently within a limit
        (`collect=False`: hand each page to `on_page` and keep nothing)."""
        limit = asyncio.Semaphore(max(1, self.concurrency))
        sessions: list[CheckoutSession] = []
        scans: list[AccountScan] = []
        seen = [0]

        async def one(account: str | None, tenant: str | None) -> None:
            label = account or PLATFORM
            async with limit:
                try:
                    async for page in self.payments.session_pages(
                        account, since=window.start, until=window.end
                    ):
                        seen[0] += len(page)
                        if collect:
                            sessions.extend(page)
                        if on_page is not None:
                            result = on_page(page)
                            if asyncio.iscoroutine(result):
                                await result
                        if progress is not None:
                            progress(label, seen[0])
                except UpstreamError as err:
                    if err.service != "stripe":
                        raise
                    scans.append(AccountScan(label, tenant, error=str(err)))
                    return
            scans.append(AccountScan(label, tenant))

        await asyncio.gather(*(one(a, t) for a, t in accounts))
        order = {a or PLATFORM: i for i, (a, _) in enumerate(accounts)}
        scans.sort(key=lambda s: order.get(s.account, 0))
        return sessions, scans

    async def check(
        self,
        *,
        days: int | None = None,
        tenant: str | None = None,
        actor: str | None = None,
        progress: Progress | None = None,
        keep_purchases: bool = False,
    ) -> ReconcileReport:
        """One reconciliation over the window: what the daily summary reports.

        Streams: each Stripe page is judged against one Sanity query as it arrives, so memory
        stays flat and requests are one per page per service. `keep_purchases` keeps every
        judged purchase on the report (otherwise only those with findings).
        """
        window = self.window(days)
        catalogue = await self.catalogue()
        tenant_id = None
        if tenant is not None:
            tenant_id = next((t.id for t in catalogue.tenants if tenant in (t.id, t.slug)), None)
            if tenant_id is None:
                raise UsageError(f"no school has the id or slug {tenant!r}")
        run = Reconciliation(
            tenants=catalogue.tenants,
            passes=catalogue.passes,
            now=window.end,
            window=window,
            actor=actor,
            tenant=tenant_id,
            keep_purchases=keep_purchases,
        )

        async def on_page(page: list[CheckoutSession]) -> None:
            related = await self.related_to(page)
            run.add_page(
                Facts(sessions=page, subscriptions=related.subscriptions, users=related.users)
            )

        _, scans = await self.scan(
            self.accounts_of(catalogue, tenant_id),
            window,
            on_page=on_page,
            progress=progress,
            collect=False,
        )
        async for chunk in self.passes.active_subscription_pages(now=window.end):
            run.audit(Facts(subscriptions=chunk.subscriptions, users=chunk.users))
        return run.finish(accounts=scans)

    async def related_to(self, page: Sequence[CheckoutSession]) -> Related:
        """One Sanity query for everything a page of purchases needs."""
        if not page:
            return Related()
        payment_ids = sorted({p for s in page for p in (s.payment_intent, s.charge_id) if p})
        clerk_ids = sorted({s.user_id for s in page if s.user_id})
        return await self.passes.related(
            session_ids=[s.id for s in page], payment_ids=payment_ids, clerk_ids=clerk_ids
        )

    async def diagnose(
        self, email: str, *, days: int | None = None, actor: str | None = None
    ) -> Diagnosis:
        """Everything about one customer — what `/fixpass EMAIL` shows."""
        address = parse_email(email)
        window = self.window(days)
        catalogue, clerk_users = await asyncio.gather(
            self.catalogue(), self.users.users_by_email(address)
        )
        clerk_ids = sorted({c.id for c in clerk_users})

        async def customer_and_bookings() -> tuple[Related, set[str], list[Booking]]:
            customer = await self.passes.customer(address, clerk_ids=clerk_ids)
            known_ids = set(clerk_ids) | {u.clerk_id for u in customer.users if u.clerk_id}
            refs = sorted({u.id for u in customer.users} | known_ids)
            return customer, known_ids, (await self.passes.bookings(refs) if refs else [])

        # The Sanity reads need only the Clerk ids: they run while the accounts are scanned.
        (customer, known_ids, bookings), (sessions, scans) = await asyncio.gather(
            customer_and_bookings(), self.scan(self.accounts_of(catalogue), window)
        )
        wanted = normalise_email(address)
        mine = [s for s in sessions if s.user_id in known_ids or normalise_email(s.email) == wanted]
        related = [customer, await self.related_to(mine)]
        facts = _facts(catalogue, mine, scans, related, bookings=bookings)
        return diagnose(
            address, facts, clerk_users=clerk_users, now=window.end, window=window, actor=actor
        )

    # ------------------------------------------------------------------------------ fixing

    async def _judge_session(
        self,
        session_id: str,
        *,
        actor: str | None,
        look_first: Sequence[str | None] = (),
    ) -> tuple[Purchase, CheckoutSession, Related]:
        session_id = session_id.strip()
        if not session_id.startswith("cs_") or not session_id.isascii() or " " in session_id:
            raise UsageError(f"not a Checkout Session id: {session_id[:80]!r}")
        catalogue = await self.catalogue()
        accounts = [a for a, _ in self.accounts_of(catalogue)]
        hinted = [a for a in look_first if a in accounts]  # only the catalogue's accounts
        session = await self.payments.find_session(session_id, accounts=hinted) if hinted else None
        if session is None:
            session = await self.payments.find_session(session_id, accounts=accounts)
        if session is None:
            raise NotFoundError(f"no Checkout Session {session_id} on any school's account")
        if not session.is_paid:
            raise UsageError(
                f"{session_id} is not paid (payment_status {session.payment_status!r}); "
                "passbot never creates a pass without a paid session"
            )
        if not (session.is_pass_session or session.looks_like_legacy_pass):
            raise UsageError(
                f"{session_id} is not a pass purchase (metadata.type "
                f"{session.metadata.get('type')!r})"
            )
        related = await self.related_to([session])
        refs = sorted(
            {u.id for u in related.users} | ({session.user_id} if session.user_id else set())
        )
        bookings = await self.passes.bookings(refs) if refs else []
        now = self.clock.now()
        facts = _facts(catalogue, [session], [], [related], bookings=bookings)
        window = Window(min(session.created, now), max(session.created, now))
        report = reconcile(
            facts, now=now, window=window, actor=actor, audit_subscription_ids=frozenset()
        )
        purchase = next(p for p in report.purchases if p.session.id == session.id)
        return purchase, session, related

    def _guard_mode(self, session: CheckoutSession) -> None:
        """Test mode never writes to production, nor live mode to another dataset (FM-09)."""
        production = self.passes.dataset == "production"
        if not session.livemode and production:
            raise RefusedError(
                f"{session.id} is a test-mode purchase; passbot will not write it into the "
                "production dataset"
            )
        if session.livemode and not production:
            raise RefusedError(
                f"{session.id} is a live-mode purchase; passbot will not write it into the "
                f"{self.passes.dataset!r} dataset"
            )

    async def preview_fix(
        self,
        session_id: str,
        *,
        actor: str | None,
        alternative: str | None = None,
        look_first: Sequence[str | None] = (),
    ) -> FixOutcome:
        """What `fix` would write, without writing.

        `look_first`: the accounts the session is likely on (a diagnosis that just listed it
        knows), asked before every school's; it saves a request per school.
        """
        purchase, _, related = await self._judge_session(
            session_id, actor=actor, look_first=look_first
        )
        plan = plan_fix(purchase, alternative=alternative)
        document = _preview(plan) or _existing(purchase, related)
        return FixOutcome(purchase.session.id, plan, purchase, False, document)

    async def apply_fix(
        self,
        session_id: str,
        *,
        actor: str,
        actor_email: str | None = None,
        source: str = "cli",
        alternative: str | None = None,
        expect: Callable[[FixPlan], None] | None = None,
        look_first: Sequence[str | None] = (),
    ) -> FixOutcome:
        """Re-derive the fix from the current state, apply it as one transaction, audit it.

        `expect`, if given, is called with the re-derived plan before anything is written; it
        raises (StaleFixError, say) to write nothing — how an approval checks that the plan is
        still the one it was shown. `look_first`: as for `preview_fix`.

        Raises:
            RefusedError: no safe fix exists, or the modes disagree (FM-09).
            StaleFixError: the documents changed while it was being applied.
        """
        purchase, session, related = await self._judge_session(
            session_id, actor=actor, look_first=look_first
        )
        plan = plan_fix(purchase, alternative=alternative)
        if expect is not None:
            expect(plan)
        if plan.refused:
            raise RefusedError(plan.refused)
        if plan.already_fixed or not plan.operations:
            return FixOutcome(session.id, plan, purchase, True, _existing(purchase, related))
        self._guard_mode(session)
        transaction_id = f"passbot-{uuid.uuid4().hex[:20]}"
        result = await self.passes.apply(plan.operations, transaction_id=transaction_id)
        audit_id = None
        if result.created or result.patched:
            audit_id = self.audit.record(
                AuditEntry(
                    at=self.clock.now(),
                    actor=actor,
                    actor_email=actor_email,
                    action=",".join(sorted({f.fix.action.value for f in plan.resolves if f.fix}))
                    or "link_subscription",
                    session=session.id,
                    documents=tuple(result.created + result.patched),
                    transaction_id=result.transaction_id,
                    changes=_audit_changes(plan, result),
                    source=source,
                    finding_kinds=tuple(f.kind.value for f in plan.resolves),
                )
            )
        document = _written(plan, result)
        return FixOutcome(session.id, plan, purchase, True, document, result, audit_id)

    def recent_audit(self, limit: int = 20) -> list[AuditEntry]:
        """The newest audit entries."""
        return self.audit.recent(limit)


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


def _dedupe_subs(items: Iterable[Subscription]) -> list[Subscription]:
    return list({s.id: s for s in items}.values())


def _dedupe_users(items: Iterable[SanityUser]) -> list[SanityUser]:
    return list({u.id: u for u in items}.values())


def _facts(
    catalogue: Catalogue,
    sessions: Sequence[CheckoutSession],
    scans: Sequence[AccountScan],
    related: Sequence[Related],
    *,
    bookings: Sequence[Booking] | None = None,
) -> Facts:
    return Facts(
        tenants=catalogue.tenants,
        passes=catalogue.passes,
        users=_dedupe_users(u for r in related for u in r.users),
        subscriptions=_dedupe_subs(s for r in related for s in r.subscriptions),
        sessions=list({s.id: s for s in sessions}.values()),
        accounts=list(scans),
        bookings=bookings,
    )


def _preview(plan: FixPlan) -> JSON | None:
    """The document as it would be after the plan (created, or patched)."""
    for op in plan.operations:
        if isinstance(op, CreateDoc):
            return dict(op.document)
    for op in plan.operations:
        if isinstance(op, PatchDoc):
            return {"_id": op.id, **op.set}
    return None


def _existing(purchase: Purchase, related: Related) -> JSON | None:
    """The purchase's pass as it stands (for "already fixed")."""
    by_id = {s.id: s for s in related.subscriptions}
    for sub_id in purchase.subscriptions:
        if sub_id in by_id:
            return dict(by_id[sub_id].raw)
    return None


def _written(plan: FixPlan, result: Applied) -> JSON | None:
    """The main document as re-read after the write."""
    for doc_id in (*result.created, *result.patched, *result.unchanged):
        if doc_id in result.documents:
            return result.documents[doc_id]
    return _preview(plan)


def _audit_changes(plan: FixPlan, result: Applied) -> JSON:
    """Before and after of every document written (the document itself, for a create)."""
    out: JSON = {}
    for op in plan.operations:
        if isinstance(op, CreateDoc) and op.id in result.created:
            out[op.id] = {"created": result.documents.get(op.id, op.document)}
        elif isinstance(op, PatchDoc) and op.id in result.patched:
            out[op.id] = {"before": op.before, "after": op.set}
    return out
