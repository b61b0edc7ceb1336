"""What the App Home shows, read from passbot's own memory (no Stripe scan: opening the tab is
cheap) and one Sanity query for the schools' names: the open findings by school, the last run
of each scheduled job, and who may approve."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.domain.findings import Finding
from core.domain.metrics import FindingRecord
from core.ports import FindingHistory, RunRecord
from core.usecases.jobs import Jobs
from core.usecases.proposals import Offer, Proposer

#: Who the App Home's proposals are requested by: not a person, so any approver may approve
#: them (as the scheduler's posts).
HOME_REQUESTER = "passbot:home"
#: Findings on the Home tab whose fix is proposed when it is published (a preview each).
HOME_OFFERS = 10
#: Finding kinds whose fix passbot can write (the others say what a person must decide).
FIXABLE = frozenset(
    {"missing_pass", "missing_upgrade", "duplicate_pass", "mistyped_pass", "wrong_expiry",
     "hidden_pass"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HomeData:
    """Everything the Home tab shows."""

    now: datetime
    open_findings: tuple[FindingRecord, ...]
    schools: dict[str, str]
    runs: tuple[RunRecord, ...]
    approvers: tuple[str, ...]
    offers: dict[str, Offer] = field(default_factory=dict)  # finding key → its proposed fix


async def home_data(
    jobs: Jobs,
    approvers: Collection[str],
    *,
    proposer: Proposer | None = None,
    viewer: str = HOME_REQUESTER,
) -> HomeData:
    """The Home tab's data: open findings (most severe first), schools, last runs, approvers;
    with a `proposer`, the fixes of the first HOME_OFFERS fixable findings are proposed (each a
    preview, as a card's are) so the tab carries their Approve buttons."""
    catalogue = await jobs.services.catalogue()
    order = {"critical": 0, "warning": 1, "info": 2}
    records = sorted(
        jobs.history.open_records(),
        key=lambda r: (order.get(r.severity, 3), r.occurred_at or r.first_seen, r.key),
    )
    offers: dict[str, Offer] = {}
    if proposer is not None:
        fixable = [r for r in records if r.session and r.kind in FIXABLE][:HOME_OFFERS]
        found = await asyncio.gather(
            *(
                proposer.offer_for(str(r.session), requested_by=viewer, account=r.account)
                for r in fixable
            )
        )
        offers = {r.key: o for r, o in zip(fixable, found, strict=True) if o is not None}
    return HomeData(
        now=jobs.services.clock.now(),
        open_findings=tuple(records),
        schools={t.id: t.name for t in catalogue.tenants},
        runs=tuple(jobs.ledger.last_runs()),
        approvers=tuple(sorted(approvers)),
        offers=offers,
    )


def mark_fixed(
    history: FindingHistory, findings: Sequence[Finding], *, at: datetime, by: str
) -> None:
    """Findings an approval just resolved are fixed in the history now (not at the next run),
    so the App Home and the summaries stop showing them."""
    keys = [f.key for f in findings]
    if keys:
        history.resolve(keys, at=at, by=by)
