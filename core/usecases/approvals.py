"""Approving fixes from a card: one claim per purchase, and the re-derived plan.

A card offers fixes that `Services.preview_fix` derived when it was built; each offer is stored as
a `Proposal` with a hash of its plan (proposals.py, core/domain/approval.py). When someone
approves, the fix is derived again from the services' current state (the button carries nothing
else that is trusted) and applied only if the new plan hashes the same: otherwise the data
changed since the card was shown, and nothing is written. A claim in passbot's store makes
concurrent approvals of one purchase — a double click, two approvers at once, a redelivered
request — apply once: the first press holds the claim while it applies; the others are told who
is applying, or who applied and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.approval import Approval, Claim, Press, expect_plan
from core.domain.findings import Finding
from core.errors import CoreError, RefusedError, StaleFixError, UpstreamError, UsageError
from core.ports import ApprovalStore
from core.usecases.fix import FixOutcome
from core.usecases.proposals import MAX_OFFERS, Offer, Proposals, Proposer
from core.usecases.services import Services

#: How long an unfinished claim blocks others (a process that died while applying).
CLAIM_LEASE = timedelta(minutes=5)


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
        self.proposer = Proposer(services, store)

    def now(self) -> datetime:
        """The services' clock."""
        return self.services.clock.now()

    async def diagnose(
        self, email: str, *, requested_by: str, days: int | None = None
    ) -> Proposals:
        """Diagnose a customer and propose the fixes the card will offer (proposals.py)."""
        return await self.proposer.diagnose(email, requested_by=requested_by, days=days)

    async def propose(
        self, findings: Iterable[Finding], *, requested_by: str, limit: int = MAX_OFFERS
    ) -> tuple[Offer, ...]:
        """Propose the fixes of these findings, as a card offers them (proposals.py)."""
        return await self.proposer.propose(findings, requested_by=requested_by, limit=limit)

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
