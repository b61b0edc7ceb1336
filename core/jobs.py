"""The scheduled jobs as use cases: the summary (daily; on Mondays the sweep over the whole
lookback, with the metrics), the early warning, the health check, and the metrics on demand.

Each job produces data and remembers what it found (finding history, for the metrics); the
scheduler (bot/scheduler.py) claims the job's period and hands the data to a `Poster`. The
reconciliation is the streamed one of `Services.check`, with one row kept per purchase (what the
summary and the metrics count) instead of the purchases themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from core.errors import NotFoundError, RefusedError, StaleFixError, UsageError
from core.facts import Facts
from core.findings import Finding, Kind
from core.health import HealthReport
from core.health_service import HealthConfig, HealthService
from core.metrics import (
    METRICS_DAYS,
    Metrics,
    PurchaseRow,
    compute_metrics,
    fix_times,
    purchase_row,
    resolved_by_absence,
)
from core.models import CheckoutSession, Window
from core.ports import Catalogue, FindingHistory, RunLedger
from core.reconcile import ReconcileReport, Reconciliation
from core.services import Services
from core.daily import CHART_DAYS
from core.summary import (
    TREND_DAYS,
    AutofixOutcome,
    EarlyWarning,
    Summary,
    autofixable,
    build_summary,
    build_warning,
    warning_window,
)

#: Job names (the run ledger's keys).
SUMMARY, SWEEP, HEALTH, EARLY_WARNING = "summary", "sweep", "health", "early_warning"
#: The ledger records each purchase already warned about under this job name.
WARNED = "early_warning.purchase"
#: Who automatic fixes are recorded as (audit log and document).
AUTOFIX_ACTOR = "passbot:autofix"


@dataclass(frozen=True, slots=True)
class Scan:
    """One reconciliation with a row per paid pass purchase."""

    catalogue: Catalogue
    report: ReconcileReport
    rows: tuple[PurchaseRow, ...]


class Jobs:
    """The scheduled jobs over the use cases and passbot's own memory."""

    def __init__(
        self,
        *,
        services: Services,
        history: FindingHistory,
        ledger: RunLedger,
        tz: tzinfo,
        health: HealthService | None = None,
        health_config: HealthConfig | None = None,
        autofix: bool = False,
        autofix_actor: str = AUTOFIX_ACTOR,
    ) -> None:
        """Args:
        tz: PASSBOT_TIMEZONE (the days of the trend line).
        autofix: PASSBOT_AUTOFIX: apply safe fixes (`missing_pass` with user, pass and tenant
            certain) without approval, each through `Services.apply_fix` (audited).
        """
        self.services = services
        self.history = history
        self.ledger = ledger
        self.tz = tz
        self.health_service = health
        self.health_config = health_config
        self.autofix = autofix
        self.autofix_actor = autofix_actor

    # ----------------------------------------------------------------------------- jobs

    async def summary(self, *, weekly: bool = False) -> Summary:
        """The daily summary over the trend's 14 days; `weekly`: the sweep over the whole
        lookback, with the metrics. Autofixes first when PASSBOT_AUTOFIX is on."""
        now = self.services.clock.now()
        days = max(self.services.lookback_days, TREND_DAYS) if weekly else TREND_DAYS
        scan = await self.scan(Window(now - timedelta(days=days), now), audit=True)
        self._remember(scan, now=now, complete=True, whole_lookback=weekly)
        autofixed = await self._autofix(scan.report.findings, now=now) if self.autofix else ()
        metrics = None
        if weekly:
            since = now - timedelta(days=METRICS_DAYS)
            metrics = self.metrics_from([r for r in scan.rows if r.created >= since], now=now)
        return build_summary(
            kind="weekly" if weekly else "daily",
            rows=scan.rows,
            findings=scan.report.findings,
            schools={t.id: t.name for t in scan.catalogue.tenants},
            now=now,
            window=scan.report.window,
            mode=self.services.payments.mode,
            tz=self.tz,
            dismissed=self.history.dismissed_keys(),
            autofixed=autofixed,
            metrics=metrics,
            chart_days=CHART_DAYS if weekly else 0,
        )

    async def early_warning(self) -> EarlyWarning:
        """Purchases 15–75 minutes old with no pass that were not warned about before."""
        now = self.services.clock.now()
        scan = await self.scan(warning_window(now), audit=False)
        self._remember(scan, now=now, complete=False)
        warned = {r.session for r in scan.rows if self.ledger.has_run(WARNED, r.session)}
        return build_warning(rows=scan.rows, findings=scan.report.findings, now=now, warned=warned)

    def mark_warned(self, warning: EarlyWarning) -> None:
        """Record the purchases of a posted warning, so that no later scan repeats them."""
        at = self.services.clock.now()
        for finding in warning.findings:
            if finding.session and self.ledger.claim_run(WARNED, finding.session, at=at):
                self.ledger.finish_run(WARNED, finding.session, at=at, status="done")

    async def health(self) -> HealthReport:
        """The health check (needs the health service and its configuration)."""
        if self.health_service is None or self.health_config is None:
            raise UsageError("the health check is not configured")
        return await self.health_service.run(self.health_config)

    async def metrics(self) -> Metrics:
        """The metrics over the last 28 days (`/passstats`): reads the period's purchases."""
        now = self.services.clock.now()
        scan = await self.scan(Window(now - timedelta(days=METRICS_DAYS), now), audit=False)
        return self.metrics_from(scan.rows, now=now)

    def metrics_from(self, rows: Sequence[PurchaseRow], *, now: datetime) -> Metrics:
        """The metrics, with these purchases as the period's."""
        since = now - timedelta(days=METRICS_DAYS)
        entries = [e for e in self.services.audit.recent(10_000) if e.at >= since]
        return compute_metrics(
            rows=rows,
            records=self.history.records(since=since),
            reports=self.history.reports(since=since),
            fixes=fix_times((e.at, e.session, e.finding_kinds) for e in entries),
            now=now,
        )

    # -------------------------------------------------------------------------- reading

    async def scan(self, window: Window, *, audit: bool) -> Scan:
        """Reconcile the purchases created in `window` (every school), page by page.

        Uses `Services`' own account scan and per-page Sanity query, so requests and the
        handling of unreadable accounts are those of `check`.
        """
        services = self.services
        now = services.clock.now()
        catalogue = await services.catalogue()
        run = Reconciliation(
            tenants=catalogue.tenants,
            passes=catalogue.passes,
            now=now,
            window=window,
            keep_purchases=True,
        )
        rows: list[PurchaseRow] = []

        async def on_page(page: list[CheckoutSession]) -> None:
            related = await services.related_to(page)
            # No await from here on: the page is judged and drained in one step.
            before = len(run.purchases)
            run.add_page(
                Facts(sessions=page, subscriptions=related.subscriptions, users=related.users)
            )
            judged = run.purchases[before:]
            documents = {s.id: s for s in related.subscriptions}
            rows.extend(purchase_row(p, documents) for p in judged)
            run.purchases[before:] = [p for p in judged if p.findings]

        _, scans = await services.scan(
            services.accounts_of(catalogue), window, on_page=on_page, collect=False
        )
        audit_facts = None
        if audit:
            active = await services.passes.active_subscriptions(now=now)
            audit_facts = Facts(subscriptions=active.subscriptions, users=active.users)
        report = run.finish(accounts=scans, audit=audit_facts)
        rows.sort(key=lambda r: (r.created, r.session))
        return Scan(catalogue, report, tuple(rows))

    # ------------------------------------------------------------------------- remembering

    def _remember(
        self, scan: Scan, *, now: datetime, complete: bool, whole_lookback: bool = False
    ) -> None:
        """Record the findings; after a complete run, those no longer found are resolved (and,
        after a run over the whole lookback, those whose purchase left it are aged out)."""
        created = {r.session: r.created for r in scan.rows}
        findings = list(scan.report.findings)
        if not complete:
            findings = [f for f in findings if f.session in created]
        occurred = {f.key: created[f.session] for f in findings if f.session in created}
        self.history.observe(findings, at=now, occurred=occurred)
        if not complete:
            return
        unreadable = [a.account for a in scan.report.accounts if not a.ok]
        resolved, outside = resolved_by_absence(
            self.history.open_records(),
            [f.key for f in findings],
            window_start=scan.report.window.start,
            unreadable_accounts=unreadable,
        )
        self.history.resolve(resolved, at=now, by="observed")
        if whole_lookback:
            self.history.age_out(outside, at=now)

    async def _autofix(
        self, findings: Sequence[Finding], *, now: datetime
    ) -> tuple[AutofixOutcome, ...]:
        """Apply the safe fixes, each audited; a fix that turns out not to be the safe kind
        when re-derived is left for a person."""
        outcomes: list[AutofixOutcome] = []
        dismissed = self.history.dismissed_keys()
        for finding in findings:
            if not autofixable(finding) or finding.key in dismissed or finding.session is None:
                continue
            session = finding.session
            try:
                preview = await self.services.preview_fix(session, actor=self.autofix_actor)
                kinds = {f.kind for f in preview.plan.resolves}
                if preview.plan.refused or kinds - {Kind.MISSING_PASS}:
                    why = preview.plan.refused or f"the fix now also resolves {sorted(kinds)}"
                    outcomes.append(AutofixOutcome(session, finding.key, False, error=why))
                    continue
                outcome = await self.services.apply_fix(
                    session, actor=self.autofix_actor, source="autofix"
                )
            except (RefusedError, StaleFixError, UsageError, NotFoundError) as err:
                outcomes.append(AutofixOutcome(session, finding.key, False, error=str(err)))
                continue
            result = outcome.applied_result
            written = tuple((result.created + result.patched) if result else ())
            outcomes.append(
                AutofixOutcome(
                    session,
                    finding.key,
                    applied=bool(written) or outcome.already_fixed,
                    documents=written,
                    audit_id=outcome.audit_id,
                )
            )
            self.history.resolve([finding.key], at=now, by=self.autofix_actor)
        return tuple(outcomes)
