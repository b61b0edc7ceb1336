"""The sandbox's Clerk: the Backend API's user list (``GET /v1/users``) and user retrieval.

``GET /v1/users`` takes ``email_address`` and ``user_id`` (each repeatable; an address matches any
of a user's ``email_addresses``, case-insensitively), ``limit`` (1–500, default 10), ``offset`` and
``order_by`` (``[+-]created_at`` or ``[+-]updated_at``, default ``-created_at``), and answers a bare
JSON array of the world's User objects, as Clerk does. ``GET /v1/users/{id}`` answers one user.
Every request needs ``Authorization: Bearer sk_test_…`` (or ``sk_live_…``); errors come in Clerk's
shape ``{"errors": [{"message", "long_message", "code"}]}``. Parameters not listed here answer 400
``form_param_unknown`` so that a client sending something new fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.credentials import CLERK_SECRET_KEY
from sandbox.traffic import Traffic, traffic_middleware

_KNOWN = frozenset({"email_address", "user_id", "limit", "offset", "order_by"})
_ORDER_FIELDS = frozenset({"created_at", "updated_at"})


class ClerkError(Exception):
    """An error answer in Clerk's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        long_message: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(long_message)
        self.status = status
        error: dict[str, Any] = {"message": message, "long_message": long_message, "code": code}
        if meta is not None:
            error["meta"] = meta
        self.body = {"errors": [error], "clerk_trace_id": "sandbox"}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status)


def fault_body(status: int) -> dict[str, Any]:
    """The error body of an injected fault with HTTP ``status``."""
    if status == 429:
        error = ClerkError(
            429, "too_many_requests", "Too Many Requests", "Too many requests, retry later"
        )
    elif status >= 500:
        error = ClerkError(
            status, "internal_clerk_error", "Something went wrong", "Internal error (sandbox fault)"
        )
    else:
        error = ClerkError(
            status, "sandbox_fault", "Sandbox fault", f"Sandbox fault: HTTP {status}"
        )
    return error.body


def _param_error(name: str, long_message: str) -> ClerkError:
    return ClerkError(
        422,
        "form_param_value_invalid",
        "is invalid",
        long_message,
        {"param_name": name},
    )


class ClerkService:
    """The aiohttp application of the sandbox's Clerk."""

    def __init__(
        self,
        get_users: Callable[[], list[dict[str, Any]]],
        get_traffic: Callable[[], Traffic],
    ) -> None:
        self._get_users = get_users
        self.app = web.Application(
            middlewares=[traffic_middleware(get_traffic, "clerk", fault_body), self._errors]
        )
        self.app.router.add_get("/v1/users", self.list_users, allow_head=False)
        self.app.router.add_get("/v1/users/{id}", self.get_user, allow_head=False)
        self.app.router.add_route("*", "/{tail:.*}", self.not_found)

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        try:
            header = request.headers.get("Authorization", "")
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or key.strip() != CLERK_SECRET_KEY:
                raise ClerkError(
                    401,
                    "authentication_invalid",
                    "Invalid authentication",
                    "Unable to authenticate the request, you need to supply an active API key",
                )
            response: web.StreamResponse = await handler(request)
        except ClerkError as error:
            return error.response()
        return response

    async def not_found(self, request: web.Request) -> web.Response:
        raise ClerkError(
            404,
            "resource_not_found",
            "not found",
            f"No route for {request.method} {request.path}",
        )

    async def list_users(self, request: web.Request) -> web.Response:
        query = request.query
        for name in query:
            if name not in _KNOWN:
                raise ClerkError(
                    400,
                    "form_param_unknown",
                    "is unknown",
                    f"{name} is not a valid parameter for this request.",
                    {"param_name": name},
                )
        limit = _integer(query.get("limit", "10"), "limit")
        if not 1 <= limit <= 500:
            raise _param_error("limit", "limit must be between 1 and 500")
        offset = _integer(query.get("offset", "0"), "offset")
        if offset < 0:
            raise _param_error("offset", "offset must be 0 or more")
        order_by = query.get("order_by", "-created_at")
        descending = order_by.startswith("-")
        order_field = order_by.lstrip("+-")
        if order_field not in _ORDER_FIELDS:
            raise _param_error("order_by", f"order_by {order_by!r} is not supported")

        emails = {value.strip().lower() for value in query.getall("email_address", [])}
        user_ids = set(query.getall("user_id", []))
        users = [
            user
            for user in self._get_users()
            if (not emails or emails & _addresses(user))
            and (not user_ids or user.get("id") in user_ids)
        ]
        users.sort(key=lambda user: _number(user.get(order_field)), reverse=descending)
        return web.json_response(users[offset : offset + limit])

    async def get_user(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        for user in self._get_users():
            if user.get("id") == user_id:
                return web.json_response(user)
        raise ClerkError(
            404, "resource_not_found", "not found", f"No user was found with id {user_id}"
        )


def _addresses(user: dict[str, Any]) -> set[str]:
    found = set()
    for entry in user.get("email_addresses") or []:
        if isinstance(entry, dict) and isinstance(entry.get("email_address"), str):
            found.add(entry["email_address"].strip().lower())
    return found


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _param_error(name, f"{name} must be an integer") from None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
