"""What the Slack benchmarks share: the sandbox in its own process (so its work does not slow
the bot's event loop), the real Bolt app served on loopback in this process, requests signed as
Slack signs them, and cheap reads of what the sandbox saw (`/_sandbox/requests`,
`/_sandbox/slack/log`)."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

from bench.reconcile import _start_sandbox
from bot.app import Activity, build_app
from bot.container import build_services
from bot.observe import HEALTH_PATH
from bot.serve import EVENTS_PATH, serving
from bot.settings import Settings
from core.usecases.services import Services

SERVICES = ("stripe", "sanity", "clerk", "slack")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class SlackBench:
    """The sandbox (a child process), the app on loopback, and a client that signs like Slack."""

    env: dict[str, str]
    url: str
    http: httpx.AsyncClient
    services: Services
    activity: Activity
    secret: str
    triggers: int = field(default=0)

    @property
    def sandbox_url(self) -> str:
        return self.env["SANDBOX_URL"]

    def trigger(self) -> str:
        self.triggers += 1
        return f"{self.triggers}.{uuid.uuid4().hex[:10]}"

    def signed(self, body: str) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        return {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature,
        }

    def command_body(self, text: str, *, user: str = "U0SUPPORT") -> str:
        return urlencode(
            {
                "team_id": "T0SANDBOX",
                "channel_id": "C0PASSES",
                "channel_name": "passes",
                "user_id": user,
                "command": "/fixpass",
                "text": text,
                "api_app_id": "A0PASSBOT",
                "response_url": f"{self.sandbox_url}/slack/response/{uuid.uuid4().hex[:12]}",
                "trigger_id": self.trigger(),
            }
        )

    def press_body(
        self, card: dict[str, Any], ts: str, *, button: int = 0, user: str = "U0APPROVER"
    ) -> str:
        """A block_actions body pressing a card's `button`-th button (card: chat.update args)."""
        block_id, element = buttons(card)[button]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0SANDBOX"},
            "api_app_id": "A0PASSBOT",
            "container": {"type": "message", "message_ts": ts, "channel_id": card["channel"],
                          "is_ephemeral": False},
            "trigger_id": self.trigger(),
            "team": {"id": "T0SANDBOX"},
            "channel": {"id": card["channel"]},
            "message": {"type": "message", "ts": ts, "text": card.get("text", ""),
                        "blocks": card.get("blocks", [])},
            "response_url": f"{self.sandbox_url}/slack/response/{uuid.uuid4().hex[:12]}",
            "actions": [{"type": "button", "action_id": element["action_id"],
                         "block_id": block_id, "value": element["value"],
                         "action_ts": f"{time.time():.6f}"}],
        }  # fmt: skip
        return urlencode({"payload": json.dumps(payload)})

    async def send(self, body: str) -> tuple[float, httpx.Response]:
        """POST a signed body to /slack/events; (seconds until the answer, the answer)."""
        headers = self.signed(body)
        started = time.perf_counter()
        answer = await self.http.post(self.url + EVENTS_PATH, content=body, headers=headers)
        return time.perf_counter() - started, answer

    async def send_many(
        self, bodies: Sequence[str]
    ) -> tuple[float, float, list[tuple[float, int]]]:
        """POST signed bodies all at once from another process (so that the client's work does
        not slow the app's event loop); (the wall-clock time the first was sent, seconds until
        the last answer, each answer's seconds and status)."""
        requests = [(body, self.signed(body)) for body in bodies]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=1) as pool:
            return await loop.run_in_executor(pool, _send_all, self.url + EVENTS_PATH, requests)

    async def requests(self) -> dict[str, dict[str, int]]:
        answer = await self.http.get(self.sandbox_url + "/_sandbox/requests")
        counts: dict[str, dict[str, int]] = answer.json()
        return counts

    async def log(self, after: int = 0) -> list[dict[str, Any]]:
        answer = await self.http.get(
            self.sandbox_url + "/_sandbox/slack/log", params={"after": after}
        )
        entries: list[dict[str, Any]] = answer.json()
        return entries

    async def world(self) -> dict[str, Any]:
        answer = await self.http.get(self.sandbox_url + "/world")
        world: dict[str, Any] = answer.json()
        return world


def _send_all(
    url: str, requests: list[tuple[str, dict[str, str]]]
) -> tuple[float, float, list[tuple[float, int]]]:
    """In a child process: POST every request at once; (wall seconds, per-request figures).

    aiohttp, not httpx: httpcore's pool costs O(n) per event with n requests in flight, which
    at 200 at once made the client, not the app, the slow part.
    """

    async def one(
        http: aiohttp.ClientSession, body: str, headers: dict[str, str]
    ) -> tuple[float, int]:
        started = time.perf_counter()
        async with http.post(url, data=body.encode(), headers=headers) as answer:
            await answer.read()
            return time.perf_counter() - started, answer.status

    async def every() -> tuple[float, float, list[tuple[float, int]]]:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            # Open the connections first, as a client that talks to the app all day has them:
            # 200 connects at once overflow the listen backlog (128), and the kernel's SYN retry
            # (1 s, then 3 s) would be measured instead of the app.
            health = url.removesuffix(EVENTS_PATH) + HEALTH_PATH

            async def warm() -> None:
                async with http.get(health) as answer:
                    await answer.read()

            await asyncio.gather(*(warm() for _ in requests))
            wall, started = time.time(), time.perf_counter()
            got = await asyncio.gather(*(one(http, b, h) for b, h in requests))
            return wall, time.perf_counter() - started, list(got)

    return asyncio.run(every())


def buttons(card: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(block id, button) of every button of a message's blocks."""
    return [
        (str(block.get("block_id")), element)
        for block in card.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def diff(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, int]:
    """Requests per service between two counts."""
    return {s: sum(after.get(s, {}).values()) - sum(before.get(s, {}).values()) for s in SERVICES}


@asynccontextmanager
async def slack_bench(
    world: dict[str, Any], tmp: Path, *, latency_ms: int, concurrency: int, **settings: Any
) -> AsyncIterator[SlackBench]:
    """The sandbox serving `world` in a child process, and the app served against it."""
    world_path = tmp / "world.json"
    world_path.write_text(json.dumps(world))
    proc, env = _start_sandbox(world_path, latency_ms)
    try:
        names = Settings.model_fields
        values: dict[str, Any] = {k.lower(): v for k, v in env.items() if k.lower() in names}
        values.update(
            passbot_db=str(tmp / "passbot.db"),
            passbot_concurrency=concurrency,
            passbot_approvers="U0APPROVER,U0SECOND",
        )
        values.update(settings)  # the caller's settings win (e.g. PASSBOT_DB)
        config = Settings(_env_file=None, **values)
        assert config.slack_signing_secret is not None
        async with build_services(config) as services:
            activity = Activity()
            app = build_app(config, services, activity=activity)
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
            async with (
                serving(app) as url,
                httpx.AsyncClient(timeout=120, limits=limits) as http,
            ):
                secret = config.slack_signing_secret.get_secret_value()
                bench = SlackBench(env, url, http, services, activity, secret)
                try:
                    yield bench
                finally:
                    await activity.idle(120)
    finally:
        proc.terminate()
        await asyncio.to_thread(_wait, proc)


def _wait(proc: subprocess.Popen[str]) -> None:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
