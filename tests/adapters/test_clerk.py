"""ClerkUsers against httpx.MockTransport: request shapes, pagination, errors, retries."""

from __future__ import annotations

import httpx
import pytest

from core.adapters.clerk import ClerkUsers, make_clerk_client
from core.adapters.retry import RetryPolicy
from core.errors import UpstreamError
from tests.adapters.conftest import Recorder, Sleeps, answers

API = "https://api.clerk.com/v1"
KEY = "sk_test_clerk_secret"


def user(user_id: str, *emails: str) -> dict[str, object]:
    return {
        "id": user_id,
        "object": "user",
        "primary_email_address_id": "idn_0",
        "email_addresses": [
            {"id": f"idn_{n}", "email_address": address} for n, address in enumerate(emails)
        ],
        "first_name": "Emil",
        "some_new_field": {"ignored": True},
    }


def directory(
    recorder: Recorder, retry: RetryPolicy | None = None, page_size: int = 100
) -> ClerkUsers:
    if retry is not None:
        return ClerkUsers(recorder.client(API, KEY), retry=retry, page_size=page_size)
    return ClerkUsers(recorder.client(API, KEY), page_size=page_size)


async def test_users_by_email_request_and_mapping() -> None:
    recorder = Recorder(answers(httpx.Response(200, json=[user("user_1", "emil@example.com")])))
    users = await directory(recorder).users_by_email("  Emil@Example.COM ")
    assert [(u.id, u.emails, u.primary_email) for u in users] == [
        ("user_1", ("emil@example.com",), "emil@example.com")
    ]
    (request,) = recorder.requests
    assert request.method == "GET"
    assert request.url.path == "/v1/users"
    assert request.url.params.multi_items() == [
        ("email_address", "emil@example.com"),
        ("limit", "100"),
        ("offset", "0"),
    ]
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_blank_email_asks_nothing() -> None:
    recorder = Recorder(answers())
    assert await directory(recorder).users_by_email("  ") == []
    assert recorder.requests == []


async def test_users_by_id_repeats_the_parameter_and_chunks_by_100() -> None:
    ids = [f"user_{n}" for n in range(150)]
    recorder = Recorder(
        answers(
            httpx.Response(200, json=[user(i) for i in ids[:100]]),
            httpx.Response(200, json=[user(i) for i in ids[100:]]),
        )
    )
    users = await directory(recorder).users_by_id([*ids, "user_0", ""])
    assert [u.id for u in users] == ids
    first, second = recorder.requests
    assert first.url.params.get_list("user_id") == ids[:100]
    assert second.url.params.get_list("user_id") == ids[100:]
    assert await directory(recorder).users_by_id([]) == []
    assert len(recorder.requests) == 2


async def test_a_full_page_is_followed_by_the_next_offset() -> None:
    recorder = Recorder(
        answers(
            httpx.Response(200, json=[user("user_1", "a@x.com"), user("user_2", "a@x.com")]),
            httpx.Response(200, json=[user("user_3", "a@x.com")]),
        )
    )
    users = await directory(recorder, page_size=2).users_by_email("a@x.com")
    assert [u.id for u in users] == ["user_1", "user_2", "user_3"]
    assert [r.url.params["offset"] for r in recorder.requests] == ["0", "2"]
    assert {r.url.params["limit"] for r in recorder.requests} == {"2"}


async def test_a_paginated_envelope_is_understood() -> None:
    recorder = Recorder(
        answers(httpx.Response(200, json={"data": [user("user_1", "a@x.com")], "total_count": 1}))
    )
    assert [u.id for u in await directory(recorder).users_by_email("a@x.com")] == ["user_1"]


async def test_401_says_the_key_was_rejected_without_the_key() -> None:
    body = {
        "errors": [
            {
                "message": "Invalid authentication",
                "long_message": "The provided secret key is invalid",
                "code": "authentication_invalid",
            }
        ]
    }
    recorder = Recorder(answers(httpx.Response(401, json=body)))
    with pytest.raises(UpstreamError) as caught:
        await directory(recorder).users_by_email("a@x.com")
    assert caught.value.service == "clerk"
    assert "secret key was rejected" in str(caught.value)
    assert "authentication_invalid" in str(caught.value)
    assert KEY not in str(caught.value)
    assert not caught.value.retryable


async def test_422_carries_clerks_message() -> None:
    body = {"errors": [{"message": "is invalid", "long_message": "limit is invalid", "code": "x"}]}
    recorder = Recorder(answers(httpx.Response(422, json=body)))
    with pytest.raises(UpstreamError, match="limit is invalid"):
        await directory(recorder).users_by_id(["user_1"])


async def test_429_is_retried_after_retry_after(fast_retry: RetryPolicy, sleeps: Sleeps) -> None:
    recorder = Recorder(
        answers(
            httpx.Response(429, headers={"Retry-After": "3"}, json={"errors": []}),
            httpx.Response(200, json=[]),
        )
    )
    assert await directory(recorder, fast_retry).users_by_email("a@x.com") == []
    assert len(recorder.requests) == 2
    assert sleeps.delays == [3.0]


async def test_persistent_5xx_is_retryable(fast_retry: RetryPolicy) -> None:
    recorder = Recorder(answers(*[httpx.Response(500, text="oops")] * 4))
    with pytest.raises(UpstreamError) as caught:
        await directory(recorder, fast_retry).users_by_email("a@x.com")
    assert caught.value.retryable
    assert len(recorder.requests) == 4


async def test_make_clerk_client_keeps_the_version_path() -> None:
    async with make_clerk_client(API, KEY) as client:
        request = client.build_request("GET", "users")
        assert str(request.url) == "https://api.clerk.com/v1/users"
        assert request.headers["authorization"] == f"Bearer {KEY}"
