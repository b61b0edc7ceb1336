"""What the App Home shows, read from passbot's own memory (no Stripe scan: opening the tab is
cheap) and one Sanity query for the schools' names: the open findings by school, the last run
of each scheduled job, and who may approve."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.domain.findings import Finding
from core.domain.metrics import FindingRecord
from core.ports import FindingHistory, RunRecord
from core.usecases.jobs import Jobs


@dataclass(frozen=True, slots=True)
class HomeData:
    """Everything the Home tab shows."""

    now: datetime
    open_findings: tuple[FindingRecord, ...]
    schools: dict[str, str]
    runs: tuple[RunRecord, ...]
    approvers: tuple[str, ...]


async def home_data(jobs: Jobs, approvers: Collection[str]) -> HomeData:
    """The Home tab's data: open findings (most severe first), schools, last runs, approvers."""
    catalogue = await jobs.services.catalogue()
    order = {"critical": 0, "warning": 1, "info": 2}
    records = sorted(
        jobs.history.open_records(),
        key=lambda r: (order.get(r.severity, 3), r.occurred_at or r.first_seen, r.key),
    )
    return HomeData(
        now=jobs.services.clock.now(),
        open_findings=tuple(records),
        schools={t.id: t.name for t in catalogue.tenants},
        runs=tuple(jobs.ledger.last_runs()),
        approvers=tuple(sorted(approvers)),
    )


def mark_fixed(
    history: FindingHistory, findings: Sequence[Finding], *, at: datetime, by: str
) -> None:
    """Findings an approval just resolved are fixed in the history now (not at the next run),
    so the App Home and the summaries stop showing them."""
    keys = [f.key for f in findings]
    if keys:
        history.resolve(keys, at=at, by=by)
