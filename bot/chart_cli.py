"""`passbot job sweep --chart OUT.png`: the sweep's 35-day chart, written to a file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from core.domain.summary import Summary
from core.errors import UsageError
from core.usecases.jobs import Jobs
from handlers.chart import render_chart


def check_chart_path(job: str, path: str) -> None:
    """Refuse, before anything runs, a chart for another job or a place it cannot be written.

    Raises:
        UsageError: the job is not the sweep, the name is not a .png, or its folder is missing.
    """
    if job != "sweep":
        raise UsageError("--chart is for the sweep: passbot job sweep --chart OUT.png")
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--chart writes a PNG: give a name ending in .png, not {path!r}")
    if not out.parent.is_dir():
        raise UsageError(f"--chart: no such folder {str(out.parent)!r}")


async def write_chart(path: str, data: object, jobs: Jobs) -> str:
    """Draw the sweep's day-by-day series (the run's, or — when this period's sweep already ran
    — a fresh one, claiming nothing) and write it; returns the path written."""
    summary = data if isinstance(data, Summary) and data.daily else None
    if summary is None:
        summary = await jobs.summary(weekly=True)
    subtitle = f"passbot weekly sweep · {summary.mode} mode · days in {summary.timezone}"
    png = render_chart(summary.daily, subtitle=subtitle)
    out = Path(os.path.abspath(path))  # noqa: ASYNC240 - no I/O: the name made absolute
    try:
        await asyncio.to_thread(out.write_bytes, png)
    except OSError as err:
        raise UsageError(f"--chart: cannot write {path}: {err.strerror or err}") from None
    return str(out)
