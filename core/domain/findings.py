"""What reconciliation finds, and the writes a fix would make (cli-contract.md, "A Finding").

A `Fix` is a list of document operations — creates and patches, never deletes — computed from
the data alone. The Sanity adapter turns them into one transaction; nothing here knows Sanity's
wire format beyond the documents themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = dict[str, Any]


class Kind(StrEnum):
    """Finding kinds: the closed list of cli-contract.md."""

    MISSING_PASS = "missing_pass"
    MISSING_UPGRADE = "missing_upgrade"
    DUPLICATE_PASS = "duplicate_pass"
    MISTYPED_PASS = "mistyped_pass"
    WRONG_EXPIRY = "wrong_expiry"
    HIDDEN_PASS = "hidden_pass"
    UNPAID_PASS = "unpaid_pass"
    REFUNDED_PASS = "refunded_pass"
    BROKEN_REFERENCE = "broken_reference"
    PASS_CONFIG = "pass_config"
    UNRESOLVABLE_PURCHASE = "unresolvable_purchase"
    ACCOUNT_UNREACHABLE = "account_unreachable"


class Severity(StrEnum):
    """How urgent: critical means a customer paid and has no usable pass."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Action(StrEnum):
    """What a fix does."""

    CREATE_SUBSCRIPTION = "create_subscription"
    UPGRADE_SUBSCRIPTION = "upgrade_subscription"
    PATCH_SUBSCRIPTION = "patch_subscription"
    LINK_SUBSCRIPTION = "link_subscription"
    DEACTIVATE_DUPLICATES = "deactivate_duplicates"


@dataclass(frozen=True, slots=True)
class CreateDoc:
    """Create a document if no document has its (deterministic) `_id`."""

    document: JSON

    @property
    def id(self) -> str:
        """The document id."""
        return str(self.document["_id"])


@dataclass(frozen=True, slots=True)
class PatchDoc:
    """Set fields on one document, guarded by the revision it was planned against."""

    id: str
    set: JSON
    before: JSON
    if_revision: str | None


Operation = CreateDoc | PatchDoc


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another way to apply the same fix, offered beside the default (e.g. start from today)."""

    key: str
    label: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class Fix:
    """The writes that resolve one finding."""

    action: Action
    operations: tuple[Operation, ...]
    note: str | None = None
    alternatives: tuple[Alternative, ...] = ()

    @property
    def document_id(self) -> str:
        """The main document the fix writes."""
        return self.operations[0].id

    def changes(self) -> JSON:
        """What will be written, as the contract shows it: a created document, or before/after."""
        return changes_of(self.operations)

    def to_json(self) -> JSON:
        """The contract's `fix` object, with the operations and alternatives beside it."""
        return {
            "action": self.action.value,
            "document_id": self.document_id,
            "changes": self.changes(),
            "note": self.note,
            "alternatives": [
                {"key": alt.key, "label": alt.label, "changes": changes_of(alt.operations)}
                for alt in self.alternatives
            ],
        }


def changes_of(operations: tuple[Operation, ...]) -> JSON:
    """One operation: its own changes; several: changes keyed by document id."""

    def one(op: Operation) -> JSON:
        if isinstance(op, CreateDoc):
            return dict(op.document)
        return {
            key: {"before": op.before.get(key), "after": value} for key, value in op.set.items()
        }

    if len(operations) == 1:
        return one(operations[0])
    return {op.id: one(op) for op in operations}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong, with the fix or the reason no fix is safe."""

    kind: Kind
    severity: Severity
    summary: str
    session: str | None = None
    account: str | None = None
    tenant: str | None = None
    user: str | None = None
    email: str | None = None
    subscriptions: tuple[str, ...] = ()
    pass_id: str | None = None
    fix: Fix | None = None
    why_no_fix: str | None = None
    details: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        """A stable identity for the finding across runs (metrics, dismissals)."""
        subject = self.session or self.pass_id or ",".join(self.subscriptions) or self.account
        return f"{self.kind.value}:{subject}"

    def to_json(self) -> JSON:
        """The contract's Finding JSON (plus `key`, `why_no_fix` and `details`)."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "session": self.session,
            "account": self.account,
            "tenant": self.tenant,
            "user": self.user,
            "email": self.email,
            "subscriptions": list(self.subscriptions),
            "pass": self.pass_id,
            "summary": self.summary,
            "fix": self.fix.to_json() if self.fix else None,
            "key": self.key,
            "why_no_fix": self.why_no_fix,
            "details": list(self.details),
        }
