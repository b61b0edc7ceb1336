"""What is known about a paid pass purchase while it is judged, and the verdict on it.

Shared by the modules that judge a purchase (`purchase`, `purchase_missing`, `purchase_content`);
`_Context` is theirs alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from core.domain.facts import Index
from core.domain.findings import Finding, Fix, Kind, Severity
from core.domain.models import JSON, CheckoutSession, Pass, Tenant, iso_moment
from core.domain.rule import Provenance

#: Who approves and when is the same for every purchase of a run: one `Provenance` for it.
_provenance = lru_cache(maxsize=16)(Provenance)


@dataclass(frozen=True, slots=True)
class Purchase:
    """The verdict on one paid pass purchase."""

    session: CheckoutSession
    tenant: str | None
    status: str
    subscriptions: tuple[str, ...]
    matched_by: str | None
    findings: tuple[Finding, ...]
    link: Fix | None = None
    pass_name: str | None = None

    @property
    def has_pass(self) -> bool:
        """A subscription exists for it (whatever its state)."""
        return bool(self.subscriptions)


@dataclass(slots=True)
class _Context:
    """What is known about the purchase while it is judged."""

    session: CheckoutSession
    idx: Index
    now: datetime
    actor: str | None
    account_tenant: Tenant | None
    #: A `pass_upgrade` session (read once: several checks ask).
    is_upgrade: bool = False
    pass_: Pass | None = None
    tenant_id: str | None = None
    user_ref: str | None = None
    references: frozenset[str] = frozenset()
    blockers: list[str] = field(default_factory=list)
    #: The Sanity user the fix creates for a buyer Clerk knows but Sanity does not (FM-21).
    new_user: JSON | None = None
    #: Said on the card: which of several users for one Clerk id is referenced (FM-23).
    notes: list[str] = field(default_factory=list)
    #: The name of the pass bought, as the verdict shows it.
    pass_name: str | None = None

    @property
    def viewer_references(self) -> frozenset[str]:
        """The ids the app matches the customer's passes against: the reference set, and the
        user a fix would reference."""
        if not self.user_ref or self.user_ref in self.references:
            return self.references
        return self.references | {self.user_ref}

    @property
    def provenance(self) -> Provenance:
        return _provenance(self.actor, self.now)

    def finding(self, kind: Kind, severity: Severity, summary: str, **kw: object) -> Finding:
        session = self.session
        return Finding(
            kind=kind,
            severity=severity,
            summary=summary,
            session=session.id,
            account=session.account,
            tenant=self.tenant_id or session.tenant_id,
            user=self.user_ref,
            email=session.email,
            pass_id=session.pass_id,
            **kw,  # type: ignore[arg-type]
        )

    def stamp(self, reason: str) -> JSON:
        """Provenance fields every passbot patch carries."""
        return {"fixedBy": self.actor, "fixedAt": iso_moment(self.now), "fixReason": reason}
