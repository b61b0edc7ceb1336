"""Slack's own faults, end to end: a rate-limited Web API call is waited out (its `Retry-After`)
and retried, so the card still arrives; a wait longer than passbot accepts is not waited, and
the failure is named to the person instead."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import MAX_SLACK_RETRY_AFTER
from sandbox import Sandbox, start_sandbox
from tests.e2e.slackbot import OLA, OLA_SESSION, private, running_bot, slack_world, text_of

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


def rate_limited(path: str, retry_after: int) -> dict:
    world = slack_world()
    world["faults"] = [
        {"service": "slack", "path": path, "status": 429, "retry_after": retry_after, "count": 1}
    ]
    return world


async def test_a_rate_limited_post_is_waited_out_and_the_card_arrives(
    box: Sandbox, tmp_path: Path
) -> None:
    world = rate_limited("/api/chat.postMessage", 1)
    async with running_bot(box, tmp_path / "db", world) as bot:
        started = time.monotonic()
        answer = await bot.command(OLA)
        assert (answer.status_code, answer.text) == (200, "")  # the ack does not wait
        card = await bot.card()
        assert time.monotonic() - started >= 1  # Retry-After: 1 was honoured
        assert OLA_SESSION in text_of(card.blocks)
        log = await bot.settle()
        posts = [e for e in log if e["method"] == "chat.postMessage"]
        assert posts[0]["args"]["text"].startswith("🔎 Looking up")  # sent once it was let in
        assert card.ts == posts[0]["ts"]
        assert private(log) == []  # nobody was told of a failure
        assert not [e for e in log if str(e["args"].get("text", "")).startswith("⚠️")]
        world_now = await box.dump_world()
        assert world_now["requests"]["slack"]["POST /api/chat.postMessage"] == len(posts) + 1
        assert world_now["faults"][0]["count"] == 0


async def test_a_rate_limited_update_is_waited_out_too(box: Sandbox, tmp_path: Path) -> None:
    world = rate_limited("/api/chat.update", 1)
    async with running_bot(box, tmp_path / "db", world) as bot:
        await bot.command(OLA)
        card = await bot.card()
        assert card.buttons()
        log = await bot.settle()
        assert private(log) == []
        assert (await box.dump_world())["faults"][0]["count"] == 0


async def test_a_retry_after_too_long_to_wait_is_named_not_waited(
    box: Sandbox, tmp_path: Path
) -> None:
    world = rate_limited("/api/chat.postMessage", MAX_SLACK_RETRY_AFTER + 1)
    async with running_bot(box, tmp_path / "db", world) as bot:
        answer = await bot.command(OLA)
        # Acknowledged, although the listener failed a moment later (Bolt would otherwise have
        # unset the ack and answered 404 "unhandled request": bot.middleware.KeptAck).
        assert (answer.status_code, answer.text) == (200, "")
        # Told at once, not after waiting out a Retry-After longer than passbot waits (the
        # sandbox's Retry-After is MAX_SLACK_RETRY_AFTER + 1 seconds; wait_for gives up sooner).
        (told,) = await bot.wait_for(private)
        assert told["text"].startswith("⚠️ Slack failed — nothing was written"), told["text"]
        assert "ratelimited" in told["text"]
        log = await bot.settle()
        assert [e for e in log if e["method"] == "chat.postMessage"] == []
