"""Approving fixes from a card: proposals, one claim per purchase, and the re-derived plan.

A card offers fixes that `Services.preview_fix` derived when it was built; each offer is stored as
a `Proposal` with a hash of its plan. When someone approves, the fix is derived again from the
services' current state (the button carries nothing else that is trusted) and applied only if the
new plan hashes the same: otherwise the data changed since the card was shown, and nothing is
written. A claim in passbot's store makes concurrent approvals of one purchase — a double click,
two approvers at once, a redelivered request — apply once: the first press holds the claim while
it applies; the others are told who is applying, or who applied and when.

The provenance fields (who approved, and when) are left out of the hash: they name the approver
and the moment of approval, which are meant to differ from the card's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from core.domain.diagnose import Diagnosis
from core.domain.findings import CreateDoc, Finding, Operation
from core.domain.fixes import FixPlan
from core.domain.models import JSON, parse_instant
from core.domain.rule import START_BASIS
from core.errors import (
    CoreError,
    NotFoundError,
    RefusedError,
    StaleFixError,
    UpstreamError,
    UsageError,
)
from core.usecases.services import FixOutcome, Services

#: Fields that record who approved a write and when; they differ between card and approval.
PROVENANCE_FIELDS = frozenset(
    {"approvedBy", "approvedAt", "fixedBy", "fixedAt", "deactivatedBy", "deactivatedAt"}
)

#: A card offers at most this many fixes (each costs a preview); the rest are listed.
MAX_OFFERS = 10

#: How long an unfinished claim blocks others (a process that died while applying).
CLAIM_LEASE = timedelta(minutes=5)


# ----------------------------------------------------------------------------- plan hashing


def _normal(op: Operation) -> JSON:
    if isinstance(op, CreateDoc):
        doc = {k: v for k, v in op.document.items() if k not in PROVENANCE_FIELDS}
        if doc.get(START_BASIS) == "approval":
            # "Start from today" counts from the approval: what was shown is the length.
            start = parse_instant(doc.pop("startDate", None))
            end = parse_instant(doc.pop("endDate", None))
            doc["validity"] = (end - start).total_seconds() if start and end else None
        return {"create": doc}
    return {
        "patch": op.id,
        "set": {k: v for k, v in op.set.items() if k not in PROVENANCE_FIELDS},
        "before": op.before,
    }


def plan_hash(plan: FixPlan) -> str:
    """A short, stable digest of what a plan writes (provenance left out)."""
    body = {
        "session": plan.session,
        "operations": [_normal(op) for op in plan.operations],
        "refused": plan.refused,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Proposal:
    """A fix offered on a card: which purchase, which alternative, and the plan's hash."""

    id: str
    session: str
    alternative: str | None
    plan_hash: str
    requested_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to apply one purchase's fix; `won` says whether this press holds it."""

    key: str
    token: str
    won: bool
    holder: str
    state: str  # "applying" or "done"
    at: datetime
    proposal: str

    @property
    def outcome(self) -> str:
        """How a press that did not win is recorded."""
        return "won" if self.won else ("busy" if self.state == "applying" else "done_before")


@dataclass(frozen=True, slots=True)
class Press:
    """One press of an approval button, whatever came of it (the approvals' own audit)."""

    at: datetime
    user_id: str
    outcome: str
    proposal: str | None = None
    session: str | None = None
    user_email: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    """A press to approve: the proposal it names and who pressed."""

    proposal: str
    session: str
    alternative: str | None
    plan_hash: str
    approver: str
    approver_email: str | None = None

    def by(self, email: str | None) -> Approval:
        """The same approval with the approver's email."""
        return replace(self, approver_email=email)


@runtime_checkable
class ApprovalStore(Protocol):
    """Where proposals, claims and presses live (passbot's SQLite store)."""

    def save_proposal(self, proposal: Proposal) -> None:
        """Keep a proposal (ids are unique)."""
        ...

    def proposal(self, proposal_id: str) -> Proposal | None:
        """A stored proposal."""
        ...

    def claim(
        self,
        key: str,
        *,
        proposal: str,
        holder: str,
        token: str,
        now: datetime,
        lease: timedelta,
    ) -> Claim:
        """Take the claim on `key` unless another press holds it (atomically)."""
        ...

    def finish(self, key: str, *, token: str, now: datetime) -> None:
        """Mark the claim done (later presses of the same proposal are told so)."""
        ...

    def release(self, key: str, *, token: str) -> None:
        """Give the claim up: nothing was written, anyone may try again."""
        ...

    def record_press(self, press: Press) -> int:
        """Append one press; returns its id."""
        ...

    def presses(self, limit: int = 50) -> list[Press]:
        """The newest presses first."""
        ...


