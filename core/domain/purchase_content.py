"""A paid pass purchase with its pass: duplicates, a leftover upgrade, and the pass compared with
what the rule gives (§7.6) and with what the customer sees (§7.7) — each difference a finding,
with the patch that is certain or the reason none is."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.domain.findings import Action, Finding, Fix, Kind, PatchDoc, Severity
from core.domain.models import JSON, Subscription, iso, iso_moment
from core.domain.purchase_context import Purchase, _Context
from core.domain.purchase_missing import _amount, _retire_upgraded
from core.domain.rule import (
    CLIP_TYPES,
    USABLE_TYPES,
    Expected,
    RuleError,
    chosen_start,
)
from core.domain.visibility import Visibility, visibility

#: Dates further apart than this from the rule's are wrong (FM-14, FM-32).
DATE_TOLERANCE = timedelta(days=1)
#: A pass started less than this ago is fresh: none of its clips can have been used yet.
FRESH = timedelta(days=1)
_NUMBER = int | float


def _matched(ctx: _Context, subs: list[Subscription], *, matched_by: str) -> Purchase:
    s = ctx.session
    findings: list[Finding] = []
    active = [x for x in subs if x.is_active is True]
    primary = _primary(subs)
    if len(active) > 1:
        findings.append(_duplicates(ctx, active, keep=_primary(active)))
        primary = _primary(active)
    link: JSON = {}
    if matched_by == "manual":
        link = {"stripeSessionId": s.id}
        if s.payment_intent:
            link["stripePaymentId"] = s.payment_intent
    findings.extend(_content(ctx, primary, link))
    if ctx.is_upgrade:
        findings.extend(_upgrade_leftover(ctx))
    link_fix = None
    if link and not any(f.fix for f in findings):
        link_fix = Fix(
            action=Action.LINK_SUBSCRIPTION,
            operations=(
                PatchDoc(
                    id=primary.id,
                    set={**link, **ctx.stamp("link to its Stripe purchase")},
                    before={k: primary.raw.get(k) for k in link},
                    if_revision=primary.rev,
                ),
            ),
            note=f"hand-made pass {primary.id} matches this purchase; link it",
        )
    ordered = findings
    if len(findings) > 1:
        ordered = sorted(findings, key=lambda f: (f.severity != Severity.CRITICAL, f.kind.value))
    return Purchase(
        session=s,
        tenant=ctx.tenant_id,
        status=ordered[0].kind.value if ordered else "ok",
        subscriptions=tuple([x.id for x in subs]),
        matched_by=matched_by,
        findings=tuple(ordered),
        link=link_fix,
        pass_name=ctx.pass_name,
    )


def _primary(subs: list[Subscription]) -> Subscription:
    """The document to keep: active, written by the webhook, then the oldest."""

    def rank(sub: Subscription) -> tuple[bool, bool, str, str]:
        created = sub.created_at.isoformat() if sub.created_at else "9999"
        return (sub.is_active is not True, not sub.created_via_webhook, created, sub.id)

    return subs[0] if len(subs) == 1 else min(subs, key=rank)


def _duplicates(ctx: _Context, active: list[Subscription], *, keep: Subscription) -> Finding:
    extras = [x for x in active if x.id != keep.id]
    ops = tuple(
        PatchDoc(
            id=x.id,
            set={
                "isActive": False,
                "deactivationReason": f"duplicate of {keep.id} for {ctx.session.id}",
                "deactivatedBy": ctx.actor,
                "deactivatedAt": iso_moment(ctx.now),
            },
            before={"isActive": x.is_active, "deactivationReason": x.raw.get("deactivationReason")},
            if_revision=x.rev,
        )
        for x in extras
    )
    return ctx.finding(
        Kind.DUPLICATE_PASS,
        Severity.WARNING,
        f"{len(active)} active passes for one purchase; keep {keep.id}, deactivate "
        + ", ".join(x.id for x in extras),
        subscriptions=tuple(x.id for x in active),
        fix=Fix(Action.DEACTIVATE_DUPLICATES, ops, note="deactivated, never deleted"),
    )


def _upgrade_leftover(ctx: _Context) -> list[Finding]:
    """Both halves of an upgrade active (FM-17): the old one must be retired."""
    old = ctx.idx.subscriptions.get(ctx.session.upgrade_from or "")
    if old is None or old.is_active is not True or ctx.pass_ is None:
        return []
    if old.user_ref and ctx.references and old.user_ref not in ctx.references:
        return []
    return [
        ctx.finding(
            Kind.MISSING_UPGRADE,
            Severity.CRITICAL,
            f"upgraded to {ctx.pass_.display_name}, but the old pass {old.id} is still active",
            subscriptions=(old.id,),
            fix=Fix(Action.UPGRADE_SUBSCRIPTION, (_retire_upgraded(ctx, old),)),
        )
    ]


def _content(ctx: _Context, sub: Subscription, link: JSON) -> list[Finding]:
    """Compare a pass with what the rule gives; each difference is a finding with a patch."""
    expected = _expected(ctx, sub)
    findings: list[Finding] = []
    hidden = _hidden(ctx, sub, expected)
    if hidden is not None:
        findings.append(hidden)
    if expected is not None and sub.type is not None and sub.raw.get("endDate") is not None:
        findings.extend(_dates(ctx, sub, expected))
        findings.extend(_typing(ctx, sub, expected))
        findings.extend(_price(ctx, sub, expected))
    elif expected is None and hidden is None:
        findings.extend(_unusable_without_rule(ctx, sub))
    if link and findings:
        findings = [_with_link(f, link) for f in findings]
    return findings


def _expected(ctx: _Context, sub: Subscription) -> Expected | None:
    if ctx.blockers or ctx.pass_ is None or ctx.tenant_id is None:
        return None
    try:
        return Expected(
            ctx.session,
            ctx.pass_,
            user_ref=sub.user_ref or ctx.user_ref or "",
            tenant_id=ctx.tenant_id,
            provenance=ctx.provenance,
            start=chosen_start(sub),
            upgraded_from=ctx.idx.subscriptions.get(ctx.session.upgrade_from or "")
            if ctx.is_upgrade
            else None,
        )
    except RuleError:
        return None


def _unusable_without_rule(ctx: _Context, sub: Subscription) -> list[Finding]:
    """Shown but not bookable, and the pass cannot say what it should be (FM-37)."""
    tenant_passes = ctx.idx.pass_ids_by_tenant.get(ctx.tenant_id or "", frozenset())
    seen = visibility(
        sub,
        now=ctx.now,
        references=ctx.viewer_references,
        tenant_id=ctx.tenant_id,
        tenant_pass_ids=tenant_passes,
    )
    if not seen.visible or seen.usable:
        return []
    fresh = sub.start_date is not None and ctx.now - sub.start_date < FRESH
    if seen.reason == "no_clips_left" and sub.remaining_clips is not None and not fresh:
        return []  # clips used up by bookings: nothing wrong
    why = "; ".join(ctx.blockers) or "the pass cannot say what it should be"
    return [
        ctx.finding(
            Kind.MISTYPED_PASS,
            Severity.CRITICAL,
            f"{sub.display_name} ({sub.id}) is shown but cannot be booked: {seen.text}",
            subscriptions=(sub.id,),
            why_no_fix=f"a person must decide: {why}",
        )
    ]


def _with_link(finding: Finding, link: JSON) -> Finding:
    """Fold "link the hand-made pass to its purchase" into a finding's patch."""
    if finding.fix is None:
        return finding
    ops = tuple(
        PatchDoc(op.id, {**link, **op.set}, {**dict.fromkeys(link), **op.before}, op.if_revision)
        if isinstance(op, PatchDoc)
        else op
        for op in finding.fix.operations
    )
    return Finding(
        **{
            **{name: getattr(finding, name) for name in finding.__dataclass_fields__},
            "fix": Fix(finding.fix.action, ops, finding.fix.note, finding.fix.alternatives),
        }
    )


