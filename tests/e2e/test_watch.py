"""The watch (issue 13), end to end: the real use case, SQLite state, stripe-python and the Slack
poster against the sandbox on a live clock, purchases made with its checkout simulator."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.container import build_services
from bot.serve import run_serve, slack_poster
from core.adapters.history import open_history
from core.adapters.stripe import StripePayments
from core.adapters.stripe_events import StripeEventFeed
from core.adapters.watch_state import SqlWatchState, open_watch_state
from core.usecases.watch import ALERTED, ELSEWHERE, FULFILLED, Watch
from sandbox import Sandbox, start_sandbox
from sandbox.worlds import generate_world
from tests.e2e.slackbot import settings_for

CHANNEL = "C0PASSES"
SECRET = "whsec_test_watch_secret"


def live_world() -> dict[str, Any]:
    world = generate_world(seed=3, schools=2, purchases=20, broken=False)
    world["now"] = "live"
    return world


@pytest_asyncio.fixture
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(live_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


def customer(box: Sandbox, n: int = 0) -> dict[str, str]:
    """A purchase body for the n-th customer of the world, at their school."""
    docs = box.loaded.world["sanity"]["documents"]
    users = [d for d in docs if d["_type"] == "user"]
    user = users[n % len(users)]
    tenant = user["tenant"]["_ref"]
    pass_ = next(d for d in docs if d["_type"] == "pass" and d["tenant"]["_ref"] == tenant)
    account = next(d for d in docs if d["_id"] == tenant)["stripeConnect"]["accountId"]
    return {"account": account, "pass": pass_["_id"], "email": user["email"]}


async def purchase(box: Sandbox, n: int = 0, **extra: Any) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{box.url}/_sandbox/purchase", json={**customer(box, n), **extra}
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["session"])


def posts(box: Sandbox) -> list[dict[str, Any]]:
    return [
        e
        for e in box.slack_log()
        if e["method"] == "chat.postMessage" and not e["args"].get("thread_ts")
    ]


def text_of(entry: dict[str, Any]) -> str:
    return json.dumps(entry["args"])


@dataclass
class Replica:
    watch: Watch
    state: SqlWatchState


@asynccontextmanager
async def replica(
    box: Sandbox, db: Path | str, *, grace: float, **overrides: Any
) -> AsyncIterator[Replica]:
    """One passbot process's watch: its own services, connections and state, on `db`."""
    settings = settings_for(box, db, passbot_channel=CHANNEL, **overrides)
    async with AsyncExitStack() as stack:
        services = await stack.enter_async_context(build_services(settings))
        history = open_history(settings.passbot_db)
        state = open_watch_state(settings.passbot_db)
        stack.callback(history.close)
        stack.callback(state.close)
        assert isinstance(services.payments, StripePayments)
        watch = Watch(
            services=services,
            events=StripeEventFeed.of(services.payments),
            state=state,
            ledger=history,
            history=history,
            poster=slack_poster(settings, services, CHANNEL),
            grace=timedelta(seconds=grace),
            autofix=settings.passbot_autofix,
        )
        yield Replica(watch, state)


async def stripe_events_requests(box: Sandbox) -> int:
    return (await box.requests())["stripe"].get("GET /v1/events", 0)


async def subscriptions_for(box: Sandbox, session: str) -> list[dict[str, Any]]:
    docs = (await box.dump_world())["sanity"]["documents"]
    return [d for d in docs if d.get("_type") == "subscription" and session in json.dumps(d)]


# ------------------------------------------------------------------------------ the use case


async def test_an_event_is_followed_once_and_its_purchase_posted_once(
    box: Sandbox, tmp_path: Path
) -> None:
    async with replica(box, tmp_path / "db", grace=0.5) as one:
        first = await one.watch.poll()  # the first look: the world's own events are hours old
        assert first.failed == ()
        session = await purchase(box, fulfil=False)
        found = await one.watch.poll()
        assert (found.events, found.new) == (1, 1)
        again = await one.watch.poll()
        assert (again.events, again.new) == (0, 0)
        await asyncio.sleep(0.6)
        checked = await one.watch.check()
        assert checked.settled == {session: ALERTED}
        assert (await one.watch.check()).due == 0
    mine = [p for p in posts(box) if session in text_of(p)]
    assert len(mine) == 1
    assert "with no pass after" in mine[0]["args"]["text"]
    assert "approve" in text_of(mine[0]).lower()


async def test_a_purchase_is_not_posted_before_its_grace_ends_nor_when_its_pass_comes(
    box: Sandbox, tmp_path: Path
) -> None:
    async with replica(box, tmp_path / "db", grace=1.5) as one:
        await one.watch.poll()
        missing = await purchase(box, 0, fulfil=False)
        fulfilled = await purchase(box, 1, fulfil=True, delay_s=0.3)
        await one.watch.poll()
        early = await one.watch.check()
        assert early.due == 0
        assert posts(box) == []
        await asyncio.sleep(1.6)
        late = await one.watch.check()
    assert late.settled == {missing: ALERTED, fulfilled: FULFILLED}
    assert [missing in text_of(p) for p in posts(box)] == [True]


async def test_the_cursor_is_kept_across_a_restart(box: Sandbox, db_url: str) -> None:
    db = db_url  # SQLite and PostgreSQL
    accounts = 3  # two schools and the platform
    async with replica(box, db, grace=60) as before:
        await before.watch.poll()
        await purchase(box, 0)
        assert (await before.watch.poll()).new == 1
        cursors = {
            a: before.state.cursor(a)
            for a in ("", *[s["id"] for s in box.loaded.world["stripe"]["accounts"]])
        }
    start = await stripe_events_requests(box)
    await purchase(box, 1)
    async with replica(box, db, grace=60) as after:
        for account, cursor in cursors.items():
            assert after.state.cursor(account) == cursor
        result = await after.watch.poll()
        assert (result.events, result.new) == (1, 1)  # only the purchase made while it was down
        assert len(after.state.outcomes()) == 2
    assert await stripe_events_requests(box) - start == accounts


