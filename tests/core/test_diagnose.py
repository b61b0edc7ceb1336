"""diagnose(): everything about one customer, and diagnosis_json() against the contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from core.domain.diagnose import diagnosis_json
from core.domain.models import iso
from tests.factories import (
    BOUGHT,
    CLERK_ID,
    EMAIL,
    NOW,
    OTHER_TENANT_ID,
    USER_ID,
    World,
    ids_for,
    make_manual_subscription,
    make_pass,
    make_subscription,
    make_tenant,
    make_user,
    ref,
)

DIAGNOSE_KEYS = {"email", "users", "clerk_users", "purchases", "passes", "findings"}
USER_KEYS = {"_id", "clerkId", "email", "tenant"}
CLERK_KEYS = {"id", "emails"}
PURCHASE_KEYS = {
    "session",
    "account",
    "tenant",
    "created",
    "amount",
    "currency",
    "pass",
    "pass_name",
    "status",
    "subscriptions",
}
PASS_KEYS = {"_id", "pass_name", "visible", "usable", "reason"}


def _customer_world() -> World:
    """Kari: a fulfilled purchase, a missing one, an old inactive pass, one long expired, one at
    another school; and a stranger with an unpaid pass of their own."""
    w = World.default()
    w.fulfil(w.buy(1, amount=129000))
    w.buy(2, created=BOUGHT + timedelta(hours=1))
    w.add(
        make_subscription(
            _id="subInactive",
            isActive=False,
            deactivationReason="upgraded",
            stripeSessionId="cs_test_Earlier000001",
            stripePaymentId=None,
        ),
        make_subscription(
            _id="subLongGone",
            startDate="2025-01-01T00:00:00.000Z",
            endDate="2025-03-01T00:00:00.000Z",
            stripeSessionId="cs_test_Ancient00001",
            stripePaymentId=None,
        ),
        make_tenant(tenant_id=OTHER_TENANT_ID, account=None),
        make_pass(_id="pass-elsewhere", tenant=ref(OTHER_TENANT_ID)),
        make_subscription(
            _id="subOtherSchool",
            tenant=ref(OTHER_TENANT_ID),
            passId="pass-elsewhere",
            stripeSessionId="cs_test_Elsewhere0001",
            stripePaymentId=None,
        ),
        make_user(_id="usrStranger", clerkId="user_2stranger0000000003", email="s@example.com"),
        make_manual_subscription(_id="subStrangerGuess", user=ref("usrStranger")),
    )
    return w


def test_diagnosis_json_has_the_contracts_keys() -> None:
    data = diagnosis_json(_customer_world().diagnose(EMAIL))
    assert set(data) >= DIAGNOSE_KEYS
    assert data["email"] == EMAIL
    for key, wanted in (
        ("users", USER_KEYS),
        ("clerk_users", CLERK_KEYS),
        ("purchases", PURCHASE_KEYS),
        ("passes", PASS_KEYS),
    ):
        assert data[key], key
        for entry in data[key]:
            assert wanted <= set(entry), (key, wanted - set(entry))
    json.dumps(data)


def test_purchases_show_minor_units_and_status_ok_or_the_finding_kind() -> None:
    data = diagnosis_json(_customer_world().diagnose(EMAIL))
    by_session = {p["session"]: p for p in data["purchases"]}
    first, second = by_session[ids_for(1)[0]], by_session[ids_for(2)[0]]
    assert (first["amount"], first["currency"], first["status"]) == (129000, "nok", "ok")
    assert first["subscriptions"] == ["subPurchase0001"]
    assert (second["status"], second["subscriptions"]) == ("missing_pass", [])
    assert first["created"] == iso(BOUGHT)
    assert first["pass_name"] == "10 Clip Card"


def test_passes_list_every_subscription_whatever_its_state() -> None:
    d = _customer_world().diagnose(EMAIL)
    reasons = {v.subscription.id: (v.seen.visible, v.seen.usable, v.seen.reason) for v in d.passes}
    assert reasons == {
        "subPurchase0001": (True, True, "tenant_match"),
        "subInactive": (False, False, "inactive"),
        "subLongGone": (False, False, "expired"),
        "subOtherSchool": (True, True, "tenant_match"),  # judged at its own school
    }
    assert {v.subscription.id: v.tenant for v in d.passes}["subOtherSchool"] == OTHER_TENANT_ID


def test_only_the_customers_findings() -> None:
    d = _customer_world().diagnose(EMAIL)
    assert [f.kind.value for f in d.findings] == ["missing_pass"]
    assert "subStrangerGuess" not in {v.subscription.id for v in d.passes}


def test_unpaid_pass_of_the_customer_is_reported_even_outside_any_purchase() -> None:
    w = World.default()
    w.add(make_manual_subscription())
    d = w.diagnose(EMAIL.upper())
    assert [f.kind.value for f in d.findings] == ["unpaid_pass"]
    assert "a person must decide" in d.verdict


@pytest.mark.parametrize(
    ("build", "verdict"),
    [
        pytest.param(
            lambda w: w.fulfil(w.buy()), "the data is fine", id="fm45-visible-backend-is-fine"
        ),
        pytest.param(lambda w: w.buy(), "a fix is offered", id="fix-offered"),
        pytest.param(
            lambda w: w.buy(meta={"tenantId": "tenant-bolero"}),
            "a person must decide",
            id="person-must-decide",
        ),
        pytest.param(lambda w: None, "no active pass", id="nothing-at-all"),
    ],
)
def test_verdict(build: Callable[[World], object], verdict: str) -> None:
    w = World.default()
    build(w)
    assert verdict in w.diagnose(EMAIL).verdict


def test_unknown_email_says_there_is_nobody() -> None:
    d = World.default().diagnose("nobody@example.com")
    assert d.verdict == "no user, Clerk account or purchase has this email"
    assert (d.customer.users, d.customer.clerk_users, d.purchases) == ((), (), ())


def test_fm24_email_only_purchase_is_labelled_as_the_weaker_link() -> None:
    w = World.default()
    w.buy(1, clerk_id="user_2guestCheckout00000009")
    data = diagnosis_json(w.diagnose(EMAIL))
    (purchase,) = data["purchases"]
    assert purchase["linked_by_email_only"] is True


def test_fm20_legacy_reference_passes_belong_to_the_customer() -> None:
    w = World.default()
    w.add(make_subscription(_id="subLegacy", user=ref(CLERK_ID)))
    d = w.diagnose(EMAIL)
    assert [(v.subscription.id, v.seen.visible) for v in d.passes] == [("subLegacy", True)]


def test_pass_names_fall_back_to_the_live_pass_name_then_class_package() -> None:
    w = World.default()
    w.add(
        make_pass(_id="pass-renamed", name="  Open   Week "),
        make_subscription(_id="subA", passName=None, passId="pass-renamed"),
        make_subscription(_id="subB", passName=None, passId="pass-gone"),
    )
    names = {v.subscription.id: v.pass_name for v in w.diagnose(EMAIL).passes}
    assert names == {"subA": "Open Week", "subB": "Class Package"}


def test_diagnosis_lists_users_with_their_school() -> None:
    data = diagnosis_json(World.default().diagnose(EMAIL))
    assert data["users"] == [
        {
            "_id": USER_ID,
            "clerkId": CLERK_ID,
            "email": EMAIL,
            "tenant": "tenant-aurora",
            "name": "Kari Nordmann",
            "role": "student",
        }
    ]
    assert data["clerk_users"] == [{"id": CLERK_ID, "emails": [EMAIL]}]
    assert NOW > BOUGHT
