"""The shared read retry: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from core.adapters.retry import RetryPolicy, retry_after_seconds, send_with_retry
from core.errors import UpstreamError
from tests.adapters.conftest import Sleeps


def sender(
    *outcomes: httpx.Response | Exception,
) -> tuple[Callable[[], Awaitable[httpx.Response]], list[int]]:
    queue = list(outcomes)
    calls: list[int] = []

    async def send() -> httpx.Response:
        calls.append(1)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return send, calls


async def test_429_with_retry_after_then_success(fast_retry: RetryPolicy, sleeps: Sleeps) -> None:
    send, calls = sender(
        httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={})
    )
    response = await send_with_retry(send, service="sanity", action="x", policy=fast_retry)
    assert response.status_code == 200
    assert len(calls) == 2
    assert sleeps.delays == [2.0]


async def test_5xx_and_transport_errors_are_retried(fast_retry: RetryPolicy) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    send, calls = sender(
        httpx.Response(503),
        httpx.ConnectError("refused", request=request),
        httpx.ReadTimeout("slow", request=request),
        httpx.Response(200),
    )
    response = await send_with_retry(send, service="clerk", action="x", policy=fast_retry)
    assert response.status_code == 200
    assert len(calls) == 4


async def test_gives_up_after_the_attempts(fast_retry: RetryPolicy) -> None:
    send, calls = sender(*[httpx.Response(502) for _ in range(10)])
    response = await send_with_retry(send, service="sanity", action="x", policy=fast_retry)
    assert response.status_code == 502
    assert len(calls) == 4


async def test_transport_failure_on_the_last_try_is_an_upstream_error(
    fast_retry: RetryPolicy,
) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    send, calls = sender(*[httpx.RemoteProtocolError("dropped", request=request)] * 4)
    with pytest.raises(UpstreamError) as caught:
        await send_with_retry(send, service="sanity", action="reading x", policy=fast_retry)
    assert caught.value.retryable
    assert caught.value.service == "sanity"
    assert "reading x" in str(caught.value)
    assert len(calls) == 4


async def test_client_errors_are_not_retried(fast_retry: RetryPolicy) -> None:
    for status in (400, 401, 403, 404, 409):
        send, calls = sender(httpx.Response(status))
        response = await send_with_retry(send, service="sanity", action="x", policy=fast_retry)
        assert response.status_code == status
        assert len(calls) == 1


async def test_retry_after_is_capped_and_the_budget_bounds_the_waiting(sleeps: Sleeps) -> None:
    policy = RetryPolicy(attempts=10, max_retry_after=3, budget=7, sleep=sleeps)
    send, calls = sender(*[httpx.Response(429, headers={"Retry-After": "60"})] * 10)
    response = await send_with_retry(send, service="clerk", action="x", policy=policy)
    assert response.status_code == 429
    assert sleeps.delays == [3, 3]  # a third wait would pass the 7-second budget
    assert len(calls) == 3


def test_retry_after_parses_seconds_and_dates() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "1"})) == 1.0
    assert retry_after_seconds(httpx.Response(429)) is None
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after_seconds(httpx.Response(429, headers={"Retry-After": later}))
    assert seconds is not None
    assert 25 < seconds <= 30


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=4)
    for retry, ceiling in ((1, 1), (2, 2), (3, 4), (6, 4)):
        delay = policy.backoff(retry)
        assert ceiling / 2 <= delay <= ceiling
