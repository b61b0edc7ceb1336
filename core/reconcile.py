"""reconcile(): every paid pass purchase in a window against the passes in Sanity. Pure: the
facts come in, findings go out; "now" and the acting person are arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.audit import audit_subscriptions, in_audit, lint_passes, subscription_tenant
from core.facts import Facts, Index
from core.findings import SEVERITY_ORDER, Finding, Kind, Severity
from core.models import JSON, AccountScan, CheckoutSession, Window, iso
from core.purchase import Purchase, judge_purchase


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """The result of one reconciliation."""

    window: Window
    now: datetime
    accounts: tuple[AccountScan, ...]
    sessions_checked: int
    purchases: tuple[Purchase, ...]
    not_pass_sessions: int
    findings: tuple[Finding, ...]

    @property
    def paid_pass_sessions(self) -> int:
        """Paid pass purchases judged."""
        return len(self.purchases)

    @property
    def with_pass(self) -> int:
        """Judged purchases that have a pass (exact or hand-made match)."""
        return sum(1 for p in self.purchases if p.has_pass)

    @property
    def fulfilment_rate(self) -> float | None:
        """with_pass ÷ paid_pass_sessions; None when nothing was bought."""
        if not self.purchases:
            return None
        return round(self.with_pass / len(self.purchases), 4)

    @property
    def needs_attention(self) -> bool:
        """A critical finding exists (the CLI's exit status 1)."""
        return any(f.severity == Severity.CRITICAL for f in self.findings)

    def metrics(self) -> JSON:
        """The contract's `metrics` object."""
        return {
            "paid_pass_sessions": self.paid_pass_sessions,
            "with_pass": self.with_pass,
            "fulfilment_rate": self.fulfilment_rate,
            "not_pass_sessions": self.not_pass_sessions,
            "findings_by_kind": _count_kinds(self.findings),
        }


def _count_kinds(findings: Sequence[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind.value] = counts.get(f.kind.value, 0) + 1
    return counts


def session_tenant(session: CheckoutSession, idx: Index) -> str | None:
    """The school a session belongs to: its account's tenant, else its metadata's."""
    if session.account and (tenant := idx.tenant_by_account.get(session.account)):
        return tenant.id
    return session.tenant_id


def reconcile(
    facts: Facts,
    *,
    now: datetime,
    window: Window,
    actor: str | None = None,
    tenant: str | None = None,
    audit_subscription_ids: frozenset[str] | None = None,
) -> ReconcileReport:
    """Judge every paid pass purchase in the window, audit passes, lint pass configuration.

    Args:
        facts: what was read.
        now: the moment to judge at.
        window: purchases created inside it are judged.
        actor: who would approve the fixes (recorded in what they would write).
        tenant: only this school's purchases, passes and subscriptions.
        audit_subscription_ids: audit only these subscriptions (a customer's); default: every
            active, unexpired one.
    """
    idx = Index(facts)
    in_window = sorted(
        (
            s
            for s in facts.sessions
            if window.contains(s.created) and (tenant is None or session_tenant(s, idx) == tenant)
        ),
        key=lambda s: (s.created, s.id),
    )
    findings: list[Finding] = [_unreachable(a) for a in facts.accounts if not a.ok]
    if tenant is not None:
        findings = [f for f in findings if f.tenant in (None, tenant)]
    claimed: set[str] = set()
    purchases: list[Purchase] = []
    not_pass = 0
    for session in in_window:
        if session.is_paid and session.is_pass_session:
            purchase = judge_purchase(session, idx, now=now, actor=actor, claimed=claimed)
            purchases.append(purchase)
            findings.extend(purchase.findings)
        elif session.is_paid and session.looks_like_legacy_pass:
            purchases.append(_legacy(session, idx))
            findings.extend(purchases[-1].findings)
        else:
            not_pass += 1
    accounted = {sid for p in purchases for sid in p.subscriptions} | claimed
    audited = [
        s
        for s in facts.subscriptions
        if s.id not in accounted
        and (audit_subscription_ids is None or s.id in audit_subscription_ids)
        and (audit_subscription_ids is not None or in_audit(s, now=now))
        and (tenant is None or subscription_tenant(s, idx) == tenant)
    ]
    findings.extend(audit_subscriptions(audited, idx, now=now))
    bought = frozenset(p.session.pass_id for p in purchases if p.session.pass_id)
    passes = [p for p in facts.passes if tenant is None or p.tenant_id == tenant]
    if audit_subscription_ids is None:
        findings.extend(lint_passes(passes, now=now, bought=bought))
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.kind.value, f.key))
    return ReconcileReport(
        window=window,
        now=now,
        accounts=tuple(facts.accounts),
        sessions_checked=len(in_window),
        purchases=tuple(purchases),
        not_pass_sessions=not_pass,
        findings=tuple(findings),
    )


def _unreachable(scan: AccountScan) -> Finding:
    return Finding(
        kind=Kind.ACCOUNT_UNREACHABLE,
        severity=Severity.CRITICAL,
        summary=f"Stripe account {scan.account} could not be read: {scan.error}; "
        "its purchases are unknown, not absent",
        account=scan.account,
        tenant=scan.tenant,
        why_no_fix="check the key's access to the connected account",
    )


def _legacy(session: CheckoutSession, idx: Index) -> Purchase:
    """A paid session that names a pass but no `type`: only a person can say it is a pass."""
    exact = idx.exact_matches(session)
    findings: tuple[Finding, ...] = ()
    if not exact:
        findings = (
            Finding(
                kind=Kind.UNRESOLVABLE_PURCHASE,
                severity=Severity.CRITICAL,
                summary=f"paid session {session.id} names pass {session.pass_id} but has no "
                "metadata.type; it may be a pass purchase with no pass",
                session=session.id,
                account=session.account,
                tenant=session_tenant(session, idx),
                email=session.email,
                pass_id=session.pass_id,
                why_no_fix="a person must confirm it was a pass purchase (legacy metadata)",
            ),
        )
    return Purchase(
        session=session,
        tenant=session_tenant(session, idx),
        status=findings[0].kind.value if findings else "ok",
        subscriptions=tuple(s.id for s in exact),
        matched_by="session" if exact else None,
        findings=findings,
    )


def report_json(report: ReconcileReport, *, mode: str) -> JSON:
    """The contract's `check --json` document."""
    return {
        "window": {"from": _z(report.window.start), "to": _z(report.window.end)},
        "mode": mode,
        "accounts": [
            {"account": a.account, "tenant": a.tenant, "ok": a.ok, "error": a.error}
            for a in report.accounts
        ],
        "sessions_checked": report.sessions_checked,
        "findings": [f.to_json() for f in report.findings],
        "metrics": report.metrics(),
    }


def _z(value: datetime) -> str:
    return iso(value).replace(".000Z", "Z")
