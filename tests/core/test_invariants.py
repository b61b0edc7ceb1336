"""The never-do rules (domain.md §7.8) and the promise that every fix converges: applied once,
a second run finds nothing more to write for that purchase (cli-contract: already_fixed)."""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from core.domain.findings import (
    Action,
    CreateDoc,
    Finding,
    Fix,
    Kind,
    Operation,
    PatchDoc,
    Severity,
)
from core.domain.fixes import plan_fix
from core.domain.models import Window, iso
from tests.factories import (
    BOUGHT,
    CLERK_ID,
    DROP,
    NOW,
    TENANT_ID,
    USER_ID,
    World,
    check_never_do,
    kinds,
    make_booking,
    make_class_instance,
    make_manual_subscription,
    make_pass,
    make_subscription,
    make_upgrade_session,
    make_user,
    only,
    purchase_of,
    ref,
)

WIDE = Window(NOW - timedelta(days=90), NOW)

Scenario = Callable[[], tuple[World, str]]


def _missing() -> tuple[World, str]:
    w = World.default()
    return w, w.buy()["id"]


def _old_missing(days_ago: int) -> Scenario:
    def build() -> tuple[World, str]:
        w = World.default()
        w.replace("pass-clip10", validityDays=30)
        return w, w.buy(created=NOW - timedelta(days=days_ago))["id"]

    return build


def _upgrade(*, fulfilled: bool, upgraded: timedelta = timedelta(days=2)) -> Scenario:
    def build() -> tuple[World, str]:
        w = World.default()
        old_pass = make_pass(_id="pass-course1", name="1 Course", type="single", price=1290)
        new_pass = make_pass(_id="pass-course2", name="2 Course", type="multi-pass", price=2290)
        w.add(old_pass, new_pass)
        old = w.fulfil(w.buy(1, pass_=old_pass, created=NOW - timedelta(days=10)))
        up = make_upgrade_session(
            2, old=old, old_pass=old_pass, new_pass=new_pass, created=NOW - upgraded
        )
        w.add_session(up)
        if fulfilled:
            w.fulfil(up, isUpgrade=True, upgradedFromSubscriptionId=old["_id"])
        return w, up["id"]

    return build


def _fulfilled(**sub: object) -> Scenario:
    def build() -> tuple[World, str]:
        w = World.default()
        s = w.buy()
        w.fulfil(s, **sub)
        return w, s["id"]

    return build


def _duplicates() -> tuple[World, str]:
    w = World.default()
    s = w.buy()
    w.fulfil(s)
    w.add(make_subscription(s, _id="subCopy", createdViaWebhook=DROP))
    return w, s["id"]


def _with_bookings(**sub: object) -> Scenario:
    def build() -> tuple[World, str]:
        w, sid = _fulfilled(**sub)()
        w.add(make_class_instance([make_booking(at=BOUGHT + timedelta(hours=h)) for h in (2, 5)]))
        return w, sid

    return build


def _second_schema() -> tuple[World, str]:
    w = World.default()
    s = w.buy()
    w.add(
        {
            "_id": "subSecondSchema1",
            "_type": "subscription",
            "user": ref(USER_ID),
            "tenant": ref(TENANT_ID),
            "pass": ref("pass-clip10"),
            "status": "active",
            "classesUsed": 1,
            "classesLimit": 10,
            "amount": 200000,
            "stripePaymentIntentId": "pi_test_Purchase0001",
        }
    )
    return w, s["id"]


def _manual(**manual: object) -> Scenario:
    def build() -> tuple[World, str]:
        w = World.default()
        s = w.buy()
        w.add(make_manual_subscription(**manual))
        return w, s["id"]

    return build


def _wrong_pass() -> tuple[World, str]:
    w = World.default()
    w.add(make_pass(_id="pass-drop", name="Drop-in Class", type="single", price=250))
    s = w.buy()
    w.fulfil(s, passId="pass-drop", passName="Drop-in Class", type="single", remainingClips=1)
    return w, s["id"]


