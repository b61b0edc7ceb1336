"""Use case `check`: one reconciliation over the window — what the daily summary reports."""

from __future__ import annotations

from core.domain.facts import Facts
from core.domain.models import CheckoutSession
from core.domain.reconcile import ReconcileReport, Reconciliation
from core.errors import UsageError
from core.usecases.buyers import BuyerMemory
from core.usecases.reading import Progress, Reader, facts_of_page


async def check(
    reader: Reader,
    *,
    days: int | None = None,
    tenant: str | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
    keep_purchases: bool = False,
) -> ReconcileReport:
    """One reconciliation over the window.

    Streams: each Stripe page is judged against one Sanity query as it arrives, so memory
    stays flat and requests are one per page per service. `keep_purchases` keeps every
    judged purchase on the report (otherwise only those with findings).

    Raises:
        UsageError: `days` below 1, or no school with the id or slug `tenant`.
    """
    window = reader.window(days)
    catalogue = await reader.catalogue()
    tenant_id = None
    if tenant is not None:
        tenant_id = next((t.id for t in catalogue.tenants if tenant in (t.id, t.slug)), None)
        if tenant_id is None:
            raise UsageError(f"no school has the id or slug {tenant!r}")
    run = Reconciliation(
        tenants=catalogue.tenants,
        passes=catalogue.passes,
        now=window.end,
        window=window,
        actor=actor,
        tenant=tenant_id,
        keep_purchases=keep_purchases,
    )

    buyers = BuyerMemory()  # each buyer's documents asked for once in the run

    async def on_page(page: list[CheckoutSession]) -> None:
        run.add_page(facts_of_page(page, await reader.related_to(page, buyers)))

    _, scans = await reader.scan(
        reader.accounts_of(catalogue, tenant_id),
        window,
        on_page=on_page,
        progress=progress,
        collect=False,
    )
    async for chunk in reader.passes.active_subscription_pages(now=window.end):
        run.audit(Facts(subscriptions=chunk.subscriptions, users=chunk.users))
    await reader.read_history(run, catalogue, buyers)  # whole-life payment (cli-contract)
    return run.finish(accounts=scans)
