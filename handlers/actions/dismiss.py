"""The "Not a problem" button of a finding: it opens a form asking why (the submission is
handled in handlers/views)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UsageError
from handlers.blocks.errors import build_error
from handlers.blocks.finding import build_dismiss_modal, section_text
from handlers.cards import CardMemory
from handlers.messages import open_view, tell
from handlers.payloads import ActionPayload, DismissMeta, DismissValue


async def handle_finding_dismiss_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    cards: CardMemory,
) -> None:
    """Open "why is this not a problem?" for the finding the button is beside."""
    try:  # read before the ack: Bolt loses an ack followed at once by an error
        press = ActionPayload.from_body(body)
        value = DismissValue.decode(press.action.value)
    except UsageError as err:
        await ack()
        await tell(respond, build_error(str(err)))
        return
    await ack()
    if press.channel and press.ts and press.blocks:
        cards.remember(press.channel, press.ts, press.blocks)
    block_id = press.action.block_id
    meta = DismissMeta.make(value, channel=press.channel, ts=press.ts, block_id=block_id)
    about = section_text(press.blocks, block_id) or f"`{value.key}`"
    await open_view(client, press.trigger_id, build_dismiss_modal(meta, about=about))
