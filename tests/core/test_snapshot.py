"""facts_from_world: a world document (world-format.md) read as a reconciliation reads it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from core.domain.snapshot import bookings_from_instances, facts_from_world
from tests.factories import (
    OTHER_ACCOUNT_ID,
    OTHER_TENANT_ID,
    USER_ID,
    World,
    make_booking,
    make_class_instance,
    make_session,
    make_tenant,
)

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny-world.json"


def test_tiny_world_facts() -> None:
    facts, clerk = facts_from_world(json.loads(TINY.read_text()))
    assert [t.id for t in facts.tenants] == ["tenant-aurora"]
    assert sorted(p.id for p in facts.passes) == ["pass-a-10clip", "pass-a-drop"]
    assert len(facts.users) == 2
    assert len(facts.subscriptions) == 1
    assert len(facts.webhook_logs) == 2
    assert len(clerk) == 2
    assert [(a.account, a.ok) for a in facts.accounts] == [("acct_auroraAAA", True)]
    for s in facts.sessions:
        assert s.account == "acct_auroraAAA"
        assert s.charge_id is not None
        assert s.charge_id.startswith("ch_test_")
        assert (s.is_paid, s.fully_refunded, s.disputed) == (True, False, False)


def test_payment_intents_and_charges_are_expanded_into_their_sessions() -> None:
    w = World.default()
    w.buy(1, refunded=True)
    w.buy(2, disputed=True)
    w.buy(3)
    world = w.world_json()
    assert all(isinstance(s["payment_intent"], str) for s in world["stripe"]["checkout_sessions"])
    sessions = {s.id: s for s in facts_from_world(world)[0].sessions}
    flags = [(s.fully_refunded, s.disputed, s.charge_id is not None) for s in sessions.values()]
    assert flags == [(True, False, True), (False, True, True), (False, False, False)]


def test_a_session_stored_already_expanded_is_read_too() -> None:
    w = World.default()
    world = w.world_json()
    world["stripe"]["checkout_sessions"].append(make_session(5, refunded=True))
    (session,) = facts_from_world(world)[0].sessions
    assert (session.payment_intent, session.fully_refunded) == ("pi_test_Purchase0005", True)


def test_a_tenant_whose_account_the_key_cannot_read_is_unreachable() -> None:
    w = World.default()
    w.add(make_tenant(tenant_id=OTHER_TENANT_ID, account=OTHER_ACCOUNT_ID))
    accounts = facts_from_world(w.world_json())[0].accounts
    assert [(a.account, a.tenant, a.ok) for a in accounts] == [
        ("acct_aurora0001", "tenant-aurora", True),
        (OTHER_ACCOUNT_ID, OTHER_TENANT_ID, False),
    ]


def test_bookings_come_from_class_instances() -> None:
    instance = make_class_instance(
        [make_booking(), {"student": "not-a-ref"}, "junk", {"bookingType": 3}]
    )
    bookings = bookings_from_instances([instance, {"bookings": "junk"}, {}])
    assert [(b.student_ref, b.booking_type, b.tenant_ref) for b in bookings] == [
        (USER_ID, "clipcard", "tenant-aurora"),
        ("not-a-ref", None, "tenant-aurora"),
        (None, None, "tenant-aurora"),
    ]


@pytest.mark.parametrize(
    "world",
    [
        pytest.param({}, id="empty"),
        pytest.param({"stripe": {}, "sanity": {}}, id="bare"),
        pytest.param({"sanity": {"documents": ["junk", None, {"_type": 5}]}}, id="junk-documents"),
    ],
)
def test_sparse_worlds_give_sparse_facts(world: dict[str, object]) -> None:
    facts, clerk = facts_from_world(copy.deepcopy(world))
    assert (facts.sessions, facts.subscriptions, clerk) == ([], [], [])
