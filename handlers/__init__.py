"""passbot: handlers package."""

from __future__ import annotations

from typing import TYPE_CHECKING

# For the annotation only: the command line's text output imports handlers.blocks, and with
# it this package, without the Slack app (slack_bolt loads aiohttp and slack_sdk: ~0.3 s).
if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp


def register(app: AsyncApp) -> None:
    """Register every slash command, button, modal and event listener on `app`."""
    from handlers import actions, commands, events, views

    commands.register(app)
    actions.register(app)
    views.register(app)
    events.register(app)
