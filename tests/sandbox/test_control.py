"""The sandbox as a whole: GET/POST /world, request counts, faults, latency, the CMS probe,
settings and start-up."""

from __future__ import annotations

import asyncio
import copy
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

import sandbox.sanity_node
from sandbox import Sandbox, SandboxError, WorldError, start_sandbox
from tests.sandbox.conftest import AURORA, TINY_WORLD

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO = Path(__file__).resolve().parents[2]


def stripe_headers(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['STRIPE_API_KEY']}", "Stripe-Account": AURORA}


async def test_world_round_trip(
    fresh: Sandbox, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    untouched = await http.get(f"{fresh.url}/world")
    assert untouched.status_code == 200
    dumped = untouched.json()
    expected = copy.deepcopy(TINY_WORLD)
    expected["slack"]["log"] = []
    expected["requests"] = {"stripe": {}, "sanity": {}, "clerk": {}, "slack": {}}
    assert dumped == expected
    assert list(dumped) == [*TINY_WORLD, "requests"]

    # Write a document, say something in Slack, then the dump shows both, and loads back.
    write = await http.post(
        f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data/mutate/test",
        json={"mutations": [{"create": {"_id": "note-1", "_type": "note", "text": "hi"}}]},
        headers={"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"},
    )
    assert write.status_code == 200
    slack = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    posted = await slack.chat_postMessage(channel="C0PASSES", text="hello")
    after = (await http.get(f"{fresh.url}/world")).json()
    assert after["sanity"]["documents"][:-1] == TINY_WORLD["sanity"]["documents"]
    note = after["sanity"]["documents"][-1]
    assert (note["_id"], note["text"], note["_createdAt"]) == (
        "note-1",
        "hi",
        "2026-11-28T08:00:00Z",
    )
    assert after["slack"]["log"] == [
        {
            "method": "chat.postMessage",
            "args": {"channel": "C0PASSES", "text": "hello"},
            "ts": posted["ts"],
        }
    ]
    assert after["requests"]["sanity"] == {"POST /data/mutate": 1}
    assert after["requests"]["slack"] == {"POST /api/chat.postMessage": 1}
    assert after == await fresh.dump_world()

    # POST /world: the dumped world loads back (its requests are not carried over).
    reload = await http.post(f"{fresh.url}/world", json=after)
    assert reload.status_code == 200
    again = (await http.get(f"{fresh.url}/world")).json()
    assert again["sanity"] == after["sanity"]
    assert again["slack"] == after["slack"]
    assert again["requests"] == {"stripe": {}, "sanity": {}, "clerk": {}, "slack": {}}
    # The message posted before the dump can still be updated.
    assert (await slack.chat_update(channel="C0PASSES", ts=posted["ts"], text="edit"))["ok"]

    refused = await http.post(f"{fresh.url}/world", json={"stripe": {}})
    assert refused.status_code == 400
    assert "sanity" in refused.json()["error"]


async def test_request_counts(fresh: Sandbox, http: httpx.AsyncClient, env: dict[str, str]) -> None:
    headers = stripe_headers(env)
    base = env["STRIPE_API_BASE"]
    for _ in range(3):
        await http.get(f"{base}/v1/checkout/sessions", headers=headers)
    await http.get(
        f"{base}/v1/checkout/sessions/cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T",
        headers=headers,
    )
    await http.get(f"{base}/v1/checkout/sessions/cs_nope", headers=headers)
    sanity = f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data"
    token = {"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"}
    await http.get(f"{sanity}/query/test", params={"query": "1"}, headers=token)
    await http.post(f"{sanity}/query/test", json={"query": "1"}, headers=token)
    await http.get(
        f"{env['CLERK_API_URL']}/users",
        headers={"Authorization": f"Bearer {env['CLERK_SECRET_KEY']}"},
    )
    await http.post(env["PASSBOT_WEBHOOK_PROBE_URL"])
    requests = (await fresh.dump_world())["requests"]
    assert requests == {
        "stripe": {"GET /v1/checkout/sessions": 3, "GET /v1/checkout/sessions/{id}": 2},
        "sanity": {"GET /data/query": 1, "POST /data/query": 1},
        "clerk": {"GET /v1/users": 1},
        "slack": {},
        "cms": {"POST /cms/webhook": 1},
    }


async def test_received_queries_and_the_slack_log_read_cheaply(
    fresh: Sandbox, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    sanity = f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data"
    token = {"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"}
    await http.get(f"{sanity}/query/test", params={"query": "$a", "$a": '"x"'}, headers=token)
    await http.post(f"{sanity}/query/test", json={"query": "*[_id == $id]", "params": {"id": "y"}},
                    headers=token)  # fmt: skip
    await http.post(f"{sanity}/query/test", json={"query": "*[broken"}, headers=token)
    expected = [
        {"query": "$a", "params": {"a": "x"}},
        {"query": "*[_id == $id]", "params": {"id": "y"}},
        {"query": "*[broken", "params": {}},  # recorded even when it does not parse
    ]
    assert await fresh.sanity_queries() == expected
    assert (await http.get(f"{fresh.url}/_sandbox/sanity/queries")).json() == expected

    slack = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    await slack.chat_postMessage(channel="C0PASSES", text="one")
    await slack.chat_postMessage(channel="C0PASSES", text="two")
    log = (await http.get(f"{fresh.url}/_sandbox/slack/log")).json()
    assert [e["args"]["text"] for e in log] == ["one", "two"]
    after = (await http.get(f"{fresh.url}/_sandbox/slack/log", params={"after": 1})).json()
    assert after == log[1:] == fresh.slack_log(1)

    await fresh.replace_world(copy.deepcopy(TINY_WORLD))  # a new world starts both afresh
    assert await fresh.sanity_queries() == []
    assert fresh.slack_log() == []


async def test_faults(sandbox: Sandbox, tiny: dict[str, Any], http: httpx.AsyncClient) -> None:
    tiny["faults"] = [
        {
            "service": "stripe",
            "method": "GET",
            "path": "/v1/checkout/sessions",
            "status": 429,
            "count": 2,
            "retry_after": 3,
        },
        {"service": "sanity", "path": "/data/mutate", "status": 503, "count": 1},
        {"service": "sanity", "path": "/data/query", "status": 0, "count": 1},
        {"service": "clerk", "status": 500, "count": 1},
        {
            "service": "slack",
            "path": "/api/chat.postMessage",
            "status": 429,
            "retry_after": 30,
            "count": 1,
        },
        {"service": "stripe", "path": "/v1/events", "delay_ms": 150, "count": 1},
        {"service": "stripe", "path": "/v1/webhook_endpoints", "status": 500},
    ]
    await sandbox.replace_world(tiny)
    env = sandbox.settings()
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        env["STRIPE_API_KEY"],
        base_addresses={"api": env["STRIPE_API_BASE"]},
        http_client=http_client,
        max_network_retries=0,
    )
    try:
        for _ in range(2):
            with pytest.raises(stripe.RateLimitError) as limited:
                await client.v1.checkout.sessions.list_async(options={"stripe_account": AURORA})
            assert limited.value.http_status == 429
            assert limited.value.headers["Retry-After"] == "3"
        page = await client.v1.checkout.sessions.list_async(options={"stripe_account": AURORA})
        assert len(page.data) == 2
        started = time.perf_counter()
        await client.v1.events.list_async()
        assert time.perf_counter() - started >= 0.15
        for _ in range(2):  # no count: never runs out
            with pytest.raises(stripe.APIError):
                await client.v1.webhook_endpoints.list_async()
    finally:
        await http_client.close_async()
        http_client.close()

    sanity = f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data"
    token = {"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"}
    unavailable = await http.post(f"{sanity}/mutate/test", json={"mutations": []}, headers=token)
    assert unavailable.status_code == 503
    assert unavailable.json()["statusCode"] == 503
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(f"{sanity}/query/test", params={"query": "1"}, headers=token)
    assert (
        await http.get(f"{sanity}/query/test", params={"query": "1"}, headers=token)
    ).status_code == 200

    clerk = await http.get(
        f"{env['CLERK_API_URL']}/users",
        headers={"Authorization": f"Bearer {env['CLERK_SECRET_KEY']}"},
    )
    assert clerk.status_code == 500
    assert clerk.json()["errors"][0]["code"] == "internal_clerk_error"

    slack = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    with pytest.raises(SlackApiError) as rate:
        await slack.chat_postMessage(channel="C0PASSES", text="x")
    assert rate.value.response.status_code == 429
    assert rate.value.response["error"] == "ratelimited"
    assert rate.value.response.headers["Retry-After"] == "30"
    assert (await slack.chat_postMessage(channel="C0PASSES", text="x"))["ok"]

    world = await sandbox.dump_world()
    assert [f.get("count") for f in world["faults"]] == [0, 0, 0, 0, 0, 0, None]
    assert world["requests"]["stripe"]["GET /v1/checkout/sessions"] == 3
    # The rate-limited post never reached Slack, so only the second one is in the log.
    assert [e["method"] for e in world["slack"]["log"]] == ["chat.postMessage"]


async def test_latency_and_delay_only(tiny: dict[str, Any]) -> None:
    tiny["faults"] = [{"service": "clerk", "delay_ms": 200, "count": 1}]
    async with await start_sandbox(tiny, latency_ms=50) as box:
        env = box.settings()
        async with httpx.AsyncClient() as http:
            clerk = {"Authorization": f"Bearer {env['CLERK_SECRET_KEY']}"}
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                answer = await http.get(f"{env['CLERK_API_URL']}/users", headers=clerk)
                timings.append(time.perf_counter() - started)
                assert answer.status_code == 200
            # Lower bounds only: a delay cannot be shorter than injected, but a loaded machine
            # can make anything longer (timings are benchmarks' business, not tests').
            assert timings[0] >= 0.25
            assert timings[1] >= 0.05
            assert (await box.dump_world())["faults"][0]["count"] == 0
            started = time.perf_counter()
            query = await http.get(
                f"{env['SANITY_API_HOST']}/v2025-02-19/data/query/test",
                params={"query": "1"},
                headers={"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"},
            )
            assert query.status_code == 200
            assert time.perf_counter() - started >= 0.05


@pytest.mark.parametrize(
    ("probe", "status", "body", "location"),
    [
        (None, 400, "No signature header", None),
        ({"status": 400}, 400, "No signature header", None),
        (
            {"status": 500, "body": "Webhook secret not configured"},
            500,
            "Webhook secret not configured",
            None,
        ),
        (
            {"status": 307, "location": "https://elsewhere.example/hook"},
            307,
            "",
            "https://elsewhere.example/hook",
        ),
    ],
)
async def test_cms_probe(
    sandbox: Sandbox,
    tiny: dict[str, Any],
    http: httpx.AsyncClient,
    probe: dict[str, Any] | None,
    status: int,
    body: str,
    location: str | None,
) -> None:
    if probe is None:
        del tiny["cms"]["probe"]
    else:
        tiny["cms"]["probe"] = probe
    await sandbox.replace_world(tiny)
    answer = await http.post(sandbox.settings()["PASSBOT_WEBHOOK_PROBE_URL"], content=b"{}")
    assert (answer.status_code, answer.text, answer.headers.get("location")) == (
        status,
        body,
        location,
    )


async def test_cms_probe_unreachable(
    sandbox: Sandbox, tiny: dict[str, Any], http: httpx.AsyncClient
) -> None:
    tiny["cms"]["probe"] = {"unreachable": True}
    await sandbox.replace_world(tiny)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(sandbox.settings()["PASSBOT_WEBHOOK_PROBE_URL"], content=b"{}")


async def test_settings(fresh: Sandbox, http: httpx.AsyncClient) -> None:
    env = fresh.settings()
    assert list(env) == [
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "SANITY_PROJECT_ID",
        "SANITY_DATASET",
        "SANITY_API_TOKEN",
        "SANITY_API_HOST",
        "SANITY_API_VERSION",
        "CLERK_SECRET_KEY",
        "CLERK_API_URL",
        "PASSBOT_WEBHOOK_URL",
        "PASSBOT_WEBHOOK_PROBE_URL",
        "PASSBOT_NOW",
        "SANDBOX_URL",
    ]
    assert env["SLACK_BOT_TOKEN"].startswith("xoxb-")
    assert env["SLACK_APP_TOKEN"].startswith("xapp-")
    assert env["SLACK_API_URL"].endswith("/api/")
    assert env["STRIPE_API_KEY"].startswith("rk_test_")
    assert (env["SANITY_PROJECT_ID"], env["SANITY_DATASET"]) == ("demo123", "test")
    assert env["SANITY_API_VERSION"] == "v2025-02-19"
    assert env["CLERK_API_URL"].endswith("/v1")
    assert env["PASSBOT_WEBHOOK_URL"] == "https://dance.example/api/stripe/webhook"
    assert env["PASSBOT_WEBHOOK_PROBE_URL"] == f"{fresh.url}/cms/webhook"
    assert env["PASSBOT_NOW"] == "2026-11-28T08:00:00.000Z"
    assert all(
        v.startswith("http://127.0.0.1:")
        for k, v in env.items()
        if k.endswith(("_URL", "_BASE", "_HOST")) and k != "PASSBOT_WEBHOOK_URL"
    )
    assert (await http.get(f"{fresh.url}/_sandbox/settings")).json() == env


async def test_bad_worlds_are_refused(sandbox: Sandbox, tiny: dict[str, Any]) -> None:
    for broken, message in (
        ({"sanity": tiny["sanity"]}, "'stripe'"),
        ({**tiny, "faults": [{"service": "mail"}]}, "faults\\[0\\].service"),
        ({**tiny, "now": "yesterday"}, "now"),
    ):
        with pytest.raises(WorldError, match=message):
            await sandbox.replace_world(broken)
    assert sandbox.settings()["SANITY_DATASET"] == "test"  # the old world stays


async def test_start_up_time(tiny: dict[str, Any]) -> None:
    """Measured, not asserted: printed with `pytest -s` (about 0.15 s on two cores)."""
    started = time.perf_counter()
    box = await start_sandbox(tiny)
    elapsed = time.perf_counter() - started
    await box.close()
    await box.close()  # twice is fine
    sys.stdout.write(f"\nsandbox start-up: {elapsed * 1000:.0f} ms\n")


async def test_missing_node_is_one_clear_error(
    tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.sanity_node.shutil, "which", lambda _name: None)
    with pytest.raises(SandboxError, match="`node` is not on PATH"):
        await start_sandbox(tiny)
    monkeypatch.undo()
    monkeypatch.setattr(sandbox.sanity_node, "SANITY_DIR", REPO / "tests")
    with pytest.raises(SandboxError, match="npm ci"):
        await start_sandbox(tiny)


async def test_node_dies_with_its_sandbox(tiny: dict[str, Any]) -> None:
    box = await start_sandbox(tiny)
    node = box._node
    assert node is not None
    process = node._process
    await box.close()
    assert process.poll() is not None
    await asyncio.sleep(0)
