"""Fix all: the fixes a summary offered, approved with one press and applied one by one.

Nothing here is a second way to fix: each item is a stored `Proposal` (made when the summary was
posted), approved through `Approvals` exactly as its own button would be — claimed (one winner
per purchase, whoever presses what), re-derived from the current state, refused when its plan
changed since the summary, applied and audited with the approver. A failing item is reported and
the next one goes on. The batch itself is claimed too, so a double click (or two approvers at
once) runs it once; it is released when an item failed for a reason worth retrying, so the same
button can be pressed again (items already done then say so).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.domain.approval import Approval, Claim
from core.errors import CoreError, RefusedError, StaleFixError, UpstreamError
from core.usecases.approvals import Applied, Approvals

#: How an item ended: fixed now, found fixed, fixed by an earlier press, being fixed by another
#: press, changed since the summary, no safe fix any more, a service failed, unknown, or left
#: alone because a finding about the purchase was dismissed as not a problem.
APPLIED, ALREADY_FIXED, DONE_BEFORE, BUSY, STALE, REFUSED, FAILED, UNKNOWN, DISMISSED = (
    "applied",
    "already_fixed",
    "done_before",
    "busy",
    "stale",
    "refused",
    "failed",
    "unknown",
    "dismissed",
)
#: Outcomes after which nothing is left to do for the item.
SETTLED = frozenset({APPLIED, ALREADY_FIXED, DONE_BEFORE, STALE, REFUSED, UNKNOWN, DISMISSED})


def batch_id(proposals: Sequence[str]) -> str:
    """A short, stable id of a batch (the same proposals, the same id)."""
    return hashlib.sha256(",".join(proposals).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """What became of one proposal of the batch."""

    proposal: str
    session: str | None
    outcome: str
    detail: str = ""
    applied: Applied | None = None
    claim: Claim | None = None

    @property
    def settled(self) -> bool:
        """Nothing is left to do for it (fixed, or a person must look again)."""
        return self.outcome in SETTLED


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Every item's outcome, in the batch's order, and who approved when."""

    batch: str
    items: tuple[BatchItem, ...]
    approver: str
    at: datetime

    def count(self, *outcomes: str) -> int:
        """How many items ended in one of these outcomes."""
        return sum(1 for item in self.items if item.outcome in outcomes)

    @property
    def retriable(self) -> bool:
        """Some item failed for a reason that may pass: pressing again is worth it."""
        return any(not item.settled for item in self.items)


class FixAll:
    """Applying a batch of proposals through the approvals, one by one."""

    def __init__(
        self, approvals: Approvals, *, dismissed: Callable[[], Collection[str]] | None = None
    ) -> None:
        """Args:
        dismissed: the keys of findings dismissed as not a problem (the finding history's);
            a purchase with one is left alone.
        """
        self.approvals = approvals
        self.dismissed = dismissed

    def claim(self, proposals: Sequence[str], *, approver: str) -> Claim:
        """Claim the batch; a lost claim says who is running it, or ran it and when."""
        key = f"batch:{batch_id(proposals)}"
        return self.approvals.store.claim(
            key,
            proposal=batch_id(proposals),
            holder=approver,
            token=uuid.uuid4().hex,
            now=self.approvals.now(),
            lease=self.approvals.lease,
        )

    async def apply(
        self,
        proposals: Sequence[str],
        claim: Claim,
        *,
        approver: str,
        approver_email: str | None,
    ) -> BatchResult:
        """Apply each proposal in turn under a won batch claim, reporting each.

        The batch claim is finished when every item settled, and released otherwise (or when
        something unexpected stops the batch), so that the button can be pressed again.
        """
        assert claim.won, "apply needs a won claim"
        items: list[BatchItem] = []
        finished = False
        keys = self.dismissed() if self.dismissed is not None else ()
        left_alone = {key.split(":", 1)[1] for key in keys if ":" in key}
        try:
            for proposal in proposals:
                items.append(await self._one(proposal, approver, approver_email, left_alone))
            result = BatchResult(batch_id(proposals), tuple(items), approver, self.approvals.now())
            if not result.retriable:
                self.approvals.store.finish(claim.key, token=claim.token, now=result.at)
                finished = True
            return result
        finally:
            if not finished:
                self.approvals.store.release(claim.key, token=claim.token)

    async def _one(
        self, proposal_id: str, approver: str, email: str | None, left_alone: Collection[str]
    ) -> BatchItem:
        stored = self.approvals.store.proposal(proposal_id)
        if stored is None:
            return BatchItem(proposal_id, None, UNKNOWN, "no such proposal (made elsewhere?)")
        if stored.session in left_alone:
            return BatchItem(stored.id, stored.session, DISMISSED, "dismissed as not a problem")
        approval = Approval(
            proposal=stored.id,
            session=stored.session,
            alternative=stored.alternative,
            plan_hash=stored.plan_hash,
            approver=approver,
            approver_email=email,
        )
        claim = self.approvals.claim(approval)
        if not claim.won:
            self.approvals.record(approval, claim.outcome)
            outcome = BUSY if claim.state == "applying" else DONE_BEFORE
            return BatchItem(stored.id, stored.session, outcome, claim=claim)
        try:
            applied = await self.approvals.apply(approval, claim)
        except StaleFixError as err:
            return BatchItem(stored.id, stored.session, STALE, str(err))
        except RefusedError as err:
            return BatchItem(stored.id, stored.session, REFUSED, str(err))
        except UpstreamError as err:
            return BatchItem(stored.id, stored.session, FAILED, f"{err.service}: {err}")
        except CoreError as err:
            return BatchItem(stored.id, stored.session, REFUSED, str(err))
        outcome = ALREADY_FIXED if applied.outcome.already_fixed else APPLIED
        return BatchItem(stored.id, stored.session, outcome, applied=applied)
