"""The scheduler against the sandbox with a clock the test moves: each job runs once per period
and survives a restart, a missed run is caught up, the early warning fires for a fresh purchase
with no pass (once), and a webhook outage shows in the warning, the health check and the
metrics. No test asserts how long anything takes."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from bot.cli import main
from bot.container import build_services
from bot.poster import TextPoster, render_summary, render_warning
from bot.scheduler import ALREADY, FAILED, NOTHING, POSTED, Scheduler, scheduler_for
from bot.settings import Settings
from core.adapters.history import SqlHistory, SqliteHistory
from core.domain.health import HealthReport
from core.domain.summary import EarlyWarning, Summary
from core.usecases.jobs import EARLY_WARNING, HEALTH, SUMMARY, SWEEP
from core.usecases.services import Services
from sandbox import start_sandbox
from tests.health_worlds import NOW, OLA_SESSION, add_purchase, healthy, outage, tiny

OSLO = "Europe/Oslo"


@dataclass
class Clock:
    """A clock the test sets."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant += delta


@dataclass
class Rig:
    scheduler: Scheduler
    poster: TextPoster
    services: Services
    clock: Clock
    settings: Settings


@asynccontextmanager
async def rig(world: dict[str, Any], db: Path, clock: Clock, **extra: Any) -> AsyncIterator[Rig]:
    """The real services against a sandbox, the scheduler over `db`, a text poster."""
    box = await start_sandbox(world)
    try:
        env = {
            k.lower(): v for k, v in box.settings().items() if k.lower() in Settings.model_fields
        }
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            **{**env, "passbot_db": str(db), "passbot_timezone": OSLO, **extra},
        )
        async with build_services(settings) as services:
            services.clock = clock
            poster = TextPoster(out=io.StringIO())
            async with scheduler_for(settings, services, poster) as scheduler:
                yield Rig(scheduler, poster, services, clock, settings)
    finally:
        await box.close()


# ------------------------------------------------------------------------------- periods


def bare(clock: Clock) -> Scheduler:
    ledger = SqliteHistory(":memory:")
    return Scheduler(cast(Any, None), ledger, TextPoster(), clock=clock, timezone=OSLO)


@pytest.mark.parametrize(
    ("job", "utc", "key"),
    [
        (SUMMARY, "2026-11-28T08:00:00", "2026-11-28"),  # Saturday 09:00 in Oslo
        (SUMMARY, "2026-11-28T07:59:59", "2026-11-27"),
        (SUMMARY, "2026-11-30T10:00:00", "2026-11-29"),  # Monday: the sweep instead
        (SUMMARY, "2026-07-01T07:00:00", "2026-07-01"),  # summer time: 09:00 is 07:00 UTC
        (SWEEP, "2026-11-30T08:00:00", "2026-W49"),
        (SWEEP, "2026-11-30T07:59:00", "2026-W48"),
        (SWEEP, "2026-12-05T12:00:00", "2026-W49"),
        (HEALTH, "2026-11-28T08:00:00", "2026-11"),  # the first Monday was 2 November
        (HEALTH, "2026-12-06T23:00:00", "2026-11"),
        (HEALTH, "2026-12-07T08:00:00", "2026-12"),  # the first Monday of December
        (EARLY_WARNING, "2026-11-28T08:07:00", "2026-11-28T09:00"),
        (EARLY_WARNING, "2026-11-28T08:15:00", "2026-11-28T09:15"),
    ],
)
def test_each_job_has_one_period_key_at_a_time(job, utc, key):
    at = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    period = bare(Clock(at)).period(job)
    assert period is not None
    assert period.key == key
    assert period.at <= at


def test_apscheduler_fires_on_the_same_schedule():
    scheduler = bare(Clock(NOW))
    after = datetime(2026, 11, 28, 8, 1, tzinfo=UTC)
    fires = {job: t.get_next_fire_time(None, after) for job, t in scheduler.triggers.items()}
    assert fires[SUMMARY] == datetime(2026, 11, 29, 8, tzinfo=UTC)
    assert fires[SWEEP] == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert fires[HEALTH] == datetime(2026, 12, 7, 8, tzinfo=UTC)
    assert fires[EARLY_WARNING] == datetime(2026, 11, 28, 8, 15, tzinfo=UTC)


# ------------------------------------------------------------------ once per period, restart


NEXT_PERIOD = {
    SUMMARY: timedelta(days=1),
    SWEEP: timedelta(days=7),
    HEALTH: timedelta(days=35),  # 2 January 2027 is not a Monday; 4 January is
    EARLY_WARNING: timedelta(minutes=15),
}


