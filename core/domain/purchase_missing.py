"""A paid pass purchase with no pass behind it: the pass the webhook should have written (and,
for an upgrade, the old pass it retires), or why none can be written safely; a hand-made pass
that matches it; a refunded or disputed purchase whose pass is still active."""

from __future__ import annotations

from datetime import datetime

from core.domain.findings import (
    Action,
    Alternative,
    CreateDoc,
    Finding,
    Fix,
    Kind,
    Operation,
    PatchDoc,
    Severity,
)
from core.domain.models import JSON, CheckoutSession, Subscription, iso
from core.domain.purchase_context import Purchase, _Context
from core.domain.rule import expected_subscription, remaining_share

#: The alternatives of a late fix: date it from the approval, or keep the purchase's dates.
START_TODAY, KEEP_DATES = "start_today", "keep_dates"
#: Manual documents match a purchase when they start this close to it (cli-contract.md).
MANUAL_MATCH_DAYS = 3


def _refunded(ctx: _Context, exact: list[Subscription]) -> Purchase:
    what = "disputed" if ctx.session.disputed else "refunded"
    active = [s for s in exact if s.is_active is True]
    findings: tuple[Finding, ...] = ()
    if active:
        findings = (
            ctx.finding(
                Kind.REFUNDED_PASS,
                Severity.WARNING,
                f"payment {what}, but {len(active)} active pass(es) remain: "
                + ", ".join(f"{s.display_name} ({s.id})" for s in active),
                subscriptions=tuple(s.id for s in active),
                why_no_fix="deactivating a pass is a person's decision",
            ),
        )
    return Purchase(
        session=ctx.session,
        tenant=ctx.tenant_id,
        status=Kind.REFUNDED_PASS.value if findings else what,
        subscriptions=tuple(s.id for s in exact),
        matched_by="session" if exact else None,
        findings=findings,
        pass_name=ctx.pass_name,
    )


def _manual_match(ctx: _Context, claimed: set[str]) -> Subscription | None:
    """A hand-made pass for this purchase (FM-41): same user refs and pass, started within
    3 days, linked to no other paid session. The closest one wins."""
    s = ctx.session
    if not s.user_id or not s.pass_id:
        return None
    candidates: list[tuple[float, str, Subscription]] = []
    for ref in ctx.references:
        for sub in ctx.idx.subs_by_user_ref.get(ref, ()):
            if sub.id in claimed or sub.pass_key != s.pass_id or sub.start_date is None:
                continue
            if ctx.idx.is_linked_elsewhere(sub, s):
                continue
            gap = abs((sub.start_date - s.created).total_seconds())
            if gap <= MANUAL_MATCH_DAYS * 86400:
                candidates.append((gap, sub.id, sub))
    return min(candidates)[2] if candidates else None


def _missing(ctx: _Context) -> Purchase:
    s = ctx.session
    kind = Kind.MISSING_UPGRADE if ctx.is_upgrade else Kind.MISSING_PASS
    old: Subscription | None = None
    if ctx.is_upgrade:
        old = ctx.idx.subscriptions.get(s.upgrade_from or "")
        if old is None:
            ctx.blockers.append(
                f"the subscription being upgraded ({s.upgrade_from or 'not named'}) does not exist"
            )
        elif ctx.user_ref and old.user_ref and old.user_ref not in ctx.references:
            ctx.blockers.append(
                f"the upgraded subscription {old.id} belongs to another user ({old.user_ref})"
            )
    if ctx.blockers:
        return _unresolvable(ctx)
    assert ctx.pass_ is not None
    assert ctx.tenant_id is not None
    assert ctx.user_ref is not None
    fix = _create_fix(ctx, old)
    name = ctx.pass_.display_name
    when = iso(s.created)[:16].replace("T", " ")
    summary = f"paid {_amount(s)} for {name} on {when} UTC, but has no pass"
    if old is not None:
        summary = f"paid {_amount(s)} to upgrade to {name} on {when} UTC, but has no new pass"
    if ctx.new_user is not None:
        summary += f"; the buyer has no Sanity user: the fix also creates {ctx.new_user['_id']}"
    if fix.note:
        summary += f" — {fix.note}"
    for note in ctx.notes:
        summary += f" ({note})"
    finding = ctx.finding(kind, Severity.CRITICAL, summary, fix=fix, details=(_webhook(ctx),))
    return Purchase(
        session=s,
        tenant=ctx.tenant_id,
        status=kind.value,
        subscriptions=(),
        matched_by=None,
        findings=(finding,),
        pass_name=ctx.pass_name,
    )


