"""manifest.yaml creates the app the code expects: its commands are exactly the registered ones,
every button has a listener, and it asks for the fewest scopes that work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from handlers.actions import ACTIONS
from handlers.commands import COMMANDS
from handlers.ids import ActionId, CallbackId, Command
from handlers.views import VIEWS

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def test_the_manifests_commands_are_exactly_the_apps() -> None:
    declared = {c["command"] for c in manifest()["features"]["slash_commands"]}
    assert declared == set(Command) == set(COMMANDS)


def test_every_action_and_callback_id_has_a_listener() -> None:
    assert set(ACTIONS) == set(ActionId)
    assert set(VIEWS) == set(CallbackId)


def test_the_app_installs_for_socket_mode_with_interactivity_and_few_scopes() -> None:
    data = manifest()
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert set(data["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "users:read", "users:read.email", "usergroups:read",
        "files:write", "im:write",
    }  # fmt: skip
    assert "user" not in data["oauth_config"]["scopes"]  # no user token
    for command in data["features"]["slash_commands"]:
        assert command["description"]
        assert len(command["description"]) <= 100


def test_the_home_tab_and_its_event_are_declared() -> None:
    data = manifest()
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
