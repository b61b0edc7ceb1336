"""The fulfilment rule: a paid purchase → the exact subscription the platform's webhook writes.

Domain.md §2.4 (purchase) and §2.5 (upgrade), with one deliberate difference the domain asks for
(§7.6, FM-50): validity is computed from the purchase time (`session.created`), never from the
moment of processing — so a pass written late by passbot ends when the webhook's would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from core.domain.models import (
    JSON,
    CheckoutSession,
    Pass,
    Subscription,
    iso,
    iso_moment,
    parse_instant,
)

#: pass.type → (subscription.type, clips rule). "limit" means `pass.classesLimit`.
TYPE_MAP: dict[str, tuple[str, int | str | None]] = {
    "single": ("single", 1),
    "multi-pass": ("multi-pass", "limit"),
    "multi": ("clipcard", "limit"),
    "unlimited": ("monthly", None),
}

#: Subscription types the booking API can use (domain.md §1.10).
CLIP_TYPES = frozenset({"single", "multi-pass", "clipcard"})
USABLE_TYPES = CLIP_TYPES | {"monthly"}


#: Marks a passbot document whose validity a person chose to count from the approval.
START_BASIS = "startBasis"


def chosen_start(sub: Subscription) -> datetime | None:
    """The start a person chose for a passbot document ("start from today"), if any."""
    if sub.raw.get("createdVia") == "passbot" and sub.raw.get(START_BASIS) == "approval":
        return sub.start_date
    return None


class RuleError(ValueError):
    """The pass's configuration makes the webhook throw; the message is the webhook's."""


def end_date(pass_: Pass, base: datetime) -> datetime:
    """`endDate` by the webhook's rule (§2.4 step 5), evaluated in order, from `base`.

    Raises:
        RuleError: "Pass has no valid expiry configuration" — the webhook's own failure.
    """
    # `expiryDate` counts when truthy, as in the webhook's JS: null and "" fall through.
    if pass_.validity_type == "date" and pass_.expiry_date_raw not in (None, "", False, 0):
        if pass_.expiry_date is None:
            raise RuleError(f"Pass expiryDate is not a date: {pass_.expiry_date_raw!r}")
        return pass_.expiry_date
    days = pass_.validity_days
    if days:  # truthy, as in JS: 0 and null fall through
        try:
            return base + timedelta(days=days)
        except OverflowError:
            raise RuleError(f"Pass validityDays is out of range: {days!r}") from None
    raise RuleError(
        "Pass has no valid expiry configuration: "
        f"validityType={pass_.validity_type!r}, validityDays={pass_.validity_days!r}"
    )


def type_and_clips(pass_: Pass) -> tuple[str, int | None]:
    """`type` and `remainingClips` by the mapping of §2.4 step 6.

    Raises:
        RuleError: "Invalid pass type" for a type outside the four mapped ones.
    """
    if pass_.type not in TYPE_MAP:
        raise RuleError(f"Invalid pass type: {pass_.type}")
    sub_type, clips = TYPE_MAP[pass_.type]
    if clips == "limit":
        return sub_type, pass_.classes_limit
    return sub_type, clips if isinstance(clips, int) else None


def pass_problems(pass_: Pass, *, now: datetime) -> list[str]:
    """Why this pass's configuration breaks fulfilment or yields unusable passes (FM-13/31/37)."""
    problems: list[str] = []
    try:
        sub_type, clips = type_and_clips(pass_)
    except RuleError as err:
        problems.append(str(err))
    else:
        if sub_type in CLIP_TYPES and (clips is None or clips <= 0):
            problems.append(
                f"type {pass_.type!r} with classesLimit {pass_.classes_limit!r}: "
                "passes would have no clips and cannot be booked"
            )
    try:
        end = end_date(pass_, now)
    except RuleError as err:
        problems.append(str(err))
    else:
        if pass_.validity_type == "date" and end <= now:
            problems.append(
                f"fixed expiryDate {iso(end)[:10]} is in the past: every purchase is born expired"
            )
    return problems


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who approved a write, and when: recorded on every document passbot writes."""

    approved_by: str | None
    approved_at: datetime


def subscription_id(session_id: str) -> str:
    """The deterministic `_id` that makes creation idempotent: one session, one document."""
    return f"subscription-{session_id}"


def _money(value: float) -> float | int:
    return int(value) if value == int(value) else value


def _meta_number(session: CheckoutSession, key: str) -> float | None:
    raw = session.metadata.get(key)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def expected_subscription(
    session: CheckoutSession,
    pass_: Pass,
    *,
    user_ref: str,
    tenant_id: str,
    provenance: Provenance,
    start: datetime | None = None,
    upgraded_from: Subscription | None = None,
) -> JSON:
    """The document the webhook writes for this purchase (§2.4; §2.5 for an upgrade).

    Args:
        session: the paid Checkout Session.
        pass_: the pass bought (`metadata.passId`), whatever its `isActive`.
        user_ref: the Sanity user `_id` the pass belongs to.
        tenant_id: the tenant, already checked to agree with the pass and the account.
        provenance: who approved it and when.
        start: validity base; the purchase time unless a person chose "start from today".
        upgraded_from: for an upgrade, the subscription being upgraded.

    Raises:
        RuleError: when the pass's configuration makes the webhook throw.
    """
    base = start or session.created
    sub_type, clips = type_and_clips(pass_)
    end = end_date(pass_, base)
    amount = session.amount_total / 100 if session.amount_total else None
    price = pass_.price if pass_.price is not None else 0.0
    purchase_price = _purchase_price(session, pass_, upgraded_from)
    doc: JSON = {
        "_id": subscription_id(session.id),
        "_type": "subscription",
        "user": {"_type": "reference", "_ref": user_ref},
        "tenant": {"_type": "reference", "_ref": tenant_id},
        "type": sub_type,
        "startDate": iso(base),
        "endDate": iso(end),
        "passId": pass_.id,
        "passName": pass_.name,
    }
    if clips is not None or sub_type in CLIP_TYPES:
        doc["remainingClips"] = clips
    doc["purchasePrice"] = purchase_price
    if upgraded_from is None:
        original = _meta_number(session, "originalPrice")
        final = _meta_number(session, "finalPrice")
        doc["originalPrice"] = _money(original if original is not None else price)
        doc["finalPrice"] = _money(final if final is not None else (amount or price))
        doc["discountAmount"] = _money(_meta_number(session, "discountAmount") or 0)
        doc["promoCode"] = session.metadata.get("promoCode") or None
    else:
        doc["isUpgrade"] = True
        doc["upgradedFromSubscriptionId"] = upgraded_from.id
        cost = _meta_number(session, "upgradeCost")
        doc["upgradeCost"] = _money(cost if cost is not None else (amount or 0))
    doc["stripePaymentId"] = session.payment_intent
    doc["stripeSessionId"] = session.id
    doc["isActive"] = True
    doc["createdVia"] = "passbot"
    if start is not None:
        # A person chose the start: later runs judge the dates from it, not from the purchase.
        doc[START_BASIS] = "approval"
    doc["approvedBy"] = provenance.approved_by
    doc["approvedAt"] = iso_moment(provenance.approved_at)
    return doc


def _purchase_price(
    session: CheckoutSession, pass_: Pass, upgraded_from: Subscription | None
) -> float | int:
    """`purchasePrice`: the amount paid (the list price for a 0 total); for an upgrade, the new
    pass's full price, never the amount charged (§2.5)."""
    price = pass_.price if pass_.price is not None else 0.0
    if upgraded_from is None:
        amount = session.amount_total / 100 if session.amount_total else None
        return _money(amount if amount else price)
    new_price = _meta_number(session, "newPassPrice")
    return _money(new_price if new_price else price)


