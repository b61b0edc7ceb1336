"""The per-service counters of `/metrics` (Prometheus, prometheus-client's default registry):
requests, errors and retries for each service passbot talks to, and the fixes written.

Adapters count here; `bot/observe.py` adds the Slack and job metrics and serves them all.

Until something serves them, the counts are plain numbers in this module: `bot/observe.py` (in
every process that serves `/metrics`) calls `export()`, which makes the Prometheus counters with
the counts so far, and from then on they count. So a command that serves no metrics
(`passbot check`, `diagnose`, `fix`) never loads prometheus-client.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter

REQUESTS, ERRORS, RETRIES, FIXES = "requests", "errors", "retries", "fixes"

#: Each counter: its name and help in `/metrics`, and whether it is counted per service.
COUNTERS: dict[str, tuple[str, str, bool]] = {
    REQUESTS: (
        "passbot_service_requests",
        "Requests sent to a service (each try counts)",
        True,
    ),
    ERRORS: (
        "passbot_service_errors",
        "Requests to a service that failed: an error answer, a timeout, no connection",
        True,
    ),
    RETRIES: (
        "passbot_service_retries",
        "Requests to a service tried again after a failure",
        True,
    ),
    FIXES: ("passbot_fixes_applied", "Fixes written to Sanity (one transaction each)", False),
}

_lock = threading.Lock()
#: The counts so far, by (counter, service) ("" for a counter without a service label).
_counts: dict[tuple[str, str], int] = {}
#: The Prometheus counters once `export()` made them.
_exported: dict[str, Counter] | None = None


def _count(counter: str, service: str = "") -> None:
    with _lock:
        if _exported is None:
            key = (counter, service)
            _counts[key] = _counts.get(key, 0) + 1
            return
        metric = _exported[counter]
    (metric.labels(service) if service else metric).inc()


def export() -> None:
    """Make the counters in prometheus-client's default registry, with the counts so far
    (once; later calls do nothing). Every process that serves `/metrics` calls it."""
    global _exported
    with _lock:
        if _exported is not None:
            return
        from prometheus_client import Counter  # only where metrics are served

        made: dict[str, Counter] = {}
        for key, (name, documentation, per_service) in COUNTERS.items():
            made[key] = Counter(name, documentation, ["service"] if per_service else [])
        for (key, service), value in _counts.items():
            metric = made[key]
            (metric.labels(service) if service else metric).inc(value)
        _counts.clear()
        _exported = made


def service_request(service: str) -> None:
    """One request (one try) sent to `service`."""
    _count(REQUESTS, service)


def service_error(service: str) -> None:
    """One request to `service` failed."""
    _count(ERRORS, service)


def service_retry(service: str) -> None:
    """One request to `service` is about to be tried again."""
    _count(RETRIES, service)


def fix_applied() -> None:
    """One fix was written."""
    _count(FIXES)
