"""The one place passbot tells people about failures (the app's global error handler).

* A `CoreError` becomes its own safe sentence. An `UpstreamError` names the failed service; on an
  approval card the buttons come back, so the same press can be tried again.
* A fix that changed since the card was made, or has no safe fix any more, is said on the card,
  without its buttons: nothing was written.
* Anything else gets an incident id, logged with the traceback, and shown to the person.

Where: on the card of a pressed button; on the "looking…" message a command posted; or privately
through the request's response_url.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import CoreError, RefusedError, StaleFixError, UpstreamError, UsageError
from handlers.actions.fix import revise_card
from handlers.blocks.errors import build_error
from handlers.blocks.fix import build_card_note, restore_buttons
from handlers.blocks.kit import Block, Message
from handlers.cards import CardMemory
from handlers.ids import APPROVAL_ACTIONS, ActionId
from handlers.messages import CARD_KEY, Card, replace_card, tell, update
from handlers.payloads import ActionPayload

logger = logging.getLogger(__name__)


def explain(error: Exception) -> tuple[str, str | None, bool]:
    """(What to say, the incident id if it is unknown, whether the buttons stay to retry)."""
    if isinstance(error, UpstreamError):
        service = error.service.capitalize()
        return (f"{service} failed — nothing was written; try again. ({error})", None, True)
    if isinstance(error, StaleFixError):
        text = "Changed since the proposal — nothing written. Run /fixpass again for a fresh card."
        return (text, None, False)
    if isinstance(error, RefusedError):
        return (f"No safe fix any more: {error}. Nothing was written.", None, False)
    if isinstance(error, CoreError):
        return (str(error), None, True)
    incident = uuid.uuid4().hex[:8]
    return (f"Something went wrong (incident {incident}).", incident, True)


async def handle_error(
    error: Exception,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond | None,
) -> None:
    """Bolt's global error handler, for listeners and middleware alike."""
    text, incident, keep_buttons = explain(error)
    if incident is not None:
        logger.error(
            "incident %s: %s", incident, error, exc_info=error, extra={"incident_id": incident}
        )
    elif isinstance(error, CoreError):
        logger.info("%s: %s", type(error).__name__, error)
    try:
        await _show(text, incident, keep_buttons, body, context, client, respond)
    except UpstreamError as err:
        logger.warning("could not show the error to the user: %s", err)


async def _show(
    text: str,
    incident: str | None,
    keep_buttons: bool,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond | None,
) -> None:
    press = _press(body)
    if press is not None and press.action.action_id in APPROVAL_ACTIONS and press.blocks:
        line = f"⚠️ {text}"
        block_id = press.action.block_id
        cards = context.get("cards")
        if press.action.action_id != ActionId.FIX_ALL and isinstance(cards, CardMemory):
            # The card as other presses left it, one update at a time (see revise_card).
            pressed = press.blocks

            def note(blocks: Sequence[Block]) -> Message:
                if keep_buttons:  # to press again: the buttons come back
                    blocks = restore_buttons(blocks, pressed, block_id)
                return build_card_note(blocks, block_id, line, keep_buttons=keep_buttons)

            await revise_card(client, respond or _no_respond, press, cards, note)
            return
        card = build_card_note(press.blocks, block_id, line, keep_buttons=keep_buttons)
        await replace_card(client, respond or _no_respond, press, card)
        return
    card_ref = context.get(CARD_KEY)
    if isinstance(card_ref, Card):
        await update(client, card_ref, build_error(text, incident_id=incident))
    elif respond is not None:
        await tell(respond, build_error(text, incident_id=incident))


def _press(body: dict[str, Any]) -> ActionPayload | None:
    if body.get("type") != "block_actions":
        return None
    try:
        return ActionPayload.from_body(body)
    except UsageError:
        return None


async def _no_respond(**_kwargs: Any) -> None:
    raise UpstreamError("slack", "this request has no response_url")
