"""passbot's memory, on SQLite and on PostgreSQL: runs are claimed once across restarts and
processes; findings keep their history; customer reports are stored hashed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from core.adapters.history import open_history
from core.adapters.store import open_store
from core.domain.findings import Finding, Kind, Severity
from tests.db import dump

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)


def finding(session="cs_1", kind=Kind.MISSING_PASS):
    return Finding(kind=kind, severity=Severity.CRITICAL, summary="s", session=session)


def test_a_run_is_claimed_once_even_after_a_restart(db_url):
    first = open_history(db_url, owner="a")
    assert first.claim_run("summary", "2026-11-28", at=NOW)
    assert not first.claim_run("summary", "2026-11-28", at=NOW)
    first.finish_run("summary", "2026-11-28", at=NOW, status="done")
    first.close()
    second = open_history(db_url, owner="b")  # a restarted process, or a second one
    assert not second.claim_run("summary", "2026-11-28", at=NOW)
    assert second.has_run("summary", "2026-11-28")
    assert second.claim_run("summary", "2026-11-29", at=NOW)
    second.close()


def test_two_open_connections_race_for_one_claim(db_url):
    a = open_history(db_url, owner="a")
    b = open_history(db_url, owner="b")
    wins = [h.claim_run("early_warning", "2026-11-28T09:15", at=NOW) for h in (a, b, a, b)]
    assert wins == [True, False, False, False]
    a.close()
    b.close()


def test_concurrent_claims_of_one_period_have_one_winner(db_url):
    open_history(db_url).close()
    wins: list[str] = []
    start = threading.Barrier(8)

    def replica(n: int) -> None:
        own = open_history(db_url, owner=f"r{n}")
        try:
            start.wait()
            for period in ("2026-11-28", "2026-11-29", "2026-11-30"):
                if own.claim_run("summary", period, at=NOW):
                    wins.append(period)
        finally:
            own.close()

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == ["2026-11-28", "2026-11-29", "2026-11-30"]


def test_a_failed_run_may_be_claimed_again_a_done_one_not(db_url):
    history = open_history(db_url)
    assert history.claim_run("health", "2026-11", at=NOW)
    history.finish_run("health", "2026-11", at=NOW, status="failed")
    assert not history.has_run("health", "2026-11")
    assert history.claim_run("health", "2026-11", at=NOW)
    history.finish_run("health", "2026-11", at=NOW, status="done")
    assert not history.claim_run("health", "2026-11", at=NOW)
    assert history.runs("health") == [("health", "2026-11", "done", 2)]
    history.close()


def test_the_history_shares_the_audit_log_database(db_url):
    store = open_store(db_url)
    history = open_history(db_url)
    assert history.claim_run("summary", "2026-11-28", at=NOW)
    assert store.recent() == []
    store.close()
    history.close()


def test_finding_history_first_seen_last_seen_fixed_reopened(db_url):
    history = open_history(db_url)
    occurred = {"missing_pass:cs_1": NOW - timedelta(hours=3)}
    history.observe([finding()], at=NOW, occurred=occurred)
    history.observe([finding()], at=NOW + timedelta(hours=1), occurred={})
    (rec,) = history.records()
    assert (rec.first_seen, rec.last_seen) == (NOW, NOW + timedelta(hours=1))
    assert rec.occurred_at == NOW - timedelta(hours=3)
    assert rec.is_open
    history.resolve(["missing_pass:cs_1"], at=NOW + timedelta(hours=2), by="observed")
    (rec,) = history.records()
    assert (rec.fixed_at, rec.fixed_by) == (NOW + timedelta(hours=2), "observed")
    assert history.open_records() == []
    history.observe([finding()], at=NOW + timedelta(hours=3), occurred={})
    (rec,) = history.open_records()
    assert rec.fixed_at is None
    assert rec.first_seen == NOW
    history.close()


def test_dismissed_stays_dismissed_and_ages_out_only_when_open(db_url):
    history = open_history(db_url)
    history.observe([finding("cs_1"), finding("cs_2")], at=NOW, occurred={})
    assert history.dismiss("missing_pass:cs_1", reason="refunded by hand", by="U1", at=NOW)
    assert not history.dismiss("missing_pass:nope", reason="x", by="U1", at=NOW)
    history.observe([finding("cs_1")], at=NOW + timedelta(hours=1), occurred={})
    assert history.dismissed_keys() == {"missing_pass:cs_1"}
    history.age_out(["missing_pass:cs_1", "missing_pass:cs_2"], at=NOW + timedelta(days=40))
    by_key = {r.key: r for r in history.records()}
    assert by_key["missing_pass:cs_1"].aged_out_at is None
    assert by_key["missing_pass:cs_1"].dismiss_reason == "refunded by hand"
    assert by_key["missing_pass:cs_2"].aged_out_at == NOW + timedelta(days=40)
    history.close()


def test_customer_reports_are_counted_never_stored_in_clear(db_url):
    history = open_history(db_url)
    history.record_report(at=NOW, subject="Kari.Nordmann@example.com", source="slack")
    history.record_report(at=NOW - timedelta(days=40), subject="x@example.com", source="cli")
    assert history.reports(since=NOW - timedelta(days=28)) == [NOW]
    history.close()
    dumped = dump(db_url, ("customer_reports",))
    assert "@" not in dumped
    assert "kari" not in dumped.lower()
