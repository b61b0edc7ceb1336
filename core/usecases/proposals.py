"""Proposing fixes for a card: a preview of each fix, stored as a proposal to approve later.

A card (`/fixpass`, a summary, an early warning) offers the fixes `Services.preview_fix` derives
when it is built; each is stored with a hash of its plan (core/domain/approval.py), so that an
approval can check that the fix it applies is the one the card showed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.domain.approval import Proposal, plan_hash
from core.domain.diagnose import Diagnosis
from core.domain.findings import Finding
from core.errors import NotFoundError, RefusedError, UpstreamError, UsageError
from core.ports import ApprovalStore
from core.usecases.fix import FixOutcome
from core.usecases.services import Services

#: A card offers at most this many fixes (each costs a preview); the rest are listed.
MAX_OFFERS = 10


@dataclass(frozen=True, slots=True)
class Offer:
    """A fix a card offers: the stored proposal and the preview it was made from."""

    proposal: Proposal
    preview: FixOutcome
    label: str | None = None  # the alternative's label; None for the default fix


@dataclass(frozen=True, slots=True)
class Proposals:
    """What `/fixpass EMAIL` shows: the diagnosis, the fixes offered, the schools' names."""

    diagnosis: Diagnosis
    offers: tuple[Offer, ...]
    schools: Mapping[str, str]
    not_offered: tuple[str, ...] = ()  # fixable sessions left off the card (MAX_OFFERS)


class Proposer:
    """Diagnoses a customer, or takes findings, and stores a proposal for each fix offered."""

    def __init__(self, services: Services, store: ApprovalStore) -> None:
        self.services = services
        self.store = store

    async def diagnose(
        self, email: str, *, requested_by: str, days: int | None = None
    ) -> Proposals:
        """Diagnose a customer and store a proposal for every fix the card will offer."""
        diagnosis, catalogue = await asyncio.gather(
            self.services.diagnose(email, days=days, actor=requested_by),
            self.services.catalogue(),
        )
        fixable = fixable_sessions(diagnosis.findings)
        sessions = list(fixable)
        jobs: list[tuple[str, str | None, str | None]] = []
        for session in sessions[:MAX_OFFERS]:
            jobs.append((session, None, None))
            jobs.extend((session, key, label) for key, label in fixable[session].items())
        # The diagnosis listed each session on its account: look there first, not everywhere.
        where = {p.session.id: p.session.account for p in diagnosis.purchases}
        previews = await asyncio.gather(
            *(
                self._offer(s, alt, label, requested_by, (where[s],) if s in where else ())
                for s, alt, label in jobs
            )
        )
        return Proposals(
            diagnosis=diagnosis,
            offers=tuple(o for o in previews if o is not None),
            schools={t.id: t.name for t in catalogue.tenants},
            not_offered=tuple(sessions[MAX_OFFERS:]),
        )

    async def propose(
        self, findings: Iterable[Finding], *, requested_by: str, limit: int = MAX_OFFERS
    ) -> tuple[Offer, ...]:
        """Proposals for the fixes of these findings, as a card offers them (the default fix and
        its alternatives), for at most `limit` purchases in the findings' order; at most
        `Services.concurrency` previews at once. A preview that fails (a service down, the fix
        gone) leaves its finding without a button: what is posted stays useful."""
        found = list(findings)
        fixable = fixable_sessions(found)
        # Each finding names its purchase's account: look there first, not everywhere.
        where = {f.session: f.account for f in found if f.session}
        jobs: list[tuple[str, str | None, str | None]] = []
        for session in list(fixable)[:limit]:
            jobs.append((session, None, None))
            jobs.extend((session, key, label) for key, label in fixable[session].items())
        gate = asyncio.Semaphore(max(1, self.services.concurrency))

        async def one(session: str, alternative: str | None, label: str | None) -> Offer | None:
            first = (where[session],) if session in where else ()
            async with gate:
                try:
                    return await self._offer(session, alternative, label, requested_by, first)
                except UpstreamError:
                    return None

        offers = await asyncio.gather(*(one(s, alt, label) for s, alt, label in jobs))
        return tuple(o for o in offers if o is not None)

    async def offer_for(
        self, session: str, *, requested_by: str, account: str | None = None
    ) -> Offer | None:
        """The default fix of one purchase, proposed (None when there is no safe fix, or a
        service failed): what the App Home offers beside a finding it remembers."""
        try:
            return await self._offer(session, None, None, requested_by, (account,))
        except UpstreamError:
            return None

    async def _offer(
        self,
        session: str,
        alternative: str | None,
        label: str | None,
        requested_by: str,
        look_first: tuple[str | None, ...] = (),
    ) -> Offer | None:
        try:
            preview = await self.services.preview_fix(
                session, actor=requested_by, alternative=alternative, look_first=look_first
            )
        except (NotFoundError, RefusedError, UsageError):
            return None  # the card still shows the finding, without a button
        plan = preview.plan
        if plan.refused or plan.already_fixed or not plan.operations:
            return None
        proposal = Proposal(
            id=uuid.uuid4().hex[:16],
            session=preview.session,
            alternative=alternative,
            plan_hash=plan_hash(plan),
            requested_by=requested_by,
            created_at=self.services.clock.now(),
        )
        self.store.save_proposal(proposal)
        return Offer(proposal, preview, label)


def fixable_sessions(findings: Iterable[Finding]) -> dict[str, dict[str, str]]:
    """Purchases with a fix, in the findings' order: session → its alternatives (key → label)."""
    fixable: dict[str, dict[str, str]] = {}
    for finding in findings:
        if finding.fix is not None and finding.session:
            alternatives = fixable.setdefault(finding.session, {})
            alternatives.update({a.key: a.label for a in finding.fix.alternatives})
    return fixable
