"""What the scheduled jobs post, as data (pure): the summary per school and the early warning.

A `Poster` (core.ports) turns these into messages: Block Kit in Slack, text on the command line.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from core.domain.daily import DayPoint, daily_series
from core.domain.findings import SEVERITY_ORDER, Finding, Kind, Severity
from core.domain.metrics import Metrics, PurchaseRow, Rate
from core.domain.models import JSON, Window, iso

#: Days in the summary's trend line.
TREND_DAYS = 14
#: Early warning: purchases at least this old should have their pass…
WARNING_MIN_AGE = timedelta(minutes=15)
#: …and are looked at until they are this old (four scans of 15 minutes each).
WARNING_MAX_AGE = timedelta(minutes=75)
#: The only kind an automatic fix may resolve (with user, pass and tenant certain).
AUTOFIX_KINDS = frozenset({Kind.MISSING_PASS})
#: Findings about a purchase that leave the customer without a pass.
NO_PASS_KINDS = frozenset({Kind.MISSING_PASS, Kind.MISSING_UPGRADE, Kind.UNRESOLVABLE_PURCHASE})


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One day of the trend line: paid purchases and those the webhook fulfilled on time."""

    day: date
    paid: int
    on_time: int

    @property
    def rate(self) -> float | None:
        """on_time ÷ paid."""
        return Rate(self.on_time, self.paid).value


@dataclass(frozen=True, slots=True)
class SchoolSummary:
    """One school's line in the summary."""

    tenant: str | None
    name: str
    paid: int
    by_webhook: int
    on_time: int
    fixed_by_passbot: int
    still_open: int
    open_findings: tuple[Finding, ...]
    trend: tuple[TrendPoint, ...]

    @property
    def fulfilment_rate(self) -> float | None:
        """Purchases the webhook fulfilled within 15 minutes ÷ paid purchases."""
        return Rate(self.on_time, self.paid).value

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "tenant": self.tenant,
            "name": self.name,
            "paid_pass_purchases": self.paid,
            "fulfilled_by_webhook": self.by_webhook,
            "fulfilled_on_time": self.on_time,
            "fixed_by_passbot": self.fixed_by_passbot,
            "still_open": self.still_open,
            "fulfilment_rate": self.fulfilment_rate,
            "open_findings": [f.to_json() for f in self.open_findings],
            "trend": [
                {"day": p.day.isoformat(), "paid": p.paid, "on_time": p.on_time, "rate": p.rate}
                for p in self.trend
            ],
        }


@dataclass(frozen=True, slots=True)
class AutofixOutcome:
    """One automatic fix: applied (and audited), or why not."""

    session: str
    finding_key: str
    applied: bool
    documents: tuple[str, ...] = ()
    audit_id: int | None = None
    error: str | None = None

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "session": self.session,
            "finding": self.finding_key,
            "applied": self.applied,
            "documents": list(self.documents),
            "audit_id": self.audit_id,
            "error": self.error,
        }


def autofixable(finding: Finding) -> bool:
    """The safe kind: a missing pass whose user, pass and tenant are certain, with a fix that
    only creates the subscription exactly as the webhook would."""
    fix = finding.fix
    return (
        finding.kind in AUTOFIX_KINDS
        and finding.session is not None
        and bool(finding.user and finding.pass_id and finding.tenant)
        and fix is not None
        and fix.action.value == "create_subscription"
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """The daily summary (or, on Mondays, the weekly sweep with the metrics)."""

    kind: str
    generated_at: datetime
    window: Window
    mode: str
    timezone: str
    schools: tuple[SchoolSummary, ...]
    other_findings: tuple[Finding, ...] = ()
    autofixed: tuple[AutofixOutcome, ...] = ()
    metrics: Metrics | None = None
    #: Day by day over the last CHART_DAYS (the weekly sweep's chart); empty for the daily.
    daily: tuple[DayPoint, ...] = ()

    @property
    def paid(self) -> int:
        """Paid pass purchases in all schools."""
        return sum(s.paid for s in self.schools)

    @property
    def on_time(self) -> int:
        """Purchases the webhook fulfilled within 15 minutes, in all schools."""
        return sum(s.on_time for s in self.schools)

    @property
    def still_open(self) -> int:
        """Purchases still needing attention, in all schools."""
        return sum(s.still_open for s in self.schools)

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        """Every open finding, the most severe first."""
        found = [f for s in self.schools for f in s.open_findings] + list(self.other_findings)
        return tuple(sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], f.kind, f.key)))

    @property
    def needs_attention(self) -> bool:
        """A critical finding is open."""
        return any(f.severity == Severity.CRITICAL for f in self.open_findings)

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "kind": self.kind,
            "generated_at": iso(self.generated_at),
            "window": {"from": iso(self.window.start), "to": iso(self.window.end)},
            "mode": self.mode,
            "timezone": self.timezone,
            "paid_pass_purchases": self.paid,
            "fulfilled_on_time": self.on_time,
            "fulfilment_rate": Rate(self.on_time, self.paid).value,
            "still_open": self.still_open,
            "schools": [s.to_json() for s in self.schools],
            "other_findings": [f.to_json() for f in self.other_findings],
            "autofixed": [a.to_json() for a in self.autofixed],
            "metrics": self.metrics.to_json() if self.metrics else None,
            "daily": [p.to_json() for p in self.daily],
        }


