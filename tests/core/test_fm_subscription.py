"""Failure modes of domain.md §5 E–F: the passes that exist are wrong, hidden, doubled, unpaid,
refunded, or hand-made — and what passbot proposes (or refuses to guess) for each."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from core.domain.findings import Action, CreateDoc, Kind, PatchDoc, Severity
from core.domain.models import Window, iso
from core.domain.reconcile import reconcile
from tests.factories import (
    BOUGHT,
    CLERK_ID,
    DROP,
    NOW,
    TENANT_ID,
    USER_ID,
    WINDOW,
    World,
    check_never_do,
    created_doc,
    ids_for,
    kinds,
    make_booking,
    make_class_instance,
    make_manual_subscription,
    make_pass,
    make_subscription,
    make_upgrade_session,
    make_user,
    only,
    patch_set,
    purchase_of,
    ref,
)

PAST_DATE = "2026-11-01T21:15:00.000Z"


def _bought_and_fulfilled(**sub: Any) -> tuple[World, dict[str, Any], dict[str, Any]]:
    w = World.default()
    s = w.buy()
    doc = w.fulfil(s, **sub)
    return w, s, doc


# ============================================================== FM-13, FM-31, FM-37: pass lint


@pytest.mark.parametrize(
    ("pass_overrides", "needle"),
    [
        pytest.param(
            {"validityType": "days", "validityDays": DROP, "expiryDate": "2027-06-01T00:00:00Z"},
            "no valid expiry configuration",
            id="fm13a-days-without-validityDays",
        ),
        pytest.param(
            {"validityType": "date", "expiryDate": DROP, "validityDays": DROP},
            "no valid expiry configuration",
            id="fm13a-date-without-expiryDate-or-days",
        ),
        pytest.param({"type": "subscription"}, "Invalid pass type", id="fm13b-type-subscription"),
        pytest.param({"classesLimit": None}, "no clips", id="fm13d-multi-without-classesLimit"),
        pytest.param(
            {"validityType": "date", "expiryDate": PAST_DATE},
            "has passed",
            id="fm13e-fm31-fixed-date-passed",
        ),
        pytest.param({"classesLimit": 0}, "no clips", id="fm37-classesLimit-zero"),
    ],
)
def test_fm13_broken_pass_blocks_creation_and_is_linted_critical_when_bought(
    pass_overrides: dict[str, Any], needle: str
) -> None:
    w = World.default()
    w.replace("pass-clip10", **pass_overrides)
    w.buy()
    report = w.run()
    unresolvable = only(report.findings, Kind.UNRESOLVABLE_PURCHASE)
    assert unresolvable.fix is None
    assert unresolvable.why_no_fix is not None
    assert needle in unresolvable.why_no_fix
    lint = only(report.findings, Kind.PASS_CONFIG)
    assert (lint.severity, lint.fix, lint.pass_id) == (Severity.CRITICAL, None, "pass-clip10")


def test_fm13a_days_pass_without_validity_days_is_unresolvable() -> None:
    w = World.default()
    w.replace("pass-clip10", validityDays=DROP)
    w.buy()
    f = only(w.run().findings, Kind.UNRESOLVABLE_PURCHASE)
    assert (f.severity, f.fix) == (Severity.CRITICAL, None)
    assert any("Pass has no valid expiry configuration" in d for d in f.details)


def test_fm13c_pass_deleted_after_sale_shows_the_line_item_for_a_person() -> None:
    w = World.default()
    w.documents.remove(w.doc("pass-clip10"))
    w.buy(line_items={"object": "list", "data": [{"description": "10 Clip Card"}]})
    report = w.run()
    f = only(report.findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.why_no_fix is not None
    assert "pass pass-clip10 no longer exists (line item: '10 Clip Card')" in f.why_no_fix
    assert Kind.PASS_CONFIG not in kinds(report.findings)
    assert purchase_of(report, ids_for(1)[0]).pass_name == "10 Clip Card"


def test_fm31_expired_fixed_date_pass_is_linted() -> None:
    w = World.default()
    w.replace("pass-clip10", validityType="date", expiryDate=PAST_DATE, validityDays=DROP)
    f = only(w.run().findings, Kind.PASS_CONFIG)
    assert (f.severity, f.fix) == (Severity.WARNING, None)  # nobody bought it in the window
    assert "in the past" in f.summary
    assert f.why_no_fix == "the school fixes its pass in the Studio"


def test_fm31_pass_no_longer_on_sale_is_not_linted() -> None:
    w = World.default()
    w.replace("pass-clip10", validityType="date", expiryDate=PAST_DATE, isActive=False)
    assert w.run().findings == ()


def test_fm31_pass_born_expired_is_hidden_and_says_a_person_must_choose_the_dates() -> None:
    """The clip-card incident: the webhook wrote the fixed date, already before the purchase."""
    w = World.default()
    w.replace("pass-clip10", validityType="date", expiryDate=PAST_DATE, validityDays=DROP)
    s = w.buy()
    sub = w.fulfil(s)
    assert sub["endDate"] < sub["startDate"]
    report = w.run()
    hidden = only(report.findings, Kind.HIDDEN_PASS)
    assert (hidden.severity, hidden.fix) == (Severity.CRITICAL, None)
    assert hidden.why_no_fix is not None
    assert "has passed" in hidden.why_no_fix
    assert purchase_of(report, s).status == "hidden_pass"


def test_fm31_fixed_date_pass_that_ended_naturally_is_no_fault() -> None:
    w = World.default()
    w.replace(
        "pass-clip10",
        validityType="date",
        expiryDate=iso(BOUGHT + timedelta(hours=30)),
        validityDays=DROP,
        isActive=False,
    )
    s = w.buy()
    w.fulfil(s)
    report = w.run()
    assert report.findings == ()
    assert purchase_of(report, s).status == "ok"


# ============================================================== FM-14, FM-32, FM-33, FM-50: dates


@pytest.mark.parametrize(
    ("sub", "severity", "needle"),
    [
        pytest.param(
            {"endDate": iso(BOUGHT + timedelta(days=1, hours=-1))},
            Severity.CRITICAL,
            "ends",
            id="fm14-hours-instead-of-months-hidden-by-it",
        ),
        pytest.param(
            {"endDate": iso(BOUGHT)},
            Severity.CRITICAL,
            "ends before it starts",
            id="fm32-start-eq-end",
        ),
        pytest.param(
            {"endDate": iso(BOUGHT - timedelta(days=3))},
            Severity.CRITICAL,
            "ends before it starts",
            id="fm32-end-before-start",
        ),
        pytest.param(
            {"startDate": iso(NOW + timedelta(days=5))},
            Severity.WARNING,
            "starts",
            id="fm32-start-in-the-future",
        ),
        pytest.param(
            {
                "startDate": iso(NOW - timedelta(hours=1)),
                "endDate": iso(NOW + timedelta(days=90)),
            },
            Severity.WARNING,
            "purchase was",
            id="fm32-computed-from-recovery-time",
        ),
        pytest.param(
            {"endDate": "2025-03-10T23:59:59.999Z"},
            Severity.CRITICAL,
            "Mon 2025-03-10",
            id="fm33-misread-date-echoed-with-weekday",
        ),
        pytest.param(
            {"startDate": DROP},
            Severity.WARNING,
            "starts never",
            id="fm32-no-start-date",
        ),
    ],
)
def test_fm32_wrong_expiry_values_are_patched_back_to_the_rule(
    sub: dict[str, Any], severity: Severity, needle: str
) -> None:
    w, _, doc = _bought_and_fulfilled(**sub)
    f = only(w.run().findings, Kind.WRONG_EXPIRY)
    assert f.severity == severity
    assert needle in f.summary, f.summary
    fields = patch_set(f.fix, doc["_id"])
    assert (fields["startDate"], fields["endDate"]) == (
        iso(BOUGHT),
        iso(BOUGHT + timedelta(days=90)),
    )
    assert f.fix is not None
    assert f.fix.action == Action.PATCH_SUBSCRIPTION
    op = f.fix.operations[0]
    assert isinstance(op, PatchDoc)
    assert op.before["endDate"] == doc.get("endDate")
    assert op.if_revision == doc["_rev"]


def test_fm50_webhook_delivered_days_late_extends_the_pass_and_is_flagged() -> None:
    w = World.default()
    s = w.buy()
    w.fulfil(s, processed_at=BOUGHT + timedelta(days=5))
    f = only(w.run().findings, Kind.WRONG_EXPIRY)
    assert f.severity == Severity.WARNING  # wrong but usable
    assert patch_set(f.fix)["endDate"] == iso(BOUGHT + timedelta(days=90))


def test_dates_within_a_day_of_the_rule_are_fine() -> None:
    w, _, _ = _bought_and_fulfilled(
        startDate=iso(BOUGHT + timedelta(hours=23)), endDate=iso(BOUGHT + timedelta(days=91))
    )
    assert w.run().findings == ()


# ============================================================== FM-34, FM-35: names and passes


def test_fm34_null_pass_name_is_shown_from_the_pass_document_never_guessed() -> None:
    w, _, _ = _bought_and_fulfilled(passName=None)
    views = w.diagnose().passes
    assert [v.pass_name for v in views] == ["10 Clip Card"]
    w.add(make_subscription(w.buy(2), passName="", passId="pass-gone", _id="subNoName"))
    names = {v.subscription.id: v.pass_name for v in w.diagnose().passes}
    assert names["subNoName"] == "Class Package"  # not "2000 NOK means the clip card"


def test_fm35_wrong_pass_on_a_linked_subscription_is_repointed_to_the_pass_bought() -> None:
    w = World.default()
    w.add(make_pass(_id="pass-drop", name="Drop-in Class", type="single", price=250))
    s = w.buy()
    doc = w.fulfil(s, passId="pass-drop", passName="Drop-in Class", type="single", remainingClips=1)
    f = only(w.run().findings, Kind.MISTYPED_PASS)
    fields = patch_set(f.fix, doc["_id"])
    assert (fields["passId"], fields["passName"], fields["type"]) == (
        "pass-clip10",
        "10 Clip Card",
        "clipcard",
    )
    assert "pass-clip10 was bought" in f.summary


# ============================================================== FM-36, FM-37, FM-53: type and clips


@pytest.mark.parametrize(
    ("sub", "bookings", "severity", "clips"),
    [
        pytest.param(
            {"type": "single", "remainingClips": 1},
            0,
            Severity.WARNING,
            10,
            id="single-unused-still-usable",
        ),
        pytest.param(
            {"type": "single", "remainingClips": 0},
            1,
            Severity.CRITICAL,
            9,
            id="single-used-unusable-one-clip-carries-over",
        ),
        pytest.param(
            {"type": "multi", "remainingClips": DROP},
            0,
            Severity.CRITICAL,
            10,
            id="raw-multi-from-monitoring-script",
        ),
        pytest.param(
            {"type": "course", "remainingClips": 10},
            3,
            Severity.CRITICAL,
            7,
            id="invented-course-type-counts-bookings",
        ),
        pytest.param(
            {"remainingClips": 14},
            2,
            Severity.WARNING,
            8,
            id="fm53-over-credited-clips-counted-from-bookings",
        ),
        pytest.param(
            {"remainingClips": None},
            0,
            Severity.CRITICAL,
            10,
            id="fm37-null-clips-at-creation",
        ),
    ],
)
def test_fm36_mistyped_clip_passes_are_patched_with_clips_less_bookings(
    sub: dict[str, Any], bookings: int, severity: Severity, clips: int
) -> None:
    w, _, doc = _bought_and_fulfilled(**sub)
    w.add(
        make_class_instance(
            [make_booking(at=BOUGHT + timedelta(days=1, hours=i)) for i in range(bookings)]
        ),
        # bookings before the purchase, by someone else, or at another school never count
        make_class_instance(
            [
                make_booking(at=BOUGHT - timedelta(days=3)),
                make_booking(student="usrSomeoneElse"),
            ],
            _id="instance-other",
        ),
    )
    f = only(w.run().findings, Kind.MISTYPED_PASS)
    assert f.severity == severity
    fields = patch_set(f.fix, doc["_id"])
    assert fields.get("type", doc.get("type")) == "clipcard"
    assert fields["remainingClips"] == clips


def test_fm36_single_stored_for_clipcard_is_mistyped() -> None:
    w, _, doc = _bought_and_fulfilled(type="single", remainingClips=1)
    f = only(w.run().findings, Kind.MISTYPED_PASS)
    assert "type 'single', the pass gives 'clipcard'" in f.summary
    assert patch_set(f.fix, doc["_id"])["type"] == "clipcard"
    assert f.fix is not None
    op = f.fix.operations[0]
    assert isinstance(op, PatchDoc)
    assert op.before == {"type": "single", "remainingClips": 1}


def test_fm36_raw_unlimited_type_is_patched_to_monthly() -> None:
    w = World.default()
    w.add(make_pass(_id="pass-day", name="Day Drop In", type="unlimited", classesLimit=None))
    s = w.buy(pass_=make_pass(_id="pass-day", type="unlimited", price=400))
    doc = w.fulfil(s, type="unlimited")
    f = only(w.run().findings, Kind.MISTYPED_PASS)
    assert f.severity == Severity.CRITICAL
    assert patch_set(f.fix, doc["_id"]) | {"type": "monthly"} == patch_set(f.fix, doc["_id"])


def test_fm36_clips_unknown_without_bookings_means_no_fix_and_says_why() -> None:
    """Never reset clips blindly: without the bookings the used count is unknown."""
    w, _, _ = _bought_and_fulfilled(type="multi", remainingClips=10)
    facts = dataclasses.replace(w.facts(), bookings=None)
    report = reconcile(facts, now=NOW, window=WINDOW, actor="U0APPROVER")
    check_never_do(report.findings, facts)
    f = only(report.findings, Kind.MISTYPED_PASS)
    assert (f.severity, f.fix) == (Severity.CRITICAL, None)
    assert f.why_no_fix is not None
    assert "already booked is unknown" in f.why_no_fix


def test_fm37_pass_without_limit_leaves_an_unusable_pass_a_person_must_settle() -> None:
    w, _, _ = _bought_and_fulfilled(remainingClips=None)
    w.replace("pass-clip10", classesLimit=None)
    report = w.run()
    f = only(report.findings, Kind.MISTYPED_PASS)
    assert (f.severity, f.fix) == (Severity.CRITICAL, None)
    assert f.why_no_fix is not None
    assert "a person must decide" in f.why_no_fix
    assert Kind.PASS_CONFIG in kinds(report.findings)


def test_clips_used_up_by_bookings_are_no_fault() -> None:
    w, _, _ = _bought_and_fulfilled(remainingClips=0)
    w.add(make_class_instance([make_booking(at=BOUGHT + timedelta(hours=i)) for i in range(10)]))
    assert w.run(now=NOW + timedelta(days=3), window=Window(BOUGHT, NOW)).findings == ()


# ============================================================== FM-38, FM-39: shapes and refs


def _second_schema(**overrides: Any) -> dict[str, Any]:
    doc = {
        "_id": "subSecondSchema1",
        "_type": "subscription",
        "_rev": "rev-second",
        "user": ref(USER_ID),
        "tenant": ref(TENANT_ID),
        "pass": ref("pass-clip10"),
        "status": "active",
        "purchaseDate": iso(BOUGHT),
        "expiryDate": iso(BOUGHT + timedelta(days=90)),
        "classesUsed": 0,
        "classesLimit": 10,
        "amount": 200000,
        "currency": "nok",
        "stripePaymentIntentId": "pi_test_Purchase0001",
        "stripeSessionId": "cs_test_Purchase0001",
    }
    doc.update(overrides)
    return doc


def test_fm38_second_schema_document_is_hidden_and_patched() -> None:
    w = World.default()
    s = w.buy()
    w.add(_second_schema())
    report = w.run()
    p = purchase_of(report, s)
    assert (p.status, p.subscriptions) == ("hidden_pass", ("subSecondSchema1",))
    f = only(report.findings, Kind.HIDDEN_PASS)
    assert "missing type, startDate, endDate, isActive" in f.summary
    fields = patch_set(f.fix, "subSecondSchema1")
    assert {k: fields[k] for k in ("type", "startDate", "endDate", "isActive", "passId")} == {
        "type": "clipcard",
        "startDate": iso(BOUGHT),
        "endDate": iso(BOUGHT + timedelta(days=90)),
        "isActive": True,
        "passId": "pass-clip10",
    }
    assert fields["remainingClips"] == 10


def test_fm38_second_schema_counts_its_own_used_classes() -> None:
    w = World.default()
    w.buy()
    w.add(_second_schema(classesUsed=3))
    f = only(w.run().findings, Kind.HIDDEN_PASS)
    assert patch_set(f.fix, "subSecondSchema1")["remainingClips"] == 7


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(_second_schema, id="second-schema"),
        pytest.param(
            lambda: make_subscription(isActive=DROP, endDate=iso(BOUGHT + timedelta(days=90))),
            id="no-isActive",
        ),
    ],
)
def test_fm38_malformed_pass_that_is_over_anyway_is_no_fault(doc: Any) -> None:
    w = World.default()
    s = w.buy(created=BOUGHT)
    w.add(doc())
    later = BOUGHT + timedelta(days=100)
    report = w.run(now=later, window=Window(BOUGHT - timedelta(days=1), later))
    assert purchase_of(report, s).subscriptions
    assert report.findings == ()


@pytest.mark.parametrize("missing", ["isActive", "startDate", "type"])
def test_fm38_any_missing_modern_field_hides_the_pass(missing: str) -> None:
    w, _, doc = _bought_and_fulfilled(**{missing: DROP})
    f = only(w.run().findings, Kind.HIDDEN_PASS)
    assert missing in f.summary
    assert missing in patch_set(f.fix, doc["_id"])


def test_fm38_payment_intent_field_variant_is_an_idempotency_key() -> None:
    w = World.default()
    s = w.buy()
    w.add(_second_schema(stripeSessionId=None))
    p = purchase_of(w.run(), s)
    assert (p.matched_by, p.subscriptions) == ("session", ("subSecondSchema1",))


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        pytest.param({"user": ref("usrGone")}, "user usrGone does not exist", id="user-gone"),
        pytest.param({"user": DROP}, "no user reference", id="no-user"),
        pytest.param(
            {"tenant": ref("tenant-gone")}, "tenant tenant-gone does not exist", id="tenant-gone"
        ),
        pytest.param({"passId": "pass-gone"}, "pass pass-gone does not exist", id="pass-gone"),
    ],
)
def test_fm39_dangling_references_are_reported_not_guessed(
    overrides: dict[str, Any], needle: str
) -> None:
    w = World.default()
    w.add(make_subscription(w.buy(1, created=NOW - timedelta(days=60)), **overrides))
    f = only(w.run().findings, Kind.BROKEN_REFERENCE)
    assert (f.severity, f.fix) == (Severity.WARNING, None)
    assert needle in f.summary


def test_fm39_raw_clerk_id_reference_without_user_document_is_not_broken() -> None:
    w = World.default()
    w.add(make_subscription(w.buy(1, created=NOW - timedelta(days=60)), user=ref(CLERK_ID)))
    assert Kind.BROKEN_REFERENCE not in kinds(w.run().findings)


def test_fm39_undefined_user_and_tenant_refs_on_the_purchase_pass_are_filled_in_one_patch() -> None:
    """Solomiya: the original subscription had undefined `user._ref` and `tenant._ref`."""
    w, _, doc = _bought_and_fulfilled(user={"_type": "reference"}, tenant={"_type": "reference"})
    f = only(w.run().findings, Kind.HIDDEN_PASS)
    fields = patch_set(f.fix, doc["_id"])
    assert (fields["user"], fields["tenant"]) == (ref(USER_ID), ref(TENANT_ID))


# ============================================================== FM-40: duplicates


@pytest.mark.parametrize(
    "copy_overrides",
    [
        pytest.param({}, id="same-session-id"),
        pytest.param({"stripeSessionId": None}, id="same-payment-intent-only"),
        pytest.param(
            {"stripeSessionId": DROP, "stripePaymentId": "ch_test_Purchase0001"},
            id="charge-id-stored-as-payment-id",
        ),
        pytest.param(
            {"stripeSessionId": DROP, "stripePaymentId": DROP, "paymentId": "pi_test_Purchase0001"},
            id="paymentId-variant",
        ),
    ],
)
def test_fm40_two_documents_for_one_session_are_duplicates(copy_overrides: dict[str, Any]) -> None:
    w = World.default()
    s = w.buy(expand=True)
    keep = w.fulfil(s)
    extra = make_subscription(
        s,
        **{
            "_id": "subEmergencyCopy",
            "_createdAt": iso(BOUGHT + timedelta(days=1)),
            "createdViaWebhook": DROP,
            **copy_overrides,
        },
    )
    w.add(extra)
    report = w.run()
    f = only(report.findings, Kind.DUPLICATE_PASS)
    assert (f.severity, set(f.subscriptions)) == (Severity.WARNING, {keep["_id"], extra["_id"]})
    assert f.fix is not None
    assert f.fix.action == Action.DEACTIVATE_DUPLICATES
    assert [op.id for op in f.fix.operations] == ["subEmergencyCopy"]  # the webhook's one is kept
    fields = patch_set(f.fix, "subEmergencyCopy")
    assert fields["isActive"] is False
    assert keep["_id"] in fields["deactivationReason"]
    assert (fields["deactivatedBy"], fields["deactivatedAt"]) == ("U0APPROVER", iso(NOW))
    assert purchase_of(report, s).status == "duplicate_pass"


def test_fm40_two_passes_each_linked_to_its_own_session_are_never_duplicates() -> None:
    w = World.default()
    first, second = w.buy(1), w.buy(2, created=BOUGHT + timedelta(minutes=5))
    w.fulfil(first)
    w.fulfil(second)
    report = w.run()
    assert report.findings == ()
    assert report.with_pass == 2


def test_fm40_an_already_deactivated_copy_is_not_a_duplicate() -> None:
    w, s, _ = _bought_and_fulfilled()
    w.add(make_subscription(s, _id="subOldCopy", isActive=False, deactivationReason="duplicate"))
    assert w.run().findings == ()


def test_fm40_same_user_pass_and_day_without_shared_ids_is_not_a_duplicate() -> None:
    """The contract decides: duplicates only by session or payment id. The hand-made twin is
    reported for what it is — active without a payment — not deactivated as a copy."""
    w, _, _ = _bought_and_fulfilled()
    w.add(make_manual_subscription())
    assert kinds(w.run().findings) == ["unpaid_pass"]


# ============================================================== FM-41: hand-made passes


def test_fm41_manual_pass_with_placeholder_ids_is_not_missing() -> None:
    w = World.default()
    s = w.buy()
    manual = w.add(make_manual_subscription()).doc("subManual0001")
    report = w.run()
    p = purchase_of(report, s)
    assert (p.status, p.matched_by, p.subscriptions) == ("ok", "manual", (manual["_id"],))
    assert Kind.MISSING_PASS not in kinds(report.findings)
    assert Kind.UNPAID_PASS not in kinds(report.findings)
    assert p.link is not None
    assert p.link.action == Action.LINK_SUBSCRIPTION
    assert patch_set(p.link, manual["_id"]) | {
        "stripeSessionId": s["id"],
        "stripePaymentId": "pi_test_Purchase0001",
    } == patch_set(p.link, manual["_id"])


@pytest.mark.parametrize(
    ("manual", "matched"),
    [
        pytest.param({"startDate": iso(BOUGHT + timedelta(days=3))}, True, id="3-days-after"),
        pytest.param({"startDate": iso(BOUGHT - timedelta(days=3))}, True, id="3-days-before"),
        pytest.param(
            {"startDate": iso(BOUGHT + timedelta(days=3, seconds=1))}, False, id="just-over-3-days"
        ),
        pytest.param(
            {"stripePaymentId": DROP, "stripeSessionId": DROP}, True, id="no-stripe-ids-at-all"
        ),
        pytest.param({"user": ref(CLERK_ID)}, True, id="clerk-id-reference"),
        pytest.param({"passId": DROP, "pass": ref("pass-clip10")}, True, id="legacy-pass-ref"),
        pytest.param({"passId": "pass-drop"}, False, id="another-pass"),
        pytest.param({"user": ref("usrSomeoneElse")}, False, id="another-user"),
        pytest.param({"startDate": DROP}, False, id="no-start-date"),
        pytest.param(
            {"stripeSessionId": "cs_test_Purchase0002"},
            False,
            id="linked-to-another-paid-session",
        ),
        pytest.param(
            {"stripeSessionId": DROP, "stripePaymentId": "pi_test_Purchase0002"},
            False,
            id="linked-to-another-paid-payment",
        ),
        pytest.param(
            {"stripeSessionId": "cs_test_Abandoned0003"},
            True,
            id="linked-only-to-an-unpaid-session",
        ),
    ],
)
def test_fm41_manual_match_rule(manual: dict[str, Any], matched: bool) -> None:
    """Same user reference set, same pass, start within 3 days inclusive, not linked to another
    paid session (cli-contract.md)."""
    w = World.default()
    s = w.buy(1)
    w.fulfil(w.buy(2, created=NOW - timedelta(days=20)))  # a paid purchase of its own
    w.buy(3, payment_status="unpaid", id="cs_test_Abandoned0003", status="expired")
    w.add(make_manual_subscription(**manual))
    p = purchase_of(w.run(), s)
    assert (p.matched_by == "manual") is matched
    assert (p.status == "missing_pass") is not matched


def test_fm41_one_manual_pass_answers_only_one_purchase() -> None:
    w = World.default()
    first, second = w.buy(1), w.buy(2, created=BOUGHT + timedelta(hours=2))
    w.add(make_manual_subscription())
    report = w.run()
    statuses = sorted(purchase_of(report, s).status for s in (first, second))
    assert statuses == ["missing_pass", "ok"]


def test_fm41_manual_pass_with_wrong_dates_links_and_fixes_in_one_patch() -> None:
    w = World.default()
    s = w.buy()
    w.add(
        make_manual_subscription(
            startDate=iso(BOUGHT + timedelta(days=2)), endDate=iso(BOUGHT + timedelta(days=58))
        )
    )
    report = w.run()
    f = only(report.findings, Kind.WRONG_EXPIRY)
    fields = patch_set(f.fix, "subManual0001")
    assert fields["stripeSessionId"] == s["id"]
    assert fields["endDate"] == iso(BOUGHT + timedelta(days=90))


# ============================================================== FM-42, FM-55: passes nobody paid


@pytest.mark.parametrize(
    ("overrides", "unpaid"),
    [
        pytest.param({}, True, id="placeholder-ids"),
        pytest.param({"stripePaymentId": DROP, "stripeSessionId": DROP}, True, id="no-ids"),
        pytest.param(
            {"stripePaymentId": "admin_created_1760300000", "stripeSessionId": DROP},
            True,
            id="fm55-admin-created",
        ),
        pytest.param(
            {"stripePaymentId": "debug_test_payment", "stripeSessionId": DROP},
            True,
            id="fm55-debug-route",
        ),
        pytest.param(
            {
                "user": ref(CLERK_ID),
                "tenant": DROP,
                "stripePaymentId": DROP,
                "stripeSessionId": DROP,
            },
            True,
            id="fm55-raw-clerk-id-no-tenant",
        ),
        pytest.param({"recoveredBy": "manual-script"}, True, id="recoveredBy-is-no-grant"),
        pytest.param({"purchasePrice": 0}, False, id="free-open-week-is-a-grant"),
        pytest.param(
            {"grantedBy": "U0APPROVER", "grantReason": "goodwill for a cancelled class"},
            False,
            id="granted-on-a-persons-decision",
        ),
        pytest.param({"isActive": False}, False, id="inactive-is-not-audited"),
        pytest.param({"endDate": iso(NOW - timedelta(days=1))}, False, id="expired-is-not-audited"),
        pytest.param(
            {"stripeSessionId": "cs_test_Outside0009", "stripePaymentId": DROP},
            False,
            id="linked-to-a-purchase-not-read",
        ),
    ],
)
def test_fm42_active_pass_without_payment_is_unpaid(
    overrides: dict[str, Any], unpaid: bool
) -> None:
    w = World.default()
    w.add(make_manual_subscription(**overrides))
    report = w.run()
    if not unpaid:
        assert report.findings == ()
        return
    f = only(report.findings, Kind.UNPAID_PASS)
    assert (f.severity, f.fix, f.subscriptions) == (Severity.WARNING, None, ("subManual0001",))
    assert f.why_no_fix == "deactivation is a person's decision"
    assert f.tenant == TENANT_ID  # through the pass when the document has none


def test_fm42_pass_linked_to_an_unpaid_session_is_unpaid() -> None:
    w = World.default()
    s = w.buy(payment_status="unpaid")
    w.fulfil(s, _id="subUnpaid")
    f = only(w.run().findings, Kind.UNPAID_PASS)
    assert s["id"] in f.summary
    assert "unpaid" in f.summary


def test_fm42_pass_linked_to_a_paid_session_outside_the_window_is_paid() -> None:
    w = World.default()
    w.fulfil(w.buy(created=NOW - timedelta(days=60)))
    assert w.run().findings == ()


# ============================================================== FM-43: pass changed after sale


def test_fm43_pass_deactivated_after_sale_is_still_fulfilled() -> None:
    w = World.default()
    w.replace("pass-clip10", isActive=False, name="10 Clip Card (old)")
    w.buy()
    doc = created_doc(only(w.run().findings, Kind.MISSING_PASS).fix)
    assert (doc["passId"], doc["passName"]) == ("pass-clip10", "10 Clip Card (old)")


# ============================================================== FM-17: upgrades


def _upgrade_world(*, old_active: bool = True) -> tuple[World, dict[str, Any], dict[str, Any]]:
    w = World.default()
    old_pass = make_pass(_id="pass-course1", name="1 Course", type="single", price=1290)
    new_pass = make_pass(_id="pass-course2", name="2 Course", type="multi-pass", price=2290)
    w.add(old_pass, new_pass)
    old = w.fulfil(w.buy(1, pass_=old_pass, created=NOW - timedelta(days=10)))
    if not old_active:
        w.replace(old["_id"], isActive=False, upgradedAt=iso(BOUGHT))
    up = make_upgrade_session(2, old=old, old_pass=old_pass, new_pass=new_pass)
    w.add_session(up)
    return w, old, up


def test_fm17_missing_upgrade_creates_new_and_retires_old_in_one_fix() -> None:
    w, old, up = _upgrade_world()
    f = only(w.run().findings, Kind.MISSING_UPGRADE)
    assert (f.severity, f.session) == (Severity.CRITICAL, up["id"])
    assert f.fix is not None
    assert f.fix.action == Action.UPGRADE_SUBSCRIPTION
    ops = f.fix.operations
    assert [type(op) for op in ops] == [CreateDoc, PatchDoc]
    new = created_doc(f.fix)
    assert (new["_id"], new["isUpgrade"], new["upgradedFromSubscriptionId"]) == (
        f"subscription-{up['id']}",
        True,
        old["_id"],
    )
    retire = patch_set(f.fix, old["_id"])
    assert {k: retire[k] for k in ("isActive", "upgradedToPassId", "upgradedToPassName")} == {
        "isActive": False,
        "upgradedToPassId": "pass-course2",
        "upgradedToPassName": "2 Course",
    }
    assert retire["upgradedAt"] == iso(BOUGHT)


def test_fm17_old_half_already_retired_only_creates() -> None:
    w, _, _ = _upgrade_world(old_active=False)
    f = only(w.run().findings, Kind.MISSING_UPGRADE)
    assert f.fix is not None
    assert [type(op) for op in f.fix.operations] == [CreateDoc]


def test_fm17_both_halves_active_retires_the_old_one() -> None:
    w, old, up = _upgrade_world()
    w.fulfil(up, isUpgrade=True, upgradedFromSubscriptionId=old["_id"], purchasePrice=2290)
    f = only(w.run().findings, Kind.MISSING_UPGRADE)
    assert f.fix is not None
    assert [op.id for op in f.fix.operations] == [old["_id"]]
    assert "still active" in f.summary


def test_fm17_upgrade_of_a_subscription_that_does_not_exist_is_unresolvable() -> None:
    w, old, _ = _upgrade_world()
    w.documents.remove(w.doc(old["_id"]))
    f = only(w.run().findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.why_no_fix is not None
    assert "does not exist" in f.why_no_fix


def test_fm17_upgrade_of_someone_elses_subscription_is_unresolvable() -> None:
    w, old, _ = _upgrade_world()
    w.add(make_user(_id="usrOther", clerkId="user_2other000000000001", email="o@example.com"))
    w.replace(old["_id"], user=ref("usrOther"))
    f = only(w.run().findings, Kind.UNRESOLVABLE_PURCHASE)
    assert f.why_no_fix is not None
    assert "belongs to another user" in f.why_no_fix


def test_fm20_upgrade_of_a_legacy_reference_pass_references_the_sanity_user() -> None:
    w, old, _ = _upgrade_world()
    w.replace(old["_id"], user=ref(CLERK_ID))
    new = created_doc(only(w.run().findings, Kind.MISSING_UPGRADE).fix)
    assert new["user"] == ref(USER_ID)


def test_upgrade_keeps_the_duplicate_user_the_old_pass_belongs_to() -> None:
    """§2.5: the new pass goes to the old pass's user — here another document of the same
    person (same clerkId)."""
    w, old, _ = _upgrade_world()
    w.add(make_user(_id="usrKariDuplicate", _createdAt="2026-09-01T00:00:00Z"))
    w.replace(old["_id"], user=ref("usrKariDuplicate"))
    new = created_doc(only(w.run().findings, Kind.MISSING_UPGRADE).fix)
    assert new["user"] == ref("usrKariDuplicate")


# ============================================================== FM-47, FM-48, FM-49


def test_fm47_null_payment_intent_never_matches_documents_without_payment_id() -> None:
    w = World.default()
    s = w.buy(payment_intent=None)
    # someone else's manual pass: no stripePaymentId, so `stripePaymentId == null` would match it
    w.add(
        make_user(_id="usrOther", clerkId="user_2other000000000001", email="o@example.com"),
        make_manual_subscription(
            user=ref("usrOther"), stripePaymentId=DROP, stripeSessionId=DROP, purchasePrice=0
        ),
    )
    report = w.run()
    p = purchase_of(report, s)
    assert (p.status, p.subscriptions) == ("missing_pass", ())
    doc = created_doc(only(report.findings, Kind.MISSING_PASS).fix)
    assert doc["stripePaymentId"] is None


def test_fm48_pass_linked_to_the_session_but_owned_by_another_user_is_never_repointed() -> None:
    w, _, doc = _bought_and_fulfilled()
    w.add(make_user(_id="usrOther", clerkId="user_2other000000000001", email="o@example.com"))
    w.replace(doc["_id"], user=ref("usrOther"))
    f = only(w.run().findings, Kind.HIDDEN_PASS)
    assert f.fix is None
    assert f.why_no_fix is not None
    assert "never re-pointed" in f.why_no_fix


def test_fm48_pass_linked_to_the_session_on_another_school_is_never_repointed() -> None:
    w, _, _ = _bought_and_fulfilled(tenant=ref("tenant-bolero"))
    f = only(w.run().findings, Kind.HIDDEN_PASS)
    assert f.fix is None
    assert f.why_no_fix is not None
    assert "never re-pointed" in f.why_no_fix


def test_fm49_one_broken_purchase_does_not_stop_the_others() -> None:
    w = World.default()
    w.add(make_pass(_id="pass-broken", type="subscription"))
    w.buy(1, pass_=make_pass(_id="pass-broken", type="subscription"))
    w.buy(2)
    report = w.run()
    assert sorted(p.status for p in report.purchases) == ["missing_pass", "unresolvable_purchase"]


# ============================================================== FM-18, FM-54: refunds, disputes


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"refunded": True}, id="refunded"),
        pytest.param({"amount_refunded": 200000}, id="refunded-in-full-by-amount"),
        pytest.param({"disputed": True}, id="disputed"),
    ],
)
def test_fm54_refunded_purchase_with_active_pass(kw: dict[str, Any]) -> None:
    w = World.default()
    s = w.buy(**kw)
    doc = w.fulfil(s)
    report = w.run()
    f = only(report.findings, Kind.REFUNDED_PASS)
    assert (f.severity, f.fix, f.subscriptions) == (Severity.WARNING, None, (doc["_id"],))
    assert f.why_no_fix == "deactivating a pass is a person's decision"
    assert purchase_of(report, s).status == "refunded_pass"


def test_fm18_refunded_purchase_without_a_pass_is_not_missing() -> None:
    w = World.default()
    s = w.buy(refunded=True)
    report = w.run()
    assert report.findings == ()
    assert purchase_of(report, s).status == "refunded"


def test_fm18_partly_refunded_purchase_is_still_owed_its_pass() -> None:
    w = World.default()
    w.buy(amount_refunded=50000)
    assert kinds(w.run().findings) == ["missing_pass"]
