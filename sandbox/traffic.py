"""What happens to every request before a service answers it: counting, faults and latency.

Each Python-served service (Stripe, Clerk, Slack) puts :func:`traffic_middleware` in front of its
routes; the Node Sanity server does the same in JavaScript from the faults it is given. The order
is the same everywhere:

1. count the request under ``"METHOD /path/template"`` (``requests`` in a dumped world);
2. take the first fault of the list (world-format.md, ``faults``) for this service whose ``method``
   matches (absent: any) and whose ``path`` is a prefix of the request path, and count it down;
3. wait ``latency_ms`` (the sandbox-wide option) plus the fault's ``delay_ms``;
4. answer the fault's ``status`` with the service's own error body (``Retry-After`` from
   ``retry_after``), drop the connection for ``status: 0``, or, with no ``status``, answer normally.

A fault whose ``count`` reached 0 stays in the list (and in the dumped world) with ``count: 0`` and
matches nothing; a fault with no ``count`` never runs out. Fault paths are matched against the path
the service sees: ``/v1/checkout/sessions`` for Stripe, ``/v1/users`` for Clerk,
``/api/chat.postMessage`` or ``/slack/response/<id>`` for Slack, and for Sanity the path *without*
its ``/vYYYY-MM-DD`` version prefix, e.g. ``/data/mutate`` or ``/data/query/<dataset>``.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int], Any]
Template = Callable[[web.Request], str]


class Traffic:
    """Request counts, the fault list and the latency option of one loaded world."""

    def __init__(self, faults: list[dict[str, Any]], latency_ms: int) -> None:
        self.faults = faults
        self.latency_ms = latency_ms
        self.requests: dict[str, dict[str, int]] = {
            "stripe": {},
            "sanity": {},
            "clerk": {},
            "slack": {},
        }

    def count(self, service: str, key: str) -> None:
        """Count one request to ``service`` under ``key`` (``"GET /v1/users"``)."""
        counts = self.requests.setdefault(service, {})
        counts[key] = counts.get(key, 0) + 1

    def take_fault(self, service: str, method: str, path: str) -> dict[str, Any] | None:
        """The fault that applies to this request, counted down; None when none does."""
        for fault in self.faults:
            if fault.get("service") != service:
                continue
            remaining = fault.get("count")
            if remaining is not None and remaining <= 0:
                continue
            wanted = fault.get("method")
            if wanted and wanted.upper() != method:
                continue
            if not path.startswith(fault.get("path") or ""):
                continue
            if remaining is not None:
                fault["count"] = remaining - 1
            return fault
        return None


def drop_connection(request: web.Request) -> web.Response:
    """Close the client's connection without an answer (``status: 0``, an unreachable host)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=204)


def route_template(request: web.Request) -> str:
    """The path template of the route that matched (``/v1/checkout/sessions/{id}``)."""
    info = request.match_info.route.resource
    if info is None:
        return request.path
    canonical = info.canonical
    return request.path if "{tail" in canonical else canonical


def traffic_middleware(
    get_traffic: Callable[[], Traffic],
    service: str,
    error_body: ErrorBody,
    template: Template = route_template,
) -> Middleware:
    """The middleware that counts, slows down and fails requests to ``service``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        traffic = get_traffic()
        traffic.count(service, f"{request.method} {template(request)}")
        fault = traffic.take_fault(service, request.method, request.path)
        delay_ms = traffic.latency_ms + (float(fault.get("delay_ms") or 0) if fault else 0)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if fault is None or fault.get("status") is None:
            return await handler(request)
        status = int(fault["status"])
        if status == 0:
            return drop_connection(request)
        response = web.json_response(error_body(status), status=status)
        if fault.get("retry_after") is not None:
            response.headers["Retry-After"] = str(fault["retry_after"])
        return response

    return middleware


GZIP_MIN_BYTES = 1024


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip`` or ``*``, not at ``q=0``)."""
    for part in accept_encoding.split(","):
        coding, *params = (piece.strip() for piece in part.lower().split(";"))
        if coding not in ("gzip", "*"):
            continue
        weights = [p[2:] for p in params if p.startswith("q=")]
        try:
            if weights and float(weights[0]) == 0:
                continue
        except ValueError:
            continue
        return True
    return False


def gzip_if_accepted(request: web.Request, response: web.StreamResponse) -> None:
    """Send an answer of 1 kB or more gzipped to a client that accepts it, as Stripe's API does
    (``Content-Encoding: gzip``); smaller answers and clients that do not ask go as they are."""
    body = getattr(response, "body", None)
    if not isinstance(body, bytes | bytearray) or len(body) < GZIP_MIN_BYTES:
        return
    if not accepts_gzip(request.headers.get("Accept-Encoding", "")):
        return
    # Level 1, as a busy API server compresses: a 512 kB page in about 2 ms, not 8 ms at level 6,
    # and the client's work to inflate it is the same.
    assert isinstance(response, web.Response)
    response.body = gzip.compress(bytes(body), compresslevel=1, mtime=0)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
