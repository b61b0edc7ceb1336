"""A `Poster` (core.ports) that writes text: what the scheduled jobs would post, for the command
line and the tests. The Slack poster (Block Kit to PASSBOT_CHANNEL) implements the same three
methods."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.health import render_health
from core.domain.findings import Finding
from core.domain.health import HealthReport
from core.domain.metrics import Metrics
from core.domain.summary import EarlyWarning, SchoolSummary, Summary
from handlers.blocks.wording import local_text

_BARS = "▁▂▃▄▅▆▇█"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def sparkline(rates: list[float | None]) -> str:
    """One character a day: the bar's height is the rate; `·` a day with no purchase."""
    return "".join(
        "·" if r is None else _BARS[min(len(_BARS) - 1, int(r * (len(_BARS) - 1) + 0.5))]
        for r in rates
    )


def _finding_line(f: Finding) -> str:
    who = f" {f.email}" if f.email else ""
    how = f" — fix: passbot fix {f.session} --yes" if f.fix and f.session else ""
    why = f" — {f.why_no_fix}" if not f.fix and f.why_no_fix else ""
    return f"    [{f.severity.value}] {f.kind.value}{who}: {f.summary}{how}{why}"


def _school(line: SchoolSummary) -> list[str]:
    out = [
        f"{line.name}: {line.paid} paid pass purchases · {line.by_webhook} by the webhook "
        f"({line.on_time} within 15 min) · {line.fixed_by_passbot} fixed by passbot · "
        f"{line.still_open} still open · fulfilment {_pct(line.fulfilment_rate)}",
        f"  last {len(line.trend)} days: {sparkline([p.rate for p in line.trend])}",
    ]
    out += [_finding_line(f) for f in line.open_findings[:20]]
    if len(line.open_findings) > 20:
        out.append(f"    … and {len(line.open_findings) - 20} more")
    return out


def render_metrics(metrics: Metrics) -> str:
    """The metrics in one paragraph."""
    ttr = metrics.time_to_resolve
    fp = metrics.false_positives
    resolve = (
        f"median {_hours(ttr.median)}, p90 {_hours(ttr.p90)} (n={ttr.count})"
        if ttr.count
        else "nothing resolved yet"
    )
    return (
        f"Metrics, last {metrics.period_days} days: webhook fulfilment "
        f"{_pct(metrics.fulfilment.value)} ({metrics.fulfilment.numerator}/"
        f"{metrics.fulfilment.denominator} within 15 min) · time to resolve {resolve} · "
        f"false positives {fp.dismissed} of {fp.seen} ({_pct(fp.rate)}) · customer reports "
        f"{metrics.reports.mean}/week ({' '.join(map(str, metrics.reports.series))})"
    )


def _hours(value: timedelta | None) -> str:
    return "—" if value is None else f"{value.total_seconds() / 3600:.1f} h"


def render_summary(summary: Summary, tz: tzinfo | None = None) -> str:
    """The summary as text: a headline, a block per school, autofixes, metrics."""
    zone = tz or ZoneInfo(summary.timezone)
    when = summary.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    since = summary.window.start.astimezone(zone).strftime("%Y-%m-%d")
    title = "Weekly sweep" if summary.kind == "weekly" else "Daily summary"
    rate = summary.on_time / summary.paid if summary.paid else None
    lines = [
        f"{title} — {summary.mode} mode — {when} (purchases since {since})",
        f"{summary.paid} paid pass purchases, {_pct(rate)} fulfilled by the webhook within "
        f"15 minutes, {summary.still_open} still open",
        "",
    ]
    for line in summary.schools:
        lines += [*_school(line), ""]
    if summary.other_findings:
        lines.append("Not tied to a school:")
        lines += [_finding_line(f) for f in summary.other_findings]
        lines.append("")
    if summary.autofixed:
        lines.append(f"Fixed automatically (PASSBOT_AUTOFIX): {len(summary.autofixed)}")
        for a in summary.autofixed:
            done = f"created {', '.join(a.documents)}" if a.documents else "already fixed"
            lines.append(
                f"    {a.session}: {done if a.applied else 'not applied: ' + str(a.error)}"
            )
        lines.append("")
    if summary.metrics is not None:
        lines.append(render_metrics(summary.metrics))
    return "\n".join(lines).rstrip()


def render_warning(warning: EarlyWarning) -> str:
    """The early warning as text."""
    n = len(warning.findings)
    lines = [
        f"Early warning — {n} new purchase(s) 15–75 minutes old with no pass "
        f"({warning.unfulfilled} of {warning.paid} purchases in that window have none)"
    ]
    if warning.outage_suspected:
        lines.append("  This looks like a webhook outage, not one purchase: run `passbot health`.")
    lines += [_finding_line(f) for f in warning.findings]
    return "\n".join(lines)


@dataclass
class TextPoster:
    """Writes each post as text and keeps what it was given (`posted`), for tests."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    posted: list[tuple[str, Summary | EarlyWarning | HealthReport]] = field(default_factory=list)
    #: PASSBOT_TIMEZONE: every time written is in it (named once), none in UTC.
    tz: tzinfo = UTC

    def _write(self, kind: str, item: Summary | EarlyWarning | HealthReport, text: str) -> str:
        self.posted.append((kind, item))
        self.out.write(local_text(text, self.tz) + "\n")
        return f"text-{len(self.posted)}"

    async def post_summary(self, summary: Summary) -> str | None:
        """The summary as text."""
        return self._write("summary", summary, render_summary(summary))

    async def post_warning(self, warning: EarlyWarning) -> str | None:
        """The early warning as text."""
        return self._write("warning", warning, render_warning(warning))

    async def post_health(self, report: HealthReport) -> str | None:
        """The health report as text."""
        return self._write("health", report, render_health(report))
