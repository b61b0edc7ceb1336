"""What people tell passbot, kept for the metrics: customer reports and "not a problem".

* A `/fixpass EMAIL` is a customer report (reports per week); the email is stored hashed by the
  history. The findings the card shows are remembered like a scheduled run's (first seen, last
  seen), so that the card's "Not a problem" has a finding to dismiss and time-to-resolve starts
  when support first looked.
* "Not a problem" dismisses a finding with who and why: a false positive in the metrics, and left
  out of "still open" in the summaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.diagnose import Diagnosis
from core.errors import NotFoundError, UsageError
from core.ports import Clock, FindingHistory

#: A reason is asked for; this much is kept.
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Dismissal:
    """A finding dismissed as not a problem."""

    key: str
    reason: str
    by: str
    at: datetime


class Feedback:
    """Customer reports and dismissals, in passbot's finding history."""

    def __init__(self, history: FindingHistory, clock: Clock) -> None:
        self.history = history
        self.clock = clock

    def report(self, email: str, *, source: str) -> None:
        """A customer report (a lookup such as `/fixpass EMAIL`); the email is stored hashed."""
        self.history.record_report(at=self.clock.now(), subject=email, source=source)

    def shown(self, diagnosis: Diagnosis) -> None:
        """Remember the findings a card shows, as a scheduled run's are remembered."""
        now = self.clock.now()
        created = {p.session.id: p.session.created for p in diagnosis.purchases}
        occurred = {f.key: created[f.session] for f in diagnosis.findings if f.session in created}
        self.history.observe(diagnosis.findings, at=now, occurred=occurred)

    def dismiss(self, key: str, *, reason: str, by: str) -> Dismissal:
        """Record that a finding is not a problem, and why.

        Raises:
            UsageError: no reason was given.
            NotFoundError: passbot has no record of the finding.
        """
        why = " ".join(reason.split())[:MAX_REASON]
        if not why:
            raise UsageError("say why this is not a problem")
        at = self.clock.now()
        if not self.history.dismiss(key, reason=why, by=by, at=at):
            raise NotFoundError(
                "passbot has no record of this finding any more — look the customer up again"
            )
        return Dismissal(key, why, by, at)
