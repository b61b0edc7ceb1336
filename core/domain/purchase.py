"""Judging one paid pass purchase: is there a pass, is it the right one, and what would fix it.

The order of the checks follows domain.md §7: match (§7.2), identity (§7.3), tenant (§7.4),
pass (§7.5), then the content the rule gives (§7.6) and what the customer sees (§7.7). The
never-do rules of §7.8 hold throughout: nothing is created without a paid session, nothing is
deleted, no user or tenant is ever re-pointed, no tenant is defaulted, and dates and clips
change only as a before/after a person approves.
"""

from __future__ import annotations

from datetime import datetime

from core.domain.facts import Index
from core.domain.identity import looks_like_clerk_id
from core.domain.models import JSON, CheckoutSession, ClerkUser, Pass, iso
from core.domain.purchase_content import _matched
from core.domain.purchase_context import Purchase, _Context
from core.domain.purchase_missing import (
    KEEP_DATES,
    MANUAL_MATCH_DAYS,
    START_TODAY,
    _manual_match,
    _missing,
    _refunded,
)
from core.domain.rule import CLIP_TYPES, RuleError, end_date, type_and_clips

__all__ = [
    "KEEP_DATES",
    "MANUAL_MATCH_DAYS",
    "START_TODAY",
    "Purchase",
    "judge_purchase",
    "new_user_document",
]


def judge_purchase(
    session: CheckoutSession,
    idx: Index,
    *,
    now: datetime,
    actor: str | None,
    claimed: set[str],
) -> Purchase:
    """Judge one paid pass purchase. `claimed` holds manual documents other purchases took."""
    ctx = _Context(
        session=session,
        idx=idx,
        now=now,
        actor=actor,
        account_tenant=idx.tenant_by_account.get(session.account) if session.account else None,
        is_upgrade=session.is_upgrade,
    )
    _resolve(ctx)
    ctx.pass_name = ctx.pass_.display_name if ctx.pass_ else (session.line_item_names or (None,))[0]
    exact = idx.exact_matches(session)
    manual = None if exact else _manual_match(ctx, claimed)
    if manual is not None:
        claimed.add(manual.id)
    if session.fully_refunded or session.disputed:
        return _refunded(ctx, exact or ([manual] if manual else []))
    if exact:
        return _matched(ctx, exact, matched_by="session")
    if manual is not None:
        return _matched(ctx, [manual], matched_by="manual")
    return _missing(ctx)


# ------------------------------------------------------------------------------- resolution


def _resolve(ctx: _Context) -> None:
    """Resolve pass, tenant and user, recording every reason a safe write is impossible."""
    s, idx = ctx.session, ctx.idx
    pass_id, user_id, tenant_id = s.pass_id, s.user_id, s.tenant_id
    if not (pass_id and user_id and tenant_id):
        named = (("passId", pass_id), ("userId", user_id), ("tenantId", tenant_id))
        missing = [key for key, value in named if not value]
        ctx.blockers.append(f"metadata lacks {', '.join(missing)}")
    if pass_id:
        ctx.pass_ = idx.passes.get(pass_id)
        if ctx.pass_ is None:
            names = ", ".join(repr(n) for n in s.line_item_names) or "unknown"
            ctx.blockers.append(f"pass {pass_id} no longer exists (line item: {names})")
    _resolve_tenant(ctx, tenant_id)
    if user_id:
        ctx.references = idx.refset(user_id)
        users = idx.users_for_clerk_id(user_id)
        clerk = idx.clerk_by_id.get(user_id)
        if users:
            ctx.user_ref = users[0].id
            if len(users) > 1:
                ctx.notes.append(
                    f"{len(users)} Sanity users have clerkId {user_id}; the oldest "
                    f"({users[0].id}) is referenced"
                )
        elif clerk is not None and looks_like_clerk_id(user_id):
            ctx.new_user = new_user_document(s, clerk, now=ctx.now)
            ctx.user_ref = str(ctx.new_user["_id"])
            ctx.references = ctx.references | {ctx.user_ref}
        elif idx.facts.clerk_users is not None:
            ctx.blockers.append(f"no Sanity user has clerkId {user_id}, and Clerk does not know it")
        else:
            ctx.blockers.append(f"no Sanity user has clerkId {user_id}")
    if ctx.pass_ is not None and not ctx.blockers:
        _check_pass_config(ctx, ctx.pass_)


def new_user_document(session: CheckoutSession, clerk: ClerkUser, *, now: datetime) -> JSON:
    """The Sanity user the platform's webhook creates for a buyer it does not know (FM-21,
    cli-contract): name and email from the session's customer details, else Clerk's."""
    clerk_name = " ".join(n for n in (clerk.first_name, clerk.last_name) if n) or None
    stamp = iso(now)
    return {
        "_id": f"user-{clerk.id}",
        "_type": "user",
        "clerkId": clerk.id,
        "name": session.customer_name or clerk_name or "Customer",
        "email": session.email or clerk.primary_email or "",
        "role": "student",
        "isActive": True,
        "createdAt": stamp,
        "updatedAt": stamp,
    }


def _resolve_tenant(ctx: _Context, meta_tenant: str | None) -> None:
    """The tenant is `pass.tenant`; it must agree with metadata and the account (§7.4, FM-27)."""
    account = ctx.session.account
    pass_tenant = ctx.pass_.tenant_id if ctx.pass_ else None
    account_tenant = ctx.account_tenant.id if ctx.account_tenant else None
    if account is not None and account_tenant is None:
        ctx.blockers.append(f"no tenant has Connect account {account}")
    if len({t for t in (pass_tenant, meta_tenant, account_tenant) if t}) > 1:
        candidates = {
            "the pass's tenant": pass_tenant,
            "metadata.tenantId": meta_tenant,
            f"the tenant of {account}": account_tenant,
        }
        listed = ", ".join(f"{k} is {v}" for k, v in candidates.items() if v)
        ctx.blockers.append(f"tenant mismatch: {listed}")
    elif ctx.pass_ is not None and pass_tenant is None:
        ctx.blockers.append(f"pass {ctx.pass_.id} has no tenant")
    ctx.tenant_id = pass_tenant or meta_tenant or account_tenant


def _check_pass_config(ctx: _Context, pass_: Pass) -> None:
    """A pass whose configuration breaks the rule blocks automatic creation (FM-13)."""
    try:
        sub_type, clips = type_and_clips(pass_)
        end = end_date(pass_, ctx.session.created)
    except RuleError as err:
        ctx.blockers.append(f"pass configuration: {err}")
        return
    if sub_type in CLIP_TYPES and (clips is None or clips <= 0):
        ctx.blockers.append(
            f"pass configuration: classesLimit is {pass_.classes_limit!r}, "
            "the pass would have no clips"
        )
    if pass_.validity_type == "date" and end <= ctx.now:
        ctx.blockers.append(
            f"pass configuration: fixed expiryDate {iso(end)[:10]} has passed; "
            "a person must choose the dates"
        )
