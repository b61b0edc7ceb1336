"""The command line's `health` and `job` commands (wired in bot/cli.py).

`passbot health [--json]`: exit 0 when every check is ok, 1 when any fails, 3 when a service
failed outright (named on stderr; the report is printed all the same).

`passbot job NAME [--force]`: runs one scheduled job now, printing what it would post — its
period is claimed like the scheduler's (so cron can drive it and never post twice); `--force`
runs it without claiming. Exit 0, or 1 when what it found needs attention, 3 when a service
failed.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any
from zoneinfo import ZoneInfo

from bot.chart_cli import check_chart_path, write_chart
from bot.container import build_services
from bot.health import exit_status, render_health, run_health
from bot.poster import TextPoster
from bot.scheduler import ALREADY, FAILED, NOT_DUE, scheduler_for
from bot.settings import Settings
from core.domain.health import HealthReport
from core.domain.summary import EarlyWarning, Summary
from core.errors import UpstreamError


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
    """`passbot job NAME [--force] [--chart OUT.png]`."""
    chart = getattr(args, "chart", None)
    if chart:
        check_chart_path(args.name, chart)
    tz = ZoneInfo(settings.passbot_timezone)
    poster = (
        TextPoster(out=io.StringIO(), tz=tz) if args.json else TextPoster(tz=tz)
    )  # --json: quiet
    async with (
        build_services(settings) as services,
        scheduler_for(settings, services, poster) as scheduler,
    ):
        outcome = await scheduler.run(args.name, force=args.force)
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