@pytest.mark.parametrize("job", [SUMMARY, SWEEP, HEALTH, EARLY_WARNING])
async def test_each_job_runs_once_per_period_and_survives_a_restart(job, tmp_path):
    db = tmp_path / "passbot.db"
    start = NOW + timedelta(days=2) if job == SWEEP else NOW  # Monday 30 November, 09:00
    clock = Clock(start)
    async with rig(healthy(), db, clock) as r:
        first = await r.scheduler.run(job)
        assert first.status in (POSTED, NOTHING)
        assert (await r.scheduler.run(job)).status == ALREADY
        posts = len(r.poster.posted)
    async with rig(healthy(), db, clock) as again:  # a restarted bot: new store, same file
        assert (await again.scheduler.run(job)).status == ALREADY
        assert job not in {o.job for o in await again.scheduler.catch_up()}
        clock.advance(NEXT_PERIOD[job])
        later = await again.scheduler.run(job)
        assert later.status in (POSTED, NOTHING)
        assert later.period != first.period
    assert posts == (0 if job == EARLY_WARNING else 1)


async def test_a_missed_run_is_caught_up_once_at_start(tmp_path):
    db = tmp_path / "passbot.db"
    clock = Clock(NOW)  # Saturday 09:00: the summary runs
    async with rig(healthy(), db, clock) as r:
        assert (await r.scheduler.run(SUMMARY)).status == POSTED
    clock.instant = datetime(2026, 12, 1, 13, tzinfo=UTC)  # down until Tuesday 14:00
    async with rig(healthy(), db, clock) as r:
        caught = {o.job: o for o in await r.scheduler.catch_up()}
        assert caught[SUMMARY].period == "2026-12-01"  # the latest missed day, not three
        assert caught[SWEEP].period == "2026-W49"  # Monday's sweep
        assert caught[HEALTH].period == "2026-11"
        assert caught[EARLY_WARNING].period == "2026-12-01T14:00"
        assert all(o.status in (POSTED, NOTHING) for o in caught.values())
        kinds = [k for k, _ in r.poster.posted]
        assert kinds.count("summary") == 2  # the daily and the weekly
        assert kinds.count("health") == 1
        assert await r.scheduler.catch_up() == []


async def test_a_run_that_failed_before_posting_is_tried_again(tmp_path):
    world = healthy()
    world["faults"] = [{"service": "sanity", "path": "/data/query", "status": 400, "count": 1}]
    async with rig(world, tmp_path / "passbot.db", Clock(NOW)) as r:
        failed = await r.scheduler.run(SUMMARY)
        assert failed.status == FAILED
        assert r.poster.posted == []
        (retried,) = [o for o in await r.scheduler.catch_up() if o.job == SUMMARY]
        assert retried.status == POSTED
        assert (await r.scheduler.run(SUMMARY)).status == ALREADY


# ---------------------------------------------------------------------------- early warning


async def test_early_warning_fires_for_a_fresh_unfulfilled_purchase_once(tmp_path):
    world = healthy()
    fresh = add_purchase(world, "fresh", NOW - timedelta(minutes=30), fulfilled=False)
    add_purchase(world, "done", NOW - timedelta(minutes=25), fulfilled=True)
    add_purchase(world, "young", NOW - timedelta(minutes=10), fulfilled=False)
    clock = Clock(NOW)
    async with rig(world, tmp_path / "passbot.db", clock) as r:
        outcome = await r.scheduler.run(EARLY_WARNING)
        assert outcome.status == POSTED
        warning = cast(EarlyWarning, outcome.data)
        assert [f.session for f in warning.findings] == [fresh]
        assert warning.findings[0].fix is not None  # posted with its fix button
        assert (warning.paid, warning.unfulfilled) == (2, 1)
        assert not warning.outage_suspected
        clock.advance(timedelta(minutes=15))  # the next scan: the young one is now due
        second = await r.scheduler.run(EARLY_WARNING)
        assert [f.session for f in cast(EarlyWarning, second.data).findings] == [
            "cs_test_youngxxxxxxxZq9"
        ]
        clock.advance(timedelta(minutes=15))
        assert (await r.scheduler.run(EARLY_WARNING)).status == NOTHING
        assert [k for k, _ in r.poster.posted] == ["warning", "warning"]


async def test_early_warning_is_quiet_when_the_webhook_fulfilled_everything(tmp_path):
    world = healthy()
    add_purchase(world, "done", NOW - timedelta(minutes=25), fulfilled=True)
    async with rig(world, tmp_path / "passbot.db", Clock(NOW)) as r:
        outcome = await r.scheduler.run(EARLY_WARNING)
        assert outcome.status == NOTHING
        assert cast(EarlyWarning, outcome.data).paid == 1
        assert r.poster.posted == []


