"""`/passstats` and the weekly sweep's metrics: the webhook's fulfilment rate, time to resolve,
false positives and customer reports per week; and the trend line (a sparkline of daily rates)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from core.domain.metrics import Metrics
from handlers.blocks.kit import Block, Message, context, escape, header, message, section

_BARS = "▁▂▃▄▅▆▇█"
#: A day with no purchase in a trend line.
NO_DATA = "·"


def sparkline(values: Sequence[float | None], *, top: float = 1.0) -> str:
    """One character per value, its bar as high as value ÷ `top`; `·` where there is none."""
    out = []
    for value in values:
        if value is None or top <= 0:
            out.append(NO_DATA)
            continue
        share = min(1.0, max(0.0, value / top))
        out.append(_BARS[int(share * (len(_BARS) - 1) + 0.5)])
    return "".join(out)


def pct(value: float | None) -> str:
    """A rate as a percentage ("—" when there is nothing to divide)."""
    return "—" if value is None else f"{value:.1%}"


def hours(value: timedelta | None) -> str:
    """A duration in hours (or minutes when under one)."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def metric_fields(metrics: Metrics) -> list[str]:
    """The four metrics, one field each."""
    rate = metrics.fulfilment
    ttr = metrics.time_to_resolve
    fp = metrics.false_positives
    reports = metrics.reports
    resolve = (
        f"median *{hours(ttr.median)}* · p90 *{hours(ttr.p90)}* ({ttr.count} resolved)"
        if ttr.count
        else "nothing resolved in the period"
    )
    reasons = "".join(f"\n• “{escape(r)}” ×{n}" for r, n in fp.reasons)
    top = max(reports.series, default=0)
    trend = sparkline([float(n) for n in reports.series], top=float(top or 1))
    return [
        f"*Webhook fulfilment*\n*{pct(rate.value)}* — {rate.numerator} of {rate.denominator} "
        "paid purchases had their pass from the webhook within 15 min",
        f"*Time to resolve* (first seen → fixed)\n{resolve}",
        f"*False positives*\n*{fp.dismissed}* of {fp.seen} findings dismissed as not a problem "
        f"({pct(fp.rate)}){reasons}",
        f"*Customer reports*\n*{reports.mean:g}* per week — `{trend}` "
        f"({' · '.join(str(n) for n in reports.series)}, oldest first)",
    ]


def metrics_blocks(metrics: Metrics) -> list[Block]:
    """The metrics as a section of fields and a note on what they count."""
    return [
        section(f"*Metrics — the last {metrics.period_days} days*", fields=metric_fields(metrics)),
        context(
            "Fulfilment counts passes the platform's webhook wrote within 15 minutes of payment "
            "(not Stripe's delivery status). A report is a `/fixpass` lookup."
        ),
    ]


def build_stats(metrics: Metrics) -> Message:
    """`/passstats`: every metric over the period."""
    rate = metrics.fulfilment
    fp = metrics.false_positives
    ttr = metrics.time_to_resolve
    fallback = (
        f"passbot stats, last {metrics.period_days} days: webhook fulfilment {pct(rate.value)}, "
        f"time to resolve median {hours(ttr.median)} / p90 {hours(ttr.p90)}, "
        f"false positives {fp.dismissed} of {fp.seen}, {metrics.reports.mean:g} reports/week"
    )
    blocks = [header(f"📈 passbot stats — the last {metrics.period_days} days")]
    blocks += metrics_blocks(metrics)
    return message(fallback, blocks)
