"""/fixpass EMAIL: diagnose one customer and offer the fixes for approval."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UsageError
from core.usecases.approvals import Approvals
from core.usecases.diagnose import parse_email
from core.usecases.feedback import Feedback
from handlers.blocks.diagnose import build_diagnosis
from handlers.blocks.errors import build_looking, usage_line
from handlers.ids import Command
from handlers.messages import CARD_KEY, post, update
from handlers.payloads import CommandPayload


async def handle_fixpass_command(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    approvals: Approvals,
    feedback: Feedback | None,
    tz: tzinfo,
) -> None:
    """Ack at once; post "looking…"; replace it with the diagnosis card; details in the thread.
    Each lookup is a customer report (reports per week), its findings remembered."""
    asked = CommandPayload.model_validate(command)
    try:
        email = parse_email(asked.text)
    except UsageError as err:  # one line, nothing else
        await ack(text=usage_line(Command.FIXPASS, str(err)))
        return
    await ack()
    if feedback is not None:
        feedback.report(email, source="slack")
    looking = build_looking(f"Looking up {email}…", requested_by=asked.user_id)
    card = context[CARD_KEY] = await post(client, asked.channel_id, looking)
    proposals = await approvals.diagnose(email, requested_by=asked.user_id)
    if feedback is not None:
        feedback.shown(proposals.diagnosis)
    result, details = build_diagnosis(proposals, requested_by=asked.user_id, tz=tz)
    await update(client, card, result)
    for reply in details:
        await post(client, card.channel, reply, thread_ts=card.ts)