def _hidden(ctx: _Context, sub: Subscription, expected: Expected | None) -> Finding | None:
    """The customer cannot see or use this pass: say why, and patch only what is certain.

    Every certain value is written in one patch, in the app's order of checks, so that one
    approval makes the pass visible (an undefined user *and* tenant, say — FM-39). When any
    needed value is not certain, nothing is offered and the finding says why.
    """
    tenant_passes = ctx.idx.pass_ids_by_tenant.get(ctx.tenant_id or "", frozenset())
    references = ctx.viewer_references

    def seen_of(current: Subscription) -> Visibility:
        return visibility(
            current,
            now=ctx.now,
            references=references,
            tenant_id=ctx.tenant_id,
            tenant_pass_ids=tenant_passes,
        )

    shape_gaps = [k for k in ("type", "startDate", "endDate", "isActive") if sub.raw.get(k) is None]
    patch: JSON = {}
    why: str | None = None
    seen = seen_of(sub)
    reason = seen.reason
    if shape_gaps:
        # The "second schema" (FM-38): fill the missing modern fields from the rule.
        reason = "missing " + ", ".join(shape_gaps)
        if expected is not None:
            doc = expected.doc
            for key in ("type", "startDate", "endDate", "remainingClips", "isActive", "passId"):
                if sub.raw.get(key) is None and key in doc:
                    patch[key] = doc[key]
            if "remainingClips" in patch and expected.type in CLIP_TYPES:
                clips, why = _clips_now(ctx, sub, expected)
                patch["remainingClips"] = clips
            end = expected.end
            if end is not None and end <= ctx.now:
                return None  # over by the rule anyway: filling it in would show nothing
        else:
            why = "the rule cannot compute the missing fields: " + "; ".join(ctx.blockers)
    elif seen.visible:
        return None  # usable problems are typing's
    elif seen.reason == "expired":
        # Wrong dates are wrong_expiry's, and natural expiry is no fault; but a pass that
        # ended before it was bought, with no rule to say when it should end, is hidden.
        if expected is not None or (sub.end_date and sub.end_date > ctx.session.created):
            return None
        reason = "expired at creation"
        why = "it ended before it was bought, and the right dates are not certain: " + "; ".join(
            ctx.blockers
        )
    else:
        current = sub
        for _ in range(len(_UNHIDE_ORDER)):
            step, why = _unhide(ctx, current, seen.reason, expected)
            if step is None:
                if why is None:
                    return None  # deactivated on purpose, or over anyway: nothing to show
                break
            patch.update(step)
            current = Subscription.from_json({**current.raw, **step})
            seen = seen_of(current)
            if seen.visible:
                break
        else:
            why = "no certain set of values makes it visible"
    fix = None
    if patch and why is None:
        before = {key: sub.raw.get(key) for key in patch}
        fix = Fix(
            Action.PATCH_SUBSCRIPTION,
            (PatchDoc(sub.id, {**patch, **ctx.stamp("hidden_pass")}, before, sub.rev),),
        )
    return ctx.finding(
        Kind.HIDDEN_PASS,
        Severity.CRITICAL,
        f"{sub.display_name} ({sub.id}) exists but the customer cannot see it: {reason}",
        subscriptions=(sub.id,),
        fix=fix,
        why_no_fix=None if fix else (why or "no certain value to write"),
    )


