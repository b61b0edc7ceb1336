"""ClerkUsers: the `UserDirectory` port over Clerk's Backend API (`GET /v1/users`).

Plain httpx rather than Clerk's SDK: one read endpoint, a tolerant model (`ClerkUser.from_json`
ignores fields it does not know), explicit timeouts and the shared read retry. The endpoint
answers a bare JSON array; pages are walked with `limit`/`offset` until one comes back short.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from core.adapters.retry import DEFAULT_RETRY, RetryPolicy, send_with_retry
from core.domain.models import ClerkUser
from core.errors import UpstreamError

SERVICE = "clerk"
MAX_PAGE = 100
"""Clerk's largest `limit`, and the most `user_id` values sent in one request."""


def make_clerk_client(
    api_url: str, secret_key: str, *, timeout: float = 10.0, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for Clerk's Backend API.

    Args:
        api_url: `CLERK_API_URL`, with its version: `https://api.clerk.com/v1`.
        secret_key: `CLERK_SECRET_KEY`.
        timeout: seconds per request.
        verify: the TLS context (default: httpx's own, a new one); clients may share one.
    """
    return httpx.AsyncClient(
        base_url=api_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {secret_key}", "User-Agent": "passbot"},
        timeout=timeout,
        verify=verify,
    )


class ClerkUsers:
    """Clerk users by email address or by id."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        page_size: int = MAX_PAGE,
    ) -> None:
        """Args:
        client: based at the API URL (`…/v1`), with the `Authorization` header set.
        retry: the policy for reads.
        page_size: users asked for per request (at most 100).
        """
        self._client = client
        self._retry = retry
        self._page_size = max(1, min(page_size, MAX_PAGE))

    async def users_by_email(self, email: str) -> list[ClerkUser]:
        """Every Clerk user with this address; Clerk matches addresses case-insensitively.

        One request per 100 users (one, in practice).
        """
        address = email.strip().lower()
        if not address:
            return []
        return await self._list([("email_address", address)], action="looking up an email")

    async def users_by_id(self, ids: Sequence[str]) -> list[ClerkUser]:
        """Clerk users by id; unknown ids are skipped. One request per 100 ids."""
        wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str) and i.strip()))
        users: list[ClerkUser] = []
        for start in range(0, len(wanted), MAX_PAGE):
            chunk = wanted[start : start + MAX_PAGE]
            users += await self._list(
                [("user_id", i) for i in chunk], action="looking up users by id", most=len(chunk)
            )
        return users

    async def _list(
        self, filters: list[tuple[str, str]], *, action: str, most: int | None = None
    ) -> list[ClerkUser]:
        """Every page of `GET /users` with these filters; stops early at `most` users."""
        users: list[ClerkUser] = []
        seen: set[str] = set()
        offset = 0
        while True:
            page = await self._page(filters, offset=offset, action=action)
            for obj in page:
                user = ClerkUser.from_json(obj)
                if user.id not in seen:
                    seen.add(user.id)
                    users.append(user)
            if len(page) < self._page_size or (most is not None and len(users) >= most):
                return users
            offset += len(page)

    async def _page(
        self, filters: list[tuple[str, str]], *, offset: int, action: str
    ) -> list[Mapping[str, Any]]:
        params = httpx.QueryParams(
            [*filters, ("limit", str(self._page_size)), ("offset", str(offset))]
        )

        async def send() -> httpx.Response:
            return await self._client.get("users", params=params)

        response = await send_with_retry(send, service=SERVICE, action=action, policy=self._retry)
        if response.status_code != 200:
            raise clerk_error(response, action=action)
        try:
            payload = response.json()
        except ValueError as exc:
            raise UpstreamError(
                SERVICE, f"{action}: the answer is not JSON", retryable=True
            ) from exc
        # A bare array; `{"data": [...], "total_count": n}` when asked for a paginated answer.
        if isinstance(payload, Mapping):
            payload = payload.get("data")
        if not isinstance(payload, list):
            raise UpstreamError(SERVICE, f"{action}: the answer is not a list of users")
        return [u for u in payload if isinstance(u, Mapping)]


def clerk_error(response: httpx.Response, *, action: str) -> UpstreamError:
    """A safe, one-line `UpstreamError` for a failed Clerk answer."""
    status = response.status_code
    detail = _detail(response)
    if status == 401:
        return UpstreamError(SERVICE, f"{action}: the secret key was rejected (401): {detail}")
    if status == 403:
        return UpstreamError(
            SERVICE, f"{action}: the secret key may not list users (403): {detail}"
        )
    if status == 429:
        return UpstreamError(SERVICE, f"{action}: rate limited (429): {detail}", retryable=True)
    if status >= 500:
        return UpstreamError(
            SERVICE, f"{action}: Clerk answered {status}: {detail}", retryable=True
        )
    return UpstreamError(SERVICE, f"{action}: Clerk answered {status}: {detail}")


def _detail(response: httpx.Response) -> str:
    """`errors[0]`'s code and message from Clerk's error body, or the reason phrase."""
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        first = errors[0]
        message = str(first.get("long_message") or first.get("message") or "")
        code = first.get("code")
        text = f"{code}: {message}" if code else message
    elif isinstance(payload, Mapping) and payload.get("message"):
        text = str(payload["message"])
    else:
        return response.reason_phrase
    flat = " ".join(text.split())
    return flat if len(flat) <= 300 else flat[:299] + "…"
