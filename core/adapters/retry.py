"""passbot's one retry policy, for every service it reads (Stripe, Sanity, Clerk), on tenacity.

What is retried: answers that may succeed later — HTTP 429 and 5xx, timeouts and connection
errors (each adapter says which of its failures those are, with a `Verdict`). How: exponential
backoff with jitter, or the server's `Retry-After` (seconds or an HTTP date) when it sends one,
capped; at most `attempts` tries and at most `budget` seconds spent waiting in all. Writes never
go through here: a mutation is sent once and its outcome checked by reading (core.adapters.sanity).

Every try, failure and retry is counted per service (core.adapters.telemetry) and every retry is
one log line (no URL: a Clerk lookup's URL carries the customer's email).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState

from core.adapters import telemetry
from core.errors import UpstreamError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one try's outcome means: whether to try again, after how long the server asked,
    how to name it in the log ("HTTP 503", "ConnectError"), and whether it failed at all (an
    error in the metrics, retried or not)."""

    retry: bool
    retry_after: float | None = None
    what: str = ""
    failed: bool = False


def is_retryable_status(status: int) -> bool:
    """429 and the 5xx family: the request may succeed if tried again later."""
    return status in RETRYABLE_STATUS or 500 <= status <= 599


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """A `Retry-After` header in seconds (delta-seconds or an HTTP date); None if absent or
    unreadable. The one parser, for httpx responses and Stripe's errors alike."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = str(value).strip()
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


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's `Retry-After`, in seconds; None if absent."""
    return parse_retry_after(response.headers)


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    *,
    judge: Callable[[T | None, BaseException | None], Verdict],
    service: str,
    action: str,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> T:
    """Call `call` until `judge` says its outcome is final, or the attempts or budget run out.

    Returns the last result (a success, an answer not worth retrying, or a retryable one when
    the tries ran out), or raises the last exception. `judge` sees `(result, None)` or
    `(None, exception)`; only exceptions it names as retryable are retried, others raise at once.
    """
    verdicts: dict[int, Verdict] = {}

    def should_retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        assert outcome is not None
        error = outcome.exception()
        verdict = judge(None, error) if error is not None else judge(outcome.result(), None)
        verdicts[state.attempt_number] = verdict
        if verdict.failed or verdict.retry or error is not None:
            telemetry.service_error(service)
        return verdict.retry

    def wait(state: RetryCallState) -> float:
        verdict = verdicts[state.attempt_number]
        if verdict.retry_after is not None:
            return min(verdict.retry_after, policy.max_retry_after)
        return policy.backoff(state.attempt_number)

    def stop(state: RetryCallState) -> bool:
        return (
            state.attempt_number >= max(1, policy.attempts)
            or state.idle_for + state.upcoming_sleep > policy.budget
        )

    def before_sleep(state: RetryCallState) -> None:
        telemetry.service_retry(service)
        logger.warning(
            "%s: %s got %s; retry %d of %d in %.2fs",
            service,
            action,
            verdicts[state.attempt_number].what,
            state.attempt_number,
            policy.attempts - 1,
            state.upcoming_sleep,
        )

    def give_up(state: RetryCallState) -> T:
        assert state.outcome is not None
        last: T = state.outcome.result()  # the last answer, or its exception raised
        return last

    async def attempt() -> T:
        telemetry.service_request(service)
        return await call()

    retrying = AsyncRetrying(
        retry=should_retry,
        wait=wait,
        stop=stop,
        sleep=policy.sleep,
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        reraise=True,
    )
    result: T = await retrying(attempt)
    return result


def transport_error(service: str, exc: httpx.TransportError, *, action: str) -> UpstreamError:
    """A safe, one-line `UpstreamError` for a request that got no HTTP answer."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"timed out ({type(exc).__name__})"
    else:
        reason = f"could not be reached ({type(exc).__name__})"
    return UpstreamError(service, f"{action}: {service.capitalize()} {reason}", retryable=True)


def _judge_http(response: httpx.Response | None, error: BaseException | None) -> Verdict:
    if error is not None:
        return Verdict(isinstance(error, httpx.TransportError), None, type(error).__name__, True)
    assert response is not None
    status = response.status_code
    if not is_retryable_status(status):
        return Verdict(False, failed=status >= 400)
    return Verdict(True, retry_after_seconds(response), f"HTTP {status}", True)


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    service: str,
    action: str,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> httpx.Response:
    """Send an idempotent HTTP request under the policy.

    Args:
        send: makes the request once (called again for every try).
        service: `sanity` or `clerk`, for errors, logs and metrics.
        action: what the request does, for errors and logs ("reading the catalogue").
        policy: attempts, delays and budget.

    Returns:
        The last response: a success, a non-retryable error for the caller to translate, or a
        retryable one when the attempts or the budget ran out.

    Raises:
        UpstreamError: (retryable) the last try got no HTTP answer at all.
    """

    try:
        return await call_with_retry(
            send, judge=_judge_http, service=service, action=action, policy=policy
        )
    except httpx.TransportError as exc:
        raise transport_error(service, exc, action=action) from exc
