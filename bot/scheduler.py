"""The scheduler: when each job runs, keyed by its period so that it posts once per period.

In PASSBOT_TIMEZONE (APScheduler 3 cron triggers):

| job | when | period key |
|---|---|---|
| `summary` | 09:00 Tuesday to Sunday | the local date |
| `sweep` | 09:00 Mondays: the summary over the whole lookback, with the metrics | the ISO week |
| `health` | 09:00 the first Monday of the month | the month |
| `early_warning` | every 15 minutes | the local quarter hour |

A run claims `(job, period)` in the run ledger before it does anything, so a restart or a second
process never posts twice. Which period is current comes from the injected `Clock`, not from
APScheduler, so tests move time by hand. At start, and every 15 minutes after, `catch_up` runs
every job whose latest period has not run: a run missed while the bot was down (only the latest
missed period: a summary is not posted five times after five days down), or one that failed
before anything was posted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from bot.container import build_health, build_history
from bot.health import health_config
from bot.observe import job_context, job_ran
from bot.settings import Settings
from core.adapters.history import SqlHistory
from core.domain.health import HealthReport
from core.domain.summary import EarlyWarning, Summary
from core.errors import CoreError
from core.ports import Clock, Poster, RunLedger
from core.usecases.health import HealthService
from core.usecases.jobs import EARLY_WARNING, HEALTH, SUMMARY, SWEEP, Jobs
from core.usecases.services import Services

logger = logging.getLogger(__name__)

#: How often `catch_up` looks for missed or failed runs.
CATCH_UP_EVERY = timedelta(minutes=15)
#: How long a stopping scheduler lets a run in progress finish.
DRAIN_SECONDS = 60.0


def _day(local: datetime) -> str:
    return local.date().isoformat()


def _week(local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def _month(local: datetime) -> str:
    return local.strftime("%Y-%m")


def _quarter_hour(local: datetime) -> str:
    return local.strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One scheduled job: its cron fields, how its period is named, and how far back its
    latest occurrence can lie (at least one period)."""

    name: str
    cron: Mapping[str, str | int]
    period_key: Callable[[datetime], str]
    span: timedelta


SCHEDULE: tuple[JobSpec, ...] = (
    JobSpec(SWEEP, {"day_of_week": "mon", "hour": 9, "minute": 0}, _week, timedelta(days=8)),
    JobSpec(SUMMARY, {"day_of_week": "tue-sun", "hour": 9, "minute": 0}, _day, timedelta(days=3)),
    JobSpec(HEALTH, {"day": "1st mon", "hour": 9, "minute": 0}, _month, timedelta(days=40)),
    JobSpec(EARLY_WARNING, {"minute": "*/15"}, _quarter_hour, timedelta(hours=1)),
)

#: How a run ended.
POSTED, NOTHING, ALREADY, NOT_DUE, FAILED = (
    "posted",
    "nothing_to_post",
    "already_ran",
    "not_due",
    "failed",
)


