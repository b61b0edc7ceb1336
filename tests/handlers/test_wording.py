"""What people read: no FM-xx codes, UTC times as Slack date tokens in Slack and as local times
(the zone named once) in text."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from handlers.blocks.wording import for_slack, local_text, slack_text, strip_codes

OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        (
            "invisible to passbot (FM-09); use the live key",
            "invisible to passbot; use the live key",
        ),
        ("unknown, not absent (FM-10): give", "unknown, not absent: give"),
        ("A hand-made pass (placeholder ids, FM-41) for", "A hand-made pass (placeholder ids) for"),
        ("the tenant (§7.4, FM-27)", "the tenant (§7.4)"),
        ("its configuration (FM-13/31/37).", "its configuration."),
        ("dates (FM-14, FM-32, FM-50)", "dates"),
        ("no code here", "no code here"),
    ],
)
def test_codes_are_stripped(text: str, clean: str) -> None:
    assert strip_codes(text) == clean


def test_times_become_date_tokens_in_slack_and_local_in_text() -> None:
    text = "paid on 2026-11-27 12:00 UTC, but has no pass"
    token = "<!date^1795780800^{date_short_pretty} {time}|2026-11-27 12:00 UTC>"
    assert slack_text(text) == f"paid on {token}, but has no pass"
    assert slack_text(slack_text(text)) == slack_text(text)  # a token is never wrapped twice
    assert (
        local_text(text, OSLO)
        == "paid on 2026-11-27 13:00, but has no pass  (times in Europe/Oslo)"
    )
    many = "a 2026-11-27 12:00 UTC\nb 2026-06-27 12:00 UTC"
    assert (
        local_text(many, OSLO) == "a 2026-11-27 13:00  (times in Europe/Oslo)\nb 2026-06-27 14:00"
    )


def test_a_message_is_cleaned_where_people_read_it_and_only_there() -> None:
    msg = {
        "text": "x (FM-09)",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "at 2026-11-27 12:00 UTC"},
             "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Go"},
                           "value": '{"k":"FM-09 stays in values"}', "action_id": "a"}},
        ],
    }  # fmt: skip
    out = for_slack(msg)
    assert out["text"] == "x"
    assert out["blocks"][0]["text"]["text"].startswith("at <!date^1795780800^")
    assert out["blocks"][0]["accessory"]["value"] == '{"k":"FM-09 stays in values"}'
