"""The approve buttons of a diagnosis card. Who may press them is checked by middleware."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.domain.approval import Approval
from core.usecases.approvals import Approvals
from core.usecases.home import mark_fixed
from core.usecases.jobs import Jobs
from handlers.actions.home_approve import approve_on_home
from handlers.blocks.fix import build_card_applying, build_card_result, build_claim_lost
from handlers.blocks.kit import Block, Message
from handlers.cards import CardMemory
from handlers.events.home import Homes
from handlers.messages import Respond, replace_card, show_on_card, tell, user_email
from handlers.payloads import ActionPayload, FixButtonValue


def approval_of(press: ActionPayload) -> Approval:
    """What a press asks for: the proposal its button names, approved by the presser."""
    value = FixButtonValue.decode(press.action.value)
    return Approval(
        proposal=value.proposal,
        session=value.session,
        alternative=value.alternative,
        plan_hash=value.plan_hash,
        approver=press.user.id,
    )


async def revise_card(
    client: AsyncWebClient,
    respond: Respond,
    press: ActionPayload,
    cards: CardMemory | None,
    make: Callable[[Sequence[Block]], Message],
    *,
    best_effort: bool = False,
) -> None:
    """Update the card a button was pressed on, one press at a time, from its latest blocks
    (kept in PASSBOT_DB, which replicas share, else the press's): two presses of different
    fixes on one card each keep the other's status line, on one replica or two."""
    if cards is None or not (press.channel and press.ts):
        msg = make(press.blocks)
        await (show_on_card if best_effort else replace_card)(client, respond, press, msg)
        return
    async with cards.lock(press.channel, press.ts):
        latest = cards.recall(press.channel, press.ts) or press.blocks
        msg = make(latest)
        await (show_on_card if best_effort else replace_card)(client, respond, press, msg)
        cards.remember(press.channel, press.ts, msg["blocks"])


async def handle_fix_apply_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    approvals: Approvals,
    tz: tzinfo,
    cards: CardMemory | None = None,
    homes: Homes | None = None,
    jobs: Jobs | None = None,
    approvers: frozenset[str] = frozenset(),
) -> None:
    """Claim the fix, strip its buttons at once, re-derive and apply it, and show the result;
    the findings it resolved leave the App Home at once."""
    await ack()
    press = ActionPayload.from_body(body)
    approval = approval_of(press)
    if press.container.type == "view" and homes is not None and jobs is not None:
        await approve_on_home(client, approval, approvals=approvals, homes=homes, jobs=jobs,
                              approvers=approvers, tz=tz)  # fmt: skip
        return
    claim = approvals.claim(approval)
    if not claim.won:  # a double click, a second approver, a redelivery
        approvals.record(approval.by(await user_email(client, approval.approver)), claim.outcome)
        await tell(respond, build_claim_lost(claim, tz=tz))
        return
    block_id = press.action.block_id

    def applying(blocks: Sequence[Block]) -> Message:
        return build_card_applying(blocks, block_id, approver=approval.approver)

    email, _ = await asyncio.gather(
        user_email(client, approval.approver),
        revise_card(client, respond, press, cards, applying, best_effort=True),
    )
    applied = await approvals.apply(approval.by(email), claim)

    def result(blocks: Sequence[Block]) -> Message:
        return build_card_result(blocks, block_id, applied, tz=tz)

    await revise_card(client, respond, press, cards, result)
    if homes is not None and jobs is not None:
        mark_fixed(jobs.history, applied.outcome.plan.resolves, at=applied.at, by=approval.approver)
        await homes.refresh(client, jobs=jobs, approvers=approvers, tz=tz, approvals=approvals)
