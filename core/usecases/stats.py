"""`/passstats`: the metrics of the last 28 days and the day-by-day series of the last 35 (the
chart), from one scan of the purchases."""

from __future__ import annotations

from datetime import timedelta

from core.domain.daily import CHART_DAYS, DayPoint, daily_series
from core.domain.metrics import METRICS_DAYS, Metrics
from core.domain.models import Window
from core.usecases.jobs import Jobs


async def stats_and_days(
    jobs: Jobs, *, days: int = CHART_DAYS
) -> tuple[Metrics, tuple[DayPoint, ...]]:
    """The metrics (as `Jobs.metrics`) and `days` days of the chart, reading the purchases once
    (the longer of the two periods); dismissed findings do not count as open."""
    now = jobs.services.clock.now()
    scan = await jobs.scan(Window(now - timedelta(days=max(days, METRICS_DAYS)), now), audit=False)
    since = now - timedelta(days=METRICS_DAYS)
    metrics = jobs.metrics_from([r for r in scan.rows if r.created >= since], now=now)
    dismissed = jobs.history.dismissed_keys()
    still_open = {f.session for f in scan.report.findings if f.session and f.key not in dismissed}
    series = daily_series(scan.rows, now=now, tz=jobs.tz, days=days, open_sessions=still_open)
    return metrics, series
