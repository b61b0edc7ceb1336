"""/passstats: the metrics that show passbot works, over the last 28 days."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from core.usecases.jobs import Jobs
from handlers.blocks.errors import build_looking
from handlers.blocks.stats import build_stats
from handlers.commands.health import scheduled
from handlers.messages import CARD_KEY, post, update
from handlers.payloads import CommandPayload


async def handle_passstats_command(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    jobs: Jobs | None,
) -> None:
    """Ack at once; post "counting…"; replace it with the metrics."""
    asked = CommandPayload.model_validate(command)
    await ack()
    metrics_of = scheduled(jobs)
    looking = build_looking("Counting the last 28 days…", requested_by=asked.user_id)
    card = context[CARD_KEY] = await post(client, asked.channel_id, looking)
    metrics = await metrics_of.metrics()
    await update(client, card, build_stats(metrics))
