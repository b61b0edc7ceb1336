"""The sandbox's Stripe and Sanity gzip their answers as the real APIs do: an answer of 1 kB or
more goes with `Content-Encoding: gzip` to a client whose `Accept-Encoding` allows it (httpx, and
so stripe-python's HTTPXClient and passbot's adapters, ask by default); others go as they are."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from sandbox import Sandbox
from sandbox.traffic import accepts_gzip
from tests.sandbox.conftest import AURORA

on_the_session_loop = pytest.mark.asyncio(loop_scope="session")


def stripe_page(env: dict[str, str], client: httpx.AsyncClient, **headers: str):
    return client.get(
        f"{env['STRIPE_API_BASE']}/v1/checkout/sessions",
        params={"limit": 100, "expand[]": "data.line_items"},
        headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}", "Stripe-Account": AURORA}
        | headers,
    )


def sanity_query(env: dict[str, str], client: httpx.AsyncClient, **headers: str):
    return client.get(
        f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data/query/{env['SANITY_DATASET']}",
        params={"query": "*"},  # the whole tiny world: a few kB
        headers={"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"} | headers,
    )


@on_the_session_loop
@pytest.mark.parametrize("ask", [stripe_page, sanity_query], ids=["stripe", "sanity"])
async def test_a_client_that_accepts_gzip_gets_the_same_json_gzipped(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient, ask
):
    zipped = await ask(env, http)  # httpx's own Accept-Encoding: gzip, deflate, …
    plain = await ask(env, http, **{"Accept-Encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert len(plain.content) >= 1024
    assert zipped.num_bytes_downloaded < plain.num_bytes_downloaded / 2
    # the same answer but for what varies from one answer to the next (Sanity's `ms`)
    assert zipped.json() | {"ms": 0} == plain.json() | {"ms": 0}


@on_the_session_loop
@pytest.mark.parametrize("ask", [stripe_page, sanity_query], ids=["stripe", "sanity"])
async def test_gzip_refused_with_q_0_is_not_sent(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient, ask
):
    answer = await ask(env, http, **{"Accept-Encoding": "gzip;q=0, identity"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers


@on_the_session_loop
async def test_small_answers_go_as_they_are(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient
):
    answer = await http.get(
        f"{env['STRIPE_API_BASE']}/v1/checkout/sessions",
        headers={"Authorization": "Bearer sk_test_not_a_key_of_this_world"},
    )
    assert answer.status_code == 401
    assert "content-encoding" not in answer.headers
    assert answer.json()["error"]["type"] == "invalid_request_error"


@on_the_session_loop
async def test_the_raw_bytes_are_gzip(fresh: Sandbox, env: dict[str, str]):
    """What goes over the wire is a gzip stream (decoded here by hand, not by httpx)."""
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream(
            "GET",
            f"{env['STRIPE_API_BASE']}/v1/checkout/sessions",
            params={"limit": 100},
            headers={
                "Authorization": f"Bearer {env['STRIPE_API_KEY']}",
                "Stripe-Account": AURORA,
                "Accept-Encoding": "gzip",
            },
        ) as answer,
    ):
        raw = b"".join([chunk async for chunk in answer.aiter_raw()])
    assert raw[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(raw))["object"] == "list"


@on_the_session_loop
async def test_the_sdk_reads_gzipped_pages(fresh: Sandbox, stripe_client):
    page = await stripe_client.v1.checkout.sessions.list_async(
        params={"limit": 100, "expand": ["data.line_items"]},
        options={"stripe_account": AURORA},
    )
    assert page.data
    assert all(s.id.startswith("cs_") for s in page.data)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br, zstd", True),
        ("GZIP", True),
        ("*", True),
        ("deflate;q=1.0, gzip;q=0.5", True),
        ("identity", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("*;q=0", False),
        ("gzip;q=oops", False),
        ("x-gzip", False),
    ],
)
def test_which_accept_encoding_allows_gzip(header: str, expected: bool):
    assert accepts_gzip(header) is expected
