"""The scheduled jobs as use cases: the summary (daily; on Mondays the sweep over the whole
lookback, with the metrics), the early warning, the health check, and the metrics on demand.

Each job produces data and remembers what it found (finding history, for the metrics); the
scheduler (bot/scheduler.py) claims the job's period and hands the data to a `Poster`. The
reconciliation is `job_scan.scan_purchases`: the streamed one of `check`, with one row kept per
purchase (what the summary and the metrics count) instead of the purchases themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from core.domain.daily import CHART_DAYS
from core.domain.health import HealthReport
from core.domain.metrics import (
    METRICS_DAYS,
    Metrics,
    PurchaseRow,
    compute_metrics,
    fix_times,
)
from core.domain.models import Window
from core.domain.summary import (
    TREND_DAYS,
    AutofixOutcome,
    EarlyWarning,
    Summary,
    build_summary,
    build_warning,
    warning_window,
)
from core.errors import UsageError
from core.ports import FindingHistory, RunLedger
from core.usecases.autofix import autofix
from core.usecases.health import HealthConfig, HealthService
from core.usecases.job_scan import Scan, remember, scan_purchases
from core.usecases.services import Services

#: Job names (the run ledger's keys).
SUMMARY, SWEEP, HEALTH, EARLY_WARNING = "summary", "sweep", "health", "early_warning"
#: The ledger records each purchase already warned about under this job name.
WARNED = "early_warning.purchase"
#: Who automatic fixes are recorded as (audit log and document).
AUTOFIX_ACTOR = "passbot:autofix"


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
        remember(self.history, scan, now=now, complete=True, whole_lookback=weekly)
        autofixed: tuple[AutofixOutcome, ...] = ()
        if self.autofix:
            autofixed = await autofix(
                self.services.fixes,
                self.history,
                scan.report.findings,
                now=now,
                actor=self.autofix_actor,
            )
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
        remember(self.history, scan, now=now, complete=False)
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

    async def scan(self, window: Window, *, audit: bool) -> Scan:
        """Reconcile the purchases created in `window`, a row per purchase (job_scan.py)."""
        return await scan_purchases(self.services.reader, window, audit=audit)