def _trend(rows: Sequence[PurchaseRow], *, today: date, tz: tzinfo, days: int) -> list[TrendPoint]:
    first = today - timedelta(days=days - 1)
    paid = dict.fromkeys((first + timedelta(days=i) for i in range(days)), 0)
    on_time = dict(paid)
    for row in rows:
        day = row.created.astimezone(tz).date()
        if day in paid:
            paid[day] += 1
            on_time[day] += row.on_time
    return [TrendPoint(day, paid[day], on_time[day]) for day in paid]


def build_summary(
    *,
    kind: str,
    rows: Sequence[PurchaseRow],
    findings: Iterable[Finding],
    schools: Mapping[str, str],
    now: datetime,
    window: Window,
    mode: str,
    tz: tzinfo,
    dismissed: Collection[str] = (),
    autofixed: Sequence[AutofixOutcome] = (),
    metrics: Metrics | None = None,
    trend_days: int = TREND_DAYS,
    chart_days: int = 0,
) -> Summary:
    """The summary of one reconciliation.

    Args:
        kind: `daily` or `weekly`.
        rows: the window's paid pass purchases.
        findings: the reconciliation's findings; dismissed ones and those an automatic fix
            resolved are left out of "still open".
        schools: tenant id → name, in the order to show them.
        tz: PASSBOT_TIMEZONE, for the days of the trend line.
        chart_days: days of the day-by-day series for the chart (0: none).
    """
    fixed_now = {a.finding_key for a in autofixed if a.applied}
    fixed_sessions = {a.session for a in autofixed if a.applied}
    open_ = [f for f in findings if f.key not in dismissed and f.key not in fixed_now]
    by_school: dict[str | None, list[Finding]] = {}
    for f in open_:
        by_school.setdefault(f.tenant if f.tenant in schools else None, []).append(f)
    rows_by: dict[str | None, list[PurchaseRow]] = {}
    for row in rows:
        rows_by.setdefault(row.tenant if row.tenant in schools else None, []).append(row)
    today = now.astimezone(tz).date()
    lines = []
    order = [*schools, None] if None in rows_by else list(schools)
    for tenant in order:
        mine = rows_by.get(tenant, [])
        found = tuple(by_school.pop(tenant, []) if tenant is not None else ())
        lines.append(
            SchoolSummary(
                tenant=tenant,
                name=schools.get(tenant, "(no school)") if tenant else "(no school)",
                paid=len(mine),
                by_webhook=sum(1 for r in mine if r.webhook_at is not None),
                on_time=sum(1 for r in mine if r.on_time),
                fixed_by_passbot=sum(
                    1 for r in mine if r.by_passbot or r.session in fixed_sessions
                ),
                still_open=len({f.session for f in found if f.session}),
                open_findings=found,
                trend=tuple(_trend(mine, today=today, tz=tz, days=trend_days)),
            )
        )
    rest = tuple(f for fs in by_school.values() for f in fs)
    return Summary(
        kind=kind,
        generated_at=now,
        window=window,
        mode=mode,
        timezone=str(tz),
        schools=tuple(lines),
        other_findings=rest,
        autofixed=tuple(autofixed),
        metrics=metrics,
        daily=daily_series(
            rows,
            now=now,
            tz=tz,
            days=chart_days,
            open_sessions={f.session for f in open_ if f.session},
            fixed_sessions=fixed_sessions,
        )
        if chart_days
        else (),
    )


# --------------------------------------------------------------------------- early warning


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """Purchases 15–75 minutes old that still have no pass, each reported once."""

    generated_at: datetime
    window: Window
    findings: tuple[Finding, ...]
    paid: int
    unfulfilled: int
    already_warned: int = 0

    @property
    def outage_suspected(self) -> bool:
        """Several recent purchases, half or more of them, have no pass: the webhook itself
        is probably failing, not one purchase."""
        return self.unfulfilled >= 2 and self.unfulfilled * 2 >= self.paid

    @property
    def needs_attention(self) -> bool:
        """Something new to post."""
        return bool(self.findings)

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "generated_at": iso(self.generated_at),
            "window": {"from": iso(self.window.start), "to": iso(self.window.end)},
            "paid_pass_purchases": self.paid,
            "unfulfilled": self.unfulfilled,
            "already_warned": self.already_warned,
            "outage_suspected": self.outage_suspected,
            "findings": [f.to_json() for f in self.findings],
        }


def warning_window(now: datetime) -> Window:
    """Purchases created in this window are old enough to have a pass and young enough to
    warn about."""
    return Window(now - WARNING_MAX_AGE, now - WARNING_MIN_AGE)


def build_warning(
    *,
    rows: Sequence[PurchaseRow],
    findings: Iterable[Finding],
    now: datetime,
    warned: Collection[str],
) -> EarlyWarning:
    """The warning for one scan; `warned` holds the sessions already posted about."""
    window = warning_window(now)
    mine = [r for r in rows if window.contains(r.created)]
    sessions = {r.session for r in mine}
    missing = {r.session for r in mine if not r.has_pass}
    seen: set[str] = set()
    fresh: list[Finding] = []
    for f in findings:
        if f.kind not in NO_PASS_KINDS or f.session not in sessions or f.session in seen:
            continue
        seen.add(f.session)
        missing.add(f.session)
        if f.session not in warned:
            fresh.append(f)
    return EarlyWarning(
        generated_at=now,
        window=window,
        findings=tuple(fresh),
        paid=len(mine),
        unfulfilled=len(missing),
        already_warned=len(missing & set(warned)),
    )
