"""Checks that start from Sanity rather than from a purchase: passes nobody paid for, broken
references (FM-39, FM-42, FM-55), and pass configurations that break fulfilment (FM-13/31/37)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from core.domain.facts import Index
from core.domain.findings import Finding, Kind, Severity
from core.domain.identity import looks_like_clerk_id
from core.domain.models import CheckoutSession, Pass, Subscription
from core.domain.rule import pass_problems


def audit_subscriptions(
    subs: Iterable[Subscription], idx: Index, *, now: datetime
) -> list[Finding]:
    """Findings about subscriptions no judged purchase accounts for."""
    findings: list[Finding] = []
    for sub in subs:
        broken = _broken_reference(sub, idx)
        if broken is not None:
            findings.append(broken)
        unpaid = _unpaid(sub, idx, now=now)
        if unpaid is not None:
            findings.append(unpaid)
    return findings


def in_audit(sub: Subscription, *, now: datetime) -> bool:
    """Audited: active and not expired — the passes that can still be used."""
    return sub.is_active is True and sub.end_date is not None and sub.end_date > now


def subscription_tenant(sub: Subscription, idx: Index) -> str | None:
    """The school a subscription belongs to: its tenant, else its pass's."""
    if sub.tenant_ref:
        return sub.tenant_ref
    pass_ = idx.passes.get(sub.pass_key or "")
    return pass_.tenant_id if pass_ else None


def _finding(sub: Subscription, idx: Index, kind: Kind, summary: str, **kw: object) -> Finding:
    return Finding(
        kind=kind,
        severity=Severity.WARNING,
        summary=summary,
        tenant=subscription_tenant(sub, idx),
        user=sub.user_ref,
        email=idx.users[sub.user_ref].email if sub.user_ref in idx.users else None,
        subscriptions=(sub.id,),
        pass_id=sub.pass_key,
        **kw,  # type: ignore[arg-type]
    )


def _broken_reference(sub: Subscription, idx: Index) -> Finding | None:
    problems: list[str] = []
    if sub.user_ref is None:
        problems.append("no user reference")
    elif (
        sub.user_ref not in idx.users
        and sub.user_ref not in idx.clerk_ids
        and not looks_like_clerk_id(sub.user_ref)
    ):
        problems.append(f"user {sub.user_ref} does not exist")
    if sub.tenant_ref is not None and sub.tenant_ref not in idx.tenants:
        problems.append(f"tenant {sub.tenant_ref} does not exist")
    if sub.pass_key is not None and sub.pass_key not in idx.passes:
        problems.append(f"pass {sub.pass_key} does not exist")
    if not problems:
        return None
    return _finding(
        sub,
        idx,
        Kind.BROKEN_REFERENCE,
        f"{sub.display_name} ({sub.id}): {'; '.join(problems)}",
        why_no_fix="the right target is not certain; a person must say",
    )


def _unpaid(sub: Subscription, idx: Index, *, now: datetime) -> Finding | None:
    """An active pass with no paid purchase behind it and no mark of a deliberate grant."""
    if sub.is_grant or not in_audit(sub, now=now):
        return None
    linked = idx.linked_session(sub)
    if linked is not None:
        if linked.is_paid:
            return None
        why = f"its session {linked.id} is {linked.payment_status or 'not paid'}"
    elif sub.is_linked:
        return None  # linked to a purchase outside what was read: not judged
    else:
        ids = [x for x in (sub.stripe_session_id, *sub.payment_ids) if x]
        why = f"placeholder ids {', '.join(ids)}" if ids else "no Stripe ids at all"
    return _finding(
        sub,
        idx,
        Kind.UNPAID_PASS,
        f"{sub.display_name} ({sub.id}) is active with no payment behind it: {why}",
        why_no_fix="deactivation is a person's decision",
    )


def lint_passes(
    passes: Iterable[Pass],
    *,
    now: datetime,
    bought: Collection[str],
) -> list[Finding]:
    """Purchasable passes whose configuration breaks fulfilment or yields unusable passes.

    Args:
        passes: the passes to lint; only `isActive` ones (still on sale) are judged.
        now: the moment to judge at.
        bought: ids of passes someone bought in the window (their findings are critical).
    """
    findings: list[Finding] = []
    for pass_ in passes:
        if pass_.is_active is not True:
            continue
        problems = pass_problems(pass_, now=now)
        if not problems:
            continue
        findings.append(
            Finding(
                kind=Kind.PASS_CONFIG,
                severity=Severity.CRITICAL if pass_.id in bought else Severity.WARNING,
                summary=f"pass {pass_.display_name!r} ({pass_.id}): {'; '.join(problems)}",
                tenant=pass_.tenant_id,
                pass_id=pass_.id,
                why_no_fix="the school fixes its pass in the Studio",
                details=tuple(problems),
            )
        )
    return findings


def sessions_for_pass(sessions: Iterable[CheckoutSession]) -> frozenset[str]:
    """Pass ids bought in these sessions."""
    return frozenset(s.pass_id for s in sessions if s.pass_id)
