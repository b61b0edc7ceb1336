"""Customer reports and "not a problem": stored hashed, findings remembered, a reason required,
an unknown finding refused — and the false-positive metric counts the dismissal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from core.adapters.history import SqliteHistory
from core.domain.metrics import false_positives
from core.errors import NotFoundError, UsageError
from core.usecases.feedback import MAX_REASON, Feedback
from tests.factories import EMAIL, NOW, World


@dataclass
class Clock:
    instant: datetime

    def now(self) -> datetime:
        return self.instant


@pytest.fixture
def history():
    store = SqliteHistory(":memory:")
    yield store
    store.close()


def test_a_lookup_is_a_report_stored_hashed_and_its_findings_are_remembered(history) -> None:
    world = World.default()
    world.buy(1)
    diagnosis = world.diagnose(EMAIL)
    feedback = Feedback(history, Clock(NOW))
    feedback.report(EMAIL.upper(), source="slack")
    feedback.shown(diagnosis)
    assert history.reports(since=NOW - timedelta(days=1)) == [NOW]
    rows = history._db.execute("SELECT subject FROM customer_reports").rows
    assert EMAIL not in str(rows)
    (record,) = history.records()
    assert record.key == diagnosis.findings[0].key
    assert record.occurred_at == diagnosis.purchases[0].session.created


def test_a_dismissal_needs_a_reason_and_a_known_finding_and_counts(history) -> None:
    world = World.default()
    world.buy(1)
    diagnosis = world.diagnose(EMAIL)
    feedback = Feedback(history, Clock(NOW))
    feedback.shown(diagnosis)
    key = diagnosis.findings[0].key
    with pytest.raises(UsageError, match="say why"):
        feedback.dismiss(key, reason="  \n ", by="U1")
    with pytest.raises(NotFoundError):
        feedback.dismiss("missing_pass:cs_never_seen", reason="because", by="U1")
    dismissal = feedback.dismiss(key, reason="  a   test\nbuyer " + "x" * 900, by="U1")
    assert dismissal.reason.startswith("a test buyer x")
    assert len(dismissal.reason) == MAX_REASON
    assert history.dismissed_keys() == frozenset({key})
    fp = false_positives(history.records(), since=NOW - timedelta(days=28))
    assert (fp.dismissed, fp.seen) == (1, 1)
