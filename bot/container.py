"""The composition root: the only place adapters are built and secrets are unwrapped.

Each builder imports the adapters it builds, so a command loads only what it uses: `check`
never loads the health check's probe, the finding history or the scheduler's needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.domain.links import Links
from core.errors import UsageError

if TYPE_CHECKING:
    from bot.settings import Settings
    from core.adapters.history import SqlHistory
    from core.usecases.health import HealthService
    from core.usecases.services import Services


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """Now."""
        return datetime.now(tz=UTC)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A clock stopped at one instant (a world's `now`)."""

    instant: datetime

    def now(self) -> datetime:
        """The fixed instant."""
        return self.instant


REQUIRED_FOR_SERVICES = (
    "stripe_api_key",
    "sanity_project_id",
    "sanity_api_token",
    "clerk_secret_key",
)


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """Services wired to the real APIs the settings point at; closes every client after.

    Raises:
        UsageError: a setting the services cannot run without is missing, or PASSBOT_DB is bad.
        UpstreamError: PASSBOT_DB's PostgreSQL cannot be reached.
    """
    import httpx
    import stripe

    from core.adapters.clerk import ClerkUsers, make_clerk_client
    from core.adapters.sanity import SanityPasses, make_sanity_client
    from core.adapters.store import open_store
    from core.adapters.stripe import (
        STRIPE_TIMEOUT,
        StripePayments,
        make_stripe_client,
        stripe_mode,
    )
    from core.usecases.services import Services

    missing = settings.missing(*REQUIRED_FOR_SERVICES)
    if missing:
        raise UsageError(f"missing settings: {', '.join(missing)}")
    store = open_store(settings.passbot_db)  # first: a bad PASSBOT_DB stops before any client
    assert settings.stripe_api_key is not None
    assert settings.sanity_api_token is not None
    assert settings.clerk_secret_key is not None
    host = settings.sanity_host
    assert host is not None
    stripe_key = settings.stripe_api_key.get_secret_value()
    stripe_http = stripe.HTTPXClient(timeout=STRIPE_TIMEOUT)
    stripe_client = make_stripe_client(
        stripe_key, api_base=settings.stripe_api_base, http_client=stripe_http
    )
    # One TLS context for both (httpx's default trust, as each would make): loading the CA
    # bundle is a good part of a small `check`'s CPU. stripe-python makes its own.
    tls = httpx.create_ssl_context()
    sanity_http = make_sanity_client(host, settings.sanity_api_token.get_secret_value(), verify=tls)
    clerk_http = make_clerk_client(
        settings.clerk_api_url, settings.clerk_secret_key.get_secret_value(), verify=tls
    )
    clock = FixedClock(settings.passbot_now) if settings.passbot_now else SystemClock()
    try:
        yield Services(
            payments=StripePayments(
                stripe_client,
                mode=stripe_mode(stripe_key),
                concurrency=settings.passbot_concurrency,
            ),
            passes=SanityPasses(
                sanity_http,
                dataset=settings.sanity_dataset,
                api_version=settings.sanity_api_version,
            ),
            users=ClerkUsers(clerk_http),
            audit=store,
            clock=clock,
            lookback_days=settings.passbot_lookback_days,
            concurrency=settings.passbot_concurrency,
        )
    finally:
        store.close()
        await sanity_http.aclose()
        await clerk_http.aclose()
        await stripe_http.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe


@asynccontextmanager
async def build_health(settings: Settings, services: Services) -> AsyncIterator[HealthService]:
    """The health use case over the services' ports and a webhook probe (closed after)."""
    from core.adapters.probe import HttpWebhookProbe, make_probe_client
    from core.usecases.health import HealthService

    probe_http = make_probe_client()
    try:
        yield HealthService(
            payments=services.payments,
            passes=services.passes,
            users=services.users,
            probe=HttpWebhookProbe(probe_http),
            clock=services.clock,
            lookback_days=settings.passbot_lookback_days,
            concurrency=settings.passbot_concurrency,
        )
    finally:
        await probe_http.aclose()


def build_history(settings: Settings) -> SqlHistory:
    """Finding history and scheduled-run keys, in PASSBOT_DB (the caller closes it)."""
    from core.adapters.history import open_history

    return open_history(settings.passbot_db)


def build_links(settings: Settings) -> Links:
    """Where cards and `diagnose` link: Stripe's Dashboard, the Studio, Clerk's dashboard."""
    return Links(
        studio_url=settings.passbot_studio_url or None,
        clerk_dashboard_url=settings.passbot_clerk_dashboard_url or None,
    )
