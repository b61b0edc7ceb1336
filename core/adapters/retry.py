"""Retries for idempotent HTTP reads (Sanity queries, Clerk lookups), and the translation of
transport failures into `UpstreamError`.

What is retried: HTTP 429 and 5xx answers, timeouts and connection errors. How: exponential
backoff with jitter, or the server's `Retry-After` (seconds or an HTTP date) when it sends one,
capped; at most `attempts` tries and at most `budget` seconds spent waiting in all. Writes never
go through here: a mutation is sent once and its outcome checked by reading (core.adapters.sanity).

Stripe is not retried here: stripe-python retries by itself (`max_network_retries`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from core.errors import UpstreamError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try a read before giving up.

    Attributes:
        attempts: tries in all, the first included (1 = no retry).
        base_delay: seconds before the first retry; doubled for each retry after it.
        max_delay: the cap on a backoff delay.
        max_retry_after: the cap on a server's `Retry-After`.
        budget: the most seconds spent waiting between tries, in all; a retry that would go
            past it is not made.
        sleep: how to wait (tests pass a recorder instead of sleeping).
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    budget: float = 45.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)

    def backoff(self, retry: int) -> float:
        """The delay before retry number `retry` (1-based): exponential, half-jittered."""
        delay: float = min(self.base_delay * 2 ** (retry - 1), self.max_delay)
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography


DEFAULT_RETRY = RetryPolicy()
"""The policy adapters use unless given another."""

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    """429 and the 5xx family: the request may succeed if tried again later."""
    return status in RETRYABLE_STATUS or 500 <= status <= 599


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The server's `Retry-After`, in seconds (delta-seconds or an HTTP date); None if absent."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def transport_error(service: str, exc: httpx.TransportError, *, action: str) -> UpstreamError:
    """A safe, one-line `UpstreamError` for a request that got no HTTP answer."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"timed out ({type(exc).__name__})"
    else:
        reason = f"could not be reached ({type(exc).__name__})"
    return UpstreamError(service, f"{action}: {service.capitalize()} {reason}", retryable=True)


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    service: str,
    action: str,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> httpx.Response:
    """Send an idempotent request, retrying what may succeed later.

    Args:
        send: makes the request once (called again for every try).
        service: `sanity` or `clerk`, for errors and logs.
        action: what the request does, for errors and logs ("reading the catalogue").
        policy: attempts, delays and budget.

    Returns:
        The last response: a success, a non-retryable error for the caller to translate, or a
        retryable one when the attempts or the budget ran out.

    Raises:
        UpstreamError: (retryable) the last try got no HTTP answer at all.
    """
    waited = 0.0
    started = time.monotonic()
    for attempt in range(1, max(1, policy.attempts) + 1):
        failure: httpx.TransportError | None = None
        response: httpx.Response | None = None
        try:
            response = await send()
        except httpx.TransportError as exc:
            failure = exc
        if response is not None and not is_retryable_status(response.status_code):
            return response
        last_try = attempt >= policy.attempts
        delay = policy.backoff(attempt)
        if response is not None:
            hinted = retry_after_seconds(response)
            if hinted is not None:
                delay = min(hinted, policy.max_retry_after)
        if last_try or waited + delay > policy.budget:
            if response is not None:
                return response
            assert failure is not None
            raise transport_error(service, failure, action=action) from failure
        what = f"HTTP {response.status_code}" if response is not None else type(failure).__name__
        logger.warning(
            "%s: %s got %s; retry %d of %d in %.2fs (%.1fs elapsed)",
            service,
            action,
            what,
            attempt,
            policy.attempts - 1,
            delay,
            time.monotonic() - started,
        )
        if response is not None:
            await response.aclose()
        await policy.sleep(delay)
        waited += delay
    raise AssertionError("unreachable: the loop returns or raises on its last try")
