"""Approve on the App Home: the same claim, re-derivation and audited write as on a card; the
tab is published again with the result on top (a Home press has no message and no response_url
to answer on)."""

from __future__ import annotations

from datetime import tzinfo

from slack_sdk.web.async_client import AsyncWebClient

from core.domain.approval import Approval
from core.usecases.approvals import Approvals
from core.usecases.home import mark_fixed
from core.usecases.jobs import Jobs
from handlers.blocks.fix import build_claim_lost, result_line
from handlers.events.home import Homes
from handlers.messages import user_email


async def approve_on_home(
    client: AsyncWebClient,
    approval: Approval,
    *,
    approvals: Approvals,
    homes: Homes,
    jobs: Jobs,
    approvers: frozenset[str],
    tz: tzinfo,
) -> None:
    """Claim and apply the fix a Home button names; every open Home tab shows the result."""
    homes.opened(approval.approver)
    claim = approvals.claim(approval)
    email = await user_email(client, approval.approver)
    if not claim.won:  # a double click, a second approver
        approvals.record(approval.by(email), claim.outcome)
        lost = build_claim_lost(claim, tz=tz)["text"]
        await homes.show(client, approval.approver, jobs=jobs, approvers=approvers, tz=tz,
                         approvals=approvals, notice=lost)  # fmt: skip
        return
    applied = await approvals.apply(approval.by(email), claim)
    mark_fixed(jobs.history, applied.outcome.plan.resolves, at=applied.at, by=approval.approver)
    notice = f"{result_line(applied, tz)} · {applied.outcome.session}"
    await homes.refresh(client, jobs=jobs, approvers=approvers, tz=tz, approvals=approvals,
                        notice=notice)  # fmt: skip
