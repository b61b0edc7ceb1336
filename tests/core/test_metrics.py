"""The metrics, table-driven from plain inputs; and the summary and early warning built on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain.findings import Finding, Kind, Severity
from core.domain.metrics import (
    FindingRecord,
    PurchaseRow,
    compute_metrics,
    false_positives,
    fix_times,
    nearest_rank,
    reports_per_week,
    resolved_by_absence,
    time_to_resolve,
    webhook_fulfilment,
)
from core.domain.models import Window
from core.domain.summary import AutofixOutcome, build_summary, build_warning

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def row(created_ago=H * 2, webhook_after=None, tenant="t-a", session="cs_1", **kw):
    created = NOW - created_ago
    webhook_at = created + webhook_after if webhook_after is not None else None
    has_pass = kw.pop("has_pass", webhook_at is not None)
    return PurchaseRow(session, tenant, created, has_pass, webhook_at, **kw)


@pytest.mark.parametrize(
    ("webhook_after", "on_time"),
    [
        (3 * timedelta(seconds=1), True),
        (15 * M, True),
        (15 * M + timedelta(seconds=1), False),
        (4 * 24 * H, False),
        (None, False),
    ],
)
def test_on_time_means_the_webhook_wrote_the_pass_within_15_minutes(webhook_after, on_time):
    assert row(webhook_after=webhook_after).on_time is on_time


@pytest.mark.parametrize(
    ("rows", "numerator", "denominator", "value"),
    [
        ([], 0, 0, None),
        ([row(webhook_after=M)], 1, 1, 1.0),
        ([row(webhook_after=M), row(), row(webhook_after=20 * M)], 1, 3, 0.3333),
        ([row(by_passbot=True, has_pass=True)], 0, 1, 0.0),  # passbot's fix is not the webhook's
    ],
)
def test_webhook_fulfilment_rate(rows, numerator, denominator, value):
    rate = webhook_fulfilment(rows)
    assert (rate.numerator, rate.denominator, rate.value) == (numerator, denominator, value)


def record(key="missing_pass:cs_1", first=H * 10, fixed=None, dismissed=None, **kw):
    return FindingRecord(
        key=key,
        kind=key.split(":")[0],
        severity="critical",
        first_seen=NOW - first,
        last_seen=kw.pop("last_seen", NOW - first),
        fixed_at=NOW - fixed if fixed is not None else None,
        dismissed_at=NOW - dismissed if dismissed is not None else None,
        **kw,
    )


@pytest.mark.parametrize(
    ("records", "fixes", "count", "median_h", "p90_h"),
    [
        ([], {}, 0, None, None),
        ([record(first=H * 10, fixed=H * 8)], {}, 1, 2.0, 2.0),
        (
            [record(f"k:{i}", first=H * (i + 1) * 2, fixed=H * (i + 1)) for i in range(10)],
            {},
            10,
            5.5,
            9.0,
        ),
        # the audit's fix is earlier than the run that saw it gone
        ([record(first=H * 10, fixed=H)], {"missing_pass:cs_1": NOW - H * 9}, 1, 1.0, 1.0),
        ([record(first=H * 10)], {"missing_pass:cs_1": NOW - H * 7}, 1, 3.0, 3.0),
        ([record(first=H * 24 * 40, fixed=H * 24 * 30)], {}, 0, None, None),  # before the period
    ],
)
def test_time_to_resolve(records, fixes, count, median_h, p90_h):
    got = time_to_resolve(records, since=NOW - timedelta(days=28), fixes=fixes)
    assert got.count == count
    assert got.to_json()["median_hours"] == median_h
    assert got.to_json()["p90_hours"] == p90_h


def test_nearest_rank():
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert nearest_rank([5], 0.9) == 5


def test_false_positives_count_dismissals_in_the_period():
    records = [
        record("a:1", dismissed=H, dismiss_reason="customer got a refund by hand"),
        record("a:2", dismissed=H, dismiss_reason="customer got a refund by hand"),
        record("a:3"),
        record("a:4", first=H * 24 * 60, dismissed=H * 24 * 50),  # old, out of the period
    ]
    fp = false_positives(records, since=NOW - timedelta(days=28))
    assert (fp.dismissed, fp.seen, fp.rate) == (2, 3, 0.6667)
    assert fp.reasons == (("customer got a refund by hand", 2),)


def test_reports_per_week_buckets_the_last_weeks():
    reports = [NOW - timedelta(days=d) for d in (0.5, 1, 6.9, 8, 20, 27.9, 29)]
    got = reports_per_week(reports, now=NOW, weeks=4)
    assert got.series == (1, 1, 1, 3)
    assert got.mean == 1.5


def test_fix_times_take_the_earliest_fix_per_finding():
    got = fix_times([
        (NOW - H, "cs_1", ("missing_pass",)),
        (NOW - 2 * H, "cs_1", ("missing_pass", "hidden_pass")),
        (NOW, None, ("pass_config",)),
    ])  # fmt: skip
    assert got == {"missing_pass:cs_1": NOW - 2 * H, "hidden_pass:cs_1": NOW - 2 * H}


@pytest.mark.parametrize(
    ("rec", "present", "unreadable", "expected"),
    [
        (record(occurred_at=NOW - H), [], [], "resolved"),
        (record(occurred_at=NOW - H), ["missing_pass:cs_1"], [], "open"),
        (record(occurred_at=NOW - timedelta(days=20)), [], [], "outside"),
        (record(occurred_at=NOW - H, account="acct_a"), [], ["acct_a"], "open"),
        (record("pass_config:pass-x"), [], [], "resolved"),
    ],
)
def test_resolved_by_absence(rec, present, unreadable, expected):
    resolved, outside = resolved_by_absence(
        [rec], present, window_start=NOW - timedelta(days=14), unreadable_accounts=unreadable
    )
    got = "resolved" if resolved else "outside" if outside else "open"
    assert got == expected


def test_compute_metrics_puts_it_together():
    metrics = compute_metrics(
        rows=[row(webhook_after=M), row(session="cs_2")],
        records=[record(fixed=H * 9)],
        reports=[NOW - H],
        now=NOW,
    )
    data = metrics.to_json()
    assert data["webhook_fulfilment"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert data["time_to_resolve"]["count"] == 1
    assert data["reports_per_week"]["series"] == [0, 0, 0, 1]


# ------------------------------------------------------------------------------ summary


def finding(session, kind=Kind.MISSING_PASS, tenant="t-a", severity=Severity.CRITICAL):
    return Finding(kind=kind, severity=severity, summary="x", session=session, tenant=tenant)


def test_summary_counts_per_school_with_a_trend():
    oslo = ZoneInfo("Europe/Oslo")
    rows = [
        row(H * 2, M, session="cs_1"),
        row(H * 26, M, session="cs_2"),
        row(H * 27, 30 * M, session="cs_3"),
        row(H * 3, None, session="cs_4", open=True),
        row(H * 5, None, session="cs_5", has_pass=True, by_passbot=True),
        row(H * 4, M, session="cs_6", tenant="t-b"),
    ]
    summary = build_summary(
        kind="daily",
        rows=rows,
        findings=[
            finding("cs_4"),
            finding("cs_9", Kind.DUPLICATE_PASS, "t-b", Severity.WARNING),
            finding(None, Kind.ACCOUNT_UNREACHABLE, None),
        ],
        schools={"t-a": "Aurora", "t-b": "Bolero"},
        now=NOW,
        window=Window(NOW - timedelta(days=14), NOW),
        mode="test",
        tz=oslo,
        dismissed={"duplicate_pass:cs_9"},
    )
    aurora, bolero = summary.schools
    assert (aurora.paid, aurora.by_webhook, aurora.on_time) == (5, 3, 2)
    assert (aurora.fixed_by_passbot, aurora.still_open) == (1, 1)
    assert aurora.fulfilment_rate == 0.4
    assert len(aurora.trend) == 14
    assert aurora.trend[-1].day.isoformat() == "2026-11-28"
    assert (aurora.trend[-1].paid, aurora.trend[-2].paid) == (3, 2)
    assert (bolero.paid, bolero.still_open, bolero.open_findings) == (1, 0, ())  # dismissed
    assert [f.kind for f in summary.other_findings] == [Kind.ACCOUNT_UNREACHABLE]
    assert summary.needs_attention


def test_an_autofixed_purchase_counts_as_fixed_not_open():
    summary = build_summary(
        kind="daily",
        rows=[row(H * 3, None, session="cs_4", open=True)],
        findings=[finding("cs_4")],
        schools={"t-a": "Aurora"},
        now=NOW,
        window=Window(NOW - timedelta(days=14), NOW),
        mode="test",
        tz=UTC,
        autofixed=[AutofixOutcome("cs_4", "missing_pass:cs_4", True, ("subscription-cs_4",))],
    )
    (aurora,) = summary.schools
    assert (aurora.fixed_by_passbot, aurora.still_open) == (1, 0)
    assert not summary.needs_attention


def test_early_warning_takes_fresh_purchases_once():
    rows = [
        row(20 * M, None, session="cs_new"),
        row(30 * M, M, session="cs_ok"),
        row(50 * M, None, session="cs_told"),
        row(10 * M, None, session="cs_too_young"),
        row(80 * M, None, session="cs_too_old"),
    ]
    findings = [finding(s) for s in ("cs_new", "cs_told", "cs_too_young", "cs_too_old")]
    warning = build_warning(rows=rows, findings=findings, now=NOW, warned={"cs_told"})
    assert [f.session for f in warning.findings] == ["cs_new"]
    assert (warning.paid, warning.unfulfilled, warning.already_warned) == (3, 2, 1)
    assert warning.outage_suspected  # two of three recent purchases have no pass


def test_one_missing_pass_among_many_is_not_an_outage():
    rows = [row(20 * M, None, session="cs_new")] + [
        row(30 * M, M, session=f"cs_{i}") for i in range(5)
    ]
    warning = build_warning(rows=rows, findings=[finding("cs_new")], now=NOW, warned=set())
    assert len(warning.findings) == 1
    assert not warning.outage_suspected
