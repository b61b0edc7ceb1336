"""Fixtures of the sandbox tests: one sandbox for the whole session, reset to a world per test.

Starting Node takes a fraction of a second, so every test in tests/sandbox shares one sandbox in
the session's event loop (each module marks its tests with ``loop_scope="session"``) and begins
by replacing its state with the world it needs (:func:`fresh` does it for the tiny world).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe

from sandbox import Sandbox, start_sandbox

TINY_WORLD = json.loads((Path(__file__).parent / "tiny-world.json").read_text(encoding="utf-8"))
AURORA = "acct_auroraAAA"


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A fresh copy of examples/tiny-world.json (kept as tests/sandbox/tiny-world.json)."""
    return copy.deepcopy(TINY_WORLD)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    box = await start_sandbox(copy.deepcopy(TINY_WORLD))
    try:
        yield box
    finally:
        await box.close()


@pytest_asyncio.fixture(loop_scope="session")
async def fresh(sandbox: Sandbox, tiny: dict[str, Any]) -> Sandbox:
    """The session's sandbox, reset to the tiny world."""
    await sandbox.replace_world(tiny)
    return sandbox


@pytest.fixture
def env(sandbox: Sandbox) -> dict[str, str]:
    return sandbox.settings()


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def stripe_client(env: dict[str, str]) -> AsyncIterator[stripe.StripeClient]:
    """stripe-python as the bot builds it: async httpx, no retries, the sandbox's base."""
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        env["STRIPE_API_KEY"],
        base_addresses={"api": env["STRIPE_API_BASE"]},
        http_client=http_client,
        max_network_retries=0,
    )
    try:
        yield client
    finally:
        await http_client.close_async()
        http_client.close()


def make_world(**sections: Any) -> dict[str, Any]:
    """A small world: the tiny world's Sanity settings and nothing else unless given."""
    world: dict[str, Any] = {
        "now": "2026-11-28T08:00:00Z",
        "stripe": {"platform_account": "acct_platform", "livemode": False, "accounts": []},
        "sanity": {"project_id": "demo123", "dataset": "test", "documents": []},
    }
    world.update(sections)
    return world


Factory = Callable[..., dict[str, Any]]
