"""Two `passbot serve --http` replicas on one PostgreSQL and one sandbox, as a team deploys
them behind a load balancer: real processes, Slack's requests signed as Slack signs them and
spread over both. Each scheduled period posts once across the two (and a cron `passbot job` after
them finds it done); one approve button pressed 50 times at once across both writes one pass and
one audit row; concurrent fixes of different purchases lose no audit row."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio

from core.adapters.history import open_history
from core.adapters.store import open_store
from core.usecases.jobs import EARLY_WARNING, SUMMARY, SWEEP
from handlers.ids import ActionId
from sandbox import Sandbox, start_sandbox
from sandbox.postgres import LocalPostgres
from tests.e2e.slackbot import APPROVERS, Bot, settings_for, slack_world
from tests.e2e.test_slack_schedule import (
    CHANNEL,
    button_index,
    card_of,
    lost_world,
    main_posts,
    subscriptions_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRESSES = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    """One `passbot serve --http` process and what it said on stderr."""

    process: asyncio.subprocess.Process
    url: str
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())

    async def said(self, start: str) -> str:
        """The first line it said starting with `start`, waiting up to 90 s for it."""

        def found() -> bool:
            if self.process.returncode is not None:
                raise AssertionError("\n".join(self.lines[-30:]))
            return any(line.startswith(start) for line in self.lines)

        await poll(found, timeout=90)
        return next(line for line in self.lines if line.startswith(start))

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await self.process.wait()
        if self.reader is not None:
            await self.reader
        return code


async def poll(done: Callable[[], bool], *, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until `done()` (checked every 0.2 s), failing after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


def environment(box: Sandbox, db: str) -> dict[str, str]:
    """What a deployment sets: the sandbox's settings, the shared database, the channel."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PASSBOT_", "SLACK_"))}
    return {
        **base,
        **box.settings(),
        "PASSBOT_DB": db,
        "PASSBOT_APPROVERS": APPROVERS,
        "PASSBOT_CHANNEL": CHANNEL,
        "PASSBOT_TIMEZONE": "Europe/Oslo",
    }


async def start_replica(env: dict[str, str], cwd: Path) -> Replica:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--http", "--port", str(port),
        env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    replica = Replica(process, f"http://127.0.0.1:{port}")
    replica.reader = asyncio.create_task(replica.read())
    return replica


@asynccontextmanager
async def running_replicas(
    env: dict[str, str], cwd: Path, count: int = 2
) -> AsyncIterator[list[Replica]]:
    """`count` replicas of `serve --http`, stopped on the way out; each must exit 0 and print no
    traceback."""
    replicas = [await start_replica(env, cwd) for _ in range(count)]
    try:
        yield replicas
    finally:
        codes = [await replica.stop() for replica in replicas]
    assert codes == [0] * count, "\n".join(line for r in replicas for line in r.lines[-20:])
    assert not [line for r in replicas for line in r.lines if "Traceback" in line]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


async def test_two_replicas_on_one_postgresql_post_once_and_apply_once(
    box: Sandbox, postgres: LocalPostgres, tmp_path: Path
) -> None:
    world, lost = lost_world(4)
    await box.replace_world(world)
    db = postgres.create_database("replicas")
    env = environment(box, db)
    async with running_replicas(env, tmp_path) as replicas:
        for replica in replicas:
            await replica.said("passbot (")
            await replica.said("scheduler caught up")

        # Each period of each job posted once across the two (Saturday 09:00 in Oslo).
        log = (await box.dump_world())["slack"]["log"]
        posts = main_posts(log)
        kinds = Counter(p["args"]["text"].split(" — ")[0] for p in posts)
        assert kinds == {"Weekly sweep": 1, "Daily summary": 1, "passbot health": 1}, kinds
        history = open_history(db)
        runs = history.runs()
        history.close()
        assert sorted((job, period) for job, period, _, _ in runs) == sorted(
            [(SWEEP, "2026-W48"), (SUMMARY, "2026-11-28"), ("health", "2026-11"),
             (EARLY_WARNING, "2026-11-28T09:00")]
        )  # fmt: skip
        assert {(status, attempts) for _, _, status, attempts in runs} == {("done", 1)}

        # A cron `passbot job summary --post` on a third process finds the period done.
        cron = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "job", SUMMARY, "--post", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await cron.communicate()
        assert cron.returncode == 0, err.decode()
        assert out.decode().strip() == f"{SUMMARY}: already ran (period 2026-11-28)"

        # One approve button, pressed 50 times at once, spread over both replicas.
        summary = next(p for p in posts if p["args"]["text"].startswith("Daily summary"))
        card = card_of(log, summary)
        settings = settings_for(box, tmp_path / "unused.db")
        assert settings.slack_signing_secret is not None
        secret = settings.slack_signing_secret.get_secret_value()
        async with httpx.AsyncClient(timeout=60) as http:
            bots = [
                Bot(box, r.url, http, settings, cast(Any, None), secret, cast(Any, None))
                for r in replicas
            ]
            first = button_index(card, ActionId.FIX_APPLY, lost[0])
            users = ("U0APPROVER", "U0SECOND")
            bodies = [
                (bots[n % 2], bots[n % 2].press_body(card, button=first, user=users[n // 2 % 2]))
                for n in range(PRESSES)
            ]
            answers = await asyncio.gather(*(bot.send(body) for bot, body in bodies))
            assert {a.status_code for a in answers} == {200}

            # Then the other purchases, each pressed once, at the same time, on alternate ones.
            others = [
                bots[n % 2].send(
                    bots[n % 2].press_body(
                        card, button=button_index(card, ActionId.FIX_APPLY, session)
                    )
                )
                for n, session in enumerate(lost[1:])
            ]
            assert {a.status_code for a in await asyncio.gather(*others)} == {200}

        store = open_store(db)

        def settled() -> bool:  # every press recorded once decided, every fix applied
            presses = store.presses(1000)
            applied = sum(p.outcome == "applied" for p in presses)
            return len(presses) >= PRESSES + len(lost) - 1 and applied >= len(lost)

        try:
            await poll(settled, timeout=90)
            presses = store.presses(1000)
            audit = store.recent(1000)
        finally:
            store.close()
        outcomes = Counter(p.outcome for p in presses if p.session == lost[0])
        assert outcomes["applied"] == 1, outcomes
        assert sum(outcomes.values()) == PRESSES
        assert set(outcomes) <= {"applied", "busy", "done_before"}, outcomes
        assert [e.session for e in audit].count(lost[0]) == 1
        assert sorted(e.session for e in audit) == sorted(lost)  # none lost, none twice
        for session in lost:
            assert len(await subscriptions_of(cast(Bot, bots[0]), session)) == 1, session