def _unresolvable(ctx: _Context) -> Purchase:
    s = ctx.session
    reasons = "; ".join(dict.fromkeys(ctx.blockers))
    finding = ctx.finding(
        Kind.UNRESOLVABLE_PURCHASE,
        Severity.CRITICAL,
        f"paid {_amount(s)} and has no pass, and none can be written safely: {reasons}",
        why_no_fix=f"a person must decide: {reasons}",
        details=(*ctx.blockers, _webhook(ctx)),
    )
    return Purchase(
        session=s,
        tenant=ctx.tenant_id,
        status=Kind.UNRESOLVABLE_PURCHASE.value,
        subscriptions=(),
        matched_by=None,
        findings=(finding,),
        pass_name=ctx.pass_name,
    )


def _webhook(ctx: _Context) -> str:
    """What the platform's webhook logged for this session: evidence, never the verdict
    (cli-contract: paid sessions with no `webhookLog` entry; FM-06, FM-12)."""
    logs = ctx.idx.logs_by_session.get(ctx.session.id, [])
    if not logs:
        return "no webhookLog entry for this session: the platform's webhook never saw it"
    outcomes = [log for log in logs if log.status in ("success", "error")]
    if not outcomes:
        return "the webhook logged processing but never finished (a timeout or a crash)"
    last = max(outcomes, key=lambda log: (log.timestamp is not None, log.timestamp, log.id))
    if last.status == "error":
        return f"the webhook failed and answered 200: {last.error or 'no error recorded'}"
    return "the webhook logged success, yet no pass exists"


def _create_fix(ctx: _Context, old: Subscription | None) -> Fix:
    """Create the pass as the webhook would have (and retire the old one, for an upgrade)."""
    assert ctx.pass_ is not None
    assert ctx.tenant_id is not None
    assert ctx.user_ref is not None
    # §2.5: the new pass goes to the old pass's user — when that is a user document; a legacy
    # raw Clerk id is not carried on (FM-20: creations reference the Sanity `_id`).
    user_ref = old.user_ref if old is not None and old.user_ref in ctx.idx.users else ctx.user_ref

    def ops(start: datetime | None) -> tuple[Operation, ...]:
        assert ctx.pass_ is not None
        assert ctx.tenant_id is not None
        doc = expected_subscription(
            ctx.session,
            ctx.pass_,
            user_ref=user_ref,
            tenant_id=ctx.tenant_id,
            provenance=ctx.provenance,
            start=start,
            upgraded_from=old,
        )
        out: list[Operation] = [CreateDoc(doc)]
        if ctx.new_user is not None:
            out.insert(0, CreateDoc(ctx.new_user))  # one transaction with the pass
        if old is not None and (old.is_active is not False or not _stamped(old, ctx)):
            # The webhook stamps the old pass even when it is already inactive (cli-contract).
            out.append(_retire_upgraded(ctx, old))
        return tuple(out)

    note = choose = None
    alternatives: tuple[Alternative, ...] = ()
    share = remaining_share(ctx.pass_, ctx.session, now=ctx.now)
    if share is not None and share < 0.5 and ctx.pass_.validity_type != "date":
        start_today = Alternative(START_TODAY, "Start from today", ops(ctx.now))
        if share == 0:
            # Written as purchased, it would be hidden at once: a person chooses (cli-contract).
            note = "counted from the purchase it has already ended"
            choose = (
                "dated from the purchase, the pass would already have ended; choose "
                "--start-today (valid from the approval) or --keep-dates (written as purchased, "
                "a record only: the customer will not see it)"
            )
            keep = Alternative(KEEP_DATES, "Keep the purchase dates", ops(None))
            alternatives = (start_today, keep)
        else:
            note = f"counted from the purchase only {share:.0%} of its validity is left"
            alternatives = (start_today,)
    action = Action.UPGRADE_SUBSCRIPTION if old is not None else Action.CREATE_SUBSCRIPTION
    return Fix(
        action=action, operations=ops(None), note=note, alternatives=alternatives, choose=choose
    )


def _stamped(old: Subscription, ctx: _Context) -> bool:
    """The old pass already carries this upgrade's stamps."""
    return (
        bool(old.raw.get("upgradedAt"))
        and ctx.pass_ is not None
        and (old.raw.get("upgradedToPassId") == ctx.pass_.id)
    )


def _retire_upgraded(ctx: _Context, old: Subscription) -> PatchDoc:
    """Deactivate the upgraded-from pass as the webhook does (§2.5 step 5)."""
    assert ctx.pass_ is not None
    deactivate: JSON = {} if old.is_active is False else {"isActive": False}
    return PatchDoc(
        id=old.id,
        set={
            **deactivate,
            "upgradedAt": iso(ctx.session.created),
            "upgradedToPassId": ctx.pass_.id,
            "upgradedToPassName": ctx.pass_.name,
            **ctx.stamp("upgrade"),
        },
        before={"isActive": old.is_active, "upgradedAt": old.raw.get("upgradedAt")},
        if_revision=old.rev,
    )


def _amount(session: CheckoutSession) -> str:
    if session.amount_total is None:
        return "an unknown amount"
    major = session.amount_total / 100
    text = f"{major:,.0f}" if major == int(major) else f"{major:,.2f}"
    return f"{text} {(session.currency or '').upper()}".strip()
