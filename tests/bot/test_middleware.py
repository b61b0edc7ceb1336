"""Redeliveries are recognised, and every failure is explained in one safe sentence."""

from __future__ import annotations

import pytest

from bot.errors import explain
from bot.middleware import Deliveries, delivery_key, retry_number
from core.errors import (
    NotFoundError,
    RefusedError,
    StaleFixError,
    UpstreamError,
    UsageError,
)


def test_a_delivery_is_known_by_its_event_or_trigger_id() -> None:
    assert delivery_key({"event_id": "Ev1", "trigger_id": "t"}) == "event:Ev1"
    command = {"command": "/fixpass", "trigger_id": "1.2"}
    assert delivery_key(command) == "/fixpass:1.2:"
    press = {"type": "block_actions", "trigger_id": "3.4", "actions": [{"action_ts": "5.6"}]}
    assert delivery_key(press) == "block_actions:3.4:5.6"
    assert delivery_key({"type": "block_actions"}) is None


def test_deliveries_remember_what_they_saw_within_a_bound() -> None:
    seen = Deliveries(size=2)
    assert seen.first_time("a")
    assert seen.first_time("b")
    assert not seen.first_time("a")
    assert seen.first_time("c")  # forgets b, the oldest
    assert seen.first_time("b")


@pytest.mark.parametrize(
    ("headers", "number"),
    [({}, 0), ({"x-slack-retry-num": ["2"]}, 2), ({"x-slack-retry-num": ["x"]}, 0)],
)
def test_the_retry_number_header(headers, number) -> None:
    assert retry_number(headers) == number


def test_failures_are_explained_safely() -> None:
    text, incident, keep = explain(UpstreamError("sanity", "writing x: Sanity answered 500"))
    assert text.startswith("Sanity failed — nothing was written")
    assert keep
    assert incident is None
    text, _, keep = explain(StaleFixError("changed since the proposal"))
    assert text.startswith("Changed since the proposal — nothing written")
    assert not keep
    text, _, keep = explain(RefusedError("tenant mismatch"))
    assert "tenant mismatch" in text
    assert not keep
    for error in (UsageError("bad"), NotFoundError("no such")):
        assert explain(error)[0] == str(error)
    text, incident, keep = explain(KeyError("secret-token-xoxb"))
    assert incident
    assert incident in text
    assert keep
    assert "xoxb" not in text
