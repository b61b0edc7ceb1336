"""The scheduled jobs in Slack, end to end: the app on loopback with its services against the
sandbox, the scheduler posting to PASSBOT_CHANNEL through the Slack poster with a clock the test
moves, requests signed as Slack signs them; assertions on the sandbox's Slack log, its Sanity
documents and passbot's store. Summary and early-warning buttons, "Fix all N", /passhealth,
/passstats, "Not a problem", and `passbot serve` running the scheduler. No test asserts timings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio

from bot.container import build_services
from bot.scheduler import ALREADY, NOTHING, POSTED, Scheduler, scheduler_for
from bot.serve import run_serve, slack_poster
from core.adapters.db import open_database
from core.adapters.history import SqlHistory
from core.usecases.jobs import EARLY_WARNING, SUMMARY, SWEEP
from handlers.ids import ActionId, BlockId, CallbackId, InputId
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
    settings_for,
    slack_world,
    text_of,
    updates,
)
from tests.health_worlds import NOW, add_purchase, healthy, outage

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "C0PASSES"


@dataclass
class Clock:
    """A clock the test sets (the scheduler's periods)."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant += delta


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


def with_slack(world: dict[str, Any]) -> dict[str, Any]:
    """A health world with the Slack workspace of the bot tests (approvers, a user group)."""
    world["slack"] = slack_world()["slack"]
    return world


@asynccontextmanager
async def scheduled(
    box: Sandbox, db: Path, world: dict[str, Any], clock: Clock, **overrides: Any
) -> AsyncIterator[tuple[Bot, Scheduler]]:
    """The app on loopback and a scheduler posting to the channel through the Slack poster,
    sharing passbot's store and history."""
    async with running_bot(box, db, world, passbot_channel=CHANNEL, **overrides) as bot:
        assert bot.jobs is not None
        poster = slack_poster(bot.settings, bot.services, CHANNEL)
        async with scheduler_for(
            bot.settings, bot.services, poster, jobs=bot.jobs, clock=clock
        ) as scheduler:
            yield bot, scheduler


def main_posts(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages posted to the channel (not thread replies), as logged."""
    return [
        e
        for e in log
        if e["method"] == "chat.postMessage"
        and e["args"]["channel"] == CHANNEL
        and "thread_ts" not in e["args"]
    ]


def replies(log: list[dict[str, Any]], ts: str) -> list[dict[str, Any]]:
    """Thread replies to the message `ts`."""
    return [
        e["args"]
        for e in log
        if e["method"] == "chat.postMessage" and e["args"].get("thread_ts") == ts
    ]


def card_of(log: list[dict[str, Any]], entry: dict[str, Any]) -> Card:
    """A posted message as it stands now."""
    return messages(log)[(str(entry["args"]["channel"]), str(entry["ts"]))]


def button_index(card: Card, action_id: ActionId, session: str | None = None) -> int:
    """The position (as `Bot.press` counts) of a button, by action and purchase."""
    for n, (_, element) in enumerate(card.buttons()):
        if element["action_id"] == action_id and (session is None or session in element["value"]):
            return n
    raise AssertionError(f"no {action_id} button for {session}")


def findings_on(card: Card) -> list[dict[str, Any]]:
    """The finding sections of a card (those with "Not a problem" beside them)."""
    return [b for b in card.blocks if b.get("accessory", {}).get("action_id")]


def press_accessory_body(bot: Bot, card: Card, block: dict[str, Any], user: str) -> str:
    """A block_actions body pressing the button beside a section, as Slack sends it."""
    return bot.element_press_body(card, block["block_id"], block["accessory"], user=user)


def submission_body(bot: Bot, view: dict[str, Any], *, user: str, reason: str) -> str:
    """A view_submission of the "not a problem" form, as Slack sends it."""
    payload = {
        "type": "view_submission",
        "team": {"id": "T0SANDBOX", "domain": "passbot-sandbox"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
        "api_app_id": "A0PASSBOT",
        "token": "legacy-verification-token",
        "trigger_id": bot.trigger(),
        "view": {"id": "V0FORM", "type": "modal", "callback_id": view["callback_id"],
                 "private_metadata": view["private_metadata"], "hash": "h",
                 "state": {"values": {BlockId.DISMISS_REASON.value: {
                     InputId.DISMISS_REASON.value: {"type": "plain_text_input",
                                                    "value": reason}}}}},
        "response_urls": [],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def lost_world(count: int) -> tuple[dict[str, Any], list[str]]:
    """A healthy world plus `count` paid purchases hours old that never got their pass."""
    world = with_slack(healthy())
    sessions = [
        add_purchase(world, f"lost{n}", NOW - timedelta(hours=2 + n), fulfilled=False)
        for n in range(count)
    ]
    return world, sessions


async def subscriptions_of(bot: Bot, session: str) -> list[dict[str, Any]]:
    docs = await bot.documents()
    return [
        d
        for d in docs.values()
        if d.get("_type") == "subscription" and d.get("stripeSessionId") == session
    ]


# ----------------------------------------------------------------------------- the summary


async def test_the_summary_posts_once_per_period_with_its_buttons(
    box: Sandbox, tmp_path: Path
) -> None:
    world, lost = lost_world(3)
    clock = Clock(NOW)  # Saturday 09:00 in Oslo
    async with scheduled(box, tmp_path / "db", world, clock) as (bot, scheduler):
        assert (await scheduler.run(SUMMARY)).status == POSTED
        assert (await scheduler.run(SUMMARY)).status == ALREADY
        log = await bot.log()
        (post,) = main_posts(log)
        assert post["args"]["text"].startswith("Daily summary — Sat 28 Nov 2026: ")
        card = card_of(log, post)
        text = text_of(card.blocks)
        for shown in ("*Aurora Dance*", "fixed by passbot", "still open", "fulfilment",
                      "*Open findings* (3)"):  # fmt: skip
            assert shown in text, shown
        actions = [e["action_id"] for _, e in card.buttons()]
        assert actions.count(ActionId.FIX_ALL) == 1
        assert actions.count(ActionId.FIX_APPLY) == 3  # each open purchase with its button
        for session in lost:
            assert session in text
        assert len(findings_on(card)) == 3  # and "Not a problem" beside each
        (fix_all,) = [e for _, e in card.buttons() if e["action_id"] == ActionId.FIX_ALL]
        assert fix_all["text"]["text"] == "Fix all 3"
        assert OLA in fix_all["confirm"]["text"]["text"]

    # A restarted bot (same PASSBOT_DB) does not post the same period again; the next day does.
    async with scheduled(box, tmp_path / "db", lost_world(3)[0], clock) as (bot, scheduler):
        assert (await scheduler.run(SUMMARY)).status == ALREADY
        assert SUMMARY not in {o.job for o in await scheduler.catch_up()}
        clock.advance(timedelta(days=1))
        later = await scheduler.run(SUMMARY)
        assert (later.status, later.period) == (POSTED, "2026-11-29")
        daily = [p for p in main_posts(await bot.log()) if "Daily summary" in p["args"]["text"]]
        assert len(daily) == 1  # the catch-up posted the week's sweep and health, not this


async def test_a_summary_fix_button_creates_the_pass_once(box: Sandbox, tmp_path: Path) -> None:
    world, lost = lost_world(2)
    async with scheduled(box, tmp_path / "db", world, Clock(NOW)) as (bot, scheduler):
        await scheduler.run(SUMMARY)
        log = await bot.log()
        card = card_of(log, main_posts(log)[0])
        index = button_index(card, ActionId.FIX_APPLY, lost[0])
        await asyncio.gather(bot.press(card, button=index), bot.press(card, button=index))
        log = await bot.settle()
        (result,) = updates(log, "✅")
        assert result["text"] == "✅ Pass created — approved by <@U0APPROVER> at 09:00"
        (sub,) = await subscriptions_of(bot, lost[0])  # one subscription, not two
        assert sub["approvedBy"] == "U0APPROVER"
        assert await subscriptions_of(bot, lost[1]) == []
        (entry,) = bot.services.recent_audit(10)
        assert (entry.session, entry.source) == (lost[0], "slack")
        assert len(private(log)) == 1  # the second press is told, privately


async def test_fix_all_fixes_each_purchase_exactly_once(box: Sandbox, tmp_path: Path) -> None:
    world, lost = lost_world(3)
    async with scheduled(box, tmp_path / "db", world, Clock(NOW)) as (bot, scheduler):
        await scheduler.run(SUMMARY)
        log = await bot.log()
        post = main_posts(log)[0]
        card = card_of(log, post)
        # One purchase is approved on its own first; then "Fix all" is double-clicked.
        await bot.press(card, button=button_index(card, ActionId.FIX_APPLY, lost[1]))
        await bot.wait_for(lambda log: updates(log, "✅"))
        fix_all = button_index(card, ActionId.FIX_ALL)
        await asyncio.gather(bot.press(card, button=fix_all), bot.press(card, button=fix_all))
        log = await bot.settle()
        for session in lost:
            assert len(await subscriptions_of(bot, session)) == 1, session
        assert sorted(e.session for e in bot.services.recent_audit(10)) == sorted(lost)
        (told,) = private(log)  # the second click
        assert "applying this fix right now" in told["text"] or "Already applied" in told["text"]
        (summed,) = updates(log, "✅ Fix all")
        assert "2 fixed, 1 already fixed" in summed["text"]
        note = text_of(summed["blocks"])
        assert note.count("✅ Pass created — approved by <@U0APPROVER>") == 2
        assert note.count("✅ Already applied by <@U0APPROVER>") == 1
        assert not [b for b in summed["blocks"] if b["type"] == "actions"]  # nothing to press
        (report,) = replies(log, post["ts"])
        for session in lost:
            assert session in text_of(report["blocks"])
        outcomes = [p.outcome for p in bot.store.presses()]
        assert outcomes.count("applied") == 3


async def test_fix_all_leaves_a_purchase_dismissed_as_not_a_problem_alone(
    box: Sandbox, tmp_path: Path
) -> None:
    world, lost = lost_world(3)
    async with scheduled(box, tmp_path / "db", world, Clock(NOW)) as (bot, scheduler):
        await scheduler.run(SUMMARY)
        log = await bot.log()
        post = main_posts(log)[0]
        card = card_of(log, post)
        (finding,) = [b for b in findings_on(card) if lost[0] in json.dumps(b)]
        await bot.send(press_accessory_body(bot, card, finding, "U0APPROVER"))
        (view,) = await bot.wait_for(
            lambda log: [e["args"]["view"] for e in log if e["method"] == "views.open"]
        )
        await bot.send(submission_body(bot, view, user="U0APPROVER", reason="a test purchase"))
        await bot.wait_for(lambda log: updates(log, "🙈"))
        card = card_of(await bot.log(), post)  # the summary as it stands now
        assert not [e for _, e in card.buttons() if lost[0] in e["value"]]  # its fix went too
        await bot.press(card, button=button_index(card, ActionId.FIX_ALL))
        (summed,) = await bot.wait_for(lambda log: updates(log, "✅ Fix all"))
        assert "2 fixed, 1 dismissed as not a problem" in summed["text"]
        assert await subscriptions_of(bot, lost[0]) == []
        for session in lost[1:]:
            assert len(await subscriptions_of(bot, session)) == 1


async def test_the_summary_reports_each_automatic_fix(box: Sandbox, tmp_path: Path) -> None:
    world, lost = lost_world(1)
    async with scheduled(box, tmp_path / "db", world, Clock(NOW), passbot_autofix=True) as (
        bot,
        scheduler,
    ):
        await scheduler.run(SUMMARY)
        log = await bot.log()
        card = card_of(log, main_posts(log)[0])
        text = text_of(card.blocks)
        assert "*Fixed automatically* (PASSBOT_AUTOFIX, each audited): 1" in text
        (entry,) = bot.services.recent_audit(10)
        assert f"🤖 `{lost[0]}` → created `subscription-{lost[0]}` (audit #{entry.id})" in text
        assert "✅ Nothing open" in text
        assert [b for b in card.buttons() if b[1]["action_id"] == ActionId.FIX_APPLY] == []


# ----------------------------------------------------------------------------- early warning


async def test_the_early_warning_posts_a_fresh_unfulfilled_purchase_with_its_button(
    box: Sandbox, tmp_path: Path
) -> None:
    world = with_slack(healthy())
    fresh = add_purchase(world, "fresh", NOW - timedelta(minutes=30), fulfilled=False)
    done = add_purchase(world, "done", NOW - timedelta(minutes=25), fulfilled=True)
    clock = Clock(NOW)
    async with scheduled(box, tmp_path / "db", world, clock) as (bot, scheduler):
        assert (await scheduler.run(EARLY_WARNING)).status == POSTED
        log = await bot.log()
        (post,) = main_posts(log)
        assert (
            post["args"]["text"] == "Early warning: 1 paid purchase 15–75 minutes old with no pass"
        )
        card = card_of(log, post)
        assert fresh in text_of(card.blocks)
        assert done not in text_of(card.blocks)
        await bot.press(card, button=button_index(card, ActionId.FIX_APPLY, fresh))
        await bot.wait_for(lambda log: updates(log, "✅"))
        assert len(await subscriptions_of(bot, fresh)) == 1
        clock.advance(timedelta(minutes=15))  # the next scan: nothing new
        assert (await scheduler.run(EARLY_WARNING)).status == NOTHING
        assert len(main_posts(await bot.settle())) == 1


async def test_the_early_warning_says_nothing_for_a_fulfilled_purchase(
    box: Sandbox, tmp_path: Path
) -> None:
    world = with_slack(healthy())
    add_purchase(world, "done", NOW - timedelta(minutes=25), fulfilled=True)
    async with scheduled(box, tmp_path / "db", world, Clock(NOW)) as (bot, scheduler):
        assert (await scheduler.run(EARLY_WARNING)).status == NOTHING
        assert main_posts(await bot.log()) == []


async def test_an_outage_warns_once_with_fix_all_and_health_names_the_cause(
    box: Sandbox, tmp_path: Path
) -> None:
    async with scheduled(box, tmp_path / "db", with_slack(outage()), Clock(NOW)) as (bot, sch):
        assert (await sch.run(EARLY_WARNING)).status == POSTED
        log = await bot.log()
        card = card_of(log, main_posts(log)[0])
        text = text_of(card.blocks)
        assert "This looks like a webhook outage" in text
        assert next(e["text"]["text"] for _, e in card.buttons()) == "Fix all 3"
        await bot.command("", command="/passhealth")
        (report,) = await bot.wait_for(lambda log: updates(log, "passbot health"))
        assert report["text"].startswith("passbot health — 2 of 12 checks failed")
        shown = text_of(report["blocks"])
        assert "❌ *webhook_deliveries* (critical)" in shown
        assert "❌ *webhook_log_errors* (critical)" in shown
        assert "signature_verification_failed" in shown
        assert "✅ *webhook_probe*" in shown


# ----------------------------------------------------------------------------- the commands


async def test_passhealth_shows_every_check_passing_on_a_healthy_world(
    box: Sandbox, tmp_path: Path
) -> None:
    async with running_bot(box, tmp_path / "db", with_slack(healthy())) as bot:
        await bot.command("", command="/passhealth")
        (report,) = await bot.wait_for(lambda log: updates(log, "passbot health"))
        assert report["text"] == "passbot health — all 12 checks passed"
        assert text_of(report["blocks"]).count("✅ *") == 12


async def test_the_monthly_health_check_posts_to_the_channel(box: Sandbox, tmp_path: Path) -> None:
    world = with_slack(healthy())
    world["stripe"]["events"][0]["delivery_success"] = False
    async with scheduled(box, tmp_path / "db", world, Clock(NOW)) as (bot, scheduler):
        assert (await scheduler.run("health")).status == POSTED
        (post,) = main_posts(await bot.log())
        assert post["args"]["text"].startswith("passbot health — 1 of 12 checks failed")
        assert "❌ *webhook_deliveries*" in text_of(post["args"]["blocks"])


async def test_not_a_problem_is_asked_why_recorded_shown_and_counted(
    box: Sandbox, tmp_path: Path
) -> None:
    async with running_bot(box, tmp_path / "db") as bot:
        await bot.command(OLA)  # a customer report
        card = await bot.card()
        (finding,) = findings_on(card)
        assert finding["accessory"]["text"]["text"] == "Not a problem"
        answer = await bot.send(press_accessory_body(bot, card, finding, "U0APPROVER"))
        assert answer.status_code == 200
        opened = await bot.wait_for(
            lambda log: [e["args"]["view"] for e in log if e["method"] == "views.open"]
        )
        (view,) = opened
        assert view["callback_id"] == CallbackId.DISMISS
        assert "missing_pass" in text_of(view["blocks"])

        empty = await bot.send(submission_body(bot, view, user="U0APPROVER", reason="   "))
        assert empty.json()["response_action"] == "errors"  # the form says why, stays open

        reason = "the school gave Ola a pass by hand"
        done = await bot.send(submission_body(bot, view, user="U0APPROVER", reason=reason))
        assert (done.status_code, done.text) == (200, "")
        (shown,) = await bot.wait_for(lambda log: updates(log, "🙈"))
        assert shown["text"].startswith("🙈 Not a problem — dismissed by <@U0APPROVER> at 09:00")
        assert reason in shown["text"]
        assert not [b for b in shown["blocks"] if b["type"] == "actions"]  # no fix any more
        assert not [b for b in shown["blocks"] if "accessory" in b]
        assert OLA_DOC not in await bot.documents()

        assert bot.jobs is not None
        history = bot.jobs.history
        assert isinstance(history, SqlHistory)
        (record,) = [r for r in history.records() if r.session == OLA_SESSION]
        assert (record.dismissed_by, record.dismiss_reason) == ("U0APPROVER", reason)

        await bot.command("", command="/passstats")
        (stats,) = await bot.wait_for(lambda log: updates(log, "passbot stats"))
        text = text_of(stats["blocks"])
        assert "*False positives*\\n*1* of 1 findings dismissed as not a problem (100.0%)" in text
        assert f"“{reason}” ×1" in text
        assert "*Customer reports*\\n*0.25* per week" in text  # one /fixpass in four weeks
        assert "*Webhook fulfilment*\\n*1 of 1* paid purchases" in text  # Emil's

        sweep = await bot.jobs.summary(weekly=True)
        assert sweep.still_open == 0  # dismissed: no longer open in the summaries


@pytest.mark.parametrize("forgotten", [False, True], ids=["kept", "forgotten"])
async def test_a_dismissal_after_a_restart_updates_the_card_or_says_it_in_the_thread(
    box: Sandbox, tmp_path: Path, forgotten: bool
) -> None:
    async with running_bot(box, tmp_path / "db") as bot:
        await bot.command(OLA)
        card = await bot.card()
        (finding,) = findings_on(card)
        await bot.send(press_accessory_body(bot, card, finding, "U0APPROVER"))
        (view,) = await bot.wait_for(
            lambda log: [e["args"]["view"] for e in log if e["method"] == "views.open"]
        )
    if forgotten:  # the card's blocks gone from PASSBOT_DB (kept a week)
        db = open_database(str(tmp_path / "db"))
        db.execute("DELETE FROM card_state")
        db.close()
    async with running_bot(box, tmp_path / "db") as again:  # not in its process's memory
        await again.send(submission_body(again, view, user="U0APPROVER", reason="a test buyer"))
        if forgotten:
            (note,) = await again.wait_for(
                lambda log: [e["args"] for e in log if e["args"].get("thread_ts") == card.ts]
            )
        else:  # the card's latest blocks are in PASSBOT_DB: the card itself says so
            (note,) = await again.wait_for(
                lambda log: [u for u in updates(log, "🙈") if u.get("ts") == card.ts]
            )
        assert note["text"].startswith("🙈 Not a problem — dismissed by <@U0APPROVER>")


# ----------------------------------------------------------------------------- passbot serve


@pytest.mark.parametrize("http", [True, False], ids=["http", "socket-mode"])
async def test_serve_runs_the_scheduler_at_start_and_posts_once_across_a_restart(
    box: Sandbox, tmp_path: Path, http: bool
) -> None:
    world = slack_world()  # Saturday 09:00: today's summary, this week's sweep, this month's health
    await box.replace_world(world)
    settings = settings_for(box, tmp_path / "db", passbot_channel=CHANNEL)

    async def serve_until_caught_up() -> list[str]:
        lines: list[str] = []
        caught_up = asyncio.Event()
        stop = asyncio.Event()

        def announce(line: str) -> None:
            lines.append(line)
            if line.startswith("scheduler caught up"):
                caught_up.set()

        async with build_services(settings) as services:
            task = asyncio.create_task(
                run_serve(settings, services, http=http, host="127.0.0.1", port=0, stop=stop,
                          announce=announce)
            )  # fmt: skip
            async with asyncio.timeout(60):
                await caught_up.wait()
            stop.set()
            assert await task == 0
        return lines

    first = await serve_until_caught_up()
    caught = next(line for line in first if line.startswith("scheduler caught up"))
    assert f"{SWEEP} 2026-W48 posted" in caught
    assert f"{SUMMARY} 2026-11-28 posted" in caught
    assert "health 2026-11 posted" in caught
    assert f"{EARLY_WARNING} 2026-11-28T09:00 nothing to post" in caught
    posts = main_posts((await box.dump_world())["slack"]["log"])
    assert [p["args"]["text"].split(" — ")[0] for p in posts] == [
        "Weekly sweep", "Daily summary", "passbot health"
    ]  # fmt: skip

    again = await serve_until_caught_up()  # a restart: every period already ran
    assert "scheduler caught up: every job's latest period had run" in again
    log = (await box.dump_world())["slack"]["log"]
    assert main_posts(log) == posts
    assert [e["method"] for e in log].count("auth.test") == 2


async def test_serve_without_a_channel_runs_without_the_scheduler(
    box: Sandbox, tmp_path: Path
) -> None:
    await box.replace_world(slack_world())
    settings = settings_for(box, tmp_path / "db")
    lines: list[str] = []
    stop = asyncio.Event()
    stop.set()  # stops as soon as it has started
    async with build_services(settings) as services:
        code = await run_serve(
            settings, services, http=True, host="127.0.0.1", port=0, stop=stop,
            announce=lines.append,
        )  # fmt: skip
    assert code == 0
    assert any("PASSBOT_CHANNEL is not set: the scheduler is off" in line for line in lines)
    assert main_posts((await box.dump_world())["slack"]["log"]) == []
