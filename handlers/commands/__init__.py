"""Slash commands: /fixpass, /passcheck, /passaudit, /passhealth, /passstats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.commands.audit import handle_passaudit_command
from handlers.commands.check import handle_passcheck_command
from handlers.commands.fixpass import handle_fixpass_command
from handlers.commands.health import handle_passhealth_command
from handlers.commands.stats import handle_passstats_command
from handlers.ids import Command

COMMANDS: dict[Command, Callable[..., Awaitable[Any]]] = {
    Command.FIXPASS: handle_fixpass_command,
    Command.PASSCHECK: handle_passcheck_command,
    Command.PASSAUDIT: handle_passaudit_command,
    Command.PASSHEALTH: handle_passhealth_command,
    Command.PASSSTATS: handle_passstats_command,
}


def register(app: AsyncApp) -> None:
    """Register every slash command's listener."""
    for command, listener in COMMANDS.items():
        app.command(command.value)(listener)
