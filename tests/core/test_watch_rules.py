"""The watch's pure decisions (core/domain/watch.py): which events it follows, when a purchase
falls due, when to wake, what an outage is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.domain.watch import (
    OUTAGE_MIN,
    account_key,
    newest,
    next_wake,
    outage_period,
    outage_suspected,
    seen_from_event,
)

T = 1_796_000_000
GRACE = timedelta(minutes=3)


def event(**overrides: Any) -> dict[str, Any]:
    session = {"id": "cs_test_1", "object": "checkout.session", "payment_status": "paid"}
    session.update(overrides.pop("session", {}))
    return {
        "id": "evt_1",
        "object": "event",
        "type": "checkout.session.completed",
        "created": T,
        "account": "acct_school",
        "data": {"object": session},
        **overrides,
    }


def test_a_paid_completed_session_is_followed_until_its_grace_ends() -> None:
    seen = seen_from_event(event(), grace=GRACE)
    assert seen is not None
    assert (seen.session, seen.account, seen.event) == ("cs_test_1", "acct_school", "evt_1")
    assert seen.paid_at == datetime.fromtimestamp(T, tz=UTC)
    assert seen.due_at - seen.paid_at == GRACE


def test_a_delayed_payment_is_followed_when_it_succeeds_not_when_the_session_completes() -> None:
    unpaid = event(session={"payment_status": "unpaid"})
    succeeded = event(type="checkout.session.async_payment_succeeded")
    assert seen_from_event(unpaid, grace=GRACE) is None
    assert seen_from_event(succeeded, grace=GRACE) is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "checkout.session.expired"},
        {"type": "charge.refunded"},
        {"data": {"object": {"id": "pi_1", "object": "payment_intent", "payment_status": "paid"}}},
        {"data": None},
        {"created": "yesterday"},
        {"id": None},
    ],
)
def test_other_events_and_malformed_ones_are_not_followed(bad: dict[str, Any]) -> None:
    assert seen_from_event(event(**bad), grace=GRACE) is None


def test_the_platform_account_has_its_own_key() -> None:
    platform = event()
    del platform["account"]
    seen = seen_from_event(platform, grace=GRACE)
    assert seen is not None
    assert seen.account == "" == account_key(None)
    assert account_key("acct_x") == "acct_x"


def test_the_cursor_is_the_newest_event_the_last_of_a_second_when_several_share_it() -> None:
    events = [
        {"id": "evt_a", "created": T},
        {"id": "evt_b", "created": T + 5},
        {"id": "evt_c", "created": T + 5},
        {"id": None, "created": T + 9},
    ]
    assert newest(events) == ("evt_c", T + 5)
    assert newest([]) is None


def test_the_watch_wakes_at_the_next_poll_or_sooner_when_a_grace_period_ends_first() -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    poll = now + timedelta(seconds=60)
    assert next_wake(now, next_poll=poll, next_due=None) == poll
    assert next_wake(now, next_poll=poll, next_due=now + timedelta(seconds=10)) == now + timedelta(
        seconds=10
    )
    assert next_wake(now, next_poll=poll, next_due=now - timedelta(seconds=10)) == now


def test_several_unfulfilled_purchases_at_once_are_an_outage_one_message_an_hour() -> None:
    assert not outage_suspected(OUTAGE_MIN - 1)
    assert outage_suspected(OUTAGE_MIN)
    at = datetime(2026, 12, 7, 9, 59, tzinfo=UTC)
    assert outage_period(at) == outage_period(at - timedelta(minutes=59))
    assert outage_period(at) != outage_period(at + timedelta(minutes=1))
