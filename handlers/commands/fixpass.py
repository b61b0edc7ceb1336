"""/fixpass QUERY: find the customer (an email, a Stripe, Sanity or Clerk id, or a name),
diagnose them and offer the fixes for approval; several customers found are listed to pick from.

Where passbot cannot post (a DM between people, a channel it is not in) the answer is private,
through the response_url, with a button to share the card with the channel.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.domain.links import Links
from core.domain.lookup import QueryKind, classify
from core.errors import UsageError
from core.usecases.approvals import Approvals
from core.usecases.diagnose import parse_email
from core.usecases.feedback import Feedback
from core.usecases.lookup import Lookup
from handlers.blocks.diagnose import build_diagnosis
from handlers.blocks.errors import build_looking, usage_line
from handlers.blocks.lookup import build_pick_list, with_share
from handlers.ids import Command
from handlers.payloads import CommandPayload
from handlers.surface import Surface


async def show_customer(
    surface: Surface,
    email: str,
    *,
    requested_by: str,
    approvals: Approvals,
    feedback: Feedback | None,
    tz: tzinfo,
    links: Links,
) -> None:
    """Diagnose one customer and show the card (with Share when private); details after it.
    Each one is a customer report (reports per week), its findings remembered."""
    if feedback is not None:
        feedback.report(email, source="slack")
    proposals = await approvals.diagnose(email, requested_by=requested_by)
    if feedback is not None:
        feedback.shown(proposals.diagnosis)
    card, details = build_diagnosis(proposals, requested_by=requested_by, tz=tz, links=links)
    await surface.show(with_share(card, email) if surface.private else card)
    await surface.details(details)


async def handle_fixpass_command(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
    approvals: Approvals,
    lookup: Lookup,
    feedback: Feedback | None,
    tz: tzinfo,
    links: Links,
) -> None:
    """Ack at once (one usage line for input that names nothing); post "looking…"; replace it
    with the card, or with a pick-list when several customers match."""
    asked = CommandPayload.model_validate(command)
    query = classify(asked.text)
    try:
        if query is None:
            got = asked.text.strip()
            shown = f", got {got[:57] + '…' if len(got) > 60 else got!r}" if got else ""
            raise UsageError(
                f"expected one email address, a Stripe, Sanity or Clerk id, or a name{shown}"
            )
        if query.kind is QueryKind.EMAIL:
            parse_email(query.value)
    except UsageError as err:  # one line, nothing else
        await ack(text=usage_line(Command.FIXPASS, str(err)))
        return
    await ack()
    looking = build_looking(f"Looking up {query.value}…", requested_by=asked.user_id)
    surface = await Surface.open(client, respond, asked.channel_id, looking, context)
    found = await lookup.find(query.value)
    if found.email is None:
        schools = {t.id: t.name for t in (await approvals.services.catalogue()).tenants}
        await surface.show(build_pick_list(found, requested_by=asked.user_id, schools=schools))
        return
    await show_customer(surface, found.email, requested_by=asked.user_id, approvals=approvals,
                        feedback=feedback, tz=tz, links=links)  # fmt: skip
