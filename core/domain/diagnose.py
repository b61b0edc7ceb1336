"""diagnose(): everything about one customer — who they are, what they paid for, what they see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.domain.audit import subscription_tenant
from core.domain.facts import Facts, Index
from core.domain.findings import Finding
from core.domain.identity import Customer, find_customer, normalise_email
from core.domain.models import JSON, ClerkUser, Subscription, Window, iso
from core.domain.purchase import Purchase
from core.domain.reconcile import ReconcileReport, reconcile
from core.domain.visibility import Visibility, visibility


@dataclass(frozen=True, slots=True)
class PassView:
    """One of the customer's subscriptions, as the app would show it."""

    subscription: Subscription
    tenant: str | None
    pass_name: str
    seen: Visibility


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The answer to `/fixpass EMAIL`."""

    customer: Customer
    report: ReconcileReport
    passes: tuple[PassView, ...]
    linked_by_email_only: frozenset[str]

    @property
    def purchases(self) -> tuple[Purchase, ...]:
        """The customer's paid pass purchases in the window."""
        return self.report.purchases

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Everything wrong for this customer."""
        return self.report.findings

    @property
    def visible_by_tenant(self) -> dict[str, list[PassView]]:
        """Backend-visible, usable passes per school (FM-45: if any, the data is fine)."""
        out: dict[str, list[PassView]] = {}
        for view in self.passes:
            if view.seen.visible and view.tenant:
                out.setdefault(view.tenant, []).append(view)
        return out

    @property
    def verdict(self) -> str:
        """One line: what a support agent should tell the customer."""
        if not self.customer.users and not self.customer.clerk_users and not self.purchases:
            return "no user, Clerk account or purchase has this email"
        if any(f.fix for f in self.findings):
            return "something is wrong and a fix is offered below"
        if self.findings:
            return "something is wrong that a person must decide"
        if self.visible_by_tenant:
            return "the data is fine: the passes are visible; likely a client or session problem"
        return "no problem found, and no active pass"


def diagnose(
    email: str,
    facts: Facts,
    *,
    clerk_users: Sequence[ClerkUser],
    now: datetime,
    window: Window,
    actor: str | None = None,
) -> Diagnosis:
    """Diagnose one customer from facts that include at least their users and purchases.

    Sessions belong to the customer when their `metadata.userId` is one of the customer's
    Clerk ids, or — labelled as the weaker link — when the email typed at Stripe matches.
    """
    customer = find_customer(email, facts.users, clerk_users)
    wanted = normalise_email(email)
    clerk_ids = customer.clerk_ids
    refs = customer.reference_set(facts.users)
    sessions = [
        s
        for s in facts.sessions
        if (s.user_id in clerk_ids) or (normalise_email(s.email) == wanted and wanted)
    ]
    email_only = frozenset(s.id for s in sessions if s.user_id not in clerk_ids)
    for session in sessions:
        if session.user_id:
            refs |= Index(facts).refset(session.user_id)
    mine = [s for s in facts.subscriptions if s.user_ref in refs]
    scoped = Facts(
        tenants=facts.tenants,
        passes=facts.passes,
        users=facts.users,
        subscriptions=facts.subscriptions,
        sessions=sessions,
        accounts=facts.accounts,
        webhook_logs=facts.webhook_logs,
        bookings=facts.bookings,
    )
    report = reconcile(
        scoped,
        now=now,
        window=window,
        actor=actor,
        audit_subscription_ids=frozenset(s.id for s in mine),
    )
    idx = Index(facts)
    views = []
    for sub in sorted(mine, key=lambda s: (s.start_date is None, s.start_date, s.id), reverse=True):
        tenant = subscription_tenant(sub, idx)
        pass_ = idx.passes.get(sub.pass_key or "")
        seen = visibility(
            sub,
            now=now,
            references=refs,
            tenant_id=tenant,
            tenant_pass_ids=idx.pass_ids_by_tenant.get(tenant or "", frozenset()),
        )
        name = sub.pass_name or (pass_.display_name if pass_ else None) or "Class Package"
        views.append(PassView(sub, tenant, " ".join(name.split()), seen))
    return Diagnosis(customer, report, tuple(views), email_only)


def diagnosis_json(diagnosis: Diagnosis) -> JSON:
    """The contract's `diagnose --json` document."""
    customer = diagnosis.customer
    return {
        "email": customer.email,
        "users": [
            {
                "_id": u.id,
                "clerkId": u.clerk_id,
                "email": u.email,
                "tenant": u.tenant_id,
                "name": u.name,
                "role": u.role,
            }
            for u in customer.users
        ],
        "clerk_users": [{"id": c.id, "emails": list(c.emails)} for c in customer.clerk_users],
        "purchases": [
            {
                "session": p.session.id,
                "account": p.session.account,
                "tenant": p.tenant,
                "created": iso(p.session.created),
                "amount": p.session.amount_total,
                "currency": p.session.currency,
                "pass": p.session.pass_id,
                "pass_name": p.pass_name,
                "status": p.status,
                "subscriptions": list(p.subscriptions),
                "matched_by": p.matched_by,
                "linked_by_email_only": p.session.id in diagnosis.linked_by_email_only,
            }
            for p in diagnosis.purchases
        ],
        "passes": [
            {
                "_id": v.subscription.id,
                "pass_name": v.pass_name,
                "tenant": v.tenant,
                "type": v.subscription.type,
                "remainingClips": v.subscription.remaining_clips,
                "startDate": v.subscription.raw.get("startDate"),
                "endDate": v.subscription.raw.get("endDate"),
                "isActive": v.subscription.is_active,
                "visible": v.seen.visible,
                "usable": v.seen.usable,
                "reason": v.seen.reason,
                "reason_text": v.seen.text,
            }
            for v in diagnosis.passes
        ],
        "findings": [f.to_json() for f in diagnosis.findings],
        "verdict": diagnosis.verdict,
    }
