"""reconcile(): every paid pass purchase in a window against the passes in Sanity. Pure: the
facts come in, findings go out; "now" and the acting person are arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.domain.audit import audit_subscriptions, in_audit, lint_passes, subscription_tenant
from core.domain.facts import Facts, Index
from core.domain.findings import SEVERITY_ORDER, Finding, Kind, Severity
from core.domain.models import (
    JSON,
    AccountScan,
    CheckoutSession,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    Window,
    iso,
)
from core.domain.purchase import MANUAL_MATCH_DAYS, Purchase, judge_purchase
from core.domain.users_audit import user_findings


@dataclass(frozen=True, slots=True)
class SchoolTally:
    """Per school: paid pass purchases judged, and how many have a pass."""

    paid: int = 0
    with_pass: int = 0


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """The result of one reconciliation.

    `purchases` holds every judged purchase when the reconciliation kept them (diagnose, fix);
    a streamed check keeps only those with findings, and the counts below stay exact.
    """

    window: Window
    now: datetime
    accounts: tuple[AccountScan, ...]
    sessions_checked: int
    purchases: tuple[Purchase, ...]
    not_pass_sessions: int
    findings: tuple[Finding, ...]
    paid_pass_sessions: int = 0
    with_pass: int = 0
    by_school: dict[str, SchoolTally] = field(default_factory=dict)

    @property
    def fulfilment_rate(self) -> float | None:
        """with_pass ÷ paid_pass_sessions; None when nothing was bought."""
        if not self.paid_pass_sessions:
            return None
        return round(self.with_pass / self.paid_pass_sessions, 4)

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
            "by_school": {
                school: {"paid_pass_sessions": t.paid, "with_pass": t.with_pass}
                for school, t in sorted(self.by_school.items())
            },
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


class Reconciliation:
    """A reconciliation fed page by page, so that memory stays flat however many purchases
    there are: each page's purchases are judged against that page's related documents as
    they arrive; only findings, counts and the ids of accounted passes are kept. `finish`
    then audits the passes no purchase accounts for and lints the pass configuration."""

    def __init__(
        self,
        *,
        tenants: Sequence[Tenant],
        passes: Sequence[Pass],
        now: datetime,
        window: Window,
        actor: str | None = None,
        tenant: str | None = None,
        keep_purchases: bool = True,
    ) -> None:
        self.tenants, self.passes = tuple(tenants), tuple(passes)
        self.now, self.window, self.actor, self.tenant = now, window, actor, tenant
        self.keep_purchases = keep_purchases
        self.claimed: set[str] = set()
        self.accounted: set[str] = set()
        self.bought: set[str] = set()
        self.purchases: list[Purchase] = []
        self.unpaid: dict[str, CheckoutSession] = {}  # a pass linked to one is unpaid (FM-18)
        self.findings: list[Finding] = []
        self.user_keys: set[str] = set()  # user findings already made (FM-23, FM-25)
        # Whole-life payment (cli-contract: "The window selects purchases, never a pass's
        # payment"): passes whose payment lies before the window wait here until the
        # purchases of their lives are read (`add_context_page`), then `settle` audits them.
        self.deferred: dict[str, Subscription] = {}
        self.deferred_users: dict[str, SanityUser] = {}
        self.context: dict[str, CheckoutSession] = {}
        self.context_claimed: set[str] = set()
        self.settled = False
        self.sessions_checked = self.not_pass = self.paid = self.with_pass = 0
        # Per school: [paid, with a pass] (the report's `SchoolTally`s).
        self.tallies: dict[str, list[int]] = {}

    def add_page(self, facts: Facts) -> None:
        """Judge the purchases of one page; `facts` holds that page's sessions and related
        documents (the catalogue is filled in here)."""
        idx = Index(replace(facts, tenants=self.tenants, passes=self.passes))
        tenant = self.tenant
        page = sorted(
            (
                s
                for s in facts.sessions
                if self.window.contains(s.created)
                and (tenant is None or session_tenant(s, idx) == tenant)
            ),
            key=lambda s: (s.created, s.id),
        )
        self.sessions_checked += len(page)
        for session in page:
            if session.is_paid and session.is_pass_session:
                purchase = judge_purchase(
                    session, idx, now=self.now, actor=self.actor, claimed=self.claimed
                )
            elif session.is_paid and session.looks_like_legacy_pass:
                purchase = _legacy(session, idx)
            else:
                self.not_pass += 1
                if not session.is_paid:
                    self.unpaid[session.id] = session
                continue
            self._count(purchase)
        buyers = {s.user_id for s in page if s.user_id}
        self._users([u for u in facts.users if u.clerk_id in buyers or u.id in buyers])

    def _users(self, users: Sequence[SanityUser]) -> None:
        """Findings about the users read (each once per run)."""
        for finding in user_findings(users):
            if finding.key in self.user_keys:
                continue
            if self.tenant is not None and finding.tenant not in (None, self.tenant):
                continue
            self.user_keys.add(finding.key)
            self.findings.append(finding)

    def _count(self, purchase: Purchase) -> None:
        self.paid += 1
        has_pass = purchase.has_pass
        self.with_pass += has_pass
        tally = self.tallies.setdefault(purchase.tenant or "unknown", [0, 0])
        tally[0] += 1
        tally[1] += has_pass
        self.accounted.update(purchase.subscriptions)
        if pass_id := purchase.session.pass_id:
            self.bought.add(pass_id)
        self.findings.extend(purchase.findings)
        if self.keep_purchases or purchase.findings:
            self.purchases.append(purchase)

    def audit(self, facts: Facts, *, only: frozenset[str] | None = None) -> None:
        """Audit subscriptions no judged purchase accounts for; call once all pages are in.
        May be called once per page of subscriptions.

        Args:
            facts: the subscriptions (and the users they reference) to audit.
            only: audit only these (a customer's); default: every active, unexpired one.
        """
        accounted = self.accounted | (self.claimed - self.context_claimed)
        known = {s.id: s for s in (*self.unpaid.values(), *self.context.values(), *facts.sessions)}
        idx = Index(
            replace(facts, tenants=self.tenants, passes=self.passes, sessions=list(known.values()))
        )
        audited = [
            s
            for s in facts.subscriptions
            if s.id not in accounted
            and (only is None or s.id in only)
            and (only is not None or in_audit(s, now=self.now))
            and (self.tenant is None or subscription_tenant(s, idx) == self.tenant)
        ]
        if not self.settled:
            waiting = [
                s
                for s in audited
                if s.id not in self.context_claimed
                and history_needed(s, idx, self.window) is not None
            ]
            for sub in waiting:
                self.deferred[sub.id] = sub
                if sub.user_ref in idx.users:
                    self.deferred_users[sub.user_ref] = idx.users[sub.user_ref]
            audited = [s for s in audited if s.id not in self.deferred]
        self.findings.extend(
            audit_subscriptions(audited, idx, now=self.now, paid=frozenset(self.context_claimed))
        )
        owners = {s.user_ref for s in audited if s.user_ref}
        self._users([u for u in facts.users if u.id in owners])

    @property
    def horizon(self) -> datetime | None:
        """How far back purchases must be read to judge the deferred passes over their whole
        lives (None: nothing is waiting)."""
        dates = [history_start(s) for s in self.deferred.values()]
        known = [d for d in dates if d is not None]
        return min(known) if known else None

    @property
    def horizon_tenants(self) -> frozenset[str | None]:
        """The schools of the deferred passes (whose accounts must be read back)."""
        idx = Index(Facts(tenants=self.tenants, passes=self.passes))
        return frozenset(subscription_tenant(s, idx) for s in self.deferred.values())

    def add_context_page(self, facts: Facts) -> None:
        """Purchases from before the window, read only to settle the deferred passes: each is
        judged as a purchase is (so a hand-made pass goes to the purchase it matches, as a
        longer window would have it), but counts and findings stay the window's."""
        idx = Index(replace(facts, tenants=self.tenants, passes=self.passes))
        page = sorted(
            (
                s
                for s in facts.sessions
                if s.created < self.window.start
                and (self.tenant is None or session_tenant(s, idx) == self.tenant)
            ),
            key=lambda s: (s.created, s.id),
        )
        for session in page:
            self.context[session.id] = session
            if session.is_paid and session.is_pass_session:
                before = set(self.claimed)
                judge_purchase(session, idx, now=self.now, actor=self.actor, claimed=self.claimed)
                # A hand-made pass it matches is paid; it is still audited (references), as a
                # pass linked to a purchase before the window is.
                self.context_claimed.update(self.claimed - before)

    def settle(self) -> None:
        """Audit the deferred passes against every purchase read; call after the context."""
        if self.settled:
            return
        self.settled = True
        if self.deferred:
            subs = list(self.deferred.values())
            self.deferred = {}
            self.audit(
                Facts(subscriptions=subs, users=list(self.deferred_users.values())),
                only=frozenset(s.id for s in subs),
            )

    def finish(
        self,
        *,
        accounts: Sequence[AccountScan] = (),
        audit: Facts | None = None,
        audit_subscription_ids: frozenset[str] | None = None,
    ) -> ReconcileReport:
        """Audit unaccounted passes (from `audit`, if given), lint passes, build the report.

        Args:
            accounts: how reading each Stripe account went.
            audit: subscriptions to audit now (or call `audit` page by page before).
            audit_subscription_ids: audit only these (a customer's); pass linting runs only
                when this is not given.
        """
        if audit is not None:
            self.audit(audit, only=audit_subscription_ids)
        self.settle()
        findings = [_unreachable(a) for a in accounts if not a.ok]
        if self.tenant is not None:
            findings = [f for f in findings if f.tenant in (None, self.tenant)]
        findings += self.findings
        if audit_subscription_ids is None:
            passes = [p for p in self.passes if self.tenant is None or p.tenant_id == self.tenant]
            findings.extend(lint_passes(passes, now=self.now, bought=frozenset(self.bought)))
        findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.kind.value, f.key))
        return ReconcileReport(
            window=self.window,
            now=self.now,
            accounts=tuple(accounts),
            sessions_checked=self.sessions_checked,
            purchases=tuple(self.purchases),
            not_pass_sessions=self.not_pass,
            findings=tuple(findings),
            paid_pass_sessions=self.paid,
            with_pass=self.with_pass,
            by_school={school: SchoolTally(*tally) for school, tally in self.tallies.items()},
        )


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
    run = Reconciliation(
        tenants=facts.tenants,
        passes=facts.passes,
        now=now,
        window=window,
        actor=actor,
        tenant=tenant,
    )
    run.add_page(facts)
    run.add_context_page(facts)  # sessions before the window: whole-life payment only
    return run.finish(
        accounts=facts.accounts, audit=facts, audit_subscription_ids=audit_subscription_ids
    )


def history_start(sub: Subscription) -> datetime | None:
    """The earliest purchase that could be this pass's: 3 days before it started (the manual
    match's reach) or before it was created, whichever is earlier."""
    dates = [d for d in (sub.start_date, sub.created_at) if d is not None]
    return min(dates) - timedelta(days=MANUAL_MATCH_DAYS) if dates else None


def history_needed(sub: Subscription, idx: Index, window: Window) -> datetime | None:
    """When deciding whether this pass is paid needs purchases from before the window: the
    date to read back to; None when what is known decides it (cli-contract: the window
    selects purchases, never a pass's payment)."""
    if sub.is_grant or idx.linked_session(sub) is not None:
        return None
    start = history_start(sub)
    if start is None or start >= window.start:
        return None
    return start


def _unreachable(scan: AccountScan) -> Finding:
    return Finding(
        kind=Kind.ACCOUNT_UNREACHABLE,
        severity=Severity.CRITICAL,
        summary=f"Stripe account {scan.account} could not be read: {scan.error}; "
        "its purchases are unknown, not absent",
        account=scan.account,
        tenant=scan.tenant,
        why_no_fix="check the key's access to the connected account"
        if scan.denied
        else "Stripe is failing on this account; read it again later",
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
