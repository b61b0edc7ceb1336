"""Visible and usable exactly as the platform computes them (domain.md §1.10), with reasons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.domain.models import Subscription, iso
from core.domain.visibility import REASON_TEXT, visibility
from tests.factories import CLERK_ID, DROP, NOW, USER_ID, make_subscription, ref

REFS = frozenset({CLERK_ID, USER_ID})
TENANT_PASSES = frozenset({"pass-clip10", "pass-drop"})
SOON = iso(NOW + timedelta(days=10))


def _seen(**overrides: Any) -> tuple[bool, bool, str]:
    sub = Subscription.from_json(make_subscription(**{"endDate": SOON, **overrides}))
    v = visibility(
        sub, now=NOW, references=REFS, tenant_id="tenant-aurora", tenant_pass_ids=TENANT_PASSES
    )
    return v.visible, v.usable, v.reason


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # shown, and bookable
        pytest.param({}, (True, True, "tenant_match"), id="tenant_match"),
        pytest.param(
            {"tenant": DROP},
            (True, True, "legacy_tenant_resolved_from_passId"),
            id="legacy_tenant_resolved_from_passId",
        ),
        pytest.param(
            {"tenant": None},
            (True, True, "legacy_tenant_resolved_from_passId"),
            id="tenant-null-is-undefined-in-groq",
        ),
        pytest.param(
            {"tenant": DROP, "passId": DROP, "pass": ref("pass-drop")},
            (True, True, "legacy_tenant_resolved_from_pass_ref"),
            id="legacy_tenant_resolved_from_pass_ref",
        ),
        pytest.param(
            {"tenant": DROP, "passId": "pass-elsewhere", "pass": ref("pass-drop")},
            (True, True, "legacy_tenant_resolved_from_pass_ref"),
            id="either-pass-key-may-resolve-the-tenant",
        ),
        pytest.param(
            {"user": ref(CLERK_ID)}, (True, True, "tenant_match"), id="fm20-clerk-id-reference"
        ),
        pytest.param(
            {"type": "monthly", "remainingClips": DROP},
            (True, True, "tenant_match"),
            id="monthly-needs-no-clips",
        ),
        pytest.param(
            {"type": "single", "remainingClips": 1}, (True, True, "tenant_match"), id="single"
        ),
        pytest.param(
            {"type": "multi-pass", "remainingClips": 2},
            (True, True, "tenant_match"),
            id="multi-pass",
        ),
        # hidden
        pytest.param({"isActive": False}, (False, False, "inactive"), id="inactive"),
        pytest.param({"isActive": DROP}, (False, False, "inactive"), id="inactive-when-absent"),
        pytest.param({"isActive": "true"}, (False, False, "inactive"), id="inactive-when-a-string"),
        pytest.param({"endDate": iso(NOW)}, (False, False, "expired"), id="expired-at-now"),
        pytest.param(
            {"endDate": iso(NOW - timedelta(days=1))}, (False, False, "expired"), id="expired"
        ),
        pytest.param({"endDate": DROP}, (False, False, "expired"), id="no-endDate-never-shows"),
        pytest.param({"endDate": "3/10/2025"}, (False, False, "expired"), id="unparseable-endDate"),
        pytest.param(
            {"tenant": ref("tenant-bolero")},
            (False, False, "tenant_mismatch"),
            id="tenant_mismatch",
        ),
        pytest.param(
            {"tenant": {"_type": "reference"}},
            (False, False, "tenant_mismatch"),
            id="defined-tenant-without-_ref-is-a-mismatch",
        ),
        pytest.param(
            {"tenant": DROP, "passId": "pass-elsewhere"},
            (False, False, "missing_tenant_and_pass_not_in_tenant"),
            id="missing_tenant_and_pass_not_in_tenant",
        ),
        pytest.param(
            {"tenant": DROP, "passId": DROP},
            (False, False, "missing_tenant_and_pass_not_in_tenant"),
            id="no-tenant-and-no-pass",
        ),
        pytest.param(
            {"user": ref("usrSomeoneElse")},
            (False, False, "user_not_in_reference_set"),
            id="user_not_in_reference_set",
        ),
        pytest.param(
            {"user": DROP}, (False, False, "user_not_in_reference_set"), id="no-user-reference"
        ),
        # shown, but not bookable
        pytest.param({"remainingClips": 0}, (True, False, "no_clips_left"), id="no_clips_left"),
        pytest.param(
            {"remainingClips": None}, (True, False, "no_clips_left"), id="fm37-null-clips"
        ),
        pytest.param(
            {"type": "single", "remainingClips": 0},
            (True, False, "no_clips_left"),
            id="single-used",
        ),
        pytest.param({"type": "multi"}, (True, False, "unusable_type"), id="fm36-raw-multi"),
        pytest.param(
            {"type": "unlimited"}, (True, False, "unusable_type"), id="fm36-raw-unlimited"
        ),
        pytest.param({"type": "course"}, (True, False, "unusable_type"), id="fm36-course"),
        pytest.param(
            {"type": "subscription"}, (True, False, "unusable_type"), id="fm36-subscription"
        ),
        pytest.param({"type": DROP}, (True, False, "unusable_type"), id="no-type"),
    ],
)
def test_visibility_and_usability(
    overrides: dict[str, Any], expected: tuple[bool, bool, str]
) -> None:
    assert _seen(**overrides) == expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param(
            {"user": ref("usrSomeoneElse"), "isActive": False},
            "user_not_in_reference_set",
            id="user-before-active",
        ),
        pytest.param(
            {"isActive": False, "endDate": iso(NOW - timedelta(days=1))},
            "inactive",
            id="active-before-expiry",
        ),
        pytest.param(
            {"endDate": iso(NOW - timedelta(days=1)), "tenant": ref("tenant-bolero")},
            "expired",
            id="expiry-before-tenant",
        ),
        pytest.param(
            {"tenant": ref("tenant-bolero"), "remainingClips": 0},
            "tenant_mismatch",
            id="tenant-before-clips",
        ),
    ],
)
def test_reasons_are_checked_in_the_apps_order(overrides: dict[str, Any], reason: str) -> None:
    assert _seen(**overrides)[2] == reason


def test_every_reason_reads_as_a_sentence() -> None:
    reasons = {
        "tenant_match",
        "legacy_tenant_resolved_from_passId",
        "legacy_tenant_resolved_from_pass_ref",
        "inactive",
        "expired",
        "tenant_mismatch",
        "missing_tenant_and_pass_not_in_tenant",
        "user_not_in_reference_set",
        "no_clips_left",
        "unusable_type",
    }
    assert set(REASON_TEXT) == reasons
    for reason in reasons:
        assert REASON_TEXT[reason].startswith(("shown", "hidden")), reason
    assert all(REASON_TEXT[r].startswith("hidden") for r in ("inactive", "expired"))
