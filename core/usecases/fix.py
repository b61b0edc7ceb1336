"""Use case `fix`: the fix for one paid Checkout Session, previewed, or applied and audited.

The fix is always re-derived from the current state of Stripe and Sanity: a preview shows what
would be written; applying writes it as one Sanity transaction and records it in the audit log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.domain.findings import CreateDoc, PatchDoc
from core.domain.fixes import FixPlan, plan_fix
from core.domain.models import JSON, CheckoutSession, Window
from core.domain.purchase import Purchase
from core.domain.reconcile import reconcile
from core.errors import NotFoundError, RefusedError, UsageError
from core.ports import Applied, AuditEntry, AuditLog, Related
from core.usecases.reading import Reader, facts_from

logger = logging.getLogger(__name__)


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
class Fixes:
    """Judging one purchase afresh and writing its fix."""

    reader: Reader
    audit: AuditLog

    async def judge(
        self,
        session_id: str,
        *,
        actor: str | None,
        look_first: Sequence[str | None] = (),
    ) -> tuple[Purchase, CheckoutSession, Related]:
        """Find the session on the schools' accounts and judge it against today's documents.

        Raises:
            UsageError: not a Checkout Session id, not paid, or not a pass purchase.
            NotFoundError: no account has the session.
        """
        session_id = session_id.strip()
        if not session_id.startswith("cs_") or not session_id.isascii() or " " in session_id:
            raise UsageError(f"not a Checkout Session id: {session_id[:80]!r}")
        catalogue = await self.reader.catalogue()
        accounts = [a for a, _ in self.reader.accounts_of(catalogue)]
        hinted = [a for a in look_first if a in accounts]  # only the catalogue's accounts
        session = (
            await self.reader.payments.find_session(session_id, accounts=hinted) if hinted else None
        )
        if session is None:
            session = await self.reader.payments.find_session(session_id, accounts=accounts)
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
        related = await self.reader.related_to([session])
        refs = sorted(
            {u.id for u in related.users} | ({session.user_id} if session.user_id else set())
        )
        bookings = await self.reader.passes.bookings(refs) if refs else []
        now = self.reader.clock.now()
        facts = facts_from(catalogue, [session], [], [related], bookings=bookings)
        window = Window(min(session.created, now), max(session.created, now))
        report = reconcile(
            facts, now=now, window=window, actor=actor, audit_subscription_ids=frozenset()
        )
        purchase = next(p for p in report.purchases if p.session.id == session.id)
        return purchase, session, related

    def guard_mode(self, session: CheckoutSession) -> None:
        """Test mode never writes to production, nor live mode to another dataset (FM-09)."""
        production = self.reader.passes.dataset == "production"
        if not session.livemode and production:
            raise RefusedError(
                f"{session.id} is a test-mode purchase; passbot will not write it into the "
                "production dataset"
            )
        if session.livemode and not production:
            raise RefusedError(
                f"{session.id} is a live-mode purchase; passbot will not write it into the "
                f"{self.reader.passes.dataset!r} dataset"
            )

    async def preview(
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
        purchase, _, related = await self.judge(session_id, actor=actor, look_first=look_first)
        plan = plan_fix(purchase, alternative=alternative)
        document = _preview(plan) or _existing(purchase, related)
        return FixOutcome(purchase.session.id, plan, purchase, False, document)

    async def apply(
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
        still the one it was shown. `look_first`: the accounts the session is likely on, asked
        before every school's (as for a preview).

        Raises:
            RefusedError: no safe fix exists, or the modes disagree (FM-09).
            StaleFixError: the documents changed while it was being applied.
        """
        purchase, session, related = await self.judge(
            session_id, actor=actor, look_first=look_first
        )
        plan = plan_fix(purchase, alternative=alternative)
        if expect is not None:
            expect(plan)
        if plan.refused:
            raise RefusedError(plan.refused)
        if plan.already_fixed or not plan.operations:
            return FixOutcome(session.id, plan, purchase, True, _existing(purchase, related))
        self.guard_mode(session)
        transaction_id = f"passbot-{uuid.uuid4().hex[:20]}"
        result = await self.reader.passes.apply(plan.operations, transaction_id=transaction_id)
        audit_id = None
        if result.created or result.patched:
            audit_id = self.audit.record(
                AuditEntry(
                    at=self.reader.clock.now(),
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
        logger.info(
            "fix applied",
            extra={
                "session": session.id,
                "kinds": [f.kind.value for f in plan.resolves],
                "documents_created": list(result.created),
                "documents_patched": list(result.patched),
                "transaction": result.transaction_id,
                "audit_id": audit_id,
                "actor": actor,
                "source": source,
            },
        )
        return FixOutcome(session.id, plan, purchase, True, document, result, audit_id)


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
