"""/passcheck [days]: a reconciliation now, summarised on a card."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UsageError
from core.usecases.approvals import Approvals
from core.usecases.jobs import Jobs
from core.usecases.services import Services
from handlers.blocks.check import build_check_report
from handlers.blocks.errors import build_looking
from handlers.blocks.summary import FIX_ALL_MAX, finding_order
from handlers.ids import Command
from handlers.messages import CARD_KEY, post, update
from handlers.payloads import CommandPayload, parse_days


async def handle_passcheck_command(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    services: Services,
    approvals: Approvals,
    jobs: Jobs | None,
) -> None:
    """Ack at once; post "reconciling…"; replace it with the report, each finding with the
    summary's buttons (its fix proposed now); the rest in the thread."""
    asked = CommandPayload.model_validate(command)
    try:
        days = parse_days(asked.text, command=Command.PASSCHECK)
    except UsageError as err:  # one line, nothing else
        await ack(text=str(err))
        return
    await ack()
    looking = build_looking(
        f"Reconciling the last {days or services.lookback_days} days…", requested_by=asked.user_id
    )
    card = context[CARD_KEY] = await post(client, asked.channel_id, looking)
    report, catalogue = await asyncio.gather(
        services.check(days=days, actor=asked.user_id), services.catalogue()
    )
    schools = {t.id: t.name for t in catalogue.tenants}
    dismissed = jobs.history.dismissed_keys() if jobs is not None else frozenset()
    shown = sorted((f for f in report.findings if f.key not in dismissed), key=finding_order)
    offers = await approvals.propose(shown, requested_by=asked.user_id, limit=FIX_ALL_MAX)
    result, details = build_check_report(report, mode=services.payments.mode, schools=schools,
                                         offers=offers, dismissed=dismissed)  # fmt: skip
    await update(client, card, result)
    for reply in details:
        await post(client, card.channel, reply, thread_ts=card.ts)