#: The hidden reasons `_unhide` can act on, in the app's order.
_UNHIDE_ORDER = (
    "user_not_in_reference_set",
    "inactive",
    "expired",
    "tenant_mismatch",
    "missing_tenant_and_pass_not_in_tenant",
)


def _unhide(
    ctx: _Context, sub: Subscription, reason: str, expected: Expected | None
) -> tuple[JSON | None, str | None]:
    """The certain change that clears one hidden reason; else (None, why), or (None, None)
    when the pass is rightly not shown."""
    certain_tenant = ctx.tenant_id if ctx.tenant_id and not ctx.blockers else None
    if reason == "user_not_in_reference_set":
        if sub.user_ref is None and ctx.user_ref:
            return {"user": _ref(ctx.user_ref)}, None
        if sub.user_ref in ctx.idx.users:
            return (
                None,
                f"it belongs to another user ({sub.user_ref}); never re-pointed automatically",
            )
        return None, f"its user reference {sub.user_ref!r} resolves to nobody"
    if reason == "inactive":
        if sub.deactivation_recorded:
            return None, None  # deactivated on purpose, with a recorded reason
        return {"isActive": True}, None
    if reason == "expired":
        end = expected.end if expected is not None else None
        if expected is not None and end is not None and end > ctx.now:
            doc = expected.doc
            return {"startDate": doc["startDate"], "endDate": doc["endDate"]}, None
        return None, None  # over anyway: reactivating it would show nothing
    if reason == "missing_tenant_and_pass_not_in_tenant" or (
        reason == "tenant_mismatch" and sub.tenant_ref is None  # a reference without `_ref`
    ):
        if certain_tenant:
            return {"tenant": _ref(certain_tenant)}, None
        return None, "the right school is not certain: " + "; ".join(ctx.blockers)
    if reason == "tenant_mismatch":
        return None, (
            f"it is on school {sub.tenant_ref}, not {ctx.tenant_id}; never re-pointed automatically"
        )
    return None, "no certain value to write"


