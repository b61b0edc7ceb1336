"""What an operator sees of a running bot: one log line per Slack request and per job run,
Prometheus metrics (`/metrics`), and `/healthz` and `/readyz`.

Metrics (prometheus-client's default registry; the per-service counters are in
core/adapters/telemetry.py):

* `passbot_slack_ack_seconds` (histogram, by kind): a Slack request's arrival to its ack;
* `passbot_slack_requests_total` (kind, status): Slack requests handled;
* `passbot_job_runs_total` (job, status), `passbot_job_failures_total` (job): scheduled runs;
* `passbot_webhook_fulfilment_rate` (school, and `all`): purchases the webhook fulfilled within
  15 minutes ÷ paid ones, from the latest summary or sweep this process ran;
* `passbot_open_findings` (kind, school): from the finding history in PASSBOT_DB, read at each
  scrape (so replicas agree);
* `passbot_service_requests_total`, `…_errors_total`, `…_retries_total` (service: stripe,
  sanity, clerk, slack), `passbot_fixes_applied_total`: core/adapters/telemetry.py.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.logs import REQUEST_ID, customer_in, new_request_id, request_context
from core.adapters import telemetry
from core.domain.metrics import FindingRecord

logger = logging.getLogger("passbot.requests")
job_logger = logging.getLogger("passbot.jobs")

HEALTH_PATH, READY_PATH, METRICS_PATH = "/healthz", "/readyz", "/metrics"

SLACK_ACK = Histogram(
    "passbot_slack_ack_seconds",
    "Seconds from a Slack request's arrival to its acknowledgement",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
SLACK_REQUESTS = Counter("passbot_slack_requests", "Slack requests handled", ["kind", "status"])
JOB_RUNS = Counter("passbot_job_runs", "Scheduled job runs", ["job", "status"])
JOB_FAILURES = Counter("passbot_job_failures", "Scheduled job runs that failed", ["job"])
FULFILMENT = Gauge(
    "passbot_webhook_fulfilment_rate",
    "Paid pass purchases the webhook fulfilled within 15 minutes, over all paid ones",
    ["school"],
)
OPEN_FINDINGS = Gauge("passbot_open_findings", "Open findings", ["kind", "school"])
# The per-service counters join the registry here, with what was counted before this import.
telemetry.export()


# ------------------------------------------------------------------------------ Slack requests


def describe(body: Any) -> tuple[str, str, str | None]:
    """(kind, name, customer hash) of a Slack request body: `command`, `/fixpass`, hash of the
    address asked about; `block_actions`, the action id; …"""
    if not isinstance(body, dict):
        return ("unknown", "", None)
    if isinstance(body.get("command"), str):
        return ("command", body["command"], customer_in(str(body.get("text") or "")))
    kind = str(body.get("type") or "unknown")
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return (kind, str(actions[0].get("action_id") or ""), None)
    view = body.get("view")
    if isinstance(view, dict):
        return (kind, str(view.get("callback_id") or ""), None)
    event = body.get("event")
    if isinstance(event, dict):
        return (kind, str(event.get("type") or ""), None)
    return (kind, "", None)


def _user(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id") or "") or None
    return str(body.get("user_id") or "") or None


class ObservedApp(AsyncApp):
    """Bolt's app, each request given an id (which its listener, running on after the ack, and
    its service calls share) and logged in one line when acknowledged, the ack timed.

    Here rather than in a middleware: Bolt runs global middleware one after another, not
    nested, so only the dispatch itself spans a request up to its acknowledgement."""

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        started = time.perf_counter()
        kind, name, customer = describe(req.body)
        token = REQUEST_ID.set(new_request_id())
        status = 500
        try:
            response = await super().async_dispatch(req)
            status = response.status
            return response
        finally:
            seconds = time.perf_counter() - started
            SLACK_ACK.labels(kind).observe(seconds)
            SLACK_REQUESTS.labels(kind, str(status)).inc()
            fields: dict[str, Any] = {
                "kind": kind,
                "action": name,
                "user": _user(req.body),
                "status": status,
                "ack_ms": round(seconds * 1000, 1),
            }
            if customer:
                fields["customer"] = customer
            logger.info("slack request", extra=fields)
            REQUEST_ID.reset(token)


class CountSlackCalls(AsyncRetryHandler):
    """Counts Slack Web API calls for `/metrics`. slack_sdk asks each retry handler about every
    try (answer or error); this one, first in the list, counts and never asks for a retry."""

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        del request
        telemetry.service_request("slack")
        if state.current_attempt > 0:
            telemetry.service_retry("slack")
        body = response.body if response is not None else None
        failed = (
            error is not None
            or (response is not None and response.status_code >= 400)
            or (isinstance(body, dict) and body.get("ok") is False)
        )
        if failed:
            telemetry.service_error("slack")
        return False


# ------------------------------------------------------------------------------ job runs


def job_ran(outcome: Any, seconds: float) -> None:
    """One line and the metrics for a scheduled run (a `bot.scheduler.RunOutcome`)."""
    JOB_RUNS.labels(outcome.job, outcome.status).inc()
    if outcome.status == "failed":
        JOB_FAILURES.labels(outcome.job).inc()
    data = outcome.data
    schools = getattr(data, "schools", None)
    if schools is not None:
        FULFILMENT.labels("all").set(_rate(data.on_time, data.paid))
        for school in schools:
            FULFILMENT.labels(school.tenant or school.name).set(_rate(school.on_time, school.paid))
    fields: dict[str, Any] = {
        "job": outcome.job,
        "period": outcome.period,
        "status": outcome.status,
        "ms": round(seconds * 1000, 1),
    }
    if outcome.error is not None:
        fields["error"] = str(outcome.error)
    level = logging.WARNING if outcome.status == "failed" else logging.INFO
    job_logger.log(level, "job run", extra=fields)


def _rate(on_time: int, paid: int) -> float:
    return on_time / paid if paid else 1.0


def job_context() -> Any:
    """The request context of one job run (a fresh request id, unless inside a request)."""
    return request_context(REQUEST_ID.get() or new_request_id())


# ------------------------------------------------------------------------------ HTTP endpoints


@dataclass
class Readiness:
    """What `/readyz` asks: each a check, None until that part has started (not ready).
    `scheduler_off` says the scheduler is off on purpose (no PASSBOT_CHANNEL)."""

    slack: Callable[[], Awaitable[bool]] | None = None
    database: Callable[[], object] | None = None
    scheduler: Callable[[], bool] | None = None
    scheduler_off: bool = False
    open_findings: Callable[[], list[FindingRecord]] | None = None

    async def report(self) -> dict[str, Any]:
        """`{"ok": bool, "slack": bool, "database": bool, "scheduler": bool | "off"}`."""
        slack = await _safely_async(self.slack)
        database = _safely(self.database)
        scheduler: bool | str = "off" if self.scheduler_off else _running(self.scheduler)
        ok = slack and database and scheduler in (True, "off")
        return {"ok": ok, "slack": slack, "database": database, "scheduler": scheduler}


async def _safely_async(check: Callable[[], Awaitable[bool]] | None) -> bool:
    if check is None:
        return False
    try:
        return bool(await check())
    except Exception:  # any failure of a check: not ready
        logger.warning("readiness check failed", exc_info=True)
        return False


def _safely(check: Callable[[], object] | None) -> bool:
    if check is None:
        return False
    try:
        check()
    except Exception:  # any failure of a check: not ready
        logger.warning("readiness check failed", exc_info=True)
        return False
    return True


def _running(check: Callable[[], bool] | None) -> bool:
    return check is not None and bool(check())


def refresh_findings(readiness: Readiness | None) -> None:
    """Set `passbot_open_findings` from the finding history (shared by replicas)."""
    if readiness is None or readiness.open_findings is None:
        return
    try:
        records = readiness.open_findings()
    except Exception:  # a scrape still answers
        logger.warning("could not read open findings for /metrics", exc_info=True)
        return
    OPEN_FINDINGS.clear()
    for (kind, school), n in Tally((r.kind, r.tenant or "none") for r in records).items():
        OPEN_FINDINGS.labels(kind, school).set(n)


def add_health_routes(web_app: web.Application, readiness: Readiness | None) -> None:
    """`GET /healthz` (the process answers), `/readyz` (503 until Slack, the database and the
    scheduler are up) and `/metrics` (Prometheus text format) on `web_app`."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_request: web.Request) -> web.Response:
        if readiness is None:
            return web.json_response({"ok": False}, status=503)
        report = await readiness.report()
        return web.json_response(report, status=200 if report["ok"] else 503)

    async def metrics(_request: web.Request) -> web.Response:
        refresh_findings(readiness)
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(READY_PATH, readyz)
    web_app.router.add_get(METRICS_PATH, metrics)
