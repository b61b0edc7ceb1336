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
import html
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.app import Activity, build_app
from bot.container import build_services
from bot.scheduler import jobs_for
from bot.serve import EVENTS_PATH, serving, slack_poster
from bot.settings import Settings
from bot.slack_poster import SlackPoster
from core.usecases.jobs import Jobs

TEAM_ID = "T0SANDBOX"
RULE = "─" * 72

Reader = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Button:
    """A button the shell can press: where it is and what it is."""

    channel: str
    ts: str
    block_id: str
    element: dict[str, Any]


@dataclass
class Workspace:
    """The sandbox world's Slack: users, groups and channels, for names in the rendering."""

    users: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, world: dict[str, Any]) -> Workspace:
        slack = world.get("slack") or {}
        return cls(
            users={u["id"]: u.get("name") or u["id"] for u in slack.get("users", [])},
            groups={g["id"]: g.get("handle") or g["id"] for g in slack.get("usergroups", [])},
            channels={c["id"]: c.get("name") or c["id"] for c in slack.get("channels", [])},
        )

    def channel_name(self, channel: str) -> str:
        if channel in self.channels:
            return "#" + self.channels[channel]
        return channel

    def text(self, mrkdwn: str) -> str:
        """Slack mrkdwn as a terminal shows it: mentions by name, links by label, unescaped."""

        def mention(match: re.Match[str]) -> str:
            return "@" + self.users.get(match.group(1), match.group(1))

        def group(match: re.Match[str]) -> str:
            return "@" + self.groups.get(match.group(1), match.group(1))

        out = re.sub(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", mention, mrkdwn)
        out = re.sub(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>", group, out)
        out = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", out)
        out = re.sub(r"<(?:mailto:)?[^|<>]+\|([^>]*)>", r"\1", out)
        out = re.sub(r"<([^|<>]+)>", r"\1", out)
        return html.unescape(out)


def _element_text(element: dict[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return str(text or "")


def _mostly_same(before: list[str], after: list[str]) -> bool:
    """Whether an edit kept most lines (then only the changes are worth printing)."""
    kept = sum(1 for line in difflib.ndiff(before, after) if line.startswith("  "))
    return kept * 2 >= max(len(before), len(after))


def render_blocks(
    blocks: Sequence[dict[str, Any]], workspace: Workspace, *, number_from: int = 1
) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Blocks as lines of text, and their buttons in order (block id, element)."""
    lines: list[str] = []
    buttons: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {_element_text(block)} ==")
        elif kind == "section":
            if block.get("text"):
                lines.extend(workspace.text(_element_text(block)).splitlines())
            for item in block.get("fields") or []:
                lines.append("  " + workspace.text(_element_text({"text": item})))
        elif kind == "context":
            parts = [workspace.text(_element_text({"text": e})) for e in block.get("elements", [])]
            lines.extend("  " + line for line in " · ".join(parts).splitlines())
        elif kind == "divider":
            lines.append("- " * 30)
        elif kind == "actions":
            labels = []
            for element in block.get("elements", []):
                if element.get("type") != "button":
                    continue
                buttons.append((str(block.get("block_id", "")), element))
                labels.append(f"[{number_from + len(buttons) - 1}] {_element_text(element)}")
            lines.append("   ".join(labels))
    return lines, buttons


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
            self.say(f"┌─ {_element_text({'text': dialog.get('title')})}")
            for line in self.workspace.text(_element_text({"text": dialog.get("text")})).split(
                "\n"
            ):
                self.say(f"│ {line}")
            ok = _element_text({"text": dialog.get("confirm")}) or "Confirm"
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
            "message": {"type": "message", "ts": button.ts, "text": message.get("text", ""),
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
        await self._deliver({"payload": json.dumps(payload)})

    # ------------------------------------------------------------------ showing

    async def show_new(self) -> None:
        """Print what the bot said since last time (from the sandbox's Slack log)."""
        log = (await self.dump())["slack"]["log"]
        entries, self.seen = log[self.seen :], len(log)
        for entry in entries:
            self.show(entry)

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
        if method == "chat.update" and before is not None and _mostly_same(before, lines):
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
        if buttons and key is not None:
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
        workspace = Workspace.of(world)
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


def line_reader(stream: TextIO, out: TextIO) -> Reader:
    """Read a line at a time without blocking the event loop; None at the end of input."""

    async def read(prompt: str) -> str | None:
        out.write(prompt)
        out.flush()
        line = await asyncio.to_thread(stream.readline)
        if not line:
            out.write("\n")
            return None
        if not stream.isatty():
            out.write(line if line.endswith("\n") else line + "\n")  # echo scripted input
        return line.rstrip("\n")

    return read
