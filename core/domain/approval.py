"""Approving a fix: what a card proposed, the claim on a purchase, each press, the plan's hash.

A fix offered on a card is stored as a `Proposal` with a hash of its plan; when someone approves,
the plan is derived again and applied only if it hashes the same. The provenance fields (who
approved, and when) are left out of the hash: they name the approver and the moment of approval,
which are meant to differ from the card's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from core.domain.findings import CreateDoc, Operation
from core.domain.fixes import FixPlan
from core.domain.models import JSON, parse_instant
from core.domain.rule import START_BASIS
from core.errors import StaleFixError

#: Fields that record who approved a write and when; they differ between card and approval.
PROVENANCE_FIELDS = frozenset(
    {"approvedBy", "approvedAt", "fixedBy", "fixedAt", "deactivatedBy", "deactivatedAt"}
)

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
