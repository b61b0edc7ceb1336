"""The sandbox's live clock, checkout simulator and signed Stripe webhook deliveries
(sandbox/checkout.py), through its HTTP routes and stripe-python."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
from aiohttp import web

from sandbox import Sandbox, WorldError, check_world
from tests.sandbox.conftest import AURORA

pytestmark = pytest.mark.asyncio(loop_scope="session")
EMIL = "emil.lund117@example.com"
SECRET = "whsec_sandbox_test"


@pytest_asyncio.fixture(loop_scope="session")
async def live(sandbox: Sandbox, tiny: dict[str, Any]) -> Sandbox:
    tiny["now"] = "live"
    await sandbox.replace_world(tiny)
    return sandbox


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, bytes]]]]:
    got: list[tuple[str, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((request.headers.get("Stripe-Signature", ""), await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", got
    finally:
        await runner.cleanup()


async def buy(box: Sandbox, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{box.url}/_sandbox/purchase", json=body)


async def test_a_live_world_is_a_world_and_nothing_else_is() -> None:
    check_world({"now": "live", "stripe": {}, "sanity": {"project_id": "p", "dataset": "d"}})
    with pytest.raises(WorldError, match="now"):
        check_world({"now": "later", "stripe": {}, "sanity": {"project_id": "p", "dataset": "d"}})


async def test_a_live_world_reads_the_wall_clock_and_gives_the_bot_no_fixed_now(
    live: Sandbox,
) -> None:
    assert "PASSBOT_NOW" not in live.settings()


async def test_a_purchase_is_paid_now_with_its_payment_and_event(live: Sandbox) -> None:
    answer = await buy(live, account=AURORA, **{"pass": "pass-a-drop"}, email=EMIL, fulfil=False)
    assert answer.status_code == 200
    session_id = answer.json()["session"]
    env = live.settings()
    http = stripe.HTTPXClient()
    client = stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}, http_client=http
    )
    try:
        await _check_purchase(client, session_id)
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


async def _check_purchase(client: stripe.StripeClient, session_id: str) -> None:
    session = await client.v1.checkout.sessions.retrieve_async(
        session_id, {"expand": ["payment_intent.latest_charge"]}, {"stripe_account": AURORA}
    )
    assert session.payment_status == "paid"
    assert session.metadata["type"] == "pass_purchase"
    assert session.metadata["passId"] == "pass-a-drop"
    assert session.metadata["tenantId"] == "tenant-aurora"
    assert session.payment_intent.latest_charge.paid  # type: ignore[union-attr]
    events = await client.v1.events.list_async(
        {"types": ["checkout.session.completed"], "limit": 1}, {"stripe_account": AURORA}
    )
    assert events.data[0].data.object["id"] == session_id
    assert abs(events.data[0].created - session.created) <= 1


async def test_fulfil_writes_the_webhooks_pass_after_the_delay(live: Sandbox) -> None:
    answer = await buy(live, account=AURORA, **{"pass": "pass-a-10clip"}, email=EMIL, delay_s=0.3)
    session_id = answer.json()["session"]

    def passes(world: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            d for d in world["sanity"]["documents"]
            if d.get("_type") == "subscription" and d.get("stripeSessionId") == session_id
        ]  # fmt: skip

    assert passes(await live.dump_world()) == []
    await asyncio.sleep(0.6)
    [doc] = passes(await live.dump_world())
    assert (doc["type"], doc["remainingClips"], doc["createdViaWebhook"]) == ("clipcard", 10, True)


@pytest.mark.parametrize(
    "body",
    [
        {"account": "acct_nobody", "pass": "pass-a-drop", "email": EMIL},
        {"account": AURORA, "pass": "pass-nope", "email": EMIL},
        {"account": AURORA, "pass": "pass-a-drop", "email": "nobody@example.com"},
        {"account": AURORA, "pass": "pass-a-drop", "email": EMIL, "fulfil": "yes"},
        {"account": AURORA, "pass": "pass-a-drop", "email": EMIL, "delay_s": -1},
        [],
    ],
)
async def test_a_bad_purchase_is_refused_and_makes_nothing(live: Sandbox, body: Any) -> None:
    before = len((await live.dump_world())["stripe"]["checkout_sessions"])
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{live.url}/_sandbox/purchase", content=json.dumps(body))
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert len((await live.dump_world())["stripe"]["checkout_sessions"]) == before


async def test_events_are_delivered_signed_as_stripe_signs_them(
    live: Sandbox, receiver: tuple[str, list[tuple[str, bytes]]]
) -> None:
    url, got = receiver
    got.clear()
    async with httpx.AsyncClient() as client:
        set_up = await client.post(
            f"{live.url}/_sandbox/stripe/webhook_delivery", json={"url": url, "secret": SECRET}
        )
        assert set_up.status_code == 200
    session_id = (await buy(live, account=AURORA, **{"pass": "pass-a-drop"}, email=EMIL)).json()[
        "session"
    ]
    await buy(live, account=AURORA, **{"pass": "pass-a-drop"}, email=EMIL, deliver=False)
    await asyncio.sleep(0.5)
    [(header, payload)] = got
    event = stripe.Webhook.construct_event(payload, header, SECRET)  # Stripe's own check
    assert event.type == "checkout.session.completed"
    assert event.data.object["id"] == session_id
    assert event["account"] == AURORA
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")
    async with httpx.AsyncClient() as client:
        record = (await client.get(f"{live.url}/_sandbox/stripe/deliveries")).json()
    assert [r["status"] for r in record] == [200]
