"""The Slack bot end to end: the app served on 127.0.0.1, its services built against the sandbox,
requests signed with the sandbox's signing secret as Slack signs them, response_urls under the
sandbox; assertions on the sandbox's Slack log, its Sanity documents and passbot's audit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.container import build_services
from bot.serve import run_serve
from core.usecases.services import Services
from handlers.ids import ActionId
from sandbox import Sandbox, start_sandbox
from tests.e2e.slackbot import (
    OLA,
    OLA_DOC,
    OLA_SESSION,
    Bot,
    latest_card,
    private,
    running_bot,
    settings_for,
    slack_world,
    socket_app,
    socket_fixpass,
    text_of,
    updates,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

CREATED = "✅ Pass created — approved by <@U0APPROVER> at 09:00"
EMIL_SUB = "IduYcRrnmFs6kWP4vTWWUm"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


@pytest_asyncio.fixture(loop_scope="module")
async def bot(box: Sandbox, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(box, tmp_path / "passbot.db") as running:
        yield running


def audit_rows(bot: Bot) -> list[Any]:
    return bot.services.recent_audit(50)


# ----------------------------------------------------------------------------- commands


async def test_fixpass_acks_at_once_then_replaces_looking_with_the_card(bot: Bot) -> None:
    answer = await bot.command(f"  <mailto:{OLA.upper()}|{OLA.upper()}> ")
    assert answer.status_code == 200
    assert answer.text == ""  # acknowledged; the work follows
    card = await bot.card()
    log = await bot.log()
    assert log[0]["method"] == "chat.postMessage"
    assert log[0]["args"]["text"].startswith("🔎 Looking up")
    assert card.ts == log[0]["ts"]  # the looking… message is the one replaced
    assert "auth.test" not in [e["method"] for e in log]  # no surprise calls
    text = text_of(card.blocks)
    assert "missing_pass" in text
    assert OLA_SESSION in text
    ((block_id, approve), (_, alternative)) = card.buttons()
    assert block_id.startswith("fix:")
    assert approve["action_id"] == ActionId.FIX_APPLY
    assert alternative["action_id"] == ActionId.FIX_APPLY_ALTERNATIVE
    dialog = approve["confirm"]["text"]["text"]
    for shown in ("Drop-in Class", "single, 1 clip", "Fri 2026-10-30", "Sun 2026-11-29",
                  "(30 days)", "Aurora Dance"):  # fmt: skip
        assert shown in dialog, dialog
    assert "Sat 2026-11-28" in alternative["confirm"]["text"]["text"]  # start from today


async def test_a_bad_email_gets_one_usage_line_and_nothing_else(bot: Bot) -> None:
    answer = await bot.command("a@b.no c@d.no")
    assert answer.status_code == 200
    assert "usage: /fixpass EMAIL" in answer.text
    assert "\n" not in answer.text
    assert await bot.settle() == []


async def test_passcheck_and_passaudit(bot: Bot) -> None:
    assert "usage: /passcheck [days]" in (await bot.command("soon", command="/passcheck")).text
    await bot.command("", command="/passcheck")
    report = await bot.wait_for(lambda log: updates(log, "Pass check"))
    assert "Pass check — the last 35 days (test mode)" in text_of(report[0]["blocks"])
    assert "missing_pass" in text_of(report[0]["blocks"])
    await bot.command("", command="/passaudit")
    (answer,) = await bot.wait_for(private)
    assert answer["text"] == "No fixes applied yet."


# ----------------------------------------------------------------------------- approving


async def test_a_press_creates_the_pass_and_audits_who_approved(bot: Bot) -> None:
    await bot.command(OLA)
    card = await bot.card()
    answer = await bot.press(card)
    assert (answer.status_code, answer.text) == (200, "")
    (result,) = await bot.wait_for(lambda log: updates(log, "✅"))
    assert result["text"] == CREATED
    assert not [b for b in result["blocks"] if b["type"] == "actions"]
    log = await bot.settle()
    texts = [e["args"]["text"] for e in log if e["method"] == "chat.update"]
    assert texts[1:] == ["⏳ applying…", CREATED]  # buttons stripped at once, then the result
    doc = (await bot.documents())[OLA_DOC]
    assert (doc["approvedBy"], doc["type"], doc["remainingClips"]) == ("U0APPROVER", "single", 1)
    (entry,) = audit_rows(bot)
    assert (entry.actor, entry.actor_email, entry.source) == (
        "U0APPROVER", "ada@dance.example", "slack"
    )  # fmt: skip
    (press,) = bot.store.presses()
    assert (press.user_id, press.user_email, press.outcome) == (
        "U0APPROVER", "ada@dance.example", "applied"
    )  # fmt: skip


async def test_a_patch_proposed_by_one_person_is_approved_by_another(
    box: Sandbox, tmp_path: Path
) -> None:
    world = slack_world()
    emil = next(d for d in world["sanity"]["documents"] if d["_id"] == EMIL_SUB)
    emil["isActive"] = False  # hidden: the fix is a patch stamped with who and when
    async with running_bot(box, tmp_path / "db", world) as bot:
        await bot.command("emil.lund117@example.com", user="U0SUPPORT")
        await bot.press(await bot.card(), user="U0APPROVER")
        (result,) = await bot.wait_for(lambda log: updates(log, "✅"))
        assert result["text"] == "✅ Pass fixed — approved by <@U0APPROVER> at 09:00"
        doc = (await bot.documents())[EMIL_SUB]
        assert (doc["isActive"], doc["fixedBy"]) == (True, "U0APPROVER")


async def test_the_alternative_button_starts_the_pass_today(bot: Bot) -> None:
    await bot.command(OLA)
    await bot.press(await bot.card(), button=1)
    await bot.wait_for(lambda log: updates(log, "✅"))
    doc = (await bot.documents())[OLA_DOC]
    assert (doc["startDate"], doc["startBasis"]) == ("2026-11-28T08:00:00.000Z", "approval")


async def test_an_unauthorised_press_is_explained_privately_and_writes_nothing(bot: Bot) -> None:
    await bot.command(OLA)
    card = await bot.card()
    await bot.press(card, user="U0SUPPORT")
    (answer,) = await bot.wait_for(private)
    assert answer["text"].startswith("🔒 Only approvers can apply fixes")
    assert answer["replace_original"] is False
    log = await bot.settle()
    assert updates(log, "⏳") == []
    assert updates(log, "✅") == []
    assert OLA_DOC not in await bot.documents()
    assert audit_rows(bot) == []
    (press,) = bot.store.presses()
    assert (press.user_id, press.user_email, press.outcome) == (
        "U0SUPPORT", "sam@dance.example", "forbidden"
    )  # fmt: skip


async def test_two_person_approval_needs_someone_else(box: Sandbox, tmp_path: Path) -> None:
    async with running_bot(box, tmp_path / "db", passbot_two_person=True) as bot:
        await bot.command(OLA, user="U0APPROVER")  # an approver asks…
        card = await bot.card()
        await bot.press(card, user="U0APPROVER")  # …and may not approve their own card
        (answer,) = await bot.wait_for(private)
        assert "Two-person approval is on" in answer["text"]
        assert OLA_DOC not in await bot.documents()
        await bot.press(card, user="U0SECOND")
        (result,) = await bot.wait_for(lambda log: updates(log, "✅"))
        assert result["text"] == "✅ Pass created — approved by <@U0SECOND> at 09:00"


async def test_a_double_click_applies_once(bot: Bot) -> None:
    await bot.command(OLA)
    card = await bot.card()
    first, second = bot.press_body(card), bot.press_body(card)  # two clicks, two trigger ids
    answers = await asyncio.gather(bot.send(first), bot.send(second))
    assert [a.status_code for a in answers] == [200, 200]
    log = await bot.settle()
    assert len(updates(log, "✅")) == 1
    (told,) = private(log)
    assert "applying this fix right now" in told["text"] or "Already applied" in told["text"]
    assert len(audit_rows(bot)) == 1
    assert [p.outcome for p in bot.store.presses()].count("applied") == 1


async def test_two_approvers_at_once_make_one_pass(bot: Bot) -> None:
    await bot.command(OLA)
    card = await bot.card()
    await asyncio.gather(bot.press(card, user="U0APPROVER"), bot.press(card, user="U0SECOND"))
    log = await bot.settle()
    (result,) = updates(log, "✅")
    assert len(private(log)) == 1  # the other approver is told, privately
    docs = await bot.documents()
    assert [d for d in docs.values() if d.get("stripeSessionId") == OLA_SESSION] == [docs[OLA_DOC]]
    (entry,) = audit_rows(bot)
    assert entry.actor in result["text"]
    world = await bot.box.dump_world()
    assert world["requests"]["sanity"]["POST /data/mutate"] == 1


async def test_a_slack_retry_is_dropped(bot: Bot) -> None:
    body = bot.command_body(OLA)
    await bot.send(body)
    retried = await bot.send(body, x_slack_retry_num="1", x_slack_retry_reason="http_timeout")
    assert retried.status_code == 200
    card = await bot.card()
    press = bot.press_body(card)
    await bot.send(press)
    await bot.send(press, x_slack_retry_num="1", x_slack_retry_reason="http_timeout")
    log = await bot.settle()
    assert [e["args"]["text"][:12] for e in log if e["method"] == "chat.postMessage"] == [
        "🔎 Looking up"
    ]
    assert len(updates(log, "⏳")) == 1
    assert len(updates(log, "✅")) == 1
    assert len(audit_rows(bot)) == 1
    assert len(bot.store.presses()) == 1


async def test_a_stale_proposal_writes_nothing(bot: Bot) -> None:
    await bot.command(OLA)
    card = await bot.card()
    # Between the card and the press, the school changes the pass: the plan is not the same.
    settings = bot.settings
    assert settings.sanity_api_token is not None
    mutate = (
        f"{settings.sanity_host}/{settings.sanity_api_version}/data/mutate/"
        f"{settings.sanity_dataset}"
    )
    changed = await bot.http.post(
        mutate,
        headers={"Authorization": f"Bearer {settings.sanity_api_token.get_secret_value()}"},
        json={"mutations": [{"patch": {"id": "pass-a-drop", "set": {"validityDays": 60}}}]},
    )
    assert changed.status_code == 200
    await bot.press(card)
    (note,) = await bot.wait_for(lambda log: updates(log, "⚠️"))
    assert "Changed since the proposal — nothing written" in note["text"]
    assert not [b for b in note["blocks"] if b["type"] == "actions"]
    assert OLA_DOC not in await bot.documents()
    assert audit_rows(bot) == []
    assert [p.outcome for p in bot.store.presses()] == ["stale"]


@pytest.mark.parametrize("status", [500, 0])
async def test_a_sanity_failure_mid_apply_is_named_and_retriable(
    box: Sandbox, tmp_path: Path, status: int
) -> None:
    world = slack_world()
    world["faults"] = [
        {"service": "sanity", "method": "POST", "path": "/data/mutate", "status": status,
         "count": 1}
    ]  # fmt: skip
    async with running_bot(box, tmp_path / "db", world) as bot:
        await bot.command(OLA)
        card = await bot.card()
        await bot.press(card)
        (note,) = await bot.wait_for(lambda log: updates(log, "⚠️"))
        assert note["text"].startswith("⚠️ Sanity failed — nothing was written; try again.")
        retriable = latest_card(await bot.log(), with_buttons=True)
        assert retriable is not None
        assert retriable.buttons() == card.buttons()
        assert OLA_DOC not in await bot.documents()
        assert audit_rows(bot) == []
        await bot.press(retriable)  # the same button, pressed again
        (result,) = await bot.wait_for(lambda log: updates(log, "✅"))
        assert result["text"] == CREATED
        assert OLA_DOC in await bot.documents()
        assert len(audit_rows(bot)) == 1
        assert [p.outcome for p in bot.store.presses()] == ["applied", "failed:sanity"]


async def test_an_unknown_error_shows_an_incident_id_that_is_logged(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Services, "diagnose", broken)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        await bot.command(OLA)
        (shown,) = await bot.wait_for(lambda log: updates(log, "⚠️"))
    incident = shown["text"].split("incident ")[1][:8]
    assert f"incident `{incident}`" in text_of(shown["blocks"])
    assert any(getattr(r, "incident_id", None) == incident for r in caplog.records)
    assert "a bug" not in text_of(shown["blocks"])


# ----------------------------------------------------------------------------- the wire


@pytest.mark.parametrize("forgery", ["wrong secret", "six minutes old", "body altered"])
async def test_forged_and_stale_signatures_are_refused(bot: Bot, forgery: str) -> None:
    body = bot.command_body(OLA)
    if forgery == "wrong secret":
        headers = bot.headers(body, secret="not-the-signing-secret")
    elif forgery == "six minutes old":
        headers = bot.headers(body, timestamp=int(time.time()) - 360)
    else:
        headers = bot.headers(body)
        body = body.replace("ola.hansen177", "someone.else")
    answer = await bot.http.post(bot.url + "/slack/events", content=body, headers=headers)
    assert answer.status_code == 401
    assert await bot.settle() == []
    assert OLA_DOC not in await bot.documents()


async def test_every_action_id_has_a_listener(bot: Bot) -> None:
    await bot.command(OLA)
    card = await bot.card()
    for action_id in ActionId:
        body = bot.press_body(card).replace(ActionId.FIX_APPLY.value, action_id.value)
        assert (await bot.send(body)).status_code == 200
        await bot.settle()
    unknown = bot.press_body(card).replace(ActionId.FIX_APPLY.value, "fix.nobody_listens")
    assert (await bot.send(unknown)).status_code == 404


async def test_socket_mode_drives_the_same_app(box: Sandbox, tmp_path: Path) -> None:
    await box.replace_world(slack_world())
    async with socket_app(box, tmp_path / "db") as (activity, services):
        ack = await socket_fixpass(box, OLA, trigger="s.1")
        assert "payload" not in ack or not ack["payload"]
        await activity.idle()
        card = latest_card((await box.dump_world())["slack"]["log"], with_buttons=True)
        assert card is not None
        block_id, button = card.buttons()[0]
        press = {
            "type": "block_actions", "user": {"id": "U0APPROVER"}, "trigger_id": "s.2",
            "container": {"type": "message", "channel_id": card.channel,
                          "message_ts": card.ts},
            "message": {"ts": card.ts, "text": card.text, "blocks": card.blocks},
            "response_url": f"{box.url}/slack/response/sock2",
            "actions": [{"action_id": button["action_id"], "block_id": block_id,
                         "value": button["value"], "action_ts": "1.2"}],
        }  # fmt: skip
        envelope = {"envelope_id": "env-press", "type": "interactive", "payload": press}
        await box.push_socket_envelope(envelope, timeout=10)
        redelivered = {**envelope, "envelope_id": "env-press-2", "retry_attempt": 1,
                       "retry_reason": "timeout"}  # fmt: skip
        await box.push_socket_envelope(redelivered, timeout=10)
        await activity.idle()
        log = (await box.dump_world())["slack"]["log"]
        assert log[0]["method"] == "apps.connections.open"
        assert len(updates(log, "✅")) == 1
        assert len(services.recent_audit(10)) == 1


async def test_serve_http_answers_healthz_until_stopped(box: Sandbox, tmp_path: Path) -> None:
    await box.replace_world(slack_world())
    settings = settings_for(box, tmp_path / "db")
    stop = asyncio.Event()
    lines: list[str] = []
    ready = asyncio.Event()

    def announce(line: str) -> None:
        lines.append(line)
        ready.set()

    async with build_services(settings) as services:
        task = asyncio.create_task(
            run_serve(
                settings, services, http=True, host="127.0.0.1", port=0, stop=stop,
                announce=announce,
            )
        )  # fmt: skip
        async with asyncio.timeout(10):
            await ready.wait()
        url = lines[0].split("health ")[1]
        async with httpx.AsyncClient() as http:
            health = await http.get(url)
        assert (health.status_code, health.json()) == (200, {"ok": True})
        stop.set()
        assert await task == 0
    log = (await box.dump_world())["slack"]["log"]
    assert [e["method"] for e in log] == ["auth.test"]  # the one deliberate check, at start
    assert "@passbot in passbot sandbox" in lines[0]
