"""The health use case: gather the facts each check needs through the ports, concurrently, and
judge them with `core.domain.health`.

A service that refuses (a rejected key, a missing permission, an unknown account) is what a check
reports. A service that fails outright (5xx, timeout, no connection: a retryable
`UpstreamError`) is reported too, in the check that needed it, and named in `service_errors`, so
the command line can exit 3 while still showing every other check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core.domain.audit import lint_passes
from core.domain.findings import Finding
from core.domain.health import (
    PASS_EVENT,
    AccountFacts,
    ConfigFacts,
    DeliveryFacts,
    HealthFacts,
    HealthReport,
    ScopeEvidence,
    judge,
)
from core.domain.models import JSON, Tenant, WebhookLog
from core.errors import UpstreamError
from core.ports import Catalogue, Clock, PassStore, PaymentsSource, UserDirectory, WebhookProbe

T = TypeVar("T")

#: Clerk is asked about an address that cannot exist (RFC 2606): one cheap, read-only call.
CLERK_PROBE_EMAIL = "passbot-health-check@example.invalid"


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Plain values from the settings that the checks need."""

    webhook_url: str | None
    probe_url: str | None = None
    config: ConfigFacts = field(default_factory=ConfigFacts)

    @property
    def probe_target(self) -> str | None:
        """Where the probe goes: PASSBOT_WEBHOOK_PROBE_URL, else PASSBOT_WEBHOOK_URL."""
        return self.probe_url or self.webhook_url


@dataclass
class _Errors:
    """Retryable failures met while gathering (the service failed, not the check)."""

    service: list[str] = field(default_factory=list)

    async def attempt(self, call: Awaitable[T]) -> tuple[T | None, str | None]:
        try:
            return await call, None
        except UpstreamError as err:
            if err.retryable:
                self.service.append(str(err))
            return None, str(err)


class HealthService:
    """`passbot health`, `/passhealth` and the monthly job."""

    def __init__(
        self,
        *,
        payments: PaymentsSource,
        passes: PassStore,
        users: UserDirectory,
        probe: WebhookProbe,
        clock: Clock,
        lookback_days: int = 35,
        concurrency: int = 8,
    ) -> None:
        self.payments = payments
        self.passes = passes
        self.users = users
        self.probe = probe
        self.clock = clock
        self.lookback_days = lookback_days
        self.concurrency = max(1, concurrency)

    async def run(self, config: HealthConfig) -> HealthReport:
        """Every check; never raises for a service's failure (see the module docstring)."""
        now = self.clock.now()
        since = now - timedelta(days=self.lookback_days)
        errors = _Errors()
        target = config.probe_target
        (
            (catalogue, catalogue_error),
            (endpoints, endpoints_error),
            (logs, logs_error),
            (can_write, sanity_error),
            (_, clerk_error),
            probe,
        ) = await asyncio.gather(
            errors.attempt(self.passes.catalogue()),
            errors.attempt(self.payments.webhook_endpoints()),
            errors.attempt(self.passes.webhook_logs(since=min(since, now - timedelta(days=7)))),
            errors.attempt(self.passes.can_write()),
            errors.attempt(self.users.users_by_email(CLERK_PROBE_EMAIL)),
            self.probe.probe(target) if target else _none(),
        )
        tenants = catalogue.tenants if catalogue else ()
        accounts, deliveries, completed, stripe_error = await self._accounts(
            tenants, since=since, errors=errors
        )
        return judge(
            HealthFacts(
                now=now,
                mode=self.payments.mode,
                dataset=self.passes.dataset,
                lookback_days=self.lookback_days,
                webhook_url=config.webhook_url,
                config=config.config,
                stripe_error=stripe_error,
                accounts=accounts,
                without_account=tuple(t.name for t in tenants if not t.account_id),
                catalogue_error=catalogue_error,
                endpoints=tuple(endpoints) if endpoints is not None else None,
                endpoints_error=endpoints_error,
                scope=_scope(completed, deliveries, logs),
                probe=probe,
                deliveries=deliveries,
                logs=tuple(logs) if logs is not None else None,
                logs_error=logs_error,
                can_write=can_write,
                sanity_error=sanity_error,
                clerk_error=clerk_error,
                pass_findings=tuple(_lint(catalogue, now)),
                service_errors=tuple(dict.fromkeys(errors.service)),
            )
        )

    async def _accounts(
        self, tenants: Sequence[Tenant], *, since: datetime, errors: _Errors
    ) -> tuple[
        tuple[AccountFacts, ...], tuple[DeliveryFacts, ...], dict[str, list[JSON]], str | None
    ]:
        """Per connected account: the account (access, Connect status), its undelivered checkout
        events and its completed ones; and the platform account's undelivered events, whose
        listing also tells whether the key works at all."""
        gate = asyncio.Semaphore(self.concurrency)
        connected = [t for t in tenants if t.account_id]

        async def one(
            tenant: Tenant | None,
        ) -> tuple[AccountFacts | None, DeliveryFacts, list[JSON] | None]:
            account = tenant.account_id if tenant else None
            async with gate:
                undelivered, events_error = await errors.attempt(
                    self.payments.events(
                        account, type_pattern="checkout.session.*", since=since,
                        delivery_success=False,
                    )
                )  # fmt: skip
                if tenant is None or account is None:
                    label = "the platform account"
                    return None, _delivery(label, None, undelivered, events_error), None
                (obj, account_error), (completed, _) = await asyncio.gather(
                    errors.attempt(self.payments.account(account)),
                    errors.attempt(
                        self.payments.events(account, type_pattern=PASS_EVENT, since=since)
                    ),
                )
            facts = _account_facts(tenant, account, obj, account_error or events_error)
            return facts, _delivery(account, tenant.name, undelivered, events_error), completed

        results = await asyncio.gather(one(None), *(one(t) for t in connected))
        platform = results[0][1]
        accounts = tuple(a for a, _, _ in results[1:] if a is not None)
        deliveries = tuple(d for _, d, _ in results)
        completed = {a.account: events for a, _, events in results[1:] if a is not None and events}
        return accounts, deliveries, completed, platform.error


