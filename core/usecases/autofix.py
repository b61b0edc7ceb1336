"""PASSBOT_AUTOFIX: the safe fixes applied without approval, each through the audited fix path.

Safe means a `missing_pass` whose user, pass and tenant are certain (`autofixable`). The fix is
re-derived before it is applied; one that turns out to be another kind is left for a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.domain.findings import Finding, Kind
from core.domain.summary import AutofixOutcome, autofixable
from core.errors import NotFoundError, RefusedError, StaleFixError, UsageError
from core.ports import FindingHistory
from core.usecases.fix import Fixes


async def autofix(
    fixes: Fixes,
    history: FindingHistory,
    findings: Sequence[Finding],
    *,
    now: datetime,
    actor: str,
) -> tuple[AutofixOutcome, ...]:
    """Apply the safe fixes among `findings` (not dismissed ones), recording each as `actor`."""
    outcomes: list[AutofixOutcome] = []
    dismissed = history.dismissed_keys()
    for finding in findings:
        if not autofixable(finding) or finding.key in dismissed or finding.session is None:
            continue
        session = finding.session
        try:
            preview = await fixes.preview(session, actor=actor)
            kinds = {f.kind for f in preview.plan.resolves}
            if preview.plan.refused or kinds - {Kind.MISSING_PASS}:
                why = preview.plan.refused or f"the fix now also resolves {sorted(kinds)}"
                outcomes.append(AutofixOutcome(session, finding.key, False, error=why))
                continue
            outcome = await fixes.apply(session, actor=actor, source="autofix")
        except (RefusedError, StaleFixError, UsageError, NotFoundError) as err:
            outcomes.append(AutofixOutcome(session, finding.key, False, error=str(err)))
            continue
        result = outcome.applied_result
        written = tuple((result.created + result.patched) if result else ())
        outcomes.append(
            AutofixOutcome(
                session,
                finding.key,
                applied=bool(written) or outcome.already_fixed,
                documents=written,
                audit_id=outcome.audit_id,
            )
        )
        history.resolve([finding.key], at=now, by=actor)
    return tuple(outcomes)
