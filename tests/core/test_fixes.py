"""plan_fix: one purchase's fixes merged into one set of operations, or why there is none."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from core.domain.findings import CreateDoc, Kind, PatchDoc
from core.domain.fixes import merge_operations, plan_fix
from core.domain.models import iso
from core.domain.reconcile import reconcile
from tests.factories import (
    BOUGHT,
    DROP,
    NOW,
    WINDOW,
    World,
    check_never_do,
    make_manual_subscription,
    make_pass,
    make_subscription,
    make_upgrade_session,
    purchase_of,
)


def test_patches_of_one_document_are_merged_into_one() -> None:
    w = World.default()
    s = w.buy()
    doc = w.fulfil(s, type="single", remainingClips=1, endDate=iso(BOUGHT + timedelta(days=1)))
    purchase = purchase_of(w.run(), s)
    assert {f.kind for f in purchase.findings} == {Kind.WRONG_EXPIRY, Kind.MISTYPED_PASS}
    plan = plan_fix(purchase)
    (op,) = plan.operations
    assert isinstance(op, PatchDoc)
    assert op.id == doc["_id"]
    assert {"type", "remainingClips", "startDate", "endDate"} <= set(op.set)
    assert sorted(op.set["fixReason"].split("; ")) == ["mistyped_pass", "wrong_expiry"]
    assert op.before["type"] == "single"
    assert op.if_revision == doc["_rev"]
    assert (plan.patched, plan.created, plan.deactivated) == ([doc["_id"]], [], [])
    assert len(plan.resolves) == 2
    assert (plan.refused, plan.already_fixed) == (None, False)


def test_merge_operations() -> None:
    a = PatchDoc("sub1", {"type": "clipcard", "fixReason": "x"}, {"type": "single"}, "r1")
    b = PatchDoc("sub1", {"endDate": "e", "fixReason": "y"}, {"endDate": "d", "type": "?"}, "r2")
    c = CreateDoc({"_id": "subscription-cs_1"})
    merged = merge_operations([a, c, b, c])
    assert merged == (
        PatchDoc(
            "sub1",
            {"type": "clipcard", "fixReason": "x; y", "endDate": "e"},
            {"endDate": "d", "type": "single"},
            "r1",
        ),
        c,
    )


def test_nothing_to_do_is_already_fixed() -> None:
    w = World.default()
    s = w.buy()
    w.fulfil(s)
    plan = plan_fix(purchase_of(w.run(), s))
    assert (plan.already_fixed, plan.operations, plan.refused) == (True, (), None)


def test_no_safe_fix_is_refused_with_the_reason() -> None:
    w = World.default()
    s = w.buy(meta={"tenantId": "tenant-bolero"})
    plan = plan_fix(purchase_of(w.run(), s))
    assert plan.operations == ()
    assert not plan.already_fixed
    assert plan.refused is not None
    assert "tenant mismatch" in plan.refused
    assert [f.kind for f in plan.unresolved] == [Kind.UNRESOLVABLE_PURCHASE]


def test_refunded_purchase_with_an_active_pass_is_refused() -> None:
    w = World.default()
    s = w.buy(refunded=True)
    w.fulfil(s)
    plan = plan_fix(purchase_of(w.run(), s))
    assert plan.refused == "deactivating a pass is a person's decision"


def test_a_clean_manual_match_plans_only_the_link() -> None:
    w = World.default()
    s = w.buy()
    w.add(make_manual_subscription())
    plan = plan_fix(purchase_of(w.run(), s))
    (op,) = plan.operations
    assert isinstance(op, PatchDoc)
    assert (op.id, op.set["stripeSessionId"], op.set["stripePaymentId"]) == (
        "subManual0001",
        s["id"],
        "pi_test_Purchase0001",
    )
    assert op.before == {
        "stripeSessionId": "manual_session_oct13_1760300000",
        "stripePaymentId": "manual_creation_oct13_1760300000",
    }
    assert plan.resolves == ()
    assert plan.patched == ["subManual0001"]


def test_upgrade_plan_creates_and_deactivates() -> None:
    w = World.default()
    old_pass = make_pass(_id="pass-course1", name="1 Course", type="single", price=1290)
    new_pass = make_pass(_id="pass-course2", name="2 Course", type="multi-pass", price=2290)
    w.add(old_pass, new_pass)
    old = w.fulfil(w.buy(1, pass_=old_pass, created=NOW - timedelta(days=10)))
    up = make_upgrade_session(2, old=old, old_pass=old_pass, new_pass=new_pass)
    w.add_session(up)
    plan = plan_fix(purchase_of(w.run(), up))
    assert plan.created == [f"subscription-{up['id']}"]
    assert plan.deactivated == [old["_id"]]
    assert plan.patched == []


def test_duplicates_plan_deactivates_never_deletes() -> None:
    w = World.default()
    s = w.buy()
    w.fulfil(s)
    w.add(make_subscription(s, _id="subCopy", createdViaWebhook=DROP))
    plan = plan_fix(purchase_of(w.run(), s))
    assert (plan.deactivated, plan.created, plan.patched) == (["subCopy"], [], [])


def test_alternative_is_chosen_by_key_and_unknown_keys_keep_the_default() -> None:
    w = World.default()
    w.replace("pass-clip10", validityDays=30)
    s = w.buy(created=NOW - timedelta(days=25))
    purchase = purchase_of(w.run(), s)

    def start(plan_alternative: str | None) -> str:
        (op,) = plan_fix(purchase, alternative=plan_alternative).operations
        assert isinstance(op, CreateDoc)
        return str(op.document["startDate"])

    assert start(None) == iso(NOW - timedelta(days=25))
    assert start("start_today") == iso(NOW)
    assert start("no_such_thing") == iso(NOW - timedelta(days=25))


def test_fixable_and_undecidable_findings_together_plan_the_fixable_part() -> None:
    w = World.default()
    s = w.buy()
    w.fulfil(s, type="multi", remainingClips=10)
    w.add(make_subscription(s, _id="subCopy", createdViaWebhook=DROP, type="multi"))
    facts = dataclasses.replace(w.facts(), bookings=None)  # clips used: unknown
    report = reconcile(facts, now=NOW, window=WINDOW, actor="U0APPROVER")
    check_never_do(report.findings, facts)
    plan = plan_fix(purchase_of(report, s))
    assert plan.deactivated == ["subCopy"]
    assert plan.refused is None
    assert [f.kind for f in plan.unresolved] == [Kind.MISTYPED_PASS]
    assert plan.unresolved[0].why_no_fix is not None
