"""Domain models read from the platform's real documents and Stripe objects (domain.md §1, §2).

Every model is built by a `from_json` that accepts whatever the dataset holds — legacy shapes,
missing fields, wrong types — without raising. What cannot be understood is kept: the raw JSON
stays on the model (`raw`) and the oddities are listed in `problems`, so the reconciler can turn
them into findings instead of silently dropping data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

JSON = dict[str, Any]

#: Subscription fields that may hold a Stripe payment id (domain.md §7.2, FM-38).
PAYMENT_ID_FIELDS = ("stripePaymentId", "stripePaymentIntentId", "paymentId")

_fromisoformat = datetime.fromisoformat

_REAL_SESSION_ID = re.compile(r"cs_(?:test_|live_)?[A-Za-z0-9]{8,}")
_REAL_PAYMENT_ID = re.compile(r"(?:pi|ch|py)_(?:test_|live_)?[A-Za-z0-9]{8,}")


def looks_like_session_id(value: str | None) -> bool:
    """True for a real Checkout Session id; false for the placeholders of domain.md §1.2.3."""
    return bool(value) and _REAL_SESSION_ID.fullmatch(value or "") is not None


def looks_like_payment_id(value: str | None) -> bool:
    """True for a real PaymentIntent (or Charge) id; false for `manual_…` and other placeholders."""
    return bool(value) and _REAL_PAYMENT_ID.fullmatch(value or "") is not None


def parse_instant(value: object) -> datetime | None:
    """Parse an ISO-8601 string or epoch seconds into an aware UTC datetime; None if impossible."""
    if type(value) is str:  # the common case first: what the platform writes, already in UTC
        try:
            parsed = _fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is UTC:
                return parsed
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        return None


def iso(value: datetime) -> str:
    """The ISO form the platform writes: milliseconds and a Z (`2026-11-28T08:00:00.000Z`)."""
    v = value if value.tzinfo is UTC else value.astimezone(UTC)
    if v.year >= 1000:  # what strftime would write, without its cost (%-format is the fastest)
        return "%d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
            v.year,
            v.month,
            v.day,
            v.hour,
            v.minute,
            v.second,
            value.microsecond // 1000,
        )
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@lru_cache(maxsize=64)
def iso_moment(value: datetime) -> str:
    """`iso` of a moment many documents share (a run's `now`, stamped on every fix it
    proposes): formatted once."""
    return iso(value)


def _str(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def _num(value: object) -> float | None:
    """A finite number, from a number or a numeric string; NaN and infinities are no number."""
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    number = _num(value)
    if number is None or number != int(number):
        return None
    return int(number)


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def ref_of(value: object) -> str | None:
    """The `_ref` of a Sanity reference; tolerates a bare id string (a legacy shape)."""
    if type(value) is dict or isinstance(value, Mapping):
        value = value.get("_ref")
    if type(value) is str and value.strip():
        return value
    return _str(value)


def normalise_name(name: str | None) -> str:
    """Pass names carry stray whitespace and case ("3 COURSE PASS  "): compare them normalised."""
    return " ".join((name or "").split()).casefold()


# --------------------------------------------------------------------------------------- Sanity


@dataclass(frozen=True, slots=True)
class Tenant:
    """A school (`tenant` document) and its Stripe Connect account."""

    id: str
    name: str
    slug: str | None
    account_id: str | None
    charges_enabled: bool | None
    payouts_enabled: bool | None
    account_status: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Tenant:
        connect = doc.get("stripeConnect")
        connect = connect if isinstance(connect, Mapping) else {}
        slug = doc.get("slug")
        slug_text = _str(slug.get("current")) if isinstance(slug, Mapping) else _str(slug)
        return cls(
            id=str(doc.get("_id", "")),
            name=_str(doc.get("schoolName")) or _str(doc.get("name")) or str(doc.get("_id", "")),
            slug=slug_text,
            account_id=_str(connect.get("accountId")),
            charges_enabled=_bool(connect.get("chargesEnabled")),
            payouts_enabled=_bool(connect.get("payoutsEnabled")),
            account_status=_str(connect.get("accountStatus")),
            raw=dict(doc),
        )


@dataclass(frozen=True, slots=True)
class Pass:
    """A product a customer can buy (`pass` document, domain.md §1.3)."""

    id: str
    name: str | None
    type: str | None
    price: float | None
    validity_type: str | None
    validity_days: float | None
    expiry_date: datetime | None
    expiry_date_raw: object
    classes_limit: int | None
    is_active: bool | None
    tenant_id: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Pass:
        return cls(
            id=str(doc.get("_id", "")),
            name=_str(doc.get("name")),
            type=_str(doc.get("type")),
            price=_num(doc.get("price")),
            validity_type=_str(doc.get("validityType")),
            validity_days=_num(doc.get("validityDays")),
            expiry_date=parse_instant(doc.get("expiryDate")),
            expiry_date_raw=doc.get("expiryDate"),
            classes_limit=_int(doc.get("classesLimit")),
            is_active=_bool(doc.get("isActive")),
            tenant_id=ref_of(doc.get("tenant")),
            raw=dict(doc),
        )

    @property
    def display_name(self) -> str:
        """The name as shown to people, whitespace tidied."""
        return " ".join((self.name or "").split()) or self.id


@dataclass(frozen=True, slots=True)
class SanityUser:
    """A Sanity mirror of a Clerk user (domain.md §1.4), legacy `_id == clerkId` shapes included."""

    id: str
    clerk_id: str | None
    email: str | None
    name: str | None
    tenant_id: str | None
    role: str | None
    is_active: bool | None
    created_at: datetime | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SanityUser:
        name = _str(doc.get("name")) or " ".join(
            part for part in (_str(doc.get("firstName")), _str(doc.get("lastName"))) if part
        )
        return cls(
            id=str(doc.get("_id", "")),
            clerk_id=_str(doc.get("clerkId")),
            email=_str(doc.get("email")),
            name=name or None,
            tenant_id=ref_of(doc.get("tenant")),
            role=_str(doc.get("role")),
            is_active=_bool(doc.get("isActive")),
            created_at=parse_instant(doc.get("_createdAt")),
            raw=dict(doc),
        )


@dataclass(frozen=True, slots=True)
class Subscription:
    """A customer's pass (`subscription` document, domain.md §1.2), in any of its shapes."""

    id: str
    rev: str | None
    user_ref: str | None
    tenant_ref: str | None
    has_tenant: bool
    type: str | None
    start_date: datetime | None
    end_date: datetime | None
    pass_id: str | None
    pass_ref: str | None
    pass_name: str | None
    purchase_price: float | None
    remaining_clips: int | None
    has_remaining_clips: bool
    is_active: bool | None
    stripe_session_id: str | None
    payment_ids: tuple[str, ...]
    created_at: datetime | None
    created_via_webhook: bool
    is_upgrade: bool
    upgraded_from: str | None
    problems: tuple[str, ...]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Subscription:
        # Hot: a reconciliation builds one for every subscription of every page's buyers. Each
        # field is read once, and the common shapes (strings, ISO dates in UTC) go the short way.
        get = doc.get
        problems: list[str] = []
        start_raw, end_raw = get("startDate"), get("endDate")
        start, end = parse_instant(start_raw), parse_instant(end_raw)
        if start is None:
            if start_raw is None:
                problems.append("no startDate")
            else:
                problems.append(f"startDate is not a date ({str(start_raw)[:40]!r})")
        if end is None:
            if end_raw is None:
                problems.append("no endDate")
            else:
                problems.append(f"endDate is not a date ({str(end_raw)[:40]!r})")
        is_active = get("isActive")
        if not isinstance(is_active, bool):
            problems.append("no isActive")
            is_active = None
        kind = _str(get("type"))
        if kind is None:
            problems.append("no type")
        user_ref = ref_of(get("user"))
        if user_ref is None:
            problems.append("user reference without _ref" if "user" in doc else "no user reference")
        tenant_value = get("tenant")
        tenant_ref = ref_of(tenant_value)
        if tenant_value is not None and tenant_ref is None:
            problems.append("tenant reference without _ref")
        clips_raw = get("remainingClips")
        payment_ids = tuple(
            value for key in PAYMENT_ID_FIELDS if (value := _str(get(key))) is not None
        )
        pass_value = get("pass")
        created = get("_createdAt")
        return cls(
            id=str(get("_id", "")),
            rev=_str(get("_rev")),
            user_ref=user_ref,
            tenant_ref=tenant_ref,
            has_tenant=tenant_ref is not None,
            type=kind,
            start_date=start,
            end_date=end,
            pass_id=_str(get("passId")),
            pass_ref=None if pass_value is None else ref_of(pass_value),
            pass_name=_str(get("passName")),
            purchase_price=_num(get("purchasePrice")),
            remaining_clips=None if clips_raw is None else _int(clips_raw),
            has_remaining_clips=clips_raw is not None,
            is_active=is_active,
            stripe_session_id=_str(get("stripeSessionId")),
            payment_ids=payment_ids,
            created_at=None if created is None else parse_instant(created),
            created_via_webhook=get("createdViaWebhook") is True,
            is_upgrade=get("isUpgrade") is True,
            upgraded_from=_str(get("upgradedFromSubscriptionId")),
            problems=tuple(problems),
            raw=dict(doc),
        )

    @property
    def pass_key(self) -> str | None:
        """`coalesce(passId, pass._ref)`, as the platform's visibility code reads it."""
        return self.pass_id or self.pass_ref

    @property
    def real_payment_ids(self) -> tuple[str, ...]:
        """The payment ids that are real Stripe ids, not placeholders."""
        return tuple(p for p in self.payment_ids if looks_like_payment_id(p))

    @property
    def is_linked(self) -> bool:
        """Linked to a real Stripe purchase (a real session or payment id), not a placeholder."""
        return looks_like_session_id(self.stripe_session_id) or bool(self.real_payment_ids)

    @property
    def deactivation_recorded(self) -> bool:
        """Inactive on purpose: a recorded reason, or the old half of an upgrade."""
        keys = ("deactivationReason", "deactivatedAt", "upgradedAt", "upgradedToPassId")
        return any(self.raw.get(key) for key in keys)

    @property
    def is_grant(self) -> bool:
        """A deliberate grant (cli-contract): price 0, or granted by a person with a reason."""
        if self.purchase_price == 0:
            return True
        return bool(_str(self.raw.get("grantedBy")) and _str(self.raw.get("grantReason")))

    @property
    def display_name(self) -> str:
        """What the app shows: `passName`, else a generic label."""
        return " ".join((self.pass_name or "").split()) or "Class Package"