async def _none() -> None:
    return None


def _delivery(
    account: str, tenant_name: str | None, events: list[JSON] | None, error: str | None
) -> DeliveryFacts:
    ids = tuple(str(e.get("id")) for e in events or ())
    return DeliveryFacts(account=account, tenant_name=tenant_name, undelivered=ids, error=error)


def _account_facts(
    tenant: Tenant, account: str, obj: Mapping[str, Any] | None, error: str | None
) -> AccountFacts:
    def flag(key: str) -> bool | None:
        value = obj.get(key) if obj else None
        return value if isinstance(value, bool) else None

    return AccountFacts(
        account=account,
        tenant=tenant.id,
        tenant_name=tenant.name,
        error=error,
        charges_enabled=flag("charges_enabled"),
        payouts_enabled=flag("payouts_enabled"),
        sanity_charges_enabled=tenant.charges_enabled,
        sanity_payouts_enabled=tenant.payouts_enabled,
        sanity_account_status=tenant.account_status,
    )


def _scope(
    completed: Mapping[str, list[JSON]],
    deliveries: Sequence[DeliveryFacts],
    logs: Sequence[WebhookLog] | None,
) -> ScopeEvidence | None:
    """FM-06's indirect evidence: delivered connected-account purchases the webhook logged."""
    if logs is None:
        return None
    failed = {e for d in deliveries for e in d.undelivered}
    logged_events = {log.event_id for log in logs if log.event_id}
    logged_sessions = {log.session_id for log in logs if log.session_id}
    delivered = logged = 0
    for events in completed.values():
        for event in events:
            if event.get("id") in failed:
                continue
            delivered += 1
            data = event.get("data")
            obj = data.get("object") if isinstance(data, Mapping) else None
            session = obj.get("id") if isinstance(obj, Mapping) else None
            logged += event.get("id") in logged_events or session in logged_sessions
    signature = sum(1 for log in logs if log.event_type == "signature_verification_failed")
    return ScopeEvidence(delivered=delivered, logged=logged, signature_errors=signature)


def _lint(catalogue: Catalogue | None, now: datetime) -> list[Finding]:
    if catalogue is None:
        return []
    return lint_passes(catalogue.passes, now=now, bought=frozenset())
