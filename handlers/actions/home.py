""" "Open its card" on the App Home: the finding's customer card, posted in the person's DM with
passbot (where Approve and Not a problem work as on any card)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.domain.links import Links
from core.errors import NotFoundError
from core.usecases.approvals import Approvals
from core.usecases.feedback import Feedback
from core.usecases.lookup import Lookup
from handlers.blocks.errors import build_looking
from handlers.commands.fixpass import show_customer
from handlers.messages import open_dm
from handlers.payloads import ActionPayload
from handlers.surface import Surface


async def handle_home_open_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
    approvals: Approvals,
    lookup: Lookup,
    feedback: Feedback | None,
    tz: tzinfo,
    links: Links,
) -> None:
    """Find the purchase's customer and post their card in the presser's DM."""
    await ack()
    press = ActionPayload.from_body(body)
    user = press.user.id
    session = press.action.value or ""
    channel = await open_dm(client, user)
    looking = build_looking(f"Looking up {session}…", requested_by=user)
    surface = await Surface.open(client, respond, channel, looking, context)
    found = await lookup.find(session)
    if found.email is None:
        raise NotFoundError(f"{session} has no single customer; use /fixpass")
    await show_customer(surface, found.email, requested_by=user, approvals=approvals,
                        feedback=feedback, tz=tz, links=links)  # fmt: skip