@dataclass(frozen=True, slots=True)
class WebhookLog:
    """A `webhookLog` document written by the platform's Stripe webhook (domain.md §1.6)."""

    id: str
    event_type: str | None
    event_id: str | None
    status: str | None
    timestamp: datetime | None
    session_id: str | None
    error: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> WebhookLog:
        details = doc.get("details")
        details = details if isinstance(details, Mapping) else {}
        return cls(
            id=str(doc.get("_id", "")),
            event_type=_str(doc.get("eventType")),
            event_id=_str(doc.get("eventId")),
            status=_str(doc.get("status")),
            timestamp=parse_instant(doc.get("timestamp")),
            session_id=_str(details.get("sessionId")),
            error=_str(details.get("error")),
            raw=dict(doc),
        )


@dataclass(frozen=True, slots=True)
class Booking:
    """One booking inside a `classInstance` (domain.md §1.7): it consumed a clip."""

    student_ref: str | None
    booking_type: str | None
    booked_at: datetime | None
    class_date: datetime | None
    tenant_ref: str | None


# --------------------------------------------------------------------------------------- Stripe

PASS_SESSION_TYPES = frozenset({"pass_purchase", "pass_upgrade"})


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    """A Stripe Checkout Session, with what its expanded PaymentIntent says about refunds.

    `raw` is the session as `from_json` got it; a session read from a list page by
    core.adapters.stripe_pages holds only the fields read here, in Stripe's shape, without
    those that were null or absent — `from_json(raw, account=…)` gives the same session.
    """

    id: str
    account: str | None
    created: datetime
    livemode: bool
    status: str | None
    payment_status: str | None
    amount_total: int | None
    currency: str | None
    payment_intent: str | None
    charge_id: str | None
    email: str | None
    customer_name: str | None
    metadata: dict[str, str]
    client_reference_id: str | None
    refunded: bool
    amount_refunded: int
    disputed: bool
    line_item_names: tuple[str, ...]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, account: str | None = None) -> CheckoutSession:
        """Build from a Checkout Session as the API returns it (optionally with expansions)."""
        meta_raw = obj.get("metadata")
        metadata: dict[str, str]
        if not isinstance(meta_raw, Mapping):
            metadata = {}
        elif all(type(k) is str and type(v) is str for k, v in meta_raw.items()):
            metadata = dict(meta_raw)  # what Stripe sends: strings only, nothing to convert
        else:
            metadata = {str(k): str(v) for k, v in meta_raw.items() if v is not None}
        details = obj.get("customer_details")
        details = details if isinstance(details, Mapping) else {}
        intent = obj.get("payment_intent")
        intent_id: str | None
        charge: Mapping[str, Any] = {}
        charge_id: str | None = None
        if isinstance(intent, Mapping):
            intent_id = _str(intent.get("id"))
            latest = intent.get("latest_charge")
            if isinstance(latest, Mapping):
                charge = latest
                charge_id = _str(latest.get("id"))
            else:
                charge_id = _str(latest)
        else:
            intent_id = _str(intent)
        amount_refunded = _int(charge.get("amount_refunded")) or 0
        items = obj.get("line_items")
        names: list[str] = []
        if isinstance(items, Mapping) and isinstance(items.get("data"), list):
            for item in items["data"]:
                if isinstance(item, Mapping) and (desc := _str(item.get("description"))):
                    names.append(desc)
        created = parse_instant(obj.get("created")) or datetime.fromtimestamp(0, tz=UTC)
        return cls(
            id=str(obj.get("id", "")),
            account=account if account is not None else _str(obj.get("account")),
            created=created,
            livemode=obj.get("livemode") is True,
            status=_str(obj.get("status")),
            payment_status=_str(obj.get("payment_status")),
            amount_total=_int(obj.get("amount_total")),
            currency=_str(obj.get("currency")),
            payment_intent=intent_id,
            charge_id=charge_id,
            email=_str(details.get("email")) or _str(obj.get("customer_email")),
            customer_name=_str(details.get("name")),
            metadata=metadata,
            client_reference_id=_str(obj.get("client_reference_id")),
            refunded=charge.get("refunded") is True,
            amount_refunded=amount_refunded,
            disputed=charge.get("disputed") is True,
            line_item_names=tuple(names),
            raw=dict(obj),
        )

    @property
    def session_type(self) -> str | None:
        """`metadata.type`, or the legacy `passType` fallback the sync route accepts (§2.1)."""
        kind = self.metadata.get("type")
        if kind:
            return kind
        legacy = self.metadata.get("passType")
        return legacy if legacy in PASS_SESSION_TYPES else None

    @property
    def is_pass_session(self) -> bool:
        """Metadata says it sells a pass (purchase or upgrade)."""
        return self.session_type in PASS_SESSION_TYPES

    @property
    def is_paid(self) -> bool:
        """`payment_status == "paid"`: "complete" alone is not paid (FM-18)."""
        return self.payment_status == "paid"

    @property
    def is_upgrade(self) -> bool:
        """A `pass_upgrade` session (domain.md §2.5)."""
        return self.session_type == "pass_upgrade"

    @property
    def pass_id(self) -> str | None:
        """The pass bought: `passId`, or the snake_case variant the sync route accepts."""
        return self.metadata.get("passId") or self.metadata.get("pass_id") or None

    @property
    def user_id(self) -> str | None:
        """The buyer's Clerk id: `metadata.userId`, else `client_reference_id`."""
        return self.metadata.get("userId") or self.client_reference_id or None

    @property
    def tenant_id(self) -> str | None:
        """The tenant named in metadata (`tenantId`, `tenant` or `tenant_id`)."""
        meta = self.metadata
        return meta.get("tenantId") or meta.get("tenant") or meta.get("tenant_id") or None

    @property
    def upgrade_from(self) -> str | None:
        """For an upgrade: the subscription being upgraded."""
        return self.metadata.get("upgradeFromSubscriptionId") or None

    @property
    def looks_like_legacy_pass(self) -> bool:
        """No usable `type`, but a pass id and no class id: probably a pass, needs a person."""
        return (
            self.session_type is None
            and self.pass_id is not None
            and "classId" not in self.metadata
        )

    @property
    def fully_refunded(self) -> bool:
        """The charge was refunded in full."""
        if self.refunded:
            return True
        return self.amount_total is not None and 0 < self.amount_total <= self.amount_refunded


