"""The reconciliation the scheduled jobs run, and what they remember of it.

The jobs read as `check` does (the same account scan and per-page Sanity query) but keep one row
per paid pass purchase — what the summary and the metrics count — instead of the purchases.
What they find is recorded in the finding history, from which the metrics are computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.facts import Facts
from core.domain.metrics import PurchaseRow, purchase_row, resolved_by_absence
from core.domain.models import CheckoutSession, Window
from core.domain.reconcile import ReconcileReport, Reconciliation
from core.ports import Catalogue, FindingHistory
from core.usecases.buyers import BuyerMemory
from core.usecases.reading import Reader, facts_of_page


@dataclass(frozen=True, slots=True)
class Scan:
    """One reconciliation with a row per paid pass purchase."""

    catalogue: Catalogue
    report: ReconcileReport
    rows: tuple[PurchaseRow, ...]


async def scan_purchases(reader: Reader, window: Window, *, audit: bool) -> Scan:
    """Reconcile the purchases created in `window` (every school), page by page; `audit`: also
    judge every active pass (unpaid, refunded, broken references)."""
    now = reader.clock.now()
    catalogue = await reader.catalogue()
    run = Reconciliation(
        tenants=catalogue.tenants,
        passes=catalogue.passes,
        now=now,
        window=window,
        keep_purchases=True,
    )
    rows: list[PurchaseRow] = []
    buyers = BuyerMemory()  # each buyer's documents asked for once in the run

    async def on_page(page: list[CheckoutSession]) -> None:
        related = await reader.related_to(page, buyers)
        # No await from here on: the page is judged and drained in one step.
        before = len(run.purchases)
        run.add_page(facts_of_page(page, related))
        judged = run.purchases[before:]
        documents = {s.id: s for s in related.subscriptions}
        rows.extend(purchase_row(p, documents) for p in judged)
        run.purchases[before:] = [p for p in judged if p.findings]

    _, scans = await reader.scan(
        reader.accounts_of(catalogue), window, on_page=on_page, collect=False
    )
    if audit:
        # As `check` audits: a page of active passes at a time, each pass the run has read at
        # its revision taken from what was read (core/adapters/sanity.py).
        async for chunk in reader.passes.active_subscription_pages(now=now):
            run.audit(Facts(subscriptions=chunk.subscriptions, users=chunk.users))
        await reader.read_history(run, catalogue, buyers)  # whole-life payment (cli-contract)
    report = run.finish(accounts=scans)
    rows.sort(key=lambda r: (r.created, r.session))
    return Scan(catalogue, report, tuple(rows))


def remember(
    history: FindingHistory,
    scan: Scan,
    *,
    now: datetime,
    complete: bool,
    whole_lookback: bool = False,
) -> None:
    """Record the findings; after a complete run, those no longer found are resolved (and,
    after a run over the whole lookback, those whose purchase left it are aged out)."""
    created = {r.session: r.created for r in scan.rows}
    findings = list(scan.report.findings)
    if not complete:
        findings = [f for f in findings if f.session in created]
    occurred = {f.key: created[f.session] for f in findings if f.session in created}
    history.observe(findings, at=now, occurred=occurred)
    if not complete:
        return
    unreadable = [a.account for a in scan.report.accounts if not a.ok]
    resolved, outside = resolved_by_absence(
        history.open_records(),
        [f.key for f in findings],
        window_start=scan.report.window.start,
        unreadable_accounts=unreadable,
    )
    history.resolve(resolved, at=now, by="observed")
    if whole_lookback:
        history.age_out(outside, at=now)
