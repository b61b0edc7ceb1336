"""/passaudit [email | @user | N days]: the fixes passbot applied, newest first, filtered, a page
at a time ("Next 20"), each linked to what it wrote — a private answer."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from core.domain.audit_filter import parse_audit_filter
from core.domain.links import Links
from core.errors import UsageError
from core.usecases.audit_view import audit_page
from core.usecases.services import Services
from handlers.blocks.audit import build_audit_page
from handlers.messages import replace_private, tell
from handlers.payloads import ActionPayload, AuditNextValue, CommandPayload


async def handle_passaudit_command(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    services: Services,
    tz: tzinfo,
    links: Links,
) -> None:
    """Ack at once (one usage line for a filter it cannot read); answer privately."""
    asked = CommandPayload.model_validate(command)
    try:
        parse_audit_filter(asked.text)
    except UsageError as err:
        await ack(text=str(err))
        return
    await ack()
    page = await audit_page(services, asked.text)
    await tell(respond, build_audit_page(page, tz=tz, links=links))


async def handle_audit_next_button(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    services: Services,
    tz: tzinfo,
    links: Links,
) -> None:
    """The next page, in place of the one shown."""
    await ack()
    press = ActionPayload.from_body(body)
    value = AuditNextValue.decode(press.action.value)
    page = await audit_page(services, value.query, offset=value.offset)
    await replace_private(respond, build_audit_page(page, tz=tz, links=links))