# ---------------------------------------------------------------------------------------- Clerk


@dataclass(frozen=True, slots=True)
class ClerkUser:
    """A Clerk user as `GET /v1/users` returns it."""

    id: str
    emails: tuple[str, ...]
    primary_email: str | None
    first_name: str | None
    last_name: str | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ClerkUser:
        emails: list[str] = []
        primary: str | None = None
        primary_id = obj.get("primary_email_address_id")
        addresses = obj.get("email_addresses")
        for entry in addresses if isinstance(addresses, list) else []:
            if isinstance(entry, Mapping) and (address := _str(entry.get("email_address"))):
                emails.append(address)
                if entry.get("id") == primary_id:
                    primary = address
        return cls(
            id=str(obj.get("id", "")),
            emails=tuple(emails),
            primary_email=primary or (emails[0] if emails else None),
            first_name=_str(obj.get("first_name")),
            last_name=_str(obj.get("last_name")),
            raw=dict(obj),
        )


# ------------------------------------------------------------------------------ passbot's own


@dataclass(frozen=True, slots=True)
class AccountScan:
    """How reading one Stripe account went: `error` is set when it could not be read."""

    account: str
    tenant: str | None
    error: str | None = None
    #: The key was refused on it (401/403); otherwise Stripe failed (5xx, timeout, 429).
    denied: bool = True

    @property
    def ok(self) -> bool:
        """Read without error."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class Window:
    """The time range a reconciliation covers, both ends inclusive."""

    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        """Whether `instant` falls inside the window (both ends inclusive)."""
        return self.start <= instant <= self.end
