"""`passbot shell`: the Slack app driven from a terminal against the sandbox (like Hubot's shell).

Nothing here is a second code path: the shell starts the sandbox, builds the services and the
app exactly as `passbot serve --http` does, serves the app on loopback, and plays Slack's part —
it delivers what you type as signed slash-command requests and your button presses as signed
`block_actions` requests, and prints what the bot posted, read from the sandbox's Slack log.

Type `/fixpass EMAIL`, `/passcheck [days]` or `/passaudit`; a number presses that button of the
latest message with buttons (after its confirm dialog); `as U…` acts as another Slack user.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.app import Activity, build_app
from bot.container import build_services
from bot.scheduler import jobs_for
from bot.serve import EVENTS_PATH, serving, slack_poster
from bot.settings import Settings
from bot.shell_input import Reader, line_reader
from bot.shell_render import Workspace, element_text, mostly_same, render_blocks
from bot.slack_poster import SlackPoster
from core.usecases.jobs import Jobs

__all__ = ["Reader", "Workspace", "line_reader", "render_blocks", "run_shell"]

TEAM_ID = "T0SANDBOX"
RULE = "─" * 72


@dataclass(frozen=True, slots=True)
class Button:
    """A button the shell can press: where it is and what it is."""

    channel: str
    ts: str
    block_id: str
    element: dict[str, Any]
    ephemeral: bool = False  # on a private message (its press carries no `message`, as in Slack)


class Console:
    """The shell's Slack: it sends what you type to the app and prints what the bot said."""

    def __init__(
        self,
        *,
        sandbox_url: str,
        app_url: str,
        http: httpx.AsyncClient,
        secret: str,
        activity: Activity,
        workspace: Workspace,
        dump: Callable[[], Awaitable[dict[str, Any]]],
        user: str,
        channel: str,
        out: TextIO,
        read: Reader,
        run_job: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.run_job = run_job
        self.sandbox_url = sandbox_url
        self.app_url = app_url
        self.http = http
        self.signer = SignatureVerifier(secret)
        self.activity = activity
        self.workspace = workspace
        self.dump = dump
        self.user = user
        self.channel = channel
        self.out = out
        self.read = read
        self.seen = 0
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.buttons: list[Button] = []
        self.rendered: dict[tuple[str, str], list[str]] = {}
        self.interactions = 0

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # ------------------------------------------------------------------ delivering

    def _trigger(self) -> str:
        self.interactions += 1
        return f"{self.interactions}.{uuid.uuid4().hex[:12]}"

    async def _deliver(self, form: dict[str, str]) -> None:
        body = urlencode(form)
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": self.signer.generate_signature(timestamp=stamp, body=body) or "",
        }
        answer = await self.http.post(self.app_url + EVENTS_PATH, content=body, headers=headers)
        if answer.status_code != 200:
            self.say(f"(Slack: the app answered HTTP {answer.status_code})")
        elif answer.text.strip():
            self._show_ack(answer)
        await self.activity.idle()
        await self.show_new()

    def _show_ack(self, answer: httpx.Response) -> None:
        text = answer.text
        if answer.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(text)
            lines, _ = render_blocks(data.get("blocks") or [], self.workspace)
            text = "\n".join(lines) or str(data.get("text", ""))
        self.say("passbot (only visible to you):")
        for line in self.workspace.text(text).splitlines():
            self.say(f"  ┃ {line}")

    def _response_url(self) -> str:
        return f"{self.sandbox_url}/slack/response/{uuid.uuid4().hex[:12]}"

    async def command(self, line: str) -> None:
        name, _, text = line.strip().partition(" ")
        await self._deliver(
            {
                "token": "sandbox-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "passbot-sandbox",
                "channel_id": self.channel,
                "channel_name": self.workspace.channel_name(self.channel).lstrip("#"),
                "user_id": self.user,
                "user_name": self.workspace.users.get(self.user, self.user),
                "command": name,
                "text": text.strip(),
                "api_app_id": "A0PASSBOT",
                "is_enterprise_install": "false",
                "response_url": self._response_url(),
                "trigger_id": self._trigger(),
            }
        )

    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self.buttons):
            self.say(f"(no button {number}: the latest message has {len(self.buttons)} buttons)")
            return
        button = self.buttons[number - 1]
        dialog = button.element.get("confirm")
        if dialog:
            self.say(f"┌─ {element_text({'text': dialog.get('title')})}")
            for line in self.workspace.text(element_text({"text": dialog.get("text")})).split("\n"):
                self.say(f"│ {line}")
            ok = element_text({"text": dialog.get("confirm")}) or "Confirm"
            answer = await self.read(f"└─ {ok}? [y/N] ")
            if (answer or "").strip().lower() not in ("y", "yes"):
                self.say("(cancelled: nothing sent)")
                return
        message = self.messages.get((button.channel, button.ts), {})
        payload = {
            "type": "block_actions",
            "user": {"id": self.user, "username": self.workspace.users.get(self.user, self.user),
                     "team_id": TEAM_ID},
            "api_app_id": "A0PASSBOT",
            "token": "sandbox-verification-token",
            "container": {"type": "message", "message_ts": button.ts, "channel_id": button.channel,
                          "is_ephemeral": False},
            "trigger_id": self._trigger(),
            "team": {"id": TEAM_ID, "domain": "passbot-sandbox"},
            "channel": {"id": button.channel, "name": self.workspace.channel_name(button.channel)},
            "message": None if button.ephemeral else {
                "type": "message", "ts": button.ts, "text": message.get("text", ""),
                "blocks": message.get("blocks", [])},
            "response_url": self._response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": button.element.get("action_id"),
                    "block_id": button.block_id,
                    "text": button.element.get("text"),
                    "value": button.element.get("value"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }  # fmt: skip
        if payload["message"] is None:
            del payload["message"]
        await self._deliver({"payload": json.dumps(payload)})

    # ------------------------------------------------------------------ showing

    async def show_new(self) -> None:
        """Print what the bot said since last time (from the sandbox's Slack log)."""
        log = (await self.dump())["slack"]["log"]
        entries, self.seen = log[self.seen :], len(log)
        views = []
        for entry in entries:
            if entry.get("method") == "views.open":
                views.append((entry.get("args") or {}).get("view") or {})
            else:
                self.show(entry)
        for view in views:
            await self.fill(view)

    async def fill(self, view: dict[str, Any]) -> None:
        """A form the bot opened ("Not a problem?"): show it, ask each input, submit it."""
        self.say(f"┌─ form: {element_text(view.get('title') or {})}")
        values: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks") or []:
            if block.get("type") == "input":
                element = block.get("element") or {}
                answer = await self.read(f"│ {element_text(block.get('label') or {})} ")
                if not (answer or "").strip():
                    self.say("└─ (cancelled: the form was closed, nothing sent)")
                    return
                values[str(block.get("block_id"))] = {
                    str(element.get("action_id")): {"type": "plain_text_input", "value": answer}
                }
            elif block.get("type") in ("section", "context"):
                lines, _ = render_blocks([block], self.workspace)
                for line in lines:
                    self.say(f"│ {line.strip()}")
        self.say(f"└─ {element_text(view.get('submit') or {}) or 'Submit'}")
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "passbot-sandbox"},
            "user": {"id": self.user, "username": self.workspace.users.get(self.user, self.user),
                     "team_id": TEAM_ID},
            "api_app_id": "A0PASSBOT",
            "token": "sandbox-verification-token",
            "trigger_id": self._trigger(),
            "view": {"id": f"V{uuid.uuid4().hex[:10].upper()}", "type": "modal",
                     "callback_id": view.get("callback_id", ""),
                     "private_metadata": view.get("private_metadata", ""),
                     "state": {"values": values}},
        }  # fmt: skip
        await self._deliver({"payload": json.dumps(payload)})

    def show(self, entry: dict[str, Any]) -> None:
        method, args = entry.get("method"), entry.get("args") or {}
        if method == "chat.postMessage":
            key = (str(args.get("channel")), str(entry.get("ts")))
            where = self.workspace.channel_name(key[0])
            title = f"passbot in {where}" + (" (in the thread)" if args.get("thread_ts") else "")
        elif method == "chat.update":
            key = (str(args.get("channel")), str(args.get("ts")))
            title = f"passbot edited its message in {self.workspace.channel_name(key[0])}"
        elif method in ("response_url", "chat.postEphemeral"):
            if args.get("response_type") == "in_channel":
                title = "passbot"
            else:
                title = "passbot (only visible to you)"
            key = None
        else:
            return  # users.info, usergroups.users.list, …: not messages
        lines, buttons = render_blocks(args.get("blocks") or [], self.workspace)
        if not lines:
            lines = self.workspace.text(str(args.get("text", ""))).splitlines()
        before = self.rendered.get(key) if key is not None else None
        if method == "chat.update" and before is not None and mostly_same(before, lines):
            self.say(title + " (what changed):")
            for line in difflib.ndiff(before, lines):
                if line[:1] in "+-":
                    self.say(f"  ┃ {line[:1]} {line[2:]}")
        else:
            self.say(title + ":")
            for line in lines:
                self.say(f"  ┃ {line}")
        if key is not None:
            self.messages[key] = args
            self.rendered[key] = lines
            if buttons:
                self.buttons = [Button(key[0], key[1], b, e) for b, e in buttons]
            elif self.buttons and (self.buttons[0].channel, self.buttons[0].ts) == key:
                self.buttons = []
        if buttons and key is None:  # a private message's buttons (Share, Approve, Show)
            ts = str(entry.get("ts"))
            self.buttons = [Button(self.channel, ts, b, e, ephemeral=True) for b, e in buttons]
        if buttons:
            hint = "1" if len(buttons) == 1 else f"a number from 1 to {len(buttons)}"
            self.say(f"  (type {hint} to press {'it' if len(buttons) == 1 else 'a button'})")

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        while True:
            line = await self.read(f"{self.workspace.users.get(self.user, self.user)}> ")
            if line is None:
                return
            line = line.strip()
            if not line:
                continue
            if line in ("quit", "exit", "/quit"):
                return
            if line in ("help", "?", "/help"):
                self.say(HELP)
            elif line.startswith("/"):
                await self.command(line)
            elif line.isdigit():
                await self.press(int(line))
            elif line.startswith("as "):
                self.user = line[3:].strip() or self.user
                self.say(f"(you are now {self.user})")
            elif line.startswith("in "):
                self.channel = line[3:].strip().lstrip("#") or self.channel
                self.channel = next(
                    (i for i, n in self.workspace.channels.items() if n == self.channel),
                    self.channel,
                )
                self.say(f"(you now type in {self.workspace.channel_name(self.channel)})")
            elif line.startswith("run ") and self.run_job is not None:
                self.say(await self.run_job(line[4:].strip()))
                await self.activity.idle()
                await self.show_new()
            else:
                self.say("(type a slash command, a button number, `as U…`, help or quit)")


