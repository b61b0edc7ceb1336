"""Visible and usable, exactly as the platform computes them (domain.md §1.10), with the reason."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from core.domain.models import Subscription
from core.domain.rule import CLIP_TYPES

# The platform's own reason vocabulary (CMS/src/lib/pass-visibility-debug.ts), plus ours.
REASON_TEXT = {
    "tenant_match": "shown: active, not expired, school matches",
    "legacy_tenant_resolved_from_passId": "shown: no school on it, but its passId is the school's",
    "legacy_tenant_resolved_from_pass_ref": (
        "shown: no school on it, but its pass ref is the school's"
    ),
    "inactive": "hidden: isActive is not true",
    "expired": "hidden: endDate is not in the future",
    "tenant_mismatch": "hidden: it belongs to another school",
    "missing_tenant_and_pass_not_in_tenant": "hidden: no school, and its pass is not the school's",
    "user_not_in_reference_set": "hidden: its user reference is none of the customer's ids",
    "no_clips_left": "shown, but cannot book: no clips left",
    "unusable_type": "shown, but cannot book: the booking API does not know its type",
}


@dataclass(frozen=True, slots=True)
class Visibility:
    """Whether the customer sees the pass in "Your Active Passes" and can book with it."""

    visible: bool
    usable: bool
    reason: str

    @property
    def text(self) -> str:
        """The reason as a person reads it."""
        return REASON_TEXT.get(self.reason, self.reason)


#: Every verdict is one of a few, each made once (`visibility` runs for every purchase judged).
_verdict = cache(Visibility)


def visibility(
    sub: Subscription,
    *,
    now: datetime,
    references: Collection[str],
    tenant_id: str | None,
    tenant_pass_ids: Collection[str],
) -> Visibility:
    """Evaluate the app's visibility predicate, then the booking API's usability predicate.

    Args:
        sub: the subscription.
        now: the moment to judge at.
        references: the customer's user reference set (§1.9).
        tenant_id: the school the customer looks at.
        tenant_pass_ids: the `_id`s of that school's passes (for tenant-less legacy documents).
    """
    if sub.user_ref is None or sub.user_ref not in references:
        return _verdict(False, False, "user_not_in_reference_set")
    if sub.is_active is not True:
        return _verdict(False, False, "inactive")
    if sub.end_date is None or sub.end_date <= now:
        return _verdict(False, False, "expired")
    if sub.raw.get("tenant") is not None:  # GROQ's defined(tenant): a ref without _ref counts
        if sub.tenant_ref != tenant_id:
            return _verdict(False, False, "tenant_mismatch")
        reason = "tenant_match"
    elif sub.pass_id is not None and sub.pass_id in tenant_pass_ids:
        reason = "legacy_tenant_resolved_from_passId"
    elif sub.pass_ref is not None and sub.pass_ref in tenant_pass_ids:
        reason = "legacy_tenant_resolved_from_pass_ref"
    else:
        return _verdict(False, False, "missing_tenant_and_pass_not_in_tenant")
    if sub.type == "monthly":
        return _verdict(True, True, reason)
    if sub.type in CLIP_TYPES:
        if (sub.remaining_clips or 0) > 0:
            return _verdict(True, True, reason)
        return _verdict(True, False, "no_clips_left")
    return _verdict(True, False, "unusable_type")
