"""The use cases as the entry points hold them: one object that the composition root builds.

The Slack bot and the command line call these and nothing else. Each method is one use case,
implemented in its own module (`check`, `diagnose`, `fix`), over one `Reader` so that every use
case reads Stripe and Sanity the same way: one request per page, accounts read concurrently
within a limit, one Sanity query per page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.domain.diagnose import Diagnosis
from core.domain.fixes import FixPlan
from core.domain.models import Window
from core.domain.reconcile import ReconcileReport
from core.ports import (
    AuditEntry,
    AuditLog,
    Catalogue,
    Clock,
    PassStore,
    PaymentsSource,
    UserDirectory,
)
from core.usecases.check import check
from core.usecases.diagnose import diagnose
from core.usecases.fix import Fixes, FixOutcome
from core.usecases.reading import Progress, Reader


@dataclass
class Services:
    """passbot's use cases over its ports (built by bot/container.py)."""

    payments: PaymentsSource
    passes: PassStore
    users: UserDirectory
    audit: AuditLog
    clock: Clock
    lookback_days: int = 35
    concurrency: int = 8
    reader: Reader = field(init=False, repr=False)
    fixes: Fixes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reader = Reader(
            self.payments,
            self.passes,
            self.clock,
            lookback_days=self.lookback_days,
            concurrency=self.concurrency,
        )
        self.fixes = Fixes(self.reader, self.audit)

    def window(self, days: int | None) -> Window:
        """The window ending now and reaching back `days` (default: the configured lookback)."""
        return self.reader.window(days)

    async def catalogue(self) -> Catalogue:
        """Tenants and passes."""
        return await self.reader.catalogue()

    async def check(
        self,
        *,
        days: int | None = None,
        tenant: str | None = None,
        actor: str | None = None,
        progress: Progress | None = None,
        keep_purchases: bool = False,
    ) -> ReconcileReport:
        """One reconciliation over the window (core/usecases/check.py)."""
        return await check(
            self.reader,
            days=days,
            tenant=tenant,
            actor=actor,
            progress=progress,
            keep_purchases=keep_purchases,
        )

    async def diagnose(
        self, email: str, *, days: int | None = None, actor: str | None = None
    ) -> Diagnosis:
        """Everything about one customer (core/usecases/diagnose.py)."""
        return await diagnose(self.reader, self.users, email, days=days, actor=actor)

    async def preview_fix(
        self,
        session_id: str,
        *,
        actor: str | None,
        alternative: str | None = None,
        look_first: Sequence[str | None] = (),
    ) -> FixOutcome:
        """What `fix` would write, without writing (core/usecases/fix.py)."""
        return await self.fixes.preview(
            session_id, actor=actor, alternative=alternative, look_first=look_first
        )

    async def apply_fix(
        self,
        session_id: str,
        *,
        actor: str,
        actor_email: str | None = None,
        source: str = "cli",
        alternative: str | None = None,
        expect: Callable[[FixPlan], None] | None = None,
        look_first: Sequence[str | None] = (),
    ) -> FixOutcome:
        """Re-derive the fix, apply it as one transaction, audit it (core/usecases/fix.py)."""
        return await self.fixes.apply(
            session_id,
            actor=actor,
            actor_email=actor_email,
            source=source,
            alternative=alternative,
            expect=expect,
            look_first=look_first,
        )

    def recent_audit(self, limit: int = 20) -> list[AuditEntry]:
        """The newest audit entries."""
        return self.audit.recent(limit)