async def test_two_replicas_post_each_purchase_once(box: Sandbox, db_url: str) -> None:
    db = db_url  # SQLite and PostgreSQL
    async with replica(box, db, grace=0.3) as a, replica(box, db, grace=0.3) as b:
        await asyncio.gather(a.watch.poll(), b.watch.poll())
        sessions = [await purchase(box, n, fulfil=False) for n in range(2)]
        await asyncio.gather(a.watch.poll(), b.watch.poll())
        await asyncio.sleep(0.4)
        first, second = await asyncio.gather(a.watch.check(), b.watch.check())
    outcomes = {**first.settled, **second.settled}
    assert set(outcomes) == set(sessions)
    assert all(o in (ALERTED, ELSEWHERE) for o in outcomes.values())
    for session in sessions:
        assert [session in text_of(p) for p in posts(box)].count(True) == 1


async def test_several_at_once_make_one_likely_outage_message(box: Sandbox, tmp_path: Path) -> None:
    async with replica(box, tmp_path / "db", grace=0.3) as one:
        await one.watch.poll()
        for n in range(3):
            await purchase(box, n, fulfil=False)
        await one.watch.poll()
        await asyncio.sleep(0.4)
        result = await one.watch.check()
        assert result.alert is not None
        assert result.alert.outage
        await purchase(box, 3, fulfil=False)
        await one.watch.poll()
        await asyncio.sleep(0.4)
        later = await one.watch.check()
        assert later.alert is not None
        assert not later.alert.outage  # one outage message an hour
    texts = [p["args"]["text"] for p in posts(box)]
    assert [t.startswith("Likely outage") for t in texts] == [True, False]
    assert "webhook_deliveries" in texts[0]


async def test_autofix_creates_the_pass_at_once_through_the_audited_path(
    box: Sandbox, tmp_path: Path
) -> None:
    async with replica(box, tmp_path / "db", grace=0.3, passbot_autofix=True) as one:
        await one.watch.poll()
        session = await purchase(box, fulfil=False)
        await one.watch.poll()
        await asyncio.sleep(0.4)
        result = await one.watch.check()
        assert result.alert is not None
        assert [o.applied for o in result.alert.autofixed] == [True]
        entries = one.watch.services.audit.recent(5)
    assert [e.session for e in entries] == [session]
    assert entries[0].actor == "passbot:autofix"
    assert len(await subscriptions_for(box, session)) == 1
    assert "Fixed automatically" in text_of(posts(box)[0])


# ---------------------------------------------------------------------------- passbot serve


def signed(payload: str, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


@asynccontextmanager
async def serving_watch(box: Sandbox, db: Path, **overrides: Any) -> AsyncIterator[str]:
    """`passbot serve --http` with the watch; yields its Stripe webhook URL."""
    settings = settings_for(
        box, db, passbot_channel=CHANNEL, passbot_stripe_webhook_secret=SECRET, **overrides
    )
    stop = asyncio.Event()
    lines: list[str] = []
    async with build_services(settings) as services:
        task = asyncio.create_task(
            run_serve(settings, services, http=True, host="127.0.0.1", port=0, stop=stop,
                      announce=lines.append)
        )  # fmt: skip
        try:
            async with asyncio.timeout(30):
                while not any("Stripe webhook" in line for line in lines):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            line = next(line for line in lines if "Stripe webhook" in line)
            yield line.rsplit("Stripe webhook ", 1)[1].strip()
        finally:
            stop.set()
            assert await task == 0


async def test_a_signed_webhook_wakes_the_watch_long_before_its_interval(
    box: Sandbox, tmp_path: Path
) -> None:
    async with serving_watch(
        box, tmp_path / "db", passbot_watch_interval=300, passbot_watch_grace=0.5
    ) as url:
        await asyncio.sleep(0.5)  # the first poll, at start
        async with httpx.AsyncClient() as client:
            await client.post(
                f"{box.url}/_sandbox/stripe/webhook_delivery", json={"url": url, "secret": SECRET}
            )
        session = await purchase(box, fulfil=False)
        async with asyncio.timeout(20):  # the interval is 300 s: only the webhook can wake it
            while not any(session in text_of(p) for p in posts(box)):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    deliveries = box.checkout.deliveries
    assert [d["status"] for d in deliveries] == [200]


@pytest.mark.parametrize(
    ("case", "status"),
    [("good", 200), ("bad", 400), ("stale", 400), ("missing", 400), ("other secret", 400)],
)
async def test_the_stripe_webhook_checks_stripe_signature(
    box: Sandbox, tmp_path: Path, case: str, status: int
) -> None:
    event = {"id": "evt_test_1", "object": "event", "type": "checkout.session.completed",
             "account": customer(box)["account"], "created": int(time.time()),
             "data": {"object": {"id": "cs_test_x", "object": "checkout.session"}}}  # fmt: skip
    payload = json.dumps(event)
    headers = {
        "good": signed(payload),
        "bad": signed(payload + " "),
        "stale": signed(payload, at=int(time.time()) - 3600),
        "missing": {"Content-Type": "application/json"},
        "other secret": signed(payload, secret="whsec_someone_else"),
    }[case]
    async with (
        serving_watch(box, tmp_path / "db", passbot_watch_interval=300) as url,
        httpx.AsyncClient() as client,
    ):
        answer = await client.post(url, content=payload.encode(), headers=headers)
    assert answer.status_code == status, answer.text
    assert SECRET not in answer.text
