"""PASSBOT_AUTOFIX: the safe fixes applied without approval, each through the audited fix path.

Safe means a `missing_pass` whose user, pass and tenant are certain (`autofixable`). The fix is
re-derived when it is applied; one that turns out to be another kind is left for a person.
The scheduled summary and the watch both apply them through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.domain.findings import Finding, Kind
from core.domain.fixes import FixPlan
from core.domain.summary import AutofixOutcome, autofixable
from core.errors import CoreError, NotFoundError, RefusedError, StaleFixError, UsageError
from core.ports import FindingHistory
from core.usecases.fix import Fixes


def only_the_safe_kind(plan: FixPlan) -> None:
    """The check `Fixes.apply` makes of the re-derived plan before writing: only `missing_pass`.

    Raises:
        RefusedError: the plan is refused, or resolves another kind too (left for a person).
    """
    kinds = {f.kind for f in plan.resolves}
    if plan.refused or kinds - {Kind.MISSING_PASS}:
        raise RefusedError(plan.refused or f"the fix now also resolves {sorted(kinds)}")


async def autofix(
    fixes: Fixes,
    history: FindingHistory,
    findings: Sequence[Finding],
    *,
    now: datetime,
    actor: str,
    tolerate: tuple[type[CoreError], ...] = (),
) -> tuple[AutofixOutcome, ...]:
    """Apply the safe fixes among `findings` (not dismissed ones), recording each as `actor`.

    Each fix is re-derived once, on the finding's own account first, and written only if it is
    still the safe kind. A fix that cannot be applied is reported in its outcome; `tolerate`
    adds errors reported that way rather than raised (the watch tolerates a failing service:
    its post still goes out, with the Approve button).
    """
    expected: tuple[type[CoreError], ...] = (
        RefusedError,
        StaleFixError,
        UsageError,
        NotFoundError,
        *tolerate,
    )
    outcomes: list[AutofixOutcome] = []
    dismissed = history.dismissed_keys()
    for finding in findings:
        if not autofixable(finding) or finding.key in dismissed or finding.session is None:
            continue
        session = finding.session
        try:
            outcome = await fixes.apply(
                session,
                actor=actor,
                source="autofix",
                expect=only_the_safe_kind,
                look_first=(finding.account,),
            )
        except expected as err:
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
