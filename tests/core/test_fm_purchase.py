"""Failure modes of domain.md §5 A–D that are conditions of the data: what a paid purchase
looks like when delivery, metadata, identity or the school went wrong, and what passbot says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.domain.findings import Kind, Severity
from core.domain.models import Window
from tests.factories import (
    ACCOUNT_ID,
    CLERK_ID,
    DROP,
    EMAIL,
    NOW,
    OTHER_ACCOUNT_ID,
    OTHER_TENANT_ID,
    TENANT_ID,
    USER_ID,
    World,
    created_doc,
    ids_for,
    kinds,
    make_account,
    make_clerk_user,
    make_pass,
    make_subscription,
    make_tenant,
    make_user,
    only,
    patch_set,
    purchase_of,
    ref,
)


def _log(session_id: str, status: str, *, n: int = 1, error: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"sessionId": session_id, "metadata": {"type": "pass_purchase"}}
    if error:
        details["error"] = error
    return {
        "_id": f"log-{status}-{n}",
        "_type": "webhookLog",
        "eventType": "checkout.session.completed",
        "eventId": f"evt_{session_id[-12:]}",
        "status": status,
        "timestamp": f"2026-11-26T08:00:0{n}.000Z",
        "details": details,
    }


# ============================================================== A. delivery and configuration


def test_fm06_paid_session_without_any_webhook_log_is_missing_with_that_evidence() -> None:
    """The webhook never saw it (platform-scoped endpoint): the finding says so."""
    w = World.default()
    w.buy()
    f = only(w.run().findings, Kind.MISSING_PASS)
    assert any("no webhookLog" in d for d in f.details), f.details


@pytest.mark.parametrize(
    ("logs", "needle"),
    [
        pytest.param(
            [("processing", None), ("error", "Pass not found: pass-clip10")],
            "Pass not found: pass-clip10",
            id="error-logged-and-acknowledged-200",
        ),
        pytest.param([("processing", None)], "never finished", id="processing-never-completed"),
        pytest.param(
            [("processing", None), ("success", None)], "success", id="logged-success-yet-no-pass"
        ),
    ],
)
def test_fm12_silent_failure_is_judged_from_stripe_not_from_delivery_status(
    logs: list[tuple[str, str | None]], needle: str
) -> None:
    w = World.default()
    s = w.buy()
    for i, (status, error) in enumerate(logs, start=1):
        w.add(_log(s["id"], status, n=i, error=error))
    f = only(w.run().findings, Kind.MISSING_PASS)
    assert f.fix is not None
    assert any(needle in d for d in f.details), f.details


def test_fm10_unreadable_account_is_unreachable_not_empty() -> None:
    w = World.default()
    w.add(make_tenant(tenant_id=OTHER_TENANT_ID, account=OTHER_ACCOUNT_ID))  # key has no access
    w.buy()
    report = w.run()
    f = only(report.findings, Kind.ACCOUNT_UNREACHABLE)
    assert (f.severity, f.fix, f.account, f.tenant) == (
        Severity.CRITICAL,
        None,
        OTHER_ACCOUNT_ID,
        OTHER_TENANT_ID,
    )
    assert "unknown, not absent" in f.summary
    assert [(a.account, a.ok) for a in report.accounts] == [
        (ACCOUNT_ID, True),
        (OTHER_ACCOUNT_ID, False),
    ]
    assert report.paid_pass_sessions == 1  # the readable school is still reconciled


# ============================================================== B. session and metadata


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        pytest.param({"userId": DROP}, "metadata lacks userId", id="no-userId"),
        pytest.param({"passId": DROP}, "metadata lacks passId", id="no-passId"),
        pytest.param({"tenantId": DROP}, "metadata lacks tenantId", id="no-tenantId"),
        pytest.param(
            {"passId": DROP, "userId": DROP, "tenantId": DROP},
            "metadata lacks passId, userId, tenantId",
            id="nothing",
        ),
    ],
)
def test_fm15_incomplete_metadata_is_unresolvable(meta: dict[str, Any], needle: str) -> None:
    w = World.default()
    w.buy(meta=meta)
    f = only(w.run().findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.severity == Severity.CRITICAL
    assert f.fix is None
    assert f.why_no_fix is not None
    assert needle in f.why_no_fix


def test_fm15_session_without_pass_id_is_never_matched_to_a_pass_by_price() -> None:
    """2000 NOK is exactly the clip card's price; the pass is still not inferred."""
    w = World.default()
    w.buy(meta={"passId": DROP, "passType": DROP})
    report = w.run()
    f = only(report.findings, Kind.UNRESOLVABLE_PURCHASE)
    assert (f.pass_id, f.fix) == (None, None)
    assert purchase_of(report, ids_for(1)[0]).subscriptions == ()


