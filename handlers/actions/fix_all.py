"""The "Fix all N" button of a summary: every offered fix approved with one press and applied one
by one through the same approvals as its own button. Who may press it is checked by middleware."""

from __future__ import annotations

import asyncio
from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UsageError
from core.usecases.batch import FixAll
from handlers.blocks.errors import build_error
from handlers.blocks.fix import build_claim_lost
from handlers.blocks.summary import (
    build_fix_all_applying,
    build_fix_all_report,
    build_fix_all_result,
)
from handlers.messages import post, replace_card, show_on_card, tell, user_email
from handlers.payloads import ActionPayload, FixAllValue


async def handle_fix_all_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    fix_all: FixAll,
    tz: tzinfo,
) -> None:
    """Claim the batch, strip its button, apply each fix in turn, report each on the card and
    in the thread."""
    try:  # read before the ack: Bolt loses an ack followed at once by an error
        press = ActionPayload.from_body(body)
        proposals = FixAllValue.decode(press.action.value).proposals
    except UsageError as err:
        await ack()
        await tell(respond, build_error(str(err)))
        return
    await ack()
    approver = press.user.id
    claim = fix_all.claim(proposals, approver=approver)
    if not claim.won:  # a double click, a second approver, a redelivery
        await tell(respond, build_claim_lost(claim, tz=tz))
        return
    block_id = press.action.block_id
    applying = build_fix_all_applying(
        press.blocks, block_id, count=len(proposals), approver=approver
    )
    email, _ = await asyncio.gather(
        user_email(client, approver), show_on_card(client, respond, press, applying)
    )
    result = await fix_all.apply(proposals, claim, approver=approver, approver_email=email)
    await replace_card(
        client, respond, press, build_fix_all_result(press.blocks, block_id, result, tz=tz)
    )
    if press.channel and press.ts:
        for reply in build_fix_all_report(result, tz=tz):
            await post(client, press.channel, reply, thread_ts=press.ts)
