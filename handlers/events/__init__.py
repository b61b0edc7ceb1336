"""Events: the App Home tab opened."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.events.home import handle_app_home_opened


def register(app: AsyncApp) -> None:
    """Register every event listener."""
    app.event("app_home_opened")(handle_app_home_opened)
