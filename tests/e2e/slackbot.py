"""Driving the Slack app end to end: served on loopback, services built against the sandbox, and
requests signed exactly as Slack signs them; what the bot said is read from the sandbox's log."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.app import Activity, build_app
from bot.container import build_services
from bot.scheduler import jobs_for
from bot.serve import EVENTS_PATH, serving, socket_mode
from bot.settings import Settings
from core.adapters.store import SqlStore
from core.usecases.jobs import Jobs
from core.usecases.services import Services
from sandbox import Sandbox

TINY = json.loads((Path(__file__).parent.parent / "sandbox" / "tiny-world.json").read_text())
OLA = "ola.hansen177@example.com"
OLA_SESSION = "cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb"
OLA_DOC = f"subscription-{OLA_SESSION}"
APPROVERS = "S0APPROVERS,U0SECOND"


def slack_world() -> dict[str, Any]:
    """The tiny world, with a user group of approvers and a second approver listed by id."""
    world = copy.deepcopy(TINY)
    world["slack"]["users"].append(
        {"id": "U0SECOND", "name": "bo", "real_name": "Bo Second",
         "profile": {"email": "bo@dance.example"}, "is_admin": False}
    )  # fmt: skip
    world["slack"]["usergroups"] = [
        {"id": "S0APPROVERS", "handle": "pass-approvers", "users": ["U0APPROVER"]}
    ]
    return world


def settings_for(box: Sandbox, db: Path, **overrides: Any) -> Settings:
    """Settings pointing at the sandbox, passbot's own from the arguments."""
    env = {k.lower(): v for k, v in box.settings().items() if k.lower() in Settings.model_fields}
    values: dict[str, Any] = {
        **env,
        "passbot_db": str(db),
        "passbot_approvers": APPROVERS,
        "passbot_two_person": False,
        "passbot_timezone": "Europe/Oslo",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@dataclass
class Card:
    """A message the bot posted, as it stands."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]

    def buttons(self) -> list[tuple[str, dict[str, Any]]]:
        """(block id, button) of every button, in order."""
        return [
            (str(block.get("block_id")), element)
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]


@dataclass
class Bot:
    """The app on loopback, and Slack's part in talking to it."""

    box: Sandbox
    url: str
    http: httpx.AsyncClient
    settings: Settings
    services: Services
    secret: str
    activity: Activity
    triggers: list[str] = field(default_factory=list)
    jobs: Jobs | None = None

    @property
    def store(self) -> SqlStore:
        assert isinstance(self.services.audit, SqlStore)
        return self.services.audit

    def headers(
        self, body: str, *, secret: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signer = SignatureVerifier(secret or self.secret)
        return {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signer.generate_signature(timestamp=stamp, body=body),
        }

    def response_url(self) -> str:
        return f"{self.box.url}/slack/response/{uuid.uuid4().hex[:12]}"

    def trigger(self) -> str:
        value = f"{len(self.triggers) + 1}.{uuid.uuid4().hex[:10]}"
        self.triggers.append(value)
        return value

    def command_body(
        self,
        text: str,
        *,
        command: str = "/fixpass",
        user: str = "U0SUPPORT",
        channel: str = "C0PASSES",
    ) -> str:
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": "T0SANDBOX",
                "team_domain": "passbot-sandbox",
                "channel_id": channel,
                "channel_name": "passes" if channel == "C0PASSES" else channel.lower(),
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A0PASSBOT",
                "is_enterprise_install": "false",
                "response_url": self.response_url(),
                "trigger_id": self.trigger(),
            }
        )

    def press_body(self, card: Card, *, button: int = 0, user: str = "U0APPROVER") -> str:
        block_id, element = card.buttons()[button]
        return self.element_press_body(card, block_id, element, user=user)

    def element_press_body(
        self, card: Card, block_id: str, element: dict[str, Any], *, user: str
    ) -> str:
        """A block_actions body pressing `element` of block `block_id`, as Slack sends it."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
            "api_app_id": "A0PASSBOT",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": card.ts, "channel_id": card.channel,
                          "is_ephemeral": False},
            "trigger_id": self.trigger(),
            "team": {"id": "T0SANDBOX", "domain": "passbot-sandbox"},
            "channel": {"id": card.channel, "name": "passes"},
            "message": {"type": "message", "ts": card.ts, "text": card.text,
                        "blocks": card.blocks},
            "response_url": self.response_url(),
            "actions": [{"type": "button", "action_id": element["action_id"],
                         "block_id": block_id, "text": element["text"],
                         "value": element["value"], "action_ts": f"{time.time():.6f}"}],
        }  # fmt: skip
        return urlencode({"payload": json.dumps(payload)})

    async def send(self, body: str, **headers: str) -> httpx.Response:
        """POST a body to /slack/events, signed unless headers say otherwise."""
        signed = {**self.headers(body), **{k.replace("_", "-"): v for k, v in headers.items()}}
        return await self.http.post(self.url + EVENTS_PATH, content=body, headers=signed)

    async def command(self, text: str, **kw: Any) -> httpx.Response:
        return await self.send(self.command_body(text, **kw))

    async def press(self, card: Card, **kw: Any) -> httpx.Response:
        return await self.send(self.press_body(card, **kw))

    async def log(self) -> list[dict[str, Any]]:
        world = await self.box.dump_world()
        return list(world["slack"]["log"])

    async def documents(self) -> dict[str, dict[str, Any]]:
        world = await self.box.dump_world()
        return {d["_id"]: d for d in world["sanity"]["documents"]}

    async def wait_for(
        self,
        check: Callable[[list[dict[str, Any]]], Any],
        *,
        timeout: float = 15,  # noqa: ASYNC109 - a poll's deadline, not a cancellation
    ) -> Any:
        """Poll the Slack log until `check(log)` is truthy; returns its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            log = await self.log()
            value = check(log)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; the log: {json.dumps(log)[:3000]}")
            await asyncio.sleep(0.05)

    async def card(self) -> Card:
        """Wait for the card with approve buttons (the diagnosis replacing "looking…")."""
        return await self.wait_for(lambda log: latest_card(log, with_buttons=True))

    async def settle(self) -> list[dict[str, Any]]:
        """Wait until no listener runs any more; then the log is final (for absences)."""
        assert await self.activity.idle(30), "the app is still working"
        return await self.log()


