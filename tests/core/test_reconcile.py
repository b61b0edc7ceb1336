"""reconcile() as a whole, and report_json() against the contract's `check --json`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from core.domain.findings import Kind, Severity
from core.domain.models import Window, parse_instant
from core.domain.reconcile import reconcile, report_json
from core.domain.snapshot import facts_from_world
from tests.factories import (
    BOUGHT,
    NOW,
    OTHER_ACCOUNT_ID,
    OTHER_TENANT_ID,
    World,
    check_never_do,
    ids_for,
    kinds,
    make_account,
    make_manual_subscription,
    make_pass,
    make_tenant,
    make_upgrade_session,
    only,
    purchase_of,
    ref,
)

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny-world.json"

CHECK_KEYS = {"window", "mode", "accounts", "sessions_checked", "findings", "metrics"}
ACCOUNT_KEYS = {"account", "tenant", "ok", "error"}
FINDING_KEYS = {
    "kind",
    "severity",
    "session",
    "account",
    "tenant",
    "user",
    "email",
    "subscriptions",
    "pass",
    "summary",
    "fix",
}
FIX_KEYS = {"action", "document_id", "changes"}
METRIC_KEYS = {"paid_pass_sessions", "with_pass", "fulfilment_rate"}


def _busy_world() -> World:
    """Three purchases (one fulfilled, one missing, one upgrade), an unpaid pass, an
    unreachable school and a broken pass."""
    w = World.default()
    w.fulfil(w.buy(1))
    w.buy(2)
    old_pass = make_pass(_id="pass-course1", name="1 Course", type="single", price=1290)
    new_pass = make_pass(_id="pass-course2", name="2 Course", type="multi-pass", price=2290)
    w.add(old_pass, new_pass, make_pass(_id="pass-broken", type="subscription"))
    old = w.fulfil(w.buy(3, pass_=old_pass, created=NOW - timedelta(days=60)))
    w.add_session(make_upgrade_session(4, old=old, old_pass=old_pass, new_pass=new_pass))
    w.add(make_manual_subscription(_id="subGuess", startDate="2026-09-01T00:00:00.000Z"))
    w.add(make_tenant(tenant_id=OTHER_TENANT_ID, account=OTHER_ACCOUNT_ID))
    return w


def test_report_json_has_exactly_the_contracts_keys() -> None:
    report = _busy_world().run()
    data = report_json(report, mode="test")
    assert set(data) == CHECK_KEYS
    assert data["mode"] == "test"
    assert data["window"] == {"from": "2026-10-24T08:00:00Z", "to": "2026-11-28T08:00:00Z"}
    assert data["sessions_checked"] == 3  # purchase 3 is outside the window
    for account in data["accounts"]:
        assert set(account) == ACCOUNT_KEYS
    assert {a["account"]: a["ok"] for a in data["accounts"]} == {
        "acct_aurora0001": True,
        OTHER_ACCOUNT_ID: False,
    }
    assert set(data["metrics"]) >= METRIC_KEYS
    assert data["findings"]
    for finding in data["findings"]:
        assert set(finding) >= FINDING_KEYS, FINDING_KEYS - set(finding)
        assert isinstance(finding["subscriptions"], list)
        if finding["fix"] is not None:
            assert set(finding["fix"]) >= FIX_KEYS
    json.dumps(data)  # the CLI prints it as is


def test_keys_that_do_not_apply_are_null() -> None:
    data = report_json(_busy_world().run(), mode="test")
    unreachable = next(f for f in data["findings"] if f["kind"] == "account_unreachable")
    for key in ("session", "user", "email", "pass", "fix"):
        assert unreachable[key] is None
    assert unreachable["subscriptions"] == []


def test_create_fix_json_names_its_document_and_shows_it() -> None:
    data = report_json(_busy_world().run(), mode="test")
    missing = next(f for f in data["findings"] if f["kind"] == "missing_pass")
    sid = ids_for(2)[0]
    assert missing["session"] == sid
    assert missing["fix"]["action"] == "create_subscription"
    assert missing["fix"]["document_id"] == f"subscription-{sid}"
    assert missing["fix"]["changes"]["_id"] == f"subscription-{sid}"
    assert missing["fix"]["changes"]["stripeSessionId"] == sid


def test_upgrade_fix_json_shows_changes_per_document() -> None:
    data = report_json(_busy_world().run(), mode="test")
    upgrade = next(f for f in data["findings"] if f["kind"] == "missing_upgrade")
    changes = upgrade["fix"]["changes"]
    new_id = f"subscription-{ids_for(4)[0]}"
    assert upgrade["fix"]["document_id"] == new_id
    old_id = next(k for k in changes if k != new_id)
    assert changes[new_id]["isUpgrade"] is True
    assert changes[old_id]["isActive"] == {"before": True, "after": False}


def test_metrics() -> None:
    report = _busy_world().run()
    metrics = report.metrics()
    assert (metrics["paid_pass_sessions"], metrics["with_pass"]) == (3, 1)
    assert metrics["fulfilment_rate"] == pytest.approx(0.3333)
    assert metrics["findings_by_kind"]["missing_pass"] == 1
    assert report.needs_attention


def test_findings_come_critical_first() -> None:
    report = _busy_world().run()
    order = [f.severity for f in report.findings]
    assert order == sorted(order, key=[Severity.CRITICAL, Severity.WARNING, Severity.INFO].index)
    assert {"unpaid_pass", "pass_config", "account_unreachable"} <= set(kinds(report.findings))


def test_nothing_wrong_needs_no_attention() -> None:
    w = World.default()
    w.fulfil(w.buy())
    report = w.run()
    assert (report.findings, report.needs_attention, report.fulfilment_rate) == ((), False, 1.0)


def test_warnings_alone_need_no_attention() -> None:
    w = World.default()
    w.add(make_manual_subscription())
    report = w.run()
    assert kinds(report.findings) == ["unpaid_pass"]
    assert not report.needs_attention


def test_tenant_filter_keeps_one_school() -> None:
    w = World.default()
    w.add(make_tenant(tenant_id=OTHER_TENANT_ID, account=OTHER_ACCOUNT_ID))
    w.accounts.append(make_account(account=OTHER_ACCOUNT_ID))
    bolero = make_pass(_id="pass-bolero", tenant=ref(OTHER_TENANT_ID), type="subscription")
    w.add(bolero)
    w.buy(1)
    w.buy(2, pass_=bolero, account=OTHER_ACCOUNT_ID, tenant=OTHER_TENANT_ID)
    aurora = w.run(tenant="tenant-aurora")
    assert [p.session.id for p in aurora.purchases] == [ids_for(1)[0]]
    assert kinds(aurora.findings) == ["missing_pass"]
    bolero_report = w.run(tenant=OTHER_TENANT_ID)
    assert sorted(kinds(bolero_report.findings)) == ["pass_config", "unresolvable_purchase"]


def test_purchases_outside_the_window_still_link_their_passes() -> None:
    w = World.default()
    w.fulfil(w.buy(1, created=NOW - timedelta(days=60)))  # still valid, bought before the window
    report = w.run()
    assert report.purchases == ()
    assert report.findings == ()


def test_two_manual_passes_two_purchases_each_claims_the_closest() -> None:
    w = World.default()
    first = w.buy(1, created=BOUGHT - timedelta(days=1))
    second = w.buy(2, created=BOUGHT + timedelta(days=1))
    w.add(
        make_manual_subscription(_id="subManualA", startDate="2026-11-25T08:00:00.000Z"),
        make_manual_subscription(_id="subManualB", startDate="2026-11-27T08:00:00.000Z"),
    )
    report = w.run()
    assert purchase_of(report, first).subscriptions == ("subManualA",)
    assert purchase_of(report, second).subscriptions == ("subManualB",)
    assert Kind.UNPAID_PASS not in kinds(report.findings)


def test_the_tiny_world_example() -> None:
    """The shared example: two purchases, the first fulfilled by the webhook, the second not."""
    world = json.loads(TINY.read_text())
    facts, clerk = facts_from_world(world)
    now = parse_instant(world["now"])
    assert now is not None
    report = reconcile(facts, now=now, window=Window(now - timedelta(days=35), now))
    check_never_do(report.findings, facts)
    f = only(report.findings, Kind.MISSING_PASS)
    assert f.session == "cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb"
    assert f.user == "NayMiNahGmbbkfRy5m98S9"
    assert len(report.findings) == 1
    assert (report.paid_pass_sessions, report.with_pass) == (2, 1)
    assert report.fulfilment_rate == 0.5
    assert {c.id for c in clerk} == {
        "user_2hwMPTQOqvZNfomiFUJifmBSE",
        "user_206X9A8RsDNN0ht9UqEYKDj1j",
    }


def test_an_empty_world_reconciles_to_nothing() -> None:
    report = World.empty().run()
    assert report_json(report, mode="live")["metrics"]["fulfilment_rate"] is None
    assert (report.findings, report.purchases, report.sessions_checked) == ((), (), 0)
