"""The metrics that show passbot works, computed from plain inputs (pure).

* **webhook fulfilment rate** — of the paid pass purchases, the share whose pass the platform's
  webhook created within 15 minutes of the purchase (`createdViaWebhook` and the subscription's
  `_createdAt` vs the session's `created`). Not Stripe's delivery status, which says "delivered"
  when the handler answered 200 and failed (FM-12).
* **time to resolve** — for findings fixed in the period: fixed − first seen; median and p90
  (nearest rank). "Fixed" is the earlier of an applied fix in the audit log and the first
  complete run in which the finding was gone.
* **false positives** — findings dismissed as "not a problem" in the period, and their share of
  the findings seen in the period.
* **reports per week** — customer reports (a `/fixpass` or `diagnose` lookup) in each of the last
  weeks, and their mean.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.models import JSON, Subscription, iso
from core.domain.purchase import Purchase

#: The webhook fulfilled a purchase "on time" when its pass exists this soon after payment.
WEBHOOK_DEADLINE = timedelta(minutes=15)
METRICS_DAYS = 28


@dataclass(frozen=True, slots=True)
class PurchaseRow:
    """One paid pass purchase, as the summary and the metrics need it.

    Attributes:
        webhook_at: when the earliest subscription the webhook wrote for it was created
            (`_createdAt` of a `createdViaWebhook` document), or None.
        by_passbot: a subscription of it was created or patched by passbot.
        open: a finding about it exists.
    """

    session: str
    tenant: str | None
    created: datetime
    has_pass: bool
    webhook_at: datetime | None = None
    by_passbot: bool = False
    open: bool = False

    @property
    def on_time(self) -> bool:
        """The webhook created its pass within WEBHOOK_DEADLINE of the purchase."""
        return self.webhook_at is not None and self.webhook_at - self.created <= WEBHOOK_DEADLINE


def purchase_row(purchase: Purchase, subscriptions: Mapping[str, Subscription]) -> PurchaseRow:
    """The row for a judged purchase; `subscriptions` holds its linked documents by `_id`."""
    subs = [subscriptions[s] for s in purchase.subscriptions if s in subscriptions]
    webhook = [s.created_at for s in subs if s.created_via_webhook and s.created_at is not None]
    by_passbot = any(s.raw.get("createdVia") == "passbot" or s.raw.get("fixedBy") for s in subs)
    return PurchaseRow(
        session=purchase.session.id,
        tenant=purchase.tenant,
        created=purchase.session.created,
        has_pass=purchase.has_pass,
        webhook_at=min(webhook) if webhook else None,
        by_passbot=by_passbot,
        open=bool(purchase.findings),
    )


@dataclass(frozen=True, slots=True)
class Rate:
    """numerator ÷ denominator; `value` is None when there is nothing to divide."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """The rate, rounded to 4 places."""
        return round(self.numerator / self.denominator, 4) if self.denominator else None

    def to_json(self) -> JSON:
        """As JSON."""
        return {"numerator": self.numerator, "denominator": self.denominator, "rate": self.value}


def webhook_fulfilment(rows: Iterable[PurchaseRow]) -> Rate:
    """Purchases the webhook fulfilled on time ÷ all paid pass purchases."""
    items = list(rows)
    return Rate(sum(1 for r in items if r.on_time), len(items))


# ------------------------------------------------------------------------- finding history


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """The history of one finding (by `Finding.key`) across runs."""

    key: str
    kind: str
    severity: str
    first_seen: datetime
    last_seen: datetime
    session: str | None = None
    account: str | None = None
    tenant: str | None = None
    summary: str = ""
    occurred_at: datetime | None = None
    fixed_at: datetime | None = None
    fixed_by: str | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismiss_reason: str | None = None
    aged_out_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Neither fixed, dismissed nor aged out of the lookback."""
        return self.fixed_at is None and self.dismissed_at is None and self.aged_out_at is None


def fix_times(entries: Iterable[tuple[datetime, str | None, Sequence[str]]]) -> dict[str, datetime]:
    """Finding key → the earliest applied fix, from audit entries (at, session, finding kinds)."""
    out: dict[str, datetime] = {}
    for at, session, kinds in entries:
        if not session:
            continue
        for kind in kinds:
            key = f"{kind}:{session}"
            if key not in out or at < out[key]:
                out[key] = at
    return out