# ----------------------------------------------------------------------------- use cases


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


@dataclass(frozen=True, slots=True)
class Applied:
    """An approval applied: the outcome, who approved and when."""

    outcome: FixOutcome
    approver: str
    at: datetime


class Approvals:
    """Proposing fixes for a card and applying them once, on approval."""

    def __init__(
        self, services: Services, store: ApprovalStore, *, lease: timedelta = CLAIM_LEASE
    ) -> None:
        self.services = services
        self.store = store
        self.lease = lease

    def now(self) -> datetime:
        """The services' clock."""
        return self.services.clock.now()

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
            created_at=self.now(),
        )
        self.store.save_proposal(proposal)
        return Offer(proposal, preview, label)

    def requester(self, proposal_id: str) -> str | None:
        """Who asked for the card the proposal is on (None when it is not known here)."""
        stored = self.store.proposal(proposal_id)
        return stored.requested_by if stored else None

    def claim(self, approval: Approval) -> Claim:
        """Claim the purchase for this approval; a lost claim says who holds it.

        Raises:
            UsageError: the button names no proposal passbot made (a tampered value, or a card
                from before passbot's state was reset), or does not match the one it names.
        """
        stored = self.store.proposal(approval.proposal)
        if stored is None:
            raise UsageError(
                "this button names no fix passbot proposed here; nothing written — "
                "run /fixpass again for a fresh card"
            )
        if (
            stored.session != approval.session
            or stored.alternative != approval.alternative
            or stored.plan_hash != approval.plan_hash
        ):
            raise UsageError("this button does not match the proposal it names; nothing written")
        return self.store.claim(
            approval.session,
            proposal=approval.proposal,
            holder=approval.approver,
            token=uuid.uuid4().hex,
            now=self.now(),
            lease=self.lease,
        )

    def record(self, approval: Approval, outcome: str) -> None:
        """Audit one press (with the approver's Slack id and email)."""
        self.store.record_press(
            Press(
                at=self.now(),
                user_id=approval.approver,
                outcome=outcome,
                proposal=approval.proposal,
                session=approval.session,
                user_email=approval.approver_email,
            )
        )

    async def apply(self, approval: Approval, claim: Claim, *, source: str = "slack") -> Applied:
        """Re-derive the fix from the current state and apply it if it is what was proposed.

        The claim is finished on success and released on any failure, so the card can be
        pressed again.

        Raises:
            StaleFixError: the plan changed since the proposal (nothing written).
            RefusedError: no safe fix exists any more.
            UpstreamError: a service failed (nothing half-written; retry).
        """
        assert claim.won, "apply needs a won claim"
        outcome_label = "failed"
        try:
            outcome = await self.services.apply_fix(
                approval.session,
                actor=approval.approver,
                actor_email=approval.approver_email,
                source=source,
                alternative=approval.alternative,
                expect=expect_plan(approval.plan_hash),
            )
        except StaleFixError:
            outcome_label = "stale"
            raise
        except RefusedError:
            outcome_label = "refused"
            raise
        except UpstreamError as err:
            outcome_label = f"failed:{err.service}"
            raise
        except CoreError:
            outcome_label = "error"
            raise
        else:
            outcome_label = "already_fixed" if outcome.already_fixed else "applied"
            at = self.now()
            self.store.finish(claim.key, token=claim.token, now=at)
            return Applied(outcome, approval.approver, at)
        finally:
            if outcome_label not in ("applied", "already_fixed"):
                self.store.release(claim.key, token=claim.token)
            self.record(approval, outcome_label)


def fixable_sessions(findings: Iterable[Finding]) -> dict[str, dict[str, str]]:
    """Purchases with a fix, in the findings' order: session → its alternatives (key → label)."""
    fixable: dict[str, dict[str, str]] = {}
    for finding in findings:
        if finding.fix is not None and finding.session:
            alternatives = fixable.setdefault(finding.session, {})
            alternatives.update({a.key: a.label for a in finding.fix.alternatives})
    return fixable


def expect_plan(expected: str) -> Callable[[FixPlan], None]:
    """A check for `Services.apply_fix`: the re-derived plan must be the proposed one.

    A plan with nothing to write passes: the purchase is already fixed, which apply_fix reports.
    """

    def check(plan: FixPlan) -> None:
        if plan.already_fixed or (not plan.operations and not plan.refused):
            return
        if plan_hash(plan) != expected:
            raise StaleFixError("changed since the proposal; nothing was written")

    return check