def _ref(target: str) -> JSON:
    return {"_type": "reference", "_ref": target}


def _dates(ctx: _Context, sub: Subscription, expected: Expected) -> list[Finding]:
    """`startDate`/`endDate` more than a day off the rule's, or impossible (FM-14, FM-32, FM-50)."""
    want_start = expected.start
    want_end = expected.end
    assert want_start is not None
    assert want_end is not None
    start, end = sub.start_date, sub.end_date
    problems: list[str] = []
    if start is None or abs(start - want_start) > DATE_TOLERANCE:
        basis = "purchase was" if want_start == ctx.session.created else "the rule gives"
        problems.append(f"starts {_day(start)}, {basis} {_day(want_start)}")
    if end is None:
        problems.append(f"endDate {str(sub.raw.get('endDate'))[:40]!r} is not a date")
    elif abs(end - want_end) > DATE_TOLERANCE:
        problems.append(f"ends {_day(end)}, the rule gives {_day(want_end)}")
    if start is not None and end is not None and end <= start:
        problems.append("ends before it starts")
    if not problems:
        return []
    hidden_by_it = (end is None or end <= ctx.now) and ctx.now < want_end
    patch = {"startDate": iso(want_start), "endDate": iso(want_end)}
    before = {"startDate": sub.raw.get("startDate"), "endDate": sub.raw.get("endDate")}
    return [
        ctx.finding(
            Kind.WRONG_EXPIRY,
            Severity.CRITICAL if hidden_by_it else Severity.WARNING,
            f"{sub.display_name} ({sub.id}) {'; '.join(problems)}"
            + (" — hidden because of it" if hidden_by_it else ""),
            subscriptions=(sub.id,),
            fix=Fix(
                Action.PATCH_SUBSCRIPTION,
                (PatchDoc(sub.id, {**patch, **ctx.stamp("wrong_expiry")}, before, sub.rev),),
                note="computed from the purchase time and the pass's current configuration",
            ),
        )
    ]


