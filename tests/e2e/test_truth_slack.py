"""Issue 11 in the Slack app, end to end (the app on loopback, signed requests, the sandbox's
Slack log and Sanity documents): only approvers dismiss, under the fix buttons' rules; a fixed
finding loses its "Not a problem"; two presses of different fixes on one card keep both status
lines; a late fix offers exactly two buttons, "Start from today" and "Keep the purchase dates";
a buyer with no Sanity user gets the user and the pass from one button."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from handlers.ids import ActionId
from sandbox import Sandbox, start_sandbox
from tests.e2e.slackbot import OLA, OLA_DOC, OLA_SESSION, Card, running_bot, slack_world, updates
from tests.e2e.test_slack_schedule import findings_on, press_accessory_body, submission_body

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = 1795852800  # the tiny world's now


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


def _views(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["args"]["view"] for e in log if e["method"] == "views.open"]


def _private(log: list[dict[str, Any]]) -> list[str]:
    return [
        str(e["args"].get("text"))
        for e in log
        if e["method"] == "response_url" and e["args"].get("response_type") == "ephemeral"
    ]


# ------------------------------------------------------------------------- only approvers


async def test_a_non_approver_cannot_dismiss_and_the_fix_stays(box: Sandbox, tmp_path: Path):
    async with running_bot(box, tmp_path / "db") as bot:
        await bot.command(OLA, user="U0SUPPORT")
        card = await bot.card()
        (finding,) = findings_on(card)
        await bot.send(press_accessory_body(bot, card, finding, "U0SUPPORT"))
        (said,) = await bot.wait_for(lambda log: [t for t in _private(log) if "🔒" in t])
        assert said.startswith("🔒 Only approvers can dismiss a finding")
        log = await bot.settle()
        assert _views(log) == []  # no form opened
        assert updates(log, "🙈") == []
        assert bot.jobs is not None
        assert all(r.dismissed_by is None for r in bot.jobs.history.records())

        # A form opened by an approver cannot be submitted by someone else either.
        await bot.send(press_accessory_body(bot, card, finding, "U0APPROVER"))
        (view,) = await bot.wait_for(_views)
        answer = await bot.send(submission_body(bot, view, user="U0SUPPORT", reason="not mine"))
        assert answer.json()["response_action"] == "errors"
        assert "Only approvers" in str(answer.json()["errors"])
        await bot.settle()
        assert all(r.dismissed_by is None for r in bot.jobs.history.records())


async def test_two_person_rule_holds_for_dismissals(box: Sandbox, tmp_path: Path):
    async with running_bot(box, tmp_path / "db", passbot_two_person=True) as bot:
        await bot.command(OLA, user="U0APPROVER")  # an approver asks for the card
        card = await bot.card()
        (finding,) = findings_on(card)
        await bot.send(press_accessory_body(bot, card, finding, "U0APPROVER"))
        (said,) = await bot.wait_for(lambda log: [t for t in _private(log) if "🔒" in t])
        assert "Two-person approval is on" in said
        assert _views(await bot.settle()) == []
        await bot.send(press_accessory_body(bot, card, finding, "U0SECOND"))  # someone else
        (view,) = await bot.wait_for(_views)
        forged = await bot.send(submission_body(bot, view, user="U0APPROVER", reason="mine"))
        assert forged.json()["response_action"] == "errors"
        done = await bot.send(submission_body(bot, view, user="U0SECOND", reason="a test buyer"))
        assert (done.status_code, done.text) == (200, "")
        (shown,) = await bot.wait_for(lambda log: updates(log, "🙈"))
        assert shown["text"].startswith("🙈 Not a problem — dismissed by <@U0SECOND>")


async def test_a_fixed_finding_loses_its_not_a_problem_button(box: Sandbox, tmp_path: Path):
    async with running_bot(box, tmp_path / "db") as bot:
        await bot.command(OLA)
        card = await bot.card()
        assert len(findings_on(card)) == 1
        await bot.press(card, button=0, user="U0APPROVER")
        (result,) = await bot.wait_for(lambda log: updates(log, "✅"))
        assert not [b for b in result["blocks"] if "accessory" in b]
        assert not [b for b in result["blocks"] if b["type"] == "actions"]
        assert OLA_DOC in await bot.documents()


# ------------------------------------------------------------------- concurrent presses


def _two_purchases() -> dict[str, Any]:
    """Ola bought twice, and neither purchase got its pass: two fixes on one card."""
    world = slack_world()
    sessions = world["stripe"]["checkout_sessions"]
    first = next(s for s in sessions if s["id"] == OLA_SESSION)
    second = copy.deepcopy(first)
    second.update(id="cs_test_b2Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb", payment_intent=None)
    second["created"] = first["created"] + 86400
    sessions.append(second)
    return world


async def test_presses_of_different_fixes_on_one_card_keep_both_status_lines(
    box: Sandbox, tmp_path: Path
):
    async with running_bot(box, tmp_path / "db", _two_purchases()) as bot:
        await bot.command(OLA)
        card = await bot.card()
        presses = [i for i, (_, b) in enumerate(card.buttons()) if b["action_id"] == "fix.apply"]
        assert len(presses) == 2
        # Both pressed on the same card, at once, by two approvers.
        await asyncio.gather(
            bot.press(card, button=presses[0], user="U0APPROVER"),
            bot.press(card, button=presses[1], user="U0SECOND"),
        )

        def final(log: list[dict[str, Any]]) -> Card | None:
            done = [u for u in updates(log, "✅") if u.get("ts") == card.ts]
            if not done:
                return None
            last = done[-1]
            text = str(last["blocks"])
            return last if text.count("✅ Pass created") == 2 else None

        last = await bot.wait_for(final)
        await bot.settle()
        log = await bot.log()
        latest = [e["args"] for e in log if e["method"] == "chat.update"][-1]
        text = str(latest["blocks"])
        assert "approved by <@U0APPROVER>" in text
        assert "approved by <@U0SECOND>" in text
        assert "applying" not in text
        assert last is not None
        docs = await bot.documents()
        assert OLA_DOC in docs
        assert "subscription-cs_test_b2Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb" in docs


# --------------------------------------------------------------------- the webhook's cases


def _late() -> dict[str, Any]:
    world = slack_world()
    ola = next(s for s in world["stripe"]["checkout_sessions"] if s["id"] == OLA_SESSION)
    ola["created"] = NOW - 33 * 86400  # within the lookback, past its 30 days
    return world


async def test_a_late_fix_offers_start_today_and_keep_dates_and_no_plain_approve(
    box: Sandbox, tmp_path: Path
):
    async with running_bot(box, tmp_path / "db", _late()) as bot:
        await bot.command(OLA)
        card = await bot.card()
        labels = [b["text"]["text"] for _, b in card.buttons()]
        assert labels == ["Approve: Start from today", "Approve: Keep the purchase dates"]
        await bot.press(card, button=1, user="U0APPROVER")  # keep the purchase dates
        await bot.wait_for(lambda log: updates(log, "✅"))
        written = (await bot.documents())[OLA_DOC]
        assert written["startDate"] == "2026-10-26T08:00:00.000Z"
        assert "startBasis" not in written


async def test_a_buyer_with_no_sanity_user_gets_both_from_one_button(box: Sandbox, tmp_path: Path):
    world = slack_world()
    world["sanity"]["documents"] = [
        d for d in world["sanity"]["documents"] if d["_id"] != "NayMiNahGmbbkfRy5m98S9"
    ]
    async with running_bot(box, tmp_path / "db", world) as bot:
        await bot.command(OLA)
        card = await bot.card()
        (_, button) = card.buttons()[0]
        assert button["action_id"] == ActionId.FIX_APPLY
        assert "user-user_206X9A8RsDNN0ht9UqEYKDj1j" in str(button["confirm"])
        await bot.press(card, button=0, user="U0APPROVER")
        await bot.wait_for(lambda log: updates(log, "✅"))
        docs = await bot.documents()
        assert docs["user-user_206X9A8RsDNN0ht9UqEYKDj1j"]["clerkId"] == (
            "user_206X9A8RsDNN0ht9UqEYKDj1j"
        )
        assert docs[OLA_DOC]["user"]["_ref"] == "user-user_206X9A8RsDNN0ht9UqEYKDj1j"


async def test_duplicate_users_the_card_says_which_one_is_referenced(box: Sandbox, tmp_path: Path):
    world = slack_world()
    ola = next(d for d in world["sanity"]["documents"] if d["_id"] == "NayMiNahGmbbkfRy5m98S9")
    world["sanity"]["documents"].append(
        {**ola, "_id": "olaOlderTwin", "_createdAt": "2025-01-01T00:00:00Z"}
    )
    async with running_bot(box, tmp_path / "db", world) as bot:
        await bot.command(OLA)
        card = await bot.card()
        text = str(card.blocks)
        assert "the oldest (olaOlderTwin) is referenced" in text
        assert "duplicate_user" in text
        await bot.press(card, button=0, user="U0APPROVER")
        await bot.wait_for(lambda log: updates(log, "✅"))
        assert (await bot.documents())[OLA_DOC]["user"]["_ref"] == "olaOlderTwin"
