"""Every finding kind of cli-contract.md, with its default severity and whether a fix is offered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from core.domain.findings import Action, Kind, Severity
from core.domain.models import iso
from tests.factories import (
    BOUGHT,
    DROP,
    NOW,
    OTHER_ACCOUNT_ID,
    OTHER_TENANT_ID,
    World,
    make_manual_subscription,
    make_pass,
    make_subscription,
    make_tenant,
    make_upgrade_session,
    make_user,
    only,
    ref,
)


def _missing(w: World) -> None:
    w.buy()


def _upgrade(w: World) -> None:
    old_pass = make_pass(_id="pass-course1", name="1 Course", type="single", price=1290)
    new_pass = make_pass(_id="pass-course2", name="2 Course", type="multi-pass", price=2290)
    w.add(old_pass, new_pass)
    old = w.fulfil(w.buy(1, pass_=old_pass, created=NOW - timedelta(days=10)))
    w.add_session(make_upgrade_session(2, old=old, old_pass=old_pass, new_pass=new_pass))


def _duplicate(w: World) -> None:
    s = w.buy()
    w.fulfil(s)
    w.add(make_subscription(s, _id="subCopy", createdViaWebhook=DROP))


def _fulfilled(**sub: object) -> Callable[[World], None]:
    def build(w: World) -> None:
        w.fulfil(w.buy(), **sub)

    return build


def _other_users_pass(w: World) -> None:
    w.add(make_user(_id="usrOther", clerkId="user_2other000000000001", email="o@example.com"))
    w.fulfil(w.buy(), user=ref("usrOther"))


def _unpaid(w: World) -> None:
    w.add(make_manual_subscription())


def _refunded(w: World) -> None:
    w.fulfil(w.buy(refunded=True))


def _broken(w: World) -> None:
    w.add(make_subscription(w.buy(created=NOW - timedelta(days=60)), user=ref("usrGone")))


def _bad_pass(*, bought: bool) -> Callable[[World], None]:
    def build(w: World) -> None:
        w.replace("pass-clip10", type="subscription")
        if bought:
            w.buy()

    return build


def _no_metadata(w: World) -> None:
    w.buy(meta={"userId": DROP})


def _unreachable(w: World) -> None:
    w.add(make_tenant(tenant_id=OTHER_TENANT_ID, account=OTHER_ACCOUNT_ID))


CASES = [
    # kind, scenario, severity, the fix's action (None: no fix offered)
    ("missing_pass", _missing, "critical", Action.CREATE_SUBSCRIPTION),
    ("missing_upgrade", _upgrade, "critical", Action.UPGRADE_SUBSCRIPTION),
    ("duplicate_pass", _duplicate, "warning", Action.DEACTIVATE_DUPLICATES),
    (
        "mistyped_pass",
        _fulfilled(type="multi", remainingClips=DROP),
        "critical",
        Action.PATCH_SUBSCRIPTION,
    ),
    (
        "mistyped_pass",
        _fulfilled(type="single", remainingClips=1),
        "warning",
        Action.PATCH_SUBSCRIPTION,
    ),
    (
        "wrong_expiry",
        _fulfilled(endDate=iso(BOUGHT + timedelta(hours=3))),
        "critical",
        Action.PATCH_SUBSCRIPTION,
    ),
    (
        "wrong_expiry",
        _fulfilled(endDate=iso(BOUGHT + timedelta(days=120))),
        "warning",
        Action.PATCH_SUBSCRIPTION,
    ),
    ("hidden_pass", _fulfilled(isActive=False), "critical", Action.PATCH_SUBSCRIPTION),
    ("hidden_pass", _other_users_pass, "critical", None),
    ("unpaid_pass", _unpaid, "warning", None),
    ("refunded_pass", _refunded, "warning", None),
    ("broken_reference", _broken, "warning", None),
    ("pass_config", _bad_pass(bought=True), "critical", None),
    ("pass_config", _bad_pass(bought=False), "warning", None),
    ("unresolvable_purchase", _no_metadata, "critical", None),
    ("account_unreachable", _unreachable, "critical", None),
]


def test_the_table_covers_every_kind() -> None:
    assert {kind for kind, *_ in CASES} == {k.value for k in Kind}


@pytest.mark.parametrize(
    ("kind", "build", "severity", "action"),
    CASES,
    ids=[f"{k}-{s}-{'fix' if a else 'no-fix'}" for k, _, s, a in CASES],
)
def test_kind_severity_and_fix(
    kind: str, build: Callable[[World], None], severity: str, action: Action | None
) -> None:
    w = World.default()
    build(w)
    f = only(w.run().findings, kind)
    assert f.severity == Severity(severity)
    data = f.to_json()
    assert (data["kind"], data["severity"]) == (kind, severity)
    if action is None:
        assert f.fix is None
        assert data["fix"] is None
        assert f.why_no_fix, "a finding without a fix must say why"
    else:
        assert f.fix is not None
        assert f.fix.action == action
        assert data["fix"]["action"] == action.value
        assert f.why_no_fix is None
