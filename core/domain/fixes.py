"""From findings to one plan of writes for a purchase: merged, previewable, idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.findings import Alternative, CreateDoc, Finding, Fix, Operation, PatchDoc
from core.domain.purchase import Purchase


@dataclass(frozen=True, slots=True)
class FixPlan:
    """What `fix SESSION` would write, or why it writes nothing."""

    session: str
    operations: tuple[Operation, ...]
    resolves: tuple[Finding, ...]
    unresolved: tuple[Finding, ...]
    refused: str | None = None
    already_fixed: bool = False

    @property
    def created(self) -> list[str]:
        """Ids of documents the plan creates."""
        return [op.id for op in self.operations if isinstance(op, CreateDoc)]

    @property
    def patched(self) -> list[str]:
        """Ids of documents the plan patches (other than to deactivate them)."""
        return [
            op.id
            for op in self.operations
            if isinstance(op, PatchDoc) and op.set.get("isActive") is not False
        ]

    @property
    def deactivated(self) -> list[str]:
        """Ids of documents the plan deactivates (never deletes)."""
        return [
            op.id
            for op in self.operations
            if isinstance(op, PatchDoc) and op.set.get("isActive") is False
        ]


def merge_operations(operations: list[Operation]) -> tuple[Operation, ...]:
    """One create per document, and one patch per document with every field set merged."""
    merged: dict[str, Operation] = {}
    for op in operations:
        prior = merged.get(op.id)
        if isinstance(op, PatchDoc) and isinstance(prior, PatchDoc):
            reasons = [r for r in (prior.set.get("fixReason"), op.set.get("fixReason")) if r]
            fields = {**prior.set, **op.set}
            if reasons:
                fields["fixReason"] = "; ".join(dict.fromkeys(str(r) for r in reasons))
            merged[op.id] = PatchDoc(
                op.id, fields, {**op.before, **prior.before}, prior.if_revision or op.if_revision
            )
        elif prior is None:
            merged[op.id] = op
    return tuple(merged.values())


def plan_fix(purchase: Purchase, *, alternative: str | None = None) -> FixPlan:
    """The plan for one purchase: every offered fix merged into one transaction.

    Args:
        purchase: the judged purchase.
        alternative: the key of an alternative to apply instead of the default (e.g.
            `start_today`); unknown keys leave the default.
    """
    fixable = [f for f in purchase.findings if f.fix is not None]
    unresolved = tuple(f for f in purchase.findings if f.fix is None)
    if not fixable:
        if purchase.link is not None:
            return FixPlan(purchase.session.id, purchase.link.operations, (), unresolved)
        if unresolved:
            why = "; ".join(dict.fromkeys(f.why_no_fix or f.summary for f in unresolved))
            return FixPlan(purchase.session.id, (), (), unresolved, refused=why)
        return FixPlan(purchase.session.id, (), (), (), already_fixed=True)
    ops: list[Operation] = []
    for finding in fixable:
        assert finding.fix is not None
        ops.extend(_chosen(finding.fix, alternative))
    return FixPlan(purchase.session.id, merge_operations(ops), tuple(fixable), unresolved)


def _chosen(fix: Fix, alternative: str | None) -> tuple[Operation, ...]:
    for alt in fix.alternatives:
        if isinstance(alt, Alternative) and alt.key == alternative:
            return alt.operations
    return fix.operations
