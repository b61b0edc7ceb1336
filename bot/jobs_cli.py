"""The command line's `health` and `job` commands (wired in bot/cli.py).

`passbot health [--json]`: exit 0 when every check is ok, 1 when any fails, 3 when a service
failed outright (named on stderr; the report is printed all the same).

`passbot job NAME [--post] [--force]`: without --post, prints what the job would post and
claims nothing (no period, no finding history, no automatic fix); with --post, posts it to
PASSBOT_CHANNEL and claims its period like the scheduler (so cron can drive it and never post
twice); `--force` posts even if the period was claimed. Exit 0, or 1 when what it found needs
attention, 3 when a service failed.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.health import exit_status, render_health, run_health
from core.domain.health import HealthReport
from core.domain.summary import EarlyWarning, Summary
from core.errors import UpstreamError, UsageError

if TYPE_CHECKING:
    from bot.settings import Settings
    from core.ports import Poster


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


async def health_command(args: argparse.Namespace, settings: Settings) -> int:
    """`passbot health [--json]`."""
    report = await run_health(settings)
    _write(json.dumps(report.to_json(), indent=2) if args.json else render_health(report))
    for err in report.service_errors:
        sys.stderr.write(f"passbot: {err}\n")
    return exit_status(report)


async def job_command(args: argparse.Namespace, settings: Settings) -> int:
    """`passbot job NAME [--post] [--force] [--chart OUT.png]`: a preview that claims nothing,
    or (--post) the run the scheduler would make, posted to PASSBOT_CHANNEL with its period
    claimed."""
    # Here, not at the top: `health` needs none of the scheduler (APScheduler, the metrics).
    from bot.chart_cli import check_chart_path, write_chart
    from bot.container import build_services
    from bot.poster import TextPoster
    from bot.scheduler import ALREADY, FAILED, NOT_DUE, POSTED, scheduler_for

    chart = getattr(args, "chart", None)
    if chart:
        check_chart_path(args.name, chart)
    if args.post:
        missing = settings.missing("passbot_channel", "slack_bot_token")
        if missing:
            raise UsageError(f"--post needs {' and '.join(missing)}")
    tz = ZoneInfo(settings.passbot_timezone)
    async with build_services(settings) as services:
        if args.post:
            from bot.serve import slack_poster

            assert settings.passbot_channel is not None
            poster: Poster = slack_poster(settings, services, settings.passbot_channel)
        else:  # --json: quiet
            poster = TextPoster(out=io.StringIO(), tz=tz) if args.json else TextPoster(tz=tz)
        async with scheduler_for(settings, services, poster) as scheduler:
            if args.post:
                outcome = await scheduler.run(args.name, force=args.force)
            else:
                outcome = await scheduler.preview(args.name)
            if chart and outcome.error is None:
                written = await write_chart(chart, outcome.data, scheduler.jobs)
                sys.stderr.write(f"chart: {written}\n")
    data: Any = outcome.data
    if args.json:
        _write(
            json.dumps(
                {
                    "job": outcome.job,
                    "period": outcome.period,
                    "status": outcome.status,
                    "data": data.to_json() if data is not None else None,
                },
                indent=2,
            )
        )
    elif outcome.status in (ALREADY, NOT_DUE):
        _write(f"{outcome.job}: {outcome.status.replace('_', ' ')} (period {outcome.period})")
    elif outcome.status == POSTED:
        _write(f"{outcome.job}: posted to {settings.passbot_channel} (period {outcome.period})")
    elif outcome.status != FAILED and isinstance(data, EarlyWarning) and not data.findings:
        _write(f"{outcome.job}: nothing new to warn about")
    if outcome.error is not None:
        sys.stderr.write(f"passbot: {outcome.error}\n")
        return 3 if isinstance(outcome.error, UpstreamError) else 1
    if isinstance(data, HealthReport):
        return exit_status(data)
    if isinstance(data, Summary | EarlyWarning):
        return 1 if data.needs_attention else 0
    return 0
