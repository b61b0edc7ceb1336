"""Buttons: approving an offered fix, "Fix all N", and "Not a problem"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.actions.dismiss import handle_finding_dismiss_button
from handlers.actions.fix import handle_fix_apply_button
from handlers.actions.fix_all import handle_fix_all_button
from handlers.actions.home import handle_home_open_button
from handlers.actions.lookup import handle_card_share_button, handle_lookup_pick_button
from handlers.commands.audit import handle_audit_next_button
from handlers.ids import ActionId

ACTIONS: dict[ActionId, Callable[..., Awaitable[Any]]] = {
    ActionId.FIX_APPLY: handle_fix_apply_button,
    ActionId.FIX_APPLY_ALTERNATIVE: handle_fix_apply_button,
    ActionId.FIX_ALL: handle_fix_all_button,
    ActionId.FINDING_DISMISS: handle_finding_dismiss_button,
    ActionId.LOOKUP_PICK: handle_lookup_pick_button,
    ActionId.CARD_SHARE: handle_card_share_button,
    ActionId.AUDIT_NEXT: handle_audit_next_button,
    ActionId.HOME_OPEN: handle_home_open_button,
}


def register(app: AsyncApp) -> None:
    """Register every button's listener."""
    for action_id, listener in ACTIONS.items():
        app.action(action_id.value)(listener)