HELP = """Type what you would type in Slack:
  /fixpass EMAIL     everything about one customer, with fixes to approve
  /passcheck [days]  a reconciliation now
  /passaudit         the fixes applied
  /passhealth        webhook and configuration health
  /passstats         fulfilment, time to resolve, false positives, reports
  1, 2, …            press that button of the latest message with buttons
  as U…              act as another Slack user of the world
  in #CHANNEL | D…   type in another conversation (a DM between people: passbot answers privately)
  Tab                completes commands
  run JOB            run a scheduled job now, as at its time: summary, sweep, early_warning, health
  quit               end (Ctrl-D too)"""


def _approvers(world: dict[str, Any]) -> str:
    slack = world.get("slack") or {}
    groups = [str(g["id"]) for g in slack.get("usergroups", []) if g.get("id")]
    if groups:
        return groups[0]
    users = [str(u["id"]) for u in slack.get("users", []) if u.get("id")]
    return users[0] if users else ""


def _first_approver(world: dict[str, Any], approvers: str) -> str | None:
    slack = world.get("slack") or {}
    listed = {a.strip() for a in approvers.split(",") if a.strip()}
    for group in slack.get("usergroups", []):
        if group.get("id") in listed and group.get("users"):
            return str(group["users"][0])
    for user in slack.get("users", []):
        if user.get("id") in listed:
            return str(user["id"])
    return None