SCENARIOS: dict[str, tuple[Scenario, str | None]] = {
    "missing_pass": (_missing, None),
    "missing_pass-little-left": (_old_missing(25), None),
    "missing_pass-little-left-start-today": (_old_missing(25), "start_today"),
    "missing_pass-expired-start-today": (_old_missing(40), "start_today"),
    "missing_upgrade-create-and-retire": (_upgrade(fulfilled=False), None),
    "missing_upgrade-retire-leftover": (_upgrade(fulfilled=True), None),
    "missing_upgrade-start-today": (
        _upgrade(fulfilled=False, upgraded=timedelta(days=80)),
        "start_today",
    ),
    "duplicate_pass": (_duplicates, None),
    "mistyped-single-for-clipcard": (_fulfilled(type="single", remainingClips=1), None),
    "mistyped-raw-multi-with-bookings": (_with_bookings(type="multi", remainingClips=DROP), None),
    "mistyped-wrong-pass": (_wrong_pass, None),
    "wrong_expiry": (_fulfilled(endDate=iso(BOUGHT + timedelta(hours=2))), None),
    "wrong_expiry-unparseable": (_fulfilled(endDate="3/10/2025"), None),
    "hidden-inactive-no-reason": (_fulfilled(isActive=False), None),
    "hidden-inactive-and-wrong-dates": (
        _fulfilled(isActive=False, endDate=iso(BOUGHT + timedelta(days=1))),
        None,
    ),
    "hidden-no-isActive-and-wrong-dates": (
        _fulfilled(isActive=DROP, endDate=iso(BOUGHT + timedelta(hours=5))),
        None,
    ),
    "hidden-no-tenant-no-pass": (_fulfilled(tenant=DROP, passId=DROP), None),
    "hidden-undefined-user-and-tenant": (
        _fulfilled(user={"_type": "reference"}, tenant={"_type": "reference"}),
        None,
    ),
    "hidden-no-user": (_fulfilled(user=DROP), None),
    "hidden-second-schema": (_second_schema, None),
    "manual-link": (_manual(), None),
    "manual-link-and-dates": (_manual(startDate=iso(BOUGHT + timedelta(days=2))), None),
    "manual-mistyped": (_manual(type="single", remainingClips=1), None),
}


@pytest.mark.parametrize(("build", "alternative"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_fix_converges_in_one_approval(build: Scenario, alternative: str | None) -> None:
    world, sid = build()
    purchase = purchase_of(world.run(window=WIDE), sid)
    plan = plan_fix(purchase, alternative=alternative)
    assert plan.refused is None, plan.refused
    assert not plan.already_fixed
    assert plan.operations
    world.apply(plan.operations)
    state = copy.deepcopy(world.documents)

    after = purchase_of(world.run(window=WIDE), sid)
    assert after.findings == (), [f.summary for f in after.findings]
    assert after.link is None
    again = plan_fix(after)
    assert (again.already_fixed, again.operations, again.refused) == (True, (), None)
    assert after.has_pass

    world.apply(plan.operations)  # applying the same fix twice changes nothing
    assert world.documents == state


def test_start_today_is_offered_when_less_than_half_the_validity_is_left() -> None:
    for days_ago, offered in ((14, False), (15, False), (16, True), (40, True)):
        world, sid = _old_missing(days_ago)()
        f = only(purchase_of(world.run(window=WIDE), sid).findings, Kind.MISSING_PASS)
        assert f.fix is not None
        assert bool(f.fix.alternatives) is offered, days_ago
        if offered:
            (alt,) = f.fix.alternatives
            assert (alt.key, alt.label) == ("start_today", "Start from today")
            (op,) = alt.operations
            assert isinstance(op, CreateDoc)
            assert (op.document["startDate"], op.document["endDate"]) == (
                iso(NOW),
                iso(NOW + timedelta(days=30)),
            )
            assert f.fix.note is not None
            assert ("already expired" in f.fix.note) is (days_ago >= 30)
            default = f.fix.operations[0]
            assert isinstance(default, CreateDoc)
            assert default.document["startDate"] == iso(NOW - timedelta(days=days_ago))


def test_start_today_is_never_offered_for_a_fixed_date_pass() -> None:
    world = World.default()
    world.replace(
        "pass-clip10",
        validityType="date",
        expiryDate=iso(NOW + timedelta(days=2)),
        validityDays=DROP,
    )
    world.buy(created=NOW - timedelta(days=30))
    f = only(world.run(window=WIDE).findings, Kind.MISSING_PASS)
    assert f.fix is not None
    assert f.fix.alternatives == ()


def test_upgrade_alternative_also_retires_the_old_pass() -> None:
    world, sid = _upgrade(fulfilled=False, upgraded=timedelta(days=9))()
    world.replace("pass-course2", validityDays=12)
    f = only(purchase_of(world.run(window=WIDE), sid).findings, Kind.MISSING_UPGRADE)
    assert f.fix is not None
    (alt,) = f.fix.alternatives
    assert [type(op) for op in alt.operations] == [CreateDoc, PatchDoc]


# ------------------------------------------------------------------------- never do


def test_there_is_no_delete_operation() -> None:
    assert set(typing.get_args(Operation)) == {CreateDoc, PatchDoc}
    assert not [a for a in Action if "delete" in a.value or "remove" in a.value]


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(
            lambda w, s: (
                w.add(make_user(_id="usrOther", clerkId="user_2other000000000001")),
                w.fulfil(s, user=ref("usrOther")),
            ),
            id="another-users-pass",
        ),
        pytest.param(lambda w, s: w.fulfil(s, tenant=ref("tenant-bolero")), id="another-school"),
        pytest.param(lambda w, s: w.fulfil(s, user=ref("usrNobody")), id="user-resolves-nobody"),
    ],
)
def test_no_fix_ever_repoints_a_user_or_tenant(
    build: Callable[[World, dict[str, Any]], object],
) -> None:
    w = World.default()
    s = w.buy()
    build(w, s)
    report = w.run()
    f = only(report.findings, Kind.HIDDEN_PASS)
    assert f.fix is None
    assert f.why_no_fix
    assert plan_fix(purchase_of(report, s)).refused


