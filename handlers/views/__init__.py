"""Modal submissions: why a finding is not a problem."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.ids import CallbackId
from handlers.views.dismiss import handle_dismiss_submission

VIEWS: dict[CallbackId, Callable[..., Awaitable[Any]]] = {
    CallbackId.DISMISS: handle_dismiss_submission,
}


def register(app: AsyncApp) -> None:
    """Register every modal's submission listener."""
    for callback_id, listener in VIEWS.items():
        app.view(callback_id.value)(listener)