async def test_a_webhook_outage_shows_in_the_warning_the_health_check_and_the_metrics(tmp_path):
    clock = Clock(NOW)
    async with rig(outage(), tmp_path / "passbot.db", clock) as r:
        scan = await r.scheduler.run(EARLY_WARNING)  # one scan
        warning = cast(EarlyWarning, scan.data)
        assert len(warning.findings) == 3
        assert warning.outage_suspected
        assert "looks like a webhook outage" in render_warning(warning)

        report = cast(HealthReport, (await r.scheduler.run(HEALTH)).data)
        failing = {c.name for c in report.failures}
        assert failing == {"webhook_deliveries", "webhook_log_errors"}
        assert "signature_verification_failed" in report.check("webhook_log_errors").detail

        metrics = await r.scheduler.jobs.metrics()
        assert (metrics.fulfilment.numerator, metrics.fulfilment.denominator) == (1, 4)
        assert metrics.fulfilment.value == 0.25
    async with rig(healthy(), tmp_path / "healthy.db", Clock(NOW)) as r:
        healthy_metrics = await r.scheduler.jobs.metrics()
        assert healthy_metrics.fulfilment.value == 1.0


# ------------------------------------------------------------------- summary and autofix


async def test_the_weekly_sweep_carries_the_metrics_and_history(tmp_path):
    clock = Clock(NOW + timedelta(days=2))  # Monday 30 November, 09:00 in Oslo
    async with rig(tiny(), tmp_path / "passbot.db", clock) as r:
        summary = cast(Summary, (await r.scheduler.run(SWEEP)).data)
        assert summary.kind == "weekly"
        assert summary.metrics is not None
        (aurora,) = summary.schools
        assert (aurora.paid, aurora.by_webhook, aurora.still_open) == (2, 1, 1)
        assert [f.session for f in aurora.open_findings] == [OLA_SESSION]
        assert "Weekly sweep" in render_summary(summary)
        history = cast(SqlHistory, r.scheduler.ledger)
        assert [rec.key for rec in history.open_records()] == [f"missing_pass:{OLA_SESSION}"]


@pytest.mark.parametrize("autofix", [False, True])
async def test_autofix_applies_only_when_on_and_is_audited(autofix, tmp_path):
    world = healthy()
    lost = add_purchase(world, "lost", NOW - timedelta(hours=3), fulfilled=False)
    async with rig(world, tmp_path / "passbot.db", Clock(NOW), passbot_autofix=autofix) as r:
        summary = cast(Summary, (await r.scheduler.run(SUMMARY)).data)
        (aurora,) = summary.schools
        audit = r.services.audit.recent()
        if autofix:
            (fixed,) = summary.autofixed
            assert fixed.applied
            assert fixed.documents == (f"subscription-{lost}",)
            assert (aurora.fixed_by_passbot, aurora.still_open) == (1, 0)
            assert [(e.session, e.actor, e.source) for e in audit] == [
                (lost, "passbot:autofix", "autofix")
            ]
            history = cast(SqlHistory, r.scheduler.ledger)
            (record,) = history.records()
            assert record.fixed_by == "passbot:autofix"
        else:
            assert summary.autofixed == ()
            assert (aurora.fixed_by_passbot, aurora.still_open) == (0, 1)
            assert audit == []


async def test_a_finding_fixed_between_runs_is_resolved_by_the_next_run(tmp_path):
    world = healthy()
    lost = add_purchase(world, "lost", NOW - timedelta(hours=3), fulfilled=False)
    clock = Clock(NOW)
    async with rig(world, tmp_path / "passbot.db", clock) as r:
        await r.scheduler.run(SUMMARY)
        await r.services.apply_fix(lost, actor="U0APPROVER")
        clock.advance(timedelta(days=1))
        await r.scheduler.run(SUMMARY)
        history = cast(SqlHistory, r.scheduler.ledger)
        (record,) = history.records()
        assert record.fixed_at == clock.instant
        metrics = await r.scheduler.jobs.metrics()
        assert metrics.time_to_resolve.count == 1  # the audit's fix time counts first
        assert metrics.time_to_resolve.median is not None
        assert metrics.time_to_resolve.median < timedelta(days=1)


# ------------------------------------------------------------------- the command line


def test_passbot_job_claims_the_period_like_the_scheduler(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "world.json"
    path.write_text(json.dumps(tiny()))
    code = main(["job", "summary", "--sandbox", str(path)])
    out, _ = capsys.readouterr()
    assert code == 0  # Ola's purchase is older than the daily summary's 14 days
    assert "Daily summary" in out
    code = main(["job", "summary", "--sandbox", str(path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["status"], data["period"]) == (0, "already_ran", "2026-11-28")
    code = main(["job", "sweep", "--sandbox", str(path), "--json", "--force"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # forced: Ola's missing pass is critical
    assert data["data"]["still_open"] == 1


async def test_start_registers_every_job_and_the_catch_up(tmp_path):
    async with rig(healthy(), tmp_path / "passbot.db", Clock(NOW)) as r:
        aps = r.scheduler.start()
        try:
            ids = {job.id for job in aps.get_jobs()}
        finally:
            aps.shutdown(wait=False)
    assert ids == {SUMMARY, SWEEP, HEALTH, EARLY_WARNING, "catch_up"}