async def run_shell(
    world: dict[str, Any],
    *,
    make_settings: Callable[[dict[str, str]], Settings],
    user: str | None,
    out: TextIO,
    read: Reader,
    dump_to: str | None = None,
) -> int:
    """Run the shell against a sandbox seeded from `world` until the input ends."""
    from sandbox import start_sandbox

    box = await start_sandbox(world)
    tmp = tempfile.TemporaryDirectory(prefix="passbot-shell-")
    try:
        env = box.settings()
        env["PASSBOT_DB"] = os.environ.get("PASSBOT_DB") or str(Path(tmp.name) / "shell.db")
        env["PASSBOT_APPROVERS"] = os.environ.get("PASSBOT_APPROVERS") or _approvers(world)
        settings = make_settings(env)
        workspace = Workspace.of(world, ZoneInfo(settings.passbot_timezone))
        me = (
            user
            or _first_approver(world, env["PASSBOT_APPROVERS"])
            or next(iter(workspace.users), "U0SHELL")
        )
        channel = next(iter(workspace.channels), "C0SHELL")
        async with build_services(settings) as services, jobs_for(settings, services) as jobs:
            activity = Activity()
            app = build_app(settings, services, activity=activity, jobs=jobs)
            async with serving(app) as url, httpx.AsyncClient(timeout=60) as http:
                out.write(
                    f"passbot shell — the Slack app on {url}, the sandbox at {box.url}\n"
                    f"you are {me} ({workspace.users.get(me, '?')}) in "
                    f"{workspace.channel_name(channel)}; approvers: {env['PASSBOT_APPROVERS']}\n"
                    f"{HELP}\n{RULE}\n"
                )
                assert settings.slack_signing_secret is not None
                console = Console(
                    sandbox_url=box.url,
                    app_url=url,
                    http=http,
                    secret=settings.slack_signing_secret.get_secret_value(),
                    activity=activity,
                    workspace=workspace,
                    dump=box.dump_world,
                    user=me,
                    channel=channel,
                    out=out,
                    read=read,
                    run_job=_job_runner(jobs, slack_poster(settings, services, channel)),
                )
                console.seen = len((await box.dump_world())["slack"]["log"])
                await console.run()
                await activity.idle()
        return 0
    finally:
        try:
            if dump_to:
                state = await box.dump_world()
                await asyncio.to_thread(
                    Path(dump_to).write_text, json.dumps(state, indent=1), "utf-8"
                )
        finally:
            await box.close()
            tmp.cleanup()


def _job_runner(jobs: Jobs, poster: SlackPoster) -> Callable[[str], Awaitable[str]]:
    """`run JOB` in the shell: the job's data, posted through the same Slack poster the
    scheduler uses (so what appears is what the channel would get at 09:00)."""

    async def run(name: str) -> str:
        if name in ("summary", "sweep"):
            await poster.post_summary(await jobs.summary(weekly=name == "sweep"))
        elif name == "early_warning":
            warning = await jobs.early_warning()
            if not warning.findings:
                return "(early warning: no purchase 15–75 minutes old is without its pass)"
            await poster.post_warning(warning)
            jobs.mark_warned(warning)
        elif name == "health":
            await poster.post_health(await jobs.health())
        else:
            return "(run summary, sweep, early_warning or health)"
        return f"(the {name} job ran, as the scheduler runs it)"

    return run
