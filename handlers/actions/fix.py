"""The approve buttons of a diagnosis card. Who may press them is checked by middleware."""

from __future__ import annotations

import asyncio
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
from handlers.events.home import Homes
from handlers.messages import replace_card, show_on_card, tell, user_email
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


async def handle_fix_apply_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    approvals: Approvals,
    tz: tzinfo,
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
    applying = build_card_applying(press.blocks, block_id, approver=approval.approver)
    email, _ = await asyncio.gather(
        user_email(client, approval.approver), show_on_card(client, respond, press, applying)
    )
    applied = await approvals.apply(approval.by(email), claim)
    result = build_card_result(press.blocks, block_id, applied, tz=tz)
    await replace_card(client, respond, press, result)
    if homes is not None and jobs is not None:
        mark_fixed(jobs.history, applied.outcome.plan.resolves, at=applied.at, by=approval.approver)
        await homes.refresh(client, jobs=jobs, approvers=approvers, tz=tz, approvals=approvals)
