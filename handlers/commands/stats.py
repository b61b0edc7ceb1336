"""/passstats: the metrics that show passbot works, over the last 28 days, and a chart of the
last 35 (the fulfilment rate, fixed by passbot, still open) uploaded beneath them."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from core.usecases.jobs import Jobs
from core.usecases.stats import stats_and_days
from handlers.blocks.errors import build_looking
from handlers.blocks.stats import build_stats
from handlers.chart import chart_title, render_chart
from handlers.commands.health import scheduled
from handlers.messages import CARD_KEY, post, update, upload_png
from handlers.payloads import CommandPayload


async def handle_passstats_command(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    jobs: Jobs | None,
) -> None:
    """Ack at once; post "counting…"; replace it with the metrics; the chart in its thread."""
    asked = CommandPayload.model_validate(command)
    await ack()
    metrics_of = scheduled(jobs)
    looking = build_looking("Counting the last 28 days…", requested_by=asked.user_id)
    card = context[CARD_KEY] = await post(client, asked.channel_id, looking)
    metrics, days = await stats_and_days(metrics_of)
    await update(client, card, build_stats(metrics))
    png = render_chart(days, subtitle=f"passbot /passstats · days in {metrics_of.tz}")
    await upload_png(client, card.channel, png, filename="passbot-35-days.png",
                     title=chart_title(days), thread_ts=card.ts)  # fmt: skip
