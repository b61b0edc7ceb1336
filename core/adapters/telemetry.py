"""The per-service counters of `/metrics` (Prometheus, prometheus-client's default registry):
requests, errors and retries for each service passbot talks to, and the fixes written.

Adapters count here; `bot/observe.py` adds the Slack and job metrics and serves them all.
"""

from __future__ import annotations

from prometheus_client import Counter

SERVICE_REQUESTS = Counter(
    "passbot_service_requests", "Requests sent to a service (each try counts)", ["service"]
)
SERVICE_ERRORS = Counter(
    "passbot_service_errors",
    "Requests to a service that failed: an error answer, a timeout, no connection",
    ["service"],
)
SERVICE_RETRIES = Counter(
    "passbot_service_retries", "Requests to a service tried again after a failure", ["service"]
)
FIXES_APPLIED = Counter("passbot_fixes_applied", "Fixes written to Sanity (one transaction each)")


def service_request(service: str) -> None:
    """One request (one try) sent to `service`."""
    SERVICE_REQUESTS.labels(service).inc()


def service_error(service: str) -> None:
    """One request to `service` failed."""
    SERVICE_ERRORS.labels(service).inc()


def service_retry(service: str) -> None:
    """One request to `service` is about to be tried again."""
    SERVICE_RETRIES.labels(service).inc()


def fix_applied() -> None:
    """One fix was written."""
    FIXES_APPLIED.inc()