def as_written(value: datetime) -> datetime | None:
    """`value` as it reads back from the document the rule writes: `parse_instant(iso(value))`,
    the millisecond the ISO text keeps (None when that text is no date, before year 1000)."""
    if value.tzinfo is UTC and value.year >= 1000:
        micro = value.microsecond
        return value if micro % 1000 == 0 else value.replace(microsecond=micro - micro % 1000)
    return parse_instant(iso(value))


class Expected:
    """What the rule gives for one purchase, in the form judging compares it.

    Judging reads `type`, the clips, the dates and the price of every purchase, and the whole
    document (`doc`, `expected_subscription`'s) only when a patch needs its values: the fields are
    computed at once, the document when first asked for. The dates are `as_written`: what the
    document's `startDate` and `endDate` read back as.

    Raises:
        RuleError: as `expected_subscription` would, when the pass's configuration makes the
            webhook throw.
    """

    __slots__ = (
        "_build",
        "_doc",
        "clips",
        "end",
        "purchase_price",
        "start",
        "type",
    )

    def __init__(
        self,
        session: CheckoutSession,
        pass_: Pass,
        *,
        user_ref: str,
        tenant_id: str,
        provenance: Provenance,
        start: datetime | None = None,
        upgraded_from: Subscription | None = None,
    ) -> None:
        base = start or session.created
        self.type, self.clips = type_and_clips(pass_)
        end = end_date(pass_, base)
        self.start = as_written(base)
        self.end = as_written(end)
        self.purchase_price = _purchase_price(session, pass_, upgraded_from)
        self._build = partial(
            expected_subscription,
            session,
            pass_,
            user_ref=user_ref,
            tenant_id=tenant_id,
            provenance=provenance,
            start=start,
            upgraded_from=upgraded_from,
        )
        self._doc: JSON | None = None

    @property
    def doc(self) -> JSON:
        """The whole document the webhook writes (`expected_subscription`)."""
        if self._doc is None:
            self._doc = self._build()
        return self._doc


def validity_days(pass_: Pass, session: CheckoutSession) -> float | None:
    """How many days of validity a purchase should get (None when the pass cannot say)."""
    try:
        end = end_date(pass_, session.created)
    except RuleError:
        return None
    return (end - session.created).total_seconds() / 86400


def remaining_share(pass_: Pass, session: CheckoutSession, *, now: datetime) -> float | None:
    """The share of validity left now for a pass computed from the purchase time (0 = expired)."""
    total = validity_days(pass_, session)
    if total is None or total <= 0:
        return None
    end = session.created + timedelta(days=total)
    left = (end - now).total_seconds() / 86400
    return max(0.0, left / total)
