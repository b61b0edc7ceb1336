"""/passhealth: the health check now (webhook and configuration), on a card."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UsageError
from core.usecases.jobs import Jobs
from handlers.blocks.errors import build_looking
from handlers.blocks.health import build_health_card
from handlers.messages import CARD_KEY, post, update
from handlers.payloads import CommandPayload


def scheduled(jobs: Jobs | None) -> Jobs:
    """The scheduled jobs' use cases, which `/passhealth` and `/passstats` share.

    Raises:
        UsageError: this app was built without them.
    """
    if jobs is None:
        raise UsageError("this passbot runs without its scheduler's history; use `passbot serve`")
    return jobs


async def handle_passhealth_command(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    jobs: Jobs | None,
    tz: tzinfo,
) -> None:
    """Ack at once; post "checking…"; replace it with every check, failures first."""
    asked = CommandPayload.model_validate(command)
    await ack()
    health = scheduled(jobs)
    looking = build_looking(
        "Checking the webhook and the configuration…", requested_by=asked.user_id
    )
    card = context[CARD_KEY] = await post(client, asked.channel_id, looking)
    report = await health.health()
    await update(client, card, build_health_card(report, tz=tz))
