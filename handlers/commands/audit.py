"""/passaudit: the fixes passbot applied, newest first (a private answer)."""

from __future__ import annotations

from datetime import tzinfo

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from core.usecases.services import Services
from handlers.blocks.audit import SHOWN_ENTRIES, build_audit_log
from handlers.messages import tell


async def handle_passaudit_command(
    ack: AsyncAck, respond: AsyncRespond, services: Services, tz: tzinfo
) -> None:
    """Ack at once; answer privately with the recent audit entries."""
    await ack()
    await tell(respond, build_audit_log(services.recent_audit(SHOWN_ENTRIES), tz=tz))
