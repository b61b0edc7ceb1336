"""The "why is this not a problem?" form, submitted: the dismissal recorded with who and why, and
the card saying so (or, when PASSBOT_DB no longer keeps the card, a reply in its thread)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import NotFoundError, UsageError
from core.usecases.approvals import Approvals
from core.usecases.feedback import Dismissal, Feedback
from core.usecases.jobs import Jobs
from handlers.blocks.finding import build_card_dismissed, build_dismissed_note
from handlers.cards import CardMemory
from handlers.events.home import Homes
from handlers.ids import BlockId, InputId
from handlers.messages import Card, post, update
from handlers.payloads import DismissMeta, ViewSubmission


def _dismiss(body: dict[str, Any], feedback: Feedback | None) -> tuple[Dismissal, DismissMeta]:
    submitted = ViewSubmission.from_body(body)
    meta = DismissMeta.decode(submitted.view.private_metadata)
    if feedback is None:
        raise UsageError("this passbot keeps no finding history; use `passbot serve`")
    reason = submitted.view.text(BlockId.DISMISS_REASON, InputId.DISMISS_REASON)
    return feedback.dismiss(meta.key, reason=reason, by=submitted.user.id), meta


async def handle_dismiss_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    feedback: Feedback | None,
    cards: CardMemory,
    tz: tzinfo,
    homes: Homes | None = None,
    jobs: Jobs | None = None,
    approvers: frozenset[str] = frozenset(),
    approvals: Approvals | None = None,
) -> None:
    """Record the dismissal (the form shows why it could not be), then update the card and the
    App Home of whoever has it open."""
    try:
        dismissal, meta = _dismiss(body, feedback)
    except (UsageError, NotFoundError) as err:  # said in the form, which stays open
        await ack(response_action="errors", errors={BlockId.DISMISS_REASON: str(err)})
        return
    await ack()
    if homes is not None:
        await homes.refresh(client, jobs=jobs, approvers=approvers, tz=tz, approvals=approvals)
    if not (meta.channel and meta.ts):
        return
    blocks = cards.recall(meta.channel, meta.ts)
    if blocks is None:
        note = build_dismissed_note(dismissal, tz=tz)
        await post(client, meta.channel, note, thread_ts=meta.ts)
        return
    card = build_card_dismissed(blocks, meta.block_id, dismissal, fix=meta.fix, tz=tz)
    await update(client, Card(meta.channel, meta.ts), card)
    cards.remember(meta.channel, meta.ts, card["blocks"])