@dataclass(frozen=True, slots=True)
class Period:
    """The latest scheduled occurrence of a job at or before now, and its key."""

    at: datetime
    key: str


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one attempt to run a job did."""

    job: str
    period: str | None
    status: str
    data: Summary | EarlyWarning | HealthReport | None = None
    error: CoreError | None = None
    posted_id: str | None = None


class Scheduler:
    """Runs the jobs once per period and hands what they produce to the poster."""

    def __init__(
        self,
        jobs: Jobs,
        ledger: RunLedger,
        poster: Poster,
        *,
        clock: Clock,
        timezone: str,
        schedule: Sequence[JobSpec] = SCHEDULE,
    ) -> None:
        self.jobs = jobs
        self.ledger = ledger
        self.poster = poster
        self.clock = clock
        self.tz = ZoneInfo(timezone)
        self.schedule = {spec.name: spec for spec in schedule}
        self.triggers = {spec.name: CronTrigger(timezone=self.tz, **spec.cron) for spec in schedule}
        #: Called with the outcomes of each catch-up APScheduler runs (`passbot serve` reports).
        self.on_catch_up: Callable[[list[RunOutcome]], None] | None = None
        #: APScheduler, while started (`/readyz` asks whether it runs).
        self.aps: AsyncIOScheduler | None = None
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def period(self, job: str, now: datetime | None = None) -> Period | None:
        """The job's latest occurrence at or before `now` (default: the clock's now)."""
        spec = self.schedule[job]
        trigger = self.triggers[job]
        moment = now or self.clock.now()
        fire = trigger.get_next_fire_time(None, moment - spec.span)
        latest: datetime | None = None
        while fire is not None and fire <= moment:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if latest is None:
            return None
        return Period(latest, spec.period_key(latest.astimezone(self.tz)))

    async def run(self, job: str, *, force: bool = False) -> RunOutcome:
        """Claim the job's current period and run it; `force` runs it unclaimed (by hand)."""
        period = self.period(job)
        if period is None:
            return RunOutcome(job, None, NOT_DUE)
        if force:
            return await self._run(job, period.key, record=False)
        if not self.ledger.claim_run(job, period.key, at=self.clock.now()):
            return RunOutcome(job, period.key, ALREADY)
        return await self._run(job, period.key, record=True)

    async def catch_up(self) -> list[RunOutcome]:
        """Run every job whose latest period has not run (missed, or failed before posting)."""
        outcomes = []
        for job in self.schedule:
            period = self.period(job)
            if period is not None and not self.ledger.has_run(job, period.key):
                outcomes.append(await self.run(job))
        return outcomes

    async def _run(self, job: str, key: str, *, record: bool) -> RunOutcome:
        started = time.perf_counter()
        with job_context():
            outcome = await self._run_once(job, key, record=record)
            job_ran(outcome, time.perf_counter() - started)
        return outcome

    async def _run_once(self, job: str, key: str, *, record: bool) -> RunOutcome:
        ended = "failed"
        try:
            data = await self._produce(job)
            posted, posted_id = await self._deliver(data)
            ended = "done"
            return RunOutcome(job, key, POSTED if posted else NOTHING, data, posted_id=posted_id)
        except CoreError as err:
            return RunOutcome(job, key, FAILED, error=err)  # logged by job_ran
        finally:
            if record:
                self.ledger.finish_run(job, key, at=self.clock.now(), status=ended)

    async def _produce(self, job: str) -> Summary | EarlyWarning | HealthReport:
        if job == SUMMARY:
            return await self.jobs.summary()
        if job == SWEEP:
            return await self.jobs.summary(weekly=True)
        if job == HEALTH:
            return await self.jobs.health()
        if job == EARLY_WARNING:
            return await self.jobs.early_warning()
        raise CoreError(f"no such job: {job}")

    async def _deliver(
        self, data: Summary | EarlyWarning | HealthReport
    ) -> tuple[bool, str | None]:
        """Post the data; an early warning with nothing new is not posted."""
        if isinstance(data, Summary):
            return True, await self.poster.post_summary(data)
        if isinstance(data, HealthReport):
            return True, await self.poster.post_health(data)
        if not data.findings:
            return False, None
        posted_id = await self.poster.post_warning(data)
        self.jobs.mark_warned(data)
        return True, posted_id

    @asynccontextmanager
    async def _busy(self) -> AsyncIterator[None]:
        self._running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def _scheduled_run(self, job: str) -> RunOutcome:
        async with self._busy():
            return await self.run(job)

    async def _scheduled_catch_up(self) -> list[RunOutcome]:
        async with self._busy():
            outcomes = await self.catch_up()
        if self.on_catch_up is not None:
            self.on_catch_up(outcomes)
        return outcomes

    async def idle(self, timeout: float) -> bool:  # noqa: ASYNC109 - a wait with a bound
        """Wait until no scheduled run is in progress; False if `timeout` seconds pass first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def start(self) -> AsyncIOScheduler:
        """Start APScheduler in the running event loop: each job on its cron trigger, and
        `catch_up` now and every 15 minutes. The caller shuts it down."""
        aps = AsyncIOScheduler(timezone=self.tz)
        for job, trigger in self.triggers.items():
            aps.add_job(
                self._scheduled_run,
                trigger=trigger,
                args=[job],
                id=job,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(CATCH_UP_EVERY.total_seconds()),
            )
        aps.add_job(
            self._scheduled_catch_up,
            trigger="interval",
            seconds=int(CATCH_UP_EVERY.total_seconds()),
            id="catch_up",
            next_run_time=datetime.now(tz=self.tz),
            coalesce=True,
            max_instances=1,
        )
        aps.start()
        self.aps = aps
        return aps


def build_jobs(
    settings: Settings, services: Services, *, history: SqlHistory, health: HealthService
) -> Jobs:
    """The jobs over the services, passbot's memory and the health check, from the settings."""
    return Jobs(
        services=services,
        history=history,
        ledger=history,
        tz=ZoneInfo(settings.passbot_timezone),
        health=health,
        health_config=health_config(settings),
        autofix=settings.passbot_autofix,
    )


@asynccontextmanager
async def jobs_for(settings: Settings, services: Services) -> AsyncIterator[Jobs]:
    """The jobs over the settings' PASSBOT_DB (finding history and run ledger) and health check;
    the history is closed after."""
    history = build_history(settings)
    try:
        async with build_health(settings, services) as health:
            yield build_jobs(settings, services, history=history, health=health)
    finally:
        history.close()


@asynccontextmanager
async def scheduler_for(
    settings: Settings,
    services: Services,
    poster: Poster,
    *,
    jobs: Jobs | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Scheduler]:
    """A `Scheduler` (not started) over `jobs`, or over jobs of its own (`jobs_for`); its periods
    by `clock` (default: the services')."""
    if jobs is not None:
        yield Scheduler(
            jobs,
            jobs.ledger,
            poster,
            clock=clock or services.clock,
            timezone=settings.passbot_timezone,
        )
        return
    async with jobs_for(settings, services) as own:
        yield Scheduler(
            own,
            own.ledger,
            poster,
            clock=clock or services.clock,
            timezone=settings.passbot_timezone,
        )


@asynccontextmanager
async def running_scheduler(
    settings: Settings,
    services: Services,
    poster: Poster,
    *,
    jobs: Jobs | None = None,
    on_catch_up: Callable[[list[RunOutcome]], None] | None = None,
    drain: float = DRAIN_SECONDS,
) -> AsyncIterator[Scheduler]:
    """For `passbot serve`: the scheduler, started (catching up at once), stopped on exit — no
    new run starts, and a run in progress may finish (up to `drain` seconds) before APScheduler
    shuts down, so that a post is never cut in half."""
    async with scheduler_for(settings, services, poster, jobs=jobs) as scheduler:
        scheduler.on_catch_up = on_catch_up
        aps = scheduler.start()
        try:
            yield scheduler
        finally:
            aps.pause()
            if not await scheduler.idle(drain):
                logger.warning("a scheduled run was still going after %.0f s; stopped", drain)
            aps.shutdown(wait=False)