def resolved_by_absence(
    open_records: Iterable[FindingRecord],
    present: Iterable[str],
    *,
    window_start: datetime,
    unreadable_accounts: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """Which open findings a complete run (every school, the full check) shows resolved.

    A finding no longer found is resolved, unless it could not have been found: its purchase is
    older than the run's window (then it aged out) or its account could not be read (then
    nothing is concluded).

    Returns:
        (resolved keys, aged-out keys).
    """
    here = set(present)
    unreadable = set(unreadable_accounts)
    resolved: list[str] = []
    aged: list[str] = []
    for record in open_records:
        if record.key in here or (record.account and record.account in unreadable):
            continue
        if record.occurred_at is not None and record.occurred_at < window_start:
            aged.append(record.key)
        else:
            resolved.append(record.key)
    return resolved, aged


@dataclass(frozen=True, slots=True)
class Durations:
    """How long resolving took: count, median and p90."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    def to_json(self) -> JSON:
        """As JSON (hours)."""
        return {
            "count": self.count,
            "median_hours": _hours(self.median),
            "p90_hours": _hours(self.p90),
        }


def _hours(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 3600, 2) if value is not None else None


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (a value that occurred)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def time_to_resolve(
    records: Iterable[FindingRecord],
    *,
    since: datetime,
    fixes: Mapping[str, datetime] | None = None,
) -> Durations:
    """First seen → fixed, for findings fixed at or after `since`."""
    seconds: list[float] = []
    for record in records:
        candidates = [t for t in (record.fixed_at, (fixes or {}).get(record.key)) if t]
        if not candidates:
            continue
        fixed = min(candidates)
        if fixed < since:
            continue
        seconds.append(max(0.0, (fixed - record.first_seen).total_seconds()))
    if not seconds:
        return Durations(0, None, None)
    return Durations(
        len(seconds),
        timedelta(seconds=statistics.median(seconds)),
        timedelta(seconds=nearest_rank(seconds, 0.9)),
    )


@dataclass(frozen=True, slots=True)
class FalsePositives:
    """Findings dismissed as not a problem, and the commonest reasons."""

    dismissed: int
    seen: int
    reasons: tuple[tuple[str, int], ...] = ()

    @property
    def rate(self) -> float | None:
        """dismissed ÷ seen."""
        return round(self.dismissed / self.seen, 4) if self.seen else None

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "dismissed": self.dismissed,
            "seen": self.seen,
            "rate": self.rate,
            "reasons": [{"reason": r, "count": n} for r, n in self.reasons],
        }


def false_positives(records: Iterable[FindingRecord], *, since: datetime) -> FalsePositives:
    """Findings dismissed in the period ÷ findings seen (or dismissed) in the period."""
    dismissed: list[FindingRecord] = []
    seen = 0
    for record in records:
        dismissed_now = record.dismissed_at is not None and record.dismissed_at >= since
        if dismissed_now:
            dismissed.append(record)
        if dismissed_now or record.last_seen >= since:
            seen += 1
    reasons = Counter((r.dismiss_reason or "(no reason)").strip() for r in dismissed)
    return FalsePositives(len(dismissed), seen, tuple(reasons.most_common(3)))


@dataclass(frozen=True, slots=True)
class ReportsPerWeek:
    """Customer reports in each of the last weeks (oldest first), and the mean."""

    series: tuple[int, ...]

    @property
    def total(self) -> int:
        """Reports in all the weeks."""
        return sum(self.series)

    @property
    def mean(self) -> float:
        """Reports per week."""
        return round(self.total / len(self.series), 2) if self.series else 0.0

    def to_json(self) -> JSON:
        """As JSON."""
        return {"weeks": len(self.series), "series": list(self.series), "per_week": self.mean}


def reports_per_week(reports: Iterable[datetime], *, now: datetime, weeks: int) -> ReportsPerWeek:
    """Reports bucketed into weeks of 7 days ending `now`."""
    series = [0] * max(1, weeks)
    for at in reports:
        age = now - at
        if age < timedelta(0):
            continue
        index = int(age / timedelta(days=7))
        if index < len(series):
            series[len(series) - 1 - index] += 1
    return ReportsPerWeek(tuple(series))


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every metric over one period."""

    generated_at: datetime
    period_days: int
    fulfilment: Rate
    time_to_resolve: Durations
    false_positives: FalsePositives
    reports: ReportsPerWeek

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "generated_at": iso(self.generated_at),
            "period_days": self.period_days,
            "webhook_fulfilment": self.fulfilment.to_json(),
            "time_to_resolve": self.time_to_resolve.to_json(),
            "false_positives": self.false_positives.to_json(),
            "reports_per_week": self.reports.to_json(),
        }


def compute_metrics(
    *,
    rows: Iterable[PurchaseRow],
    records: Iterable[FindingRecord],
    reports: Iterable[datetime],
    now: datetime,
    fixes: Mapping[str, datetime] | None = None,
    period_days: int = METRICS_DAYS,
) -> Metrics:
    """Every metric; `rows` are the purchases of the period (the caller reads them)."""
    since = now - timedelta(days=period_days)
    history = list(records)
    return Metrics(
        generated_at=now,
        period_days=period_days,
        fulfilment=webhook_fulfilment(rows),
        time_to_resolve=time_to_resolve(history, since=since, fixes=fixes),
        false_positives=false_positives(history, since=since),
        reports=reports_per_week(reports, now=now, weeks=max(1, period_days // 7)),
    )