def test_fm15_legacy_session_without_type_needs_a_person() -> None:
    w = World.default()
    w.buy(meta={"type": DROP, "passType": "multi"})
    report = w.run()
    f = only(report.findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.fix is None
    assert f.why_no_fix is not None
    assert "a person must confirm" in f.why_no_fix
    assert report.paid_pass_sessions == 1


def test_fm15_legacy_session_with_a_pass_is_fine() -> None:
    w = World.default()
    s = w.buy(meta={"type": DROP, "passType": "multi"})
    w.fulfil(s)
    report = w.run()
    assert report.findings == ()
    assert purchase_of(report, s).status == "ok"


def test_fm15_legacy_passtype_fallback_is_a_pass_purchase() -> None:
    w = World.default()
    w.buy(meta={"type": DROP, "passType": "pass_purchase"})
    assert kinds(w.run().findings) == ["missing_pass"]


def test_fm16_class_booking_session_is_not_a_pass() -> None:
    w = World.default()
    w.buy(meta={"type": DROP, "passId": DROP, "passType": DROP, "classId": "class-salsa1"})
    report = w.run()
    assert report.findings == ()
    assert (report.paid_pass_sessions, report.not_pass_sessions, report.sessions_checked) == (
        0,
        1,
        1,
    )
    assert report.fulfilment_rate is None


def test_fm18_complete_but_unpaid_session_is_not_a_purchase() -> None:
    w = World.default()
    w.buy(payment_status="unpaid", status="complete")
    report = w.run()
    assert report.findings == ()
    assert (report.paid_pass_sessions, report.not_pass_sessions) == (0, 1)


# ============================================================== C. identity


def test_fm19_user_resolved_by_clerk_id_not_id() -> None:
    w = World.default()
    w.buy()
    doc = created_doc(only(w.run().findings, Kind.MISSING_PASS).fix)
    assert doc["user"] == ref(USER_ID)


def test_fm19_legacy_user_with_clerk_id_as_id_is_used_when_it_is_the_only_one() -> None:
    w = World(
        documents=[make_tenant(), make_pass(), make_user(_id=CLERK_ID, clerkId=DROP)],
        accounts=[make_account()],
    )
    w.buy()
    doc = created_doc(only(w.run().findings, Kind.MISSING_PASS).fix)
    assert doc["user"] == ref(CLERK_ID)


def test_fm20_legacy_clerk_id_reference_is_visible() -> None:
    w = World.default()
    s = w.buy()
    w.fulfil(s, user=ref(CLERK_ID))
    report = w.run()
    assert report.findings == ()
    assert purchase_of(report, s).status == "ok"


def test_fm20_legacy_reference_without_any_user_document_still_resolves() -> None:
    w = World(documents=[make_tenant(), make_pass()], accounts=[make_account()])
    s = w.buy()
    w.add(make_subscription(s, owner={"_id": CLERK_ID}))
    assert w.run().findings == ()


def test_fm21_user_missing_in_sanity_is_unresolvable() -> None:
    w = World(documents=[make_tenant(), make_pass()], accounts=[make_account()])
    w.buy()
    f = only(w.run().findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.why_no_fix is not None
    assert f"no Sanity user has clerkId {CLERK_ID}" in f.why_no_fix
    assert f.fix is None


def test_fm23_duplicate_users_create_for_the_oldest_and_see_each_others_passes() -> None:
    w = World.default()
    w.replace(USER_ID, _createdAt="2026-06-01T00:00:00Z")
    w.add(make_user(_id="usrKariOlder", _createdAt="2026-01-01T00:00:00Z"))
    missing = w.buy(1)
    doc = created_doc(only(w.run().findings, Kind.MISSING_PASS).fix)
    assert doc["user"] == ref("usrKariOlder")
    w.fulfil(missing, user=ref(USER_ID))  # the webhook picked the other duplicate
    assert w.run().findings == ()


def test_fm24_checkout_email_differs_from_account_email_matches_on_user_id() -> None:
    w = World.default()
    s = w.buy(customer_details={"email": "Someone.Else@Example.org", "name": "K"})
    w.fulfil(s)
    assert w.run().findings == ()


# ============================================================== D. tenant


def test_fm26_subscription_without_tenant_is_visible_through_its_pass() -> None:
    w = World.default()
    s = w.buy()
    w.fulfil(s, tenant=DROP)
    assert w.run().findings == ()


def test_fm26_tenantless_pass_with_unknown_pass_gets_the_pass_bought_tenant() -> None:
    w = World.default()
    s = w.buy()
    sub = w.fulfil(s, tenant=DROP, passId=DROP)
    report = w.run()
    hidden = only(report.findings, Kind.HIDDEN_PASS)
    assert patch_set(hidden.fix, sub["_id"])["tenant"] == ref(TENANT_ID)


def test_fm26_tenant_is_never_defaulted_when_the_pass_has_none() -> None:
    w = World.default()
    w.replace("pass-clip10", tenant=DROP)
    s = w.buy()
    w.fulfil(s, tenant=DROP)
    report = w.run()
    f = only(report.findings, Kind.HIDDEN_PASS)
    assert f.fix is None
    assert f.why_no_fix is not None
    assert "no tenant" in f.why_no_fix


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        pytest.param(
            lambda w: w.buy(meta={"tenantId": OTHER_TENANT_ID}),
            "metadata.tenantId is tenant-bolero",
            id="metadata-names-another-school",
        ),
        pytest.param(
            lambda w: (
                w.add(make_tenant(tenant_id=OTHER_TENANT_ID, account=OTHER_ACCOUNT_ID)),
                w.accounts.append(make_account(account=OTHER_ACCOUNT_ID)),
                w.buy(account=OTHER_ACCOUNT_ID),
            ),
            f"the tenant of {OTHER_ACCOUNT_ID} is tenant-bolero",
            id="session-read-from-another-schools-account",
        ),
        pytest.param(
            lambda w: (
                w.add(make_pass(_id="pass-bolero", tenant=ref(OTHER_TENANT_ID))),
                w.buy(pass_=make_pass(_id="pass-bolero", tenant=ref(OTHER_TENANT_ID))),
            ),
            "the pass's tenant is tenant-bolero",
            id="pass-of-another-school",
        ),
        pytest.param(
            lambda w: w.buy(account="acct_unknownSchool"),
            "no tenant has Connect account acct_unknownSchool",
            id="account-of-no-school",
        ),
        pytest.param(
            lambda w: (w.replace("pass-clip10", tenant=DROP), w.buy()),
            "pass pass-clip10 has no tenant",
            id="pass-without-school",
        ),
    ],
)
def test_fm27_tenant_mismatch_is_unresolvable(setup: Any, needle: str) -> None:
    w = World.default()
    setup(w)
    f = only(w.run().findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.severity == Severity.CRITICAL
    assert f.fix is None
    assert f.why_no_fix is not None
    assert needle in f.why_no_fix, f.why_no_fix


def test_fm27_platform_session_before_connect_needs_pass_and_metadata_to_agree() -> None:
    w = World.default()
    s = w.buy(account=None)
    assert kinds(w.run().findings) == ["missing_pass"]
    w.fulfil(s)
    assert w.run().findings == ()


def test_fm28_user_tenant_and_role_do_not_affect_visibility() -> None:
    w = World.default()
    w.replace(USER_ID, tenant=ref(OTHER_TENANT_ID), role="pending")
    s = w.buy()
    w.fulfil(s)
    report = w.run()
    assert report.findings == ()
    d = w.diagnose()
    assert [(v.seen.visible, v.seen.usable) for v in d.passes] == [(True, True)]


def test_fm22_fm24_diagnose_finds_every_account_of_an_email() -> None:
    second = "user_2kariSecondLogin0002"
    w = World.default()
    w.add(make_user(_id="usrKariSecond", clerkId=second, email="KARI.NORDMANN@EXAMPLE.COM"))
    w.clerk_users.append(make_clerk_user(clerk_id=second, email="Kari.Nordmann@Example.com"))
    first = w.buy(1)
    w.fulfil(first)
    other = w.buy(2, clerk_id=second)  # paid while logged in with the second account
    stranger = w.buy(3, clerk_id="user_2stranger0000000003")  # only the Stripe email matches
    w.add(make_user(_id="usrStranger", clerkId="user_2stranger0000000003", email="s@example.com"))
    d = w.diagnose(" kari.nordmann@EXAMPLE.com ")
    assert {u.id for u in d.customer.users} == {USER_ID, "usrKariSecond"}
    assert {c.id for c in d.customer.clerk_users} == {CLERK_ID, second}
    assert {p.session.id for p in d.purchases} == {first["id"], other["id"], stranger["id"]}
    assert d.linked_by_email_only == {stranger["id"]}
    statuses = {p.session.id: p.status for p in d.purchases}
    assert statuses[first["id"]] == "ok"
    assert statuses[other["id"]] == "missing_pass"


def test_fm45_backend_visible_pass_means_the_data_is_fine() -> None:
    w = World.default()
    w.fulfil(w.buy())
    d = w.diagnose(EMAIL)
    assert d.findings == ()
    assert list(d.visible_by_tenant) == [TENANT_ID]
    assert "the data is fine" in d.verdict


def test_fm46_window_is_explicit_and_inclusive_at_both_ends() -> None:
    start, end = NOW - timedelta(days=10), NOW - timedelta(days=1)
    w = World.default()
    w.buy(1, created=start)
    w.buy(2, created=end)
    w.buy(3, created=start - timedelta(seconds=1))
    w.buy(4, created=end + timedelta(seconds=1))
    report = w.run(window=Window(start, end))
    assert {p.session.id for p in report.purchases} == {ids_for(1)[0], ids_for(2)[0]}
    assert report.sessions_checked == 2