@pytest.mark.parametrize(
    "session",
    [
        pytest.param({"payment_status": "unpaid"}, id="unpaid"),
        pytest.param({"payment_status": "no_payment_required"}, id="no-payment-required"),
        pytest.param({"status": "open", "payment_status": "unpaid"}, id="open"),
        pytest.param({"refunded": True}, id="refunded"),
        pytest.param({"disputed": True}, id="disputed"),
    ],
)
def test_no_create_without_a_paid_session(session: dict[str, Any]) -> None:
    w = World.default()
    w.buy(**session)
    w.add(make_manual_subscription(purchasePrice=0))
    report = w.run()
    creates = [
        op for f in report.findings if f.fix for op in f.fix.operations if isinstance(op, CreateDoc)
    ]
    assert creates == []


def test_no_tenant_is_defaulted() -> None:
    w = World.default()
    w.replace("pass-clip10", tenant=DROP)
    w.buy(1)
    s2 = w.buy(2)
    w.fulfil(s2, tenant=DROP, passId=DROP)
    report = w.run()
    for f in report.findings:
        assert f.fix is None, f
    assert kinds(report.findings).count("unresolvable_purchase") == 1


def test_no_automatic_deactivation_of_unpaid_or_refunded_passes() -> None:
    w = World.default()
    w.add(make_manual_subscription(_id="subGuessed"))
    s = w.buy(2, refunded=True)
    w.fulfil(s)
    report = w.run()
    for kind in (Kind.UNPAID_PASS, Kind.REFUNDED_PASS):
        f = only(report.findings, kind)
        assert (f.fix, f.severity) == (None, Severity.WARNING)
        assert "a person's decision" in (f.why_no_fix or "")


# The checker the scenarios rely on must itself be able to fail.


def _finding_with(op: Operation) -> Finding:
    return Finding(
        kind=Kind.HIDDEN_PASS,
        severity=Severity.CRITICAL,
        summary="crafted",
        fix=Fix(Action.PATCH_SUBSCRIPTION, (op,)),
    )


@pytest.mark.parametrize(
    ("op", "message"),
    [
        pytest.param(
            PatchDoc("sub1", {"user": ref("usrOther")}, {}, None), "re-points user", id="user"
        ),
        pytest.param(
            PatchDoc("sub1", {"tenant": ref("tenant-x")}, {}, None), "re-points tenant", id="tenant"
        ),
        pytest.param(
            PatchDoc(USER_ID, {"clerkId": CLERK_ID}, {}, None),
            "not a subscription",
            id="patch-a-user",
        ),
        pytest.param(
            CreateDoc(
                {"_id": "subscription-cs_test_Nope0001", "stripeSessionId": "cs_test_Nope0001"}
            ),
            "without a paid session",
            id="create-unpaid",
        ),
    ],
)
def test_the_never_do_checker_catches_violations(op: Operation, message: str) -> None:
    w = World.default()
    w.add(make_subscription(_id="sub1"))
    with pytest.raises(AssertionError, match=message):
        check_never_do([_finding_with(op)], w.facts())


def test_the_never_do_checker_catches_a_finding_without_fix_or_reason() -> None:
    bare = Finding(kind=Kind.HIDDEN_PASS, severity=Severity.CRITICAL, summary="?")
    with pytest.raises(AssertionError, match="without fix or reason"):
        check_never_do([bare], World.default().facts())
