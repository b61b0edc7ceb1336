"""Helpers for the adapter tests: a recording httpx transport, a fake Stripe HTTP client, a
retry policy that does not wait."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import stripe

from core.adapters.retry import RetryPolicy


@dataclass
class Sleeps:
    """Records the delays a retry policy asked for, without waiting."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fast_retry(sleeps: Sleeps) -> RetryPolicy:
    """Four attempts, tiny backoff, Retry-After honoured (recorded, not slept)."""
    return RetryPolicy(
        attempts=4, base_delay=0.001, max_delay=0.002, max_retry_after=5, budget=20, sleep=sleeps
    )


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """An httpx MockTransport that records every request and answers from a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, base_url: str, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            transport=self.transport,
        )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content.decode())


def answers(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering the responses in order (an exception is raised instead)."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


class FakeStripeHTTP(stripe.HTTPClient):
    """A stripe-python HTTP client answering from a handler, recording each request."""

    name = "fake"

    def __init__(self, handler: Callable[[str, str, Mapping[str, str]], tuple[int, Any]]) -> None:
        super().__init__()
        self.handler = handler
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        self.calls.append((method, url, dict(headers)))
        status, body = self.handler(method, url, headers)
        return json.dumps(body).encode(), status, {"request-id": "req_fake"}

    async def close_async(self) -> None:
        return None

    async def sleep_async(self, secs: float) -> None:
        return None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the adapters use the async methods only")

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the adapters use the async methods only")

    def close(self) -> None:
        return None


def query_of(url: str) -> list[tuple[str, str]]:
    """The decoded query pairs of a URL, in order."""
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def path_of(url: str) -> str:
    return urlsplit(url).path
