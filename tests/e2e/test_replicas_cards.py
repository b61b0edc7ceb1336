"""Two `passbot serve --http` replicas on one PostgreSQL (issue 11, "Concurrent presses"): two
approvers press two different fixes of ONE card at the same moment, one press landing on each
replica; the card as Slack finally shows it (the last chat.update of its ts in the sandbox's
Slack log) keeps both status lines, because the card's latest blocks and its one-press-at-a-time
lease live in the shared database, not in either process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio

from core.adapters.store import open_store
from handlers.ids import ActionId
from sandbox import Sandbox, start_sandbox
from sandbox.postgres import LocalPostgres
from tests.e2e.slackbot import Bot, settings_for, slack_world
from tests.e2e.test_replicas import environment, poll, running_replicas
from tests.e2e.test_slack_schedule import button_index, card_of, lost_world, main_posts

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


def _updates_of(log: list[dict[str, Any]], ts: str) -> list[dict[str, Any]]:
    return [e["args"] for e in log if e["method"] == "chat.update" and e["args"]["ts"] == ts]


async def test_two_fixes_of_one_card_pressed_on_two_replicas_keep_both_status_lines(
    box: Sandbox, postgres: LocalPostgres, tmp_path: Path
) -> None:
    world, lost = lost_world(2)
    await box.replace_world(world)
    db = postgres.create_database("replica_cards")
    env = environment(box, db)
    async with running_replicas(env, tmp_path) as replicas:
        for replica in replicas:
            await replica.said("scheduler caught up")
        log = (await box.dump_world())["slack"]["log"]
        summary = next(p for p in main_posts(log) if p["args"]["text"].startswith("Daily summary"))
        card = card_of(log, summary)
        settings = settings_for(box, tmp_path / "unused.db")
        assert settings.slack_signing_secret is not None
        secret = settings.slack_signing_secret.get_secret_value()
        async with httpx.AsyncClient(timeout=60) as http:
            bots = [
                Bot(box, r.url, http, settings, cast(Any, None), secret, cast(Any, None))
                for r in replicas
            ]
            # One fix on each replica, by two approvers, at the same moment.
            bodies = [
                bots[0].press_body(
                    card, button=button_index(card, ActionId.FIX_APPLY, lost[0]), user="U0APPROVER"
                ),
                bots[1].press_body(
                    card, button=button_index(card, ActionId.FIX_APPLY, lost[1]), user="U0SECOND"
                ),
            ]
            answers = await asyncio.gather(bots[0].send(bodies[0]), bots[1].send(bodies[1]))
            assert [a.status_code for a in answers] == [200, 200]

        async def results() -> list[dict[str, Any]]:
            log = (await box.dump_world())["slack"]["log"]
            return _updates_of(log, card.ts)

        done: list[dict[str, Any]] = []

        def both_shown() -> bool:  # each replica's last update: its result, "✅ …"
            return sum(str(u.get("text", "")).startswith("✅") for u in done) >= 2

        deadline = asyncio.get_running_loop().time() + 90
        while not both_shown():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            done = await results()
            await asyncio.sleep(0.2)
        store = open_store(db)
        try:
            await poll(lambda: len(store.presses(10)) >= 2, timeout=30)
            assert sorted(p.outcome for p in store.presses(10)) == ["applied", "applied"]
        finally:
            store.close()
        final = str((await results())[-1]["blocks"])
        assert "approved by <@U0APPROVER>" in final, final
        assert "approved by <@U0SECOND>" in final, final
        assert "applying" not in final
