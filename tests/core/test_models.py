"""Models read every legacy shape the dataset holds (domain.md §1.2.3) and never crash."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from core.domain.facts import Facts
from core.domain.models import (
    CheckoutSession,
    ClerkUser,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    WebhookLog,
    iso,
    looks_like_payment_id,
    looks_like_session_id,
    normalise_name,
    parse_instant,
)
from core.domain.reconcile import reconcile
from tests.factories import (
    CLERK_ID,
    DROP,
    NOW,
    USER_ID,
    WINDOW,
    World,
    check_never_do,
    make_clerk_user,
    make_manual_subscription,
    make_pass,
    make_session,
    make_subscription,
    make_tenant,
    make_user,
    ref,
)

# ------------------------------------------------------------------------------ instants


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("2026-11-28T08:00:00Z", datetime(2026, 11, 28, 8, tzinfo=UTC), id="z"),
        pytest.param(
            "2026-11-28T08:00:00.123Z",
            datetime(2026, 11, 28, 8, 0, 0, 123000, tzinfo=UTC),
            id="millis",
        ),
        pytest.param(
            "2026-11-28T09:00:00+01:00", datetime(2026, 11, 28, 8, tzinfo=UTC), id="offset"
        ),
        pytest.param("2026-11-28T08:00:00", datetime(2026, 11, 28, 8, tzinfo=UTC), id="naive"),
        pytest.param("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC), id="date-only"),
        pytest.param(1795852800, datetime(2026, 11, 28, 8, tzinfo=UTC), id="epoch-seconds"),
        pytest.param(1795852800.5, datetime(2026, 11, 28, 8, 0, 0, 500000, tzinfo=UTC), id="f"),
        pytest.param(" 2026-11-28T08:00:00Z ", datetime(2026, 11, 28, 8, tzinfo=UTC), id="ws"),
    ],
)
def test_parse_instant(raw: object, expected: datetime) -> None:
    assert parse_instant(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        True,
        False,
        "",
        "   ",
        "3/10/2025",
        "2026-02-30T00:00:00Z",
        "NaN",
        [],
        {},
        float("nan"),
        float("inf"),
        10**30,
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
    ids=repr,
)
def test_parse_instant_gives_none_for_what_is_no_instant(raw: object) -> None:
    assert parse_instant(raw) is None


def test_iso_is_the_platform_form() -> None:
    assert iso(datetime(2026, 11, 28, 8, 0, 0, 123456, tzinfo=UTC)) == "2026-11-28T08:00:00.123Z"


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 28, 8, 0, 0, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 30, 5, 1000, tzinfo=timezone(timedelta(hours=2))),  # not UTC
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(1000, 1, 1, 0, 0, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 5000, tzinfo=UTC),  # strftime's unpadded year
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_iso_formats_as_strftime_does(value: datetime) -> None:
    """The fast path writes exactly what strftime writes, in UTC, milliseconds truncated."""
    in_utc = value.astimezone(UTC)
    want = in_utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    assert iso(value) == want


# ------------------------------------------------------------------------------ Stripe ids


@pytest.mark.parametrize(
    "value",
    [
        "manual_creation_oct13_1760300000",
        "manual_session_oct13_1760300000",
        "manual-1760300000",
        "manual-kizomba-1760300000",
        "manual_recovery_1760300000",
        "manual_fix_oct13_1760300000",
        "manual_correction_1760300000",
        "admin_created_1760300000",
        "debug_test_payment",
        "open_week_2025_1760300000",
        "emergency_fix_someone",
        "emergency_session_someone",
        "test_payment_1760300000",
        "cs_live_a1B2c3D4e5F6_actual_purchase",
        "cs_",
        "",
        None,
    ],
)
def test_placeholder_ids_are_not_stripe_ids(value: str | None) -> None:
    assert not looks_like_session_id(value)
    assert not looks_like_payment_id(value)


@pytest.mark.parametrize(
    ("value", "session", "payment"),
    [
        ("cs_test_a1QGFi3r0QRq0dQFxUtEtF", True, False),
        ("cs_live_a1QGFi3r0QRq0dQFxUtEtF", True, False),
        ("pi_3PqRsTuVwXyZ1234", False, True),
        ("ch_3PqRsTuVwXyZ1234", False, True),  # a Charge id stored in stripePaymentId
        ("pi_test_Purchase0001", False, True),
    ],
)
def test_real_stripe_ids(value: str, session: bool, payment: bool) -> None:
    assert (looks_like_session_id(value), looks_like_payment_id(value)) == (session, payment)


def test_names_compare_without_stray_whitespace_or_case() -> None:
    assert normalise_name("3 COURSE PASS  ") == normalise_name(" 3 course  pass")
    assert normalise_name(None) == ""


# ------------------------------------------------------------------------------ Sanity shapes


def test_modern_webhook_subscription() -> None:
    sub = Subscription.from_json(make_subscription())
    assert sub.problems == ()
    assert (sub.user_ref, sub.tenant_ref, sub.has_tenant) == (USER_ID, "tenant-aurora", True)
    assert (sub.type, sub.remaining_clips, sub.is_active) == ("clipcard", 10, True)
    assert sub.is_linked
    assert sub.created_via_webhook


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        pytest.param(
            {"user": ref(CLERK_ID)},
            lambda s: s.user_ref == CLERK_ID,
            id="fm20-user-ref-is-a-clerk-id",
        ),
        pytest.param(
            {"user": CLERK_ID},
            lambda s: s.user_ref == CLERK_ID,
            id="user-as-a-bare-id-string",
        ),
        pytest.param(
            {"tenant": DROP},
            lambda s: (s.tenant_ref, s.has_tenant, s.problems) == (None, False, ()),
            id="fm26-no-tenant",
        ),
        pytest.param(
            {"tenant": None},
            lambda s: (s.tenant_ref, s.has_tenant) == (None, False),
            id="fm26-tenant-null",
        ),
        pytest.param(
            {"tenant": {"_type": "reference"}},
            lambda s: "tenant reference without _ref" in s.problems,
            id="fm39-tenant-ref-without-_ref",
        ),
        pytest.param(
            {"user": {"_type": "reference"}},
            lambda s: s.user_ref is None and "user reference without _ref" in s.problems,
            id="fm39-user-ref-undefined",
        ),
        pytest.param(
            {"user": DROP},
            lambda s: "no user reference" in s.problems,
            id="fm39-no-user",
        ),
        pytest.param(
            {"passId": DROP, "pass": ref("pass-legacy")},
            lambda s: (s.pass_id, s.pass_ref, s.pass_key) == (None, "pass-legacy", "pass-legacy"),
            id="legacy-pass-ref-only",
        ),
        pytest.param(
            {"passId": "pass-a", "pass": ref("pass-b")},
            lambda s: s.pass_key == "pass-a",
            id="coalesce-passId-first",
        ),
        pytest.param(
            {"stripePaymentId": DROP, "paymentId": "pi_3PqRsTuVwXyZ1234"},
            lambda s: s.payment_ids == ("pi_3PqRsTuVwXyZ1234",),
            id="fm38-paymentId-variant",
        ),
        pytest.param(
            {"stripePaymentId": "ch_3PqRsTuVwXyZ1234"},
            lambda s: s.real_payment_ids == ("ch_3PqRsTuVwXyZ1234",),
            id="charge-id-in-stripePaymentId",
        ),
        pytest.param(
            {"remainingClips": "5", "purchasePrice": "1290"},
            lambda s: (s.remaining_clips, s.purchase_price) == (5, 1290.0),
            id="numbers-stored-as-strings",
        ),
        pytest.param(
            {"remainingClips": 2.5},
            lambda s: (s.remaining_clips, s.has_remaining_clips) == (None, True),
            id="fractional-clips-are-no-count",
        ),
        pytest.param(
            {"remainingClips": DROP},
            lambda s: (s.remaining_clips, s.has_remaining_clips) == (None, False),
            id="monthly-shape-without-clips",
        ),
        pytest.param(
            {"isActive": "true"},
            lambda s: s.is_active is None and "no isActive" in s.problems,
            id="isActive-as-a-string-is-not-true",
        ),
        pytest.param(
            {"endDate": "3/10/2025"},
            lambda s: s.end_date is None and any("endDate is not a date" in p for p in s.problems),
            id="fm33-ambiguous-date-is-no-date",
        ),
    ],
)
def test_legacy_subscription_shapes(
    overrides: dict[str, Any], check: Callable[[Subscription], bool]
) -> None:
    sub = Subscription.from_json(make_subscription(**overrides))
    assert check(sub), sub


def test_fm38_second_schema_document_is_read_with_its_gaps_listed() -> None:
    doc = {
        "_id": "subSecondSchema1",
        "_type": "subscription",
        "user": ref(USER_ID),
        "tenant": ref("tenant-aurora"),
        "pass": ref("pass-clip10"),
        "status": "active",
        "purchaseDate": "2026-11-26T08:00:00.000Z",
        "expiryDate": "2027-02-24T08:00:00.000Z",
        "classesUsed": 0,
        "classesLimit": 10,
        "amount": 200000,
        "currency": "nok",
        "stripePaymentIntentId": "pi_test_Purchase0001",
        "stripeSessionId": "cs_test_Purchase0001",
    }
    sub = Subscription.from_json(doc)
    assert set(sub.problems) == {"no startDate", "no endDate", "no isActive", "no type"}
    assert sub.payment_ids == ("pi_test_Purchase0001",)
    assert sub.pass_key == "pass-clip10"
    assert sub.is_linked


@pytest.mark.parametrize(
    ("overrides", "grant"),
    [
        pytest.param({"purchasePrice": 0}, True, id="price-zero-open-week"),
        pytest.param({"purchasePrice": "0"}, True, id="price-zero-as-string"),
        pytest.param({"grantedBy": "U0APPROVER", "grantReason": "goodwill"}, True, id="granted"),
        pytest.param({"grantedBy": "U0APPROVER"}, False, id="grantedBy-without-reason"),
        pytest.param({"grantReason": "goodwill"}, False, id="reason-without-grantedBy"),
        pytest.param(
            {"manuallyCreated": True, "manualCreationReason": "likely course pass"},
            False,
            id="manuallyCreated-is-no-grant",
        ),
        pytest.param({"recoveredBy": "manual-script"}, False, id="recoveredBy-is-no-grant"),
        pytest.param({"purchasePrice": DROP}, False, id="no-price-is-no-grant"),
    ],
)
def test_deliberate_grant_marks(overrides: dict[str, Any], grant: bool) -> None:
    assert Subscription.from_json(make_manual_subscription(**overrides)).is_grant is grant


@pytest.mark.parametrize(
    ("overrides", "recorded"),
    [
        ({"deactivationReason": "duplicate"}, True),
        ({"deactivatedAt": "2026-11-01T00:00:00Z"}, True),
        ({"upgradedAt": "2026-11-01T00:00:00Z"}, True),
        ({"upgradedToPassId": "pass-x"}, True),
        ({}, False),
        ({"deactivationReason": ""}, False),
    ],
)
def test_deactivation_recorded(overrides: dict[str, Any], recorded: bool) -> None:
    sub = Subscription.from_json(make_subscription(isActive=False, **overrides))
    assert sub.deactivation_recorded is recorded


def test_display_name_falls_back_to_class_package() -> None:
    assert Subscription.from_json(make_subscription(passName=None)).display_name == "Class Package"
    assert Subscription.from_json(make_subscription(passName=" 3 COURSE  PASS ")).display_name == (
        "3 COURSE PASS"
    )


def test_pass_shapes() -> None:
    p = Pass.from_json(make_pass(name="3 COURSE PASS  ", classesLimit="10", tenant="tenant-x"))
    assert (p.display_name, p.classes_limit, p.tenant_id) == ("3 COURSE PASS", 10, "tenant-x")
    bare = Pass.from_json({"_id": "pass-bare"})
    assert (bare.display_name, bare.type, bare.tenant_id, bare.is_active) == (
        "pass-bare",
        None,
        None,
        None,
    )


def test_tenant_shapes() -> None:
    t = Tenant.from_json(make_tenant())
    assert (t.slug, t.account_id, t.charges_enabled) == ("aurora", "acct_aurora0001", True)
    legacy = Tenant.from_json({"_id": "tenant-old", "name": "Old School", "slug": "old"})
    assert (legacy.name, legacy.slug, legacy.account_id) == ("Old School", "old", None)


def test_user_shapes() -> None:
    legacy = SanityUser.from_json(make_user(_id=CLERK_ID, clerkId=DROP, name=DROP))
    assert (legacy.id, legacy.clerk_id, legacy.name) == (CLERK_ID, None, "Kari Nordmann")
    stub = SanityUser.from_json(
        {"_id": "stub", "_type": "user", "clerkId": "manual_1760300000", "email": ""}
    )
    assert (stub.email, stub.name, stub.tenant_id) == (None, None, None)


def test_webhook_log_shape() -> None:
    log = WebhookLog.from_json(
        {
            "_id": "log1",
            "_type": "webhookLog",
            "eventType": "checkout.session.completed",
            "eventId": "evt_1",
            "status": "error",
            "timestamp": "2026-11-26T08:00:05Z",
            "details": {"sessionId": "cs_test_Purchase0001", "error": "Pass not found: p"},
        }
    )
    assert (log.session_id, log.error, log.status) == (
        "cs_test_Purchase0001",
        "Pass not found: p",
        "error",
    )


# ------------------------------------------------------------------------------ Stripe shapes


def test_session_on_a_connected_account() -> None:
    raw = make_session()
    s = CheckoutSession.from_json(raw)
    assert (s.account, s.is_paid, s.is_pass_session, s.is_upgrade) == (
        "acct_aurora0001",
        True,
        True,
        False,
    )
    assert (s.pass_id, s.user_id, s.tenant_id) == ("pass-clip10", CLERK_ID, "tenant-aurora")
    assert (s.payment_intent, s.charge_id, s.refunded, s.disputed) == (
        "pi_test_Purchase0001",
        None,
        False,
        False,
    )
    assert s.created == datetime.fromtimestamp(raw["created"], tz=UTC)
    assert CheckoutSession.from_json(raw, account="acct_given").account == "acct_given"


@pytest.mark.parametrize(
    ("meta", "check"),
    [
        pytest.param(
            {"type": DROP, "passType": "pass_purchase"},
            lambda s: s.session_type == "pass_purchase" and s.is_pass_session,
            id="legacy-passType-fallback",
        ),
        pytest.param(
            {"type": DROP, "passType": "multi"},
            lambda s: s.session_type is None and s.looks_like_legacy_pass,
            id="no-type-but-a-passId-is-a-legacy-pass",
        ),
        pytest.param(
            {"passId": DROP, "pass_id": "pass-snake"},
            lambda s: s.pass_id == "pass-snake",
            id="snake-case-pass-id",
        ),
        pytest.param(
            {"tenantId": DROP, "tenant_id": "tenant-snake"},
            lambda s: s.tenant_id == "tenant-snake",
            id="snake-case-tenant-id",
        ),
        pytest.param(
            {"type": DROP, "passId": DROP, "classId": "class-salsa"},
            lambda s: not s.is_pass_session and not s.looks_like_legacy_pass,
            id="fm16-class-booking-session",
        ),
        pytest.param(
            {"type": "pass_upgrade", "upgradeFromSubscriptionId": "subOld"},
            lambda s: s.is_upgrade and s.upgrade_from == "subOld",
            id="upgrade",
        ),
        pytest.param(
            {"promoCode": None},
            lambda s: "promoCode" not in s.metadata,
            id="null-metadata-values-dropped",
        ),
    ],
)
def test_session_metadata_variants(
    meta: dict[str, Any], check: Callable[[CheckoutSession], bool]
) -> None:
    assert check(CheckoutSession.from_json(make_session(meta=meta)))


def test_user_from_client_reference_id_when_metadata_lacks_it() -> None:
    raw = make_session(meta={"userId": DROP}, client_reference_id="user_2fromClientRef01")
    assert CheckoutSession.from_json(raw).user_id == "user_2fromClientRef01"


@pytest.mark.parametrize(
    ("kw", "full", "disputed"),
    [
        pytest.param({"refunded": True}, True, False, id="refunded"),
        pytest.param({"amount_refunded": 200000}, True, False, id="amount-refunded-in-full"),
        pytest.param({"amount_refunded": 50000}, False, False, id="partial-refund"),
        pytest.param({"disputed": True}, False, True, id="disputed"),
        pytest.param({"expand": True}, False, False, id="expanded-clean-charge"),
    ],
)
def test_expanded_payment_intent_and_charge(kw: dict[str, Any], full: bool, disputed: bool) -> None:
    s = CheckoutSession.from_json(make_session(**kw))
    assert s.payment_intent == "pi_test_Purchase0001"
    assert s.charge_id == "ch_test_Purchase0001"
    assert (s.fully_refunded, s.disputed) == (full, disputed)


def test_charge_not_expanded_keeps_its_id() -> None:
    raw = make_session(expand=True)
    raw["payment_intent"]["latest_charge"] = "ch_test_Purchase0001"
    s = CheckoutSession.from_json(raw)
    assert (s.charge_id, s.refunded) == ("ch_test_Purchase0001", False)


@pytest.mark.parametrize(
    ("payment_status", "status", "paid"),
    [
        ("paid", "complete", True),
        ("unpaid", "complete", False),  # FM-18: complete is not paid
        ("no_payment_required", "complete", False),
        ("unpaid", "open", False),
        (None, "complete", False),
    ],
)
def test_paid_means_payment_status_paid(
    payment_status: str | None, status: str, paid: bool
) -> None:
    raw = make_session(payment_status=payment_status, status=status)
    assert CheckoutSession.from_json(raw).is_paid is paid


def test_null_payment_intent_stays_null() -> None:
    assert CheckoutSession.from_json(make_session(payment_intent=None)).payment_intent is None


def test_line_item_names_are_kept_for_a_person() -> None:
    raw = make_session(line_items={"object": "list", "data": [{"description": "3 COURSE PASS  "}]})
    assert CheckoutSession.from_json(raw).line_item_names == ("3 COURSE PASS  ",)


def test_clerk_user_primary_email() -> None:
    raw = make_clerk_user(email="Kari@Example.com")
    raw["email_addresses"].insert(0, {"id": "idn_other", "email_address": "old@example.com"})
    c = ClerkUser.from_json(raw)
    assert (c.primary_email, c.emails) == (
        "Kari@Example.com",
        ("old@example.com", "Kari@Example.com"),
    )
    assert ClerkUser.from_json({"id": "user_x"}).primary_email is None


# ------------------------------------------------------------------------------ never crash

#: Values the dataset and the APIs have been seen to hold where something else was expected.
ODD_VALUES: list[Any] = [
    None,
    "",
    "   ",
    "abc",
    "30",
    "-1",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    0,
    -1,
    1.5,
    1e308,
    float("nan"),
    float("inf"),
    10**30,
    True,
    False,
    [],
    [1, "a", None],
    {},
    {"_ref": 5},
    {"_ref": None},
    {"_ref": "nowhere"},
    {"current": 3, "id": []},
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
    "user_2kariNordmann0001",
    "cs_test_Purchase0001",
]

FIELDS: dict[str, tuple[Callable[[Mapping[str, Any]], object], list[str]]] = {
    "tenant": (
        Tenant.from_json,
        ["_id", "schoolName", "name", "slug", "stripeConnect"],
    ),
    "pass": (
        Pass.from_json,
        [
            "_id",
            "name",
            "type",
            "price",
            "validityType",
            "validityDays",
            "expiryDate",
            "classesLimit",
            "isActive",
            "tenant",
        ],
    ),
    "user": (
        SanityUser.from_json,
        ["_id", "clerkId", "email", "name", "firstName", "lastName", "tenant", "role", "isActive"],
    ),
    "subscription": (
        Subscription.from_json,
        [
            "_id",
            "_rev",
            "_createdAt",
            "user",
            "tenant",
            "type",
            "startDate",
            "endDate",
            "passId",
            "pass",
            "passName",
            "purchasePrice",
            "remainingClips",
            "isActive",
            "stripeSessionId",
            "stripePaymentId",
            "stripePaymentIntentId",
            "paymentId",
            "createdViaWebhook",
            "isUpgrade",
            "upgradedFromSubscriptionId",
            "grantedBy",
            "grantReason",
            "deactivationReason",
        ],
    ),
    "webhookLog": (
        WebhookLog.from_json,
        ["_id", "eventType", "eventId", "status", "timestamp", "details"],
    ),
    "session": (
        CheckoutSession.from_json,
        [
            "id",
            "account",
            "created",
            "livemode",
            "status",
            "payment_status",
            "amount_total",
            "currency",
            "payment_intent",
            "metadata",
            "customer_details",
            "customer_email",
            "client_reference_id",
            "line_items",
        ],
    ),
    "clerk": (
        ClerkUser.from_json,
        ["id", "email_addresses", "primary_email_address_id", "first_name", "last_name"],
    ),
}

BASES: dict[str, Callable[[], dict[str, Any]]] = {
    "tenant": make_tenant,
    "pass": make_pass,
    "user": make_user,
    "subscription": make_subscription,
    "webhookLog": lambda: {"_id": "log", "_type": "webhookLog", "details": {}},
    "session": lambda: make_session(expand=True),
    "clerk": make_clerk_user,
}


def _touch(model: object) -> None:
    """Read every property, as the reconciler would."""
    for name in dir(type(model)):
        if isinstance(getattr(type(model), name, None), property):
            getattr(model, name)


def _shapes(kind: str) -> list[dict[str, Any]]:
    parse_fields = FIELDS[kind][1]
    shapes: list[dict[str, Any]] = [{}]
    for field_name, value in itertools.product(parse_fields, ODD_VALUES):
        shapes.append({**BASES[kind](), field_name: value})
    for value in ODD_VALUES:
        shapes.append(dict.fromkeys(parse_fields, value))
    if kind == "session":
        for value in ODD_VALUES:
            shapes.append(
                {**BASES[kind](), "payment_intent": {"id": value, "latest_charge": value}}
            )
            shapes.append({**BASES[kind](), "metadata": {"type": value, "passId": value}})
            shapes.append({**BASES[kind](), "line_items": {"data": [value]}})
    if kind == "clerk":
        for value in ODD_VALUES:
            shapes.append({"id": "user_x", "email_addresses": [value, {"email_address": value}]})
    if kind == "tenant":
        for value in ODD_VALUES:
            shapes.append(
                {"_id": "t", "stripeConnect": {"accountId": value, "chargesEnabled": value}}
            )
    return shapes


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_from_json_never_crashes_on_odd_values(kind: str) -> None:
    parse = FIELDS[kind][0]
    shapes = _shapes(kind)
    assert len(shapes) > len(ODD_VALUES)
    for shape in shapes:
        model = parse(shape)
        _touch(model)


@pytest.mark.parametrize("kind", ["pass", "subscription", "user", "tenant"])
def test_reconcile_never_crashes_on_odd_documents(kind: str) -> None:
    """Whatever one document holds, a reconciliation still runs and proposes nothing unsafe."""
    fields = FIELDS[kind][1]
    for field_name, value in itertools.product(fields, ODD_VALUES):
        world = World.default()
        sub_id = world.fulfil(world.buy(1))["_id"]
        world.buy(2, created=NOW - timedelta(days=5))  # a purchase with no pass yet
        target = {
            "pass": "pass-clip10",
            "subscription": sub_id,
            "user": USER_ID,
            "tenant": "tenant-aurora",
        }[kind]
        world.replace(target, **{field_name: value})
        world.run()
        world.diagnose()


def test_reconcile_runs_on_parsed_junk_without_snapshot() -> None:
    facts = Facts(
        tenants=[Tenant.from_json({})],
        passes=[Pass.from_json({}), Pass.from_json(dict.fromkeys(FIELDS["pass"][1], "x"))],
        users=[SanityUser.from_json({})],
        subscriptions=[Subscription.from_json({}), Subscription.from_json({"isActive": True})],
        sessions=[
            CheckoutSession.from_json({}),
            CheckoutSession.from_json(
                {"payment_status": "paid", "created": NOW.timestamp(), "metadata": {}}
            ),
            CheckoutSession.from_json(
                {
                    "payment_status": "paid",
                    "created": (NOW - timedelta(days=1)).timestamp(),
                    "metadata": {"type": "pass_purchase"},
                }
            ),
        ],
        bookings=None,
    )
    report = reconcile(facts, now=NOW, window=WINDOW)
    check_never_do(report.findings, facts)
    assert report.paid_pass_sessions == 1