def messages(log: list[dict[str, Any]]) -> dict[tuple[str, str], Card]:
    """Every posted message as it stands after the updates in the log."""
    cards: dict[tuple[str, str], Card] = {}
    for entry in log:
        args = entry.get("args") or {}
        if entry["method"] == "chat.postMessage":
            key = (str(args["channel"]), str(entry["ts"]))
        elif entry["method"] == "chat.update":
            key = (str(args["channel"]), str(args["ts"]))
        else:
            continue
        cards[key] = Card(key[0], key[1], str(args.get("text", "")), list(args.get("blocks", [])))
    return cards


def latest_card(log: list[dict[str, Any]], *, with_buttons: bool = False) -> Card | None:
    """The most recently posted or updated message (with buttons, if asked)."""
    found = None
    for card in messages(log).values():
        if not with_buttons or card.buttons():
            found = card
    return found


def updates(log: list[dict[str, Any]], starting: str) -> list[dict[str, Any]]:
    """chat.update calls whose text starts with `starting`."""
    return [
        e["args"]
        for e in log
        if e["method"] == "chat.update" and str(e["args"].get("text", "")).startswith(starting)
    ]


def private(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ephemeral answers posted to response_urls."""
    return [
        e["args"]
        for e in log
        if e["method"] == "response_url" and e["args"].get("response_type") == "ephemeral"
    ]


def text_of(blocks: list[dict[str, Any]]) -> str:
    """All the text in some blocks."""
    return json.dumps(blocks, ensure_ascii=False)


@asynccontextmanager
async def running_bot(
    box: Sandbox, db: Path, world: dict[str, Any] | None = None, **overrides: Any
) -> AsyncIterator[Bot]:
    """The sandbox reset to `world`, the services built against it, the app on loopback."""
    await box.replace_world(world or slack_world())
    settings = settings_for(box, db, **overrides)
    async with build_services(settings) as services, jobs_for(settings, services) as jobs:
        activity = Activity()
        app = build_app(settings, services, activity=activity, jobs=jobs)
        async with serving(app) as url, httpx.AsyncClient(timeout=30) as http:
            assert settings.slack_signing_secret is not None
            secret = settings.slack_signing_secret.get_secret_value()
            bot = Bot(box, url, http, settings, services, secret, activity, jobs=jobs)
            try:
                yield bot
            finally:
                await bot.settle()  # let background work end before the clients close


@asynccontextmanager
async def socket_app(box: Sandbox, db: Path) -> AsyncIterator[tuple[Activity, Services]]:
    """The app connected to the sandbox's Slack in Socket Mode (the app-level token); yields
    its activity tracker (to wait until the work after an ack is done) and its services."""
    settings = settings_for(box, db)
    assert settings.slack_app_token is not None
    async with build_services(settings) as services:
        activity = Activity()
        app = build_app(settings, services, activity=activity)
        async with socket_mode(app, settings.slack_app_token.get_secret_value()):
            yield activity, services


async def socket_fixpass(
    box: Sandbox, email: str, *, trigger: str, response: str = "sock1"
) -> dict[str, Any]:
    """Deliver `/fixpass EMAIL` from U0SUPPORT as a Socket Mode envelope; returns the ack."""
    command = {
        "command": "/fixpass", "text": email, "user_id": "U0SUPPORT",
        "channel_id": "C0PASSES", "team_id": "T0SANDBOX",
        "response_url": f"{box.url}/slack/response/{response}", "trigger_id": trigger,
    }  # fmt: skip
    return await box.push_socket_envelope({"type": "slash_commands", "payload": command}, 10)