def _typing(ctx: _Context, sub: Subscription, expected: Expected) -> list[Finding]:
    """`type`, `remainingClips`, `passId` not what the rule gives for the pass bought (FM-36/37)."""
    assert ctx.pass_ is not None
    want_type = expected.type
    problems: list[str] = []
    patch: JSON = {}
    if sub.pass_key != ctx.pass_.id:
        problems.append(f"is for pass {sub.pass_key}, but {ctx.pass_.id} was bought")
        patch.update({"passId": ctx.pass_.id, "passName": ctx.pass_.name})
    if sub.type != want_type:
        problems.append(f"type {sub.type!r}, the pass gives {want_type!r}")
        patch["type"] = want_type
    fresh = sub.start_date is not None and ctx.now - sub.start_date < FRESH
    clips_wrong = want_type in CLIP_TYPES and (
        sub.type != want_type
        or sub.remaining_clips is None
        or (fresh and sub.remaining_clips <= 0)
        or sub.remaining_clips > (expected.clips or 0)
    )
    why: str | None = None
    if clips_wrong:
        clips, why = _clips_now(ctx, sub, expected)
        if clips is not None and clips != sub.remaining_clips:
            problems.append(f"remainingClips {sub.remaining_clips!r}, should be {clips}")
            patch["remainingClips"] = clips
        elif clips is None:
            problems.append(f"remainingClips {sub.remaining_clips!r}")
    if not problems:
        return []
    unusable = sub.type not in USABLE_TYPES or (
        sub.type in CLIP_TYPES and (sub.remaining_clips or 0) <= 0
    )
    fix = None
    if patch and not (clips_wrong and why):
        before = {key: sub.raw.get(key) for key in patch}
        fix = Fix(
            Action.PATCH_SUBSCRIPTION,
            (PatchDoc(sub.id, {**patch, **ctx.stamp("mistyped_pass")}, before, sub.rev),),
            note="clips left = the pass's classesLimit minus the classes already booked",
        )
    return [
        ctx.finding(
            Kind.MISTYPED_PASS,
            Severity.CRITICAL if unusable else Severity.WARNING,
            f"{sub.display_name} ({sub.id}) {'; '.join(problems)}",
            subscriptions=(sub.id,),
            fix=fix,
            why_no_fix=None if fix else (why or "no certain value to write"),
        )
    ]


def _price(ctx: _Context, sub: Subscription, expected: Expected) -> list[Finding]:
    """`purchasePrice` not the amount paid (FM-35), as the webhook writes it (the list price
    for a 0 total). A warning with no fix: the pass works, and whether the record matters is a
    person's call."""
    if ctx.is_upgrade:
        return []  # an upgrade records the new pass's full price, never the amount charged
    recorded = sub.raw.get("purchasePrice")
    want = expected.purchase_price
    if not isinstance(recorded, _NUMBER) or isinstance(recorded, bool):
        return []
    if not isinstance(want, _NUMBER) or abs(float(recorded) - float(want)) < 0.5:
        return []
    what = "the amount paid"
    return [
        ctx.finding(
            Kind.PRICE_MISMATCH,
            Severity.WARNING,
            f"{sub.display_name} ({sub.id}) has purchasePrice {recorded:g}, but {what} "
            f"is {float(want):g} ({_amount(ctx.session)} paid)",
            subscriptions=(sub.id,),
            why_no_fix="a person decides whether the recorded price matters (FM-35)",
        )
    ]


def _clips_now(
    ctx: _Context, sub: Subscription, expected: Expected
) -> tuple[int | None, str | None]:
    """Clips the customer should have now: the limit less the clips already used.

    Used clips come from bookings when they were read; a single-clip document has used
    `1 - remaining`. Otherwise the count is unknown and a person must say (never reset blindly).
    """
    limit = expected.clips
    if not isinstance(limit, int):
        return None, "the pass has no classesLimit"
    bookings = ctx.idx.facts.bookings
    refs = ctx.references | ({sub.user_ref} if sub.user_ref else set())
    # The "second schema" (FM-38) has no remainingClips and counts used classes itself.
    counted = sub.raw.get("classesUsed") if not sub.has_remaining_clips else None
    recorded = counted if isinstance(counted, int) and not isinstance(counted, bool) else None
    since = sub.start_date or ctx.session.created
    if bookings is not None:
        used = sum(
            1
            for b in bookings
            if b.student_ref in refs
            and (b.tenant_ref in (None, ctx.tenant_id))
            and (b.booked_at or b.class_date or since) >= since
            and (b.booking_type in (None, *CLIP_TYPES))
        )
        return max(0, limit - max(used, recorded or 0)), None
    if recorded is not None and recorded >= 0:
        return max(0, limit - recorded), None
    if sub.type == "single" and sub.remaining_clips in (0, 1):
        return max(0, limit - (1 - (sub.remaining_clips or 0))), None
    return None, "how many classes were already booked is unknown; a person must set the clips"


def _day(value: datetime | None) -> str:
    return value.strftime("%a %Y-%m-%d") if value else "never"
