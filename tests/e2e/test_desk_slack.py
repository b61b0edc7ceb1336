"""The support desk's day in the sandbox's Slack: /fixpass by id or name with links and a
pick-list, private answers (with Share, and approvals) where passbot cannot post, /passcheck's
buttons, /passaudit filtered and paged, the 35-day chart uploaded, and the App Home."""

from __future__ import annotations

import copy
import io
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio

from bot.poster import TextPoster
from bot.scheduler import scheduler_for
from bot.serve import slack_poster
from core.ports import AuditEntry
from sandbox import Sandbox, start_sandbox
from tests.e2e.slackbot import (
    OLA,
    OLA_DOC,
    OLA_SESSION,
    Bot,
    Card,
    messages,
    private,
    running_bot,
    slack_world,
    text_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

STUDIO = "https://dance.sanity.studio"
CLERK = "https://dashboard.clerk.com/apps/app_1/instances/ins_1"
LINKS = {"passbot_studio_url": STUDIO, "passbot_clerk_dashboard_url": CLERK}
EMIL_SUB = "IduYcRrnmFs6kWP4vTWWUm"


def desk_world() -> dict[str, Any]:
    """The Slack world, a channel passbot was never invited to, and Ola's namesake."""
    world = slack_world()
    world["slack"]["channels"].append({"id": "C0ELSEWHERE", "name": "elsewhere",
                                       "is_member": False})  # fmt: skip
    world["sanity"]["documents"].append(
        {"_id": "OtherOla000000000000001", "_type": "user", "name": "Óla Hánsen",
         "email": "ola.other@example.com", "clerkId": "user_2otherOla0000000000000000",
         "tenant": {"_type": "reference", "_ref": "tenant-aurora"}, "role": "student",
         "isActive": True}
    )  # fmt: skip
    return world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(desk_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


@pytest_asyncio.fixture(loop_scope="module")
async def bot(box: Sandbox, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(box, tmp_path / "passbot.db", copy.deepcopy(desk_world()),
                           **LINKS) as running:  # fmt: skip
        yield running


def accessories(card: Card) -> list[tuple[str, dict[str, Any]]]:
    """(block id, button) of every section's own button."""
    return [
        (str(b.get("block_id")), b["accessory"])
        for b in card.blocks
        if b.get("type") == "section" and (b.get("accessory") or {}).get("type") == "button"
    ]


def labels(blocks: list[dict[str, Any]]) -> list[str]:
    """Every button's label: in actions blocks and beside sections."""
    out = []
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                out.append(element["text"]["text"])
    return out


def ephemeral_press(bot: Bot, blocks: list[dict[str, Any]], label: str, *, user: str) -> str:
    """A press on a private message, as Slack sends it: no `message`, `is_ephemeral`."""
    block_id, element = next(
        (str(b.get("block_id")), e)
        for b in blocks
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("type") == "button" and e["text"]["text"] == label
    )
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
        "api_app_id": "A0PASSBOT", "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1795766400.000001",
                      "channel_id": "C0ELSEWHERE", "is_ephemeral": True},
        "trigger_id": bot.trigger(), "team": {"id": "T0SANDBOX"},
        "channel": {"id": "C0ELSEWHERE", "name": "elsewhere"},
        "response_url": bot.response_url(),
        "actions": [{"type": "button", "action_id": element["action_id"], "block_id": block_id,
                     "text": element["text"], "value": element["value"],
                     "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def responses(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Everything posted to response_urls."""
    return [e["args"] for e in log if e["method"] == "response_url"]


def outside_tokens(text: str) -> str:
    """The text with Slack's date tokens taken out (their fallbacks are for old clients)."""
    return re.sub(r"<!date\^[^>]*>", "", text)


# ----------------------------------------------------------------------------- /fixpass


async def test_a_session_id_finds_the_card_with_every_link(bot: Bot) -> None:
    await bot.command(OLA_SESSION)
    card = await bot.card()
    text = text_of(card.blocks)
    pay = OLA_SESSION.replace("cs_", "pi_")
    assert (
        f"<https://dashboard.stripe.com/acct_auroraAAA/test/payments/{pay}|{OLA_SESSION}>" in text
    )
    assert f"{STUDIO}/intent/edit/id=NayMiNahGmbbkfRy5m98S9;type=user/" in text
    assert f"{CLERK}/users/user_206X9A8RsDNN0ht9UqEYKDj1j" in text
    assert "<!date^" in text  # every reader sees their own local time
    assert "UTC" not in outside_tokens(text)
    assert "FM-" not in text
    assert {"Not a problem", "Approve: create pass"} <= set(labels(card.blocks))


async def test_a_name_gives_a_pick_list_and_a_pick_shows_the_card(bot: Bot) -> None:
    await bot.command("ola HANSEN")
    pick = await bot.wait_for(lambda log: next(
        (c for c in messages(log).values() if "customers match" in c.text), None))  # fmt: skip
    buttons = accessories(pick)
    assert [b["text"]["text"] for _, b in buttons] == ["Show", "Show"]
    assert [b["value"] for _, b in buttons] == [OLA, "ola.other@example.com"]
    block_id, show = buttons[0]
    await bot.send(bot.element_press_body(pick, block_id, show, user="U0SUPPORT"))
    card = await bot.card()
    assert (card.channel, card.ts) == (pick.channel, pick.ts)  # the card replaces the list
    assert f"🔎 {OLA}" in text_of(card.blocks)


async def test_unknown_input_gets_one_usage_line(bot: Bot) -> None:
    answer = await bot.command("hello$$")
    assert "usage: /fixpass EMAIL" in answer.text
    assert "\n" not in answer.text
    assert [e for e in await bot.settle() if e["method"] == "chat.postMessage"] == []


@pytest.mark.parametrize("channel", ["C0ELSEWHERE", "D0TWOHUMANS"])
async def test_where_passbot_cannot_post_the_answer_is_private_and_approvable(
    bot: Bot, channel: str
) -> None:
    await bot.command(OLA, channel=channel)
    answers = await bot.wait_for(lambda log: [a for a in private(log) if "Share" in str(a)])
    card = answers[-1]
    assert card["replace_original"] is True  # the private "looking…" becomes the card
    assert labels(card["blocks"])[-1] == "Share to channel"
    await bot.send(ephemeral_press(bot, card["blocks"], "Approve: create pass", user="U0APPROVER"))
    await bot.wait_for(lambda log: [e for e in responses(log) if "Pass created" in str(e)])
    assert OLA_DOC in await bot.documents()  # approved from the private card
    await bot.send(ephemeral_press(bot, card["blocks"], "Share to channel", user="U0SUPPORT"))
    log = await bot.settle()
    shared = [e["args"] for e in log if e["method"] == "response_url"
              and e["args"].get("response_type") == "in_channel"]  # fmt: skip
    assert shared
    assert "shared by <@U0SUPPORT>" in text_of(shared[-1]["blocks"])


# ----------------------------------------------------------------------------- /passcheck, audit


async def test_passcheck_findings_carry_the_summarys_buttons(bot: Bot) -> None:
    await bot.command("", command="/passcheck")
    report = await bot.wait_for(lambda log: next(
        (c for c in messages(log).values() if c.text.startswith("Pass check")), None))  # fmt: skip
    assert {"Not a problem", "Approve: create pass"} <= set(labels(report.blocks))


async def test_passaudit_filters_pages_and_links(bot: Bot) -> None:
    now = datetime(2026, 11, 28, 8, tzinfo=UTC)
    for n in range(25):
        bot.store.record(AuditEntry(
            at=now - timedelta(days=n), actor="U0SECOND" if n % 5 == 0 else "U0APPROVER",
            action="create_subscription", session=f"cs_test_{n}", source="slack",
            documents=(EMIL_SUB if n == 3 else f"subscription-cs_test_{n}",),
            transaction_id=f"t{n}", changes={}))  # fmt: skip
    await bot.command("", command="/passaudit")
    (first,) = await bot.wait_for(private)
    text = text_of(first["blocks"])
    assert "1–20 of 25" in text
    assert f"{STUDIO}/intent/edit/id=subscription-cs_test_0" in text
    assert labels(first["blocks"]) == ["Next 5"]
    await bot.send(ephemeral_press(bot, first["blocks"], "Next 5", user="U0SUPPORT"))
    following = await bot.wait_for(lambda log: [a for a in responses(log) if "21–25" in str(a)])
    assert following[-1]["replace_original"] is True
    for query, want in (("<@U0SECOND|bo>", "1–5 of 5"), ("3 days", "1–4 of 4"),
                        ("emil.lund117@example.com", "1–1 of 1")):  # fmt: skip
        await bot.command(query, command="/passaudit")
        await bot.wait_for(lambda log, w=want: [a for a in private(log) if w in str(a)])
    answer = await bot.command("last week", command="/passaudit")
    assert "usage: /passaudit [email | @user | N days]" in answer.text


# ----------------------------------------------------------------------------- the chart


async def test_the_sweep_and_passstats_upload_the_chart(bot: Bot) -> None:
    assert bot.jobs is not None
    poster = slack_poster(bot.settings, bot.services, "C0PASSES")
    ts = await poster.post_summary(await bot.jobs.summary(weekly=True))
    await bot.command("", command="/passstats")
    await bot.wait_for(
        lambda log: len([e for e in log if e["method"] == "files.completeUploadExternal"]) == 2
    )
    world = await bot.box.dump_world()
    sweep, stats = world["slack"]["files"][-2:]
    assert sweep["thread_ts"] == ts
    assert sweep["channels"] == ["C0PASSES"]
    assert stats["title"].startswith("Last 35 days:")
    async with httpx.AsyncClient() as http:
        for shared in (sweep, stats):
            png = (await http.get(shared["url_private"])).content
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            assert len(png) == shared["size"] > 10_000


# ----------------------------------------------------------------------------- App Home


async def event(bot: Bot, user: str, n: int) -> httpx.Response:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0SANDBOX",
            "api_app_id": "A0PASSBOT",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "tab": "home",
                "channel": "D0" + user[2:],
            },
            "event_id": f"Ev{n}{time.time_ns()}",
            "event_time": int(time.time()),
        }
    )
    headers = {**bot.headers(body), "content-type": "application/json"}
    return await bot.http.post(bot.url + "/slack/events", content=body, headers=headers)


def homes(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["args"] for e in log if e["method"] == "views.publish"]


def view_press(
    bot: Bot,
    blocks: list[dict[str, Any]],
    label: str,
    value: str | None = None,
    *,
    user: str = "U0APPROVER",
) -> str:
    """A press on the App Home, as Slack sends it: a `view` container, no message or
    response_url."""
    block_id, button = next(
        (str(b["block_id"]), e)
        for b in blocks
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("type") == "button"
        and e["text"]["text"] == label
        and (value is None or e["value"] == value)
    )
    payload = {"type": "block_actions", "user": {"id": user, "team_id": "T0SANDBOX"},
               "api_app_id": "A0PASSBOT", "container": {"type": "view", "view_id": "V1"},
               "trigger_id": bot.trigger(), "team": {"id": "T0SANDBOX"},
               "actions": [{"type": "button", "action_id": button["action_id"],
                            "block_id": block_id, "value": button["value"],
                            "text": button["text"], "action_ts": str(time.time())}]}  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


async def test_the_app_home_shows_findings_runs_health_approvers_and_refreshes(bot: Bot) -> None:
    assert bot.jobs is not None
    poster = TextPoster(out=io.StringIO())
    async with scheduler_for(bot.settings, bot.services, poster, jobs=bot.jobs) as scheduler:
        await scheduler.run("sweep")  # a run: claimed, and its findings in passbot's memory
    await event(bot, "U0APPROVER", 1)
    (home,) = await bot.wait_for(homes)
    assert home["user_id"] == "U0APPROVER"
    assert home["view"]["type"] == "home"
    blocks = home["view"]["blocks"]
    text = text_of(blocks)
    for shown in ("Health at a glance", "Last runs", "Weekly sweep: ✅ done", "Who may approve",
                  "<!subteam^S0APPROVERS>", "Aurora", "missing_pass", "*Will write:*"):  # fmt: skip
        assert shown in text, shown
    assert {"Not a problem", "Open its card", "Approve: create pass"} <= set(labels(blocks))
    await bot.send(view_press(bot, blocks, "Open its card", OLA_SESSION))
    card = await bot.card()
    assert card.channel == "D0APPROVER"  # the card in the presser's DM with passbot
    await bot.send(view_press(bot, blocks, "Approve: create pass"))
    log = await bot.wait_for(lambda log: len(homes(log)) >= 2 and log)
    assert OLA_DOC in await bot.documents()  # approved on the Home tab itself
    refreshed = text_of(homes(log)[-1]["view"]["blocks"])
    assert "✅ Pass created — approved by <@U0APPROVER>" in refreshed
    assert "missing_pass" not in refreshed  # refreshed: fixed, gone


async def test_a_home_press_by_a_non_approver_is_refused_on_their_home_tab(bot: Bot) -> None:
    assert bot.jobs is not None
    poster = TextPoster(out=io.StringIO())
    async with scheduler_for(bot.settings, bot.services, poster, jobs=bot.jobs) as scheduler:
        await scheduler.run("sweep")
    await event(bot, "U0SUPPORT", 1)
    (home,) = await bot.wait_for(homes)
    blocks = home["view"]["blocks"]
    who = "<!subteam^S0APPROVERS>, <@U0SECOND>"
    refusals = {
        "Approve: create pass": f"🔒 Only approvers can apply fixes — ask {who}. "
        "Nothing was written.",
        "Not a problem": f"🔒 Only approvers can dismiss a finding — ask {who}. "
        "Nothing was recorded.",
    }
    for n, (label, why) in enumerate(refusals.items(), start=2):
        answer = await bot.send(view_press(bot, blocks, label, user="U0SUPPORT"))
        assert answer.status_code == 200
        published = (await bot.wait_for(lambda log, n=n: len(homes(log)) >= n and homes(log)))[-1]
        assert published["user_id"] == "U0SUPPORT"  # their own tab, where they pressed
        assert published["view"]["type"] == "home"
        notice = published["view"]["blocks"][1]  # at the top, under the header
        assert notice["type"] == "context"
        assert notice["elements"][0]["text"] == why
        assert "missing_pass" in text_of(published["view"]["blocks"])  # nothing changed
    log = await bot.settle()
    assert len(homes(log)) == 3  # the opening and one per refusal: nobody else's tab
    assert not [e for e in log if e["method"] in ("chat.postMessage", "chat.update")]
    assert OLA_DOC not in await bot.documents()
    assert bot.services.recent_audit(50) == []
    assert bot.jobs.history.dismissed_keys() == frozenset()
    presses = bot.store.presses()
    assert [(p.user_id, p.outcome) for p in presses] == [("U0SUPPORT", "forbidden")]
    # an approver's press on the same tab still applies the fix
    await bot.send(view_press(bot, blocks, "Approve: create pass"))
    await bot.wait_for(lambda log: len(homes(log)) >= 4 and log)
    assert OLA_DOC in await bot.documents()
    assert len(bot.services.recent_audit(50)) == 1
