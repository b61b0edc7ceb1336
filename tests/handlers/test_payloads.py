"""What Slack sends, parsed: button values, block_actions bodies, command arguments."""

from __future__ import annotations

import pytest

from core.errors import UsageError
from handlers.payloads import ActionPayload, FixButtonValue, parse_days


def test_a_button_value_round_trips_compactly() -> None:
    value = FixButtonValue.make(
        proposal="abc", session="cs_test_" + "x" * 60, alternative="start_today", plan_hash="h" * 16
    )
    text = value.encode()
    assert FixButtonValue.decode(text) == value
    assert len(text) < 200
    assert " " not in text


@pytest.mark.parametrize(
    "raw", [None, "", "not json", "{}", '{"p": "", "s": "cs", "h": "x"}', '{"p": 1, "s": 2}']
)
def test_a_value_passbot_did_not_make_is_a_usage_error(raw) -> None:
    with pytest.raises(UsageError, match="not one passbot made"):
        FixButtonValue.decode(raw)


def test_a_block_actions_body_gives_the_card_to_update() -> None:
    press = ActionPayload.from_body(
        {
            "type": "block_actions",
            "user": {"id": "U1", "name": "ada"},
            "container": {"channel_id": "C1", "message_ts": "1.2"},
            "message": {"ts": "1.2", "blocks": [{"type": "divider"}]},
            "actions": [{"action_id": "fix.apply", "block_id": "fix:p", "value": "v"}],
            "unknown": "ignored",
        }
    )
    assert (press.user.id, press.channel, press.ts, press.action.block_id) == (
        "U1", "C1", "1.2", "fix:p"
    )  # fmt: skip
    assert press.blocks == [{"type": "divider"}]
    ephemeral = ActionPayload.from_body(
        {"user": {"id": "U1"}, "container": {"is_ephemeral": True, "channel_id": "C1"},
         "actions": [{"action_id": "fix.apply"}]}
    )  # fmt: skip
    assert (ephemeral.channel, ephemeral.ts, ephemeral.blocks) == (None, None, [])
    with pytest.raises(UsageError):
        ActionPayload.from_body({"user": {"id": "U1"}, "actions": []})


@pytest.mark.parametrize(("text", "days"), [("", None), ("  ", None), ("7", 7), (" 30 ", 30)])
def test_passcheck_takes_an_optional_number_of_days(text, days) -> None:
    assert parse_days(text, command="/passcheck") == days


@pytest.mark.parametrize("text", ["0", "-3", "seven", "3.5", "²", "99999"])
def test_anything_else_is_one_usage_line(text) -> None:
    with pytest.raises(UsageError, match=r"usage: /passcheck \[days\]"):
        parse_days(text, command="/passcheck")
