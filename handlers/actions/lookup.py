"""The buttons around a lookup: "Show" on a pick-list entry (the card replaces the list) and
"Share to channel" on a private card (everyone in the conversation sees it)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.domain.links import Links
from core.usecases.approvals import Approvals
from core.usecases.diagnose import parse_email
from core.usecases.feedback import Feedback
from handlers.blocks.diagnose import build_diagnosis
from handlers.blocks.kit import context as context_block
from handlers.blocks.kit import escape, message
from handlers.commands.fixpass import show_customer
from handlers.messages import CARD_KEY, Card, share
from handlers.payloads import ActionPayload
from handlers.surface import Surface


async def handle_lookup_pick_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
    approvals: Approvals,
    feedback: Feedback | None,
    tz: tzinfo,
    links: Links,
) -> None:
    """Show the picked customer's card in place of the pick-list."""
    await ack()
    press = ActionPayload.from_body(body)
    email = parse_email(press.action.value or "")
    card = Card(press.channel, press.ts) if press.channel and press.ts else None
    if card is not None:
        context[CARD_KEY] = card
    surface = Surface(client, respond, card)
    await show_customer(surface, email, requested_by=press.user.id, approvals=approvals,
                        feedback=feedback, tz=tz, links=links)  # fmt: skip


async def handle_card_share_button(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    approvals: Approvals,
    tz: tzinfo,
    links: Links,
) -> None:
    """Post the customer's card, as it is now, for everyone in the conversation."""
    await ack()
    press = ActionPayload.from_body(body)
    email = parse_email(press.action.value or "")
    proposals = await approvals.diagnose(email, requested_by=press.user.id)
    card, _ = build_diagnosis(proposals, requested_by=press.user.id, tz=tz, links=links)
    note = context_block(f"shared by <@{escape(press.user.id)}>")
    await share(respond, message(card["text"], [*card["blocks"][:49], note]))
