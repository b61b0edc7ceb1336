"""passbot's memory in SQLite: runs are claimed once across restarts and processes; findings
keep their history; customer reports are stored hashed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from core.adapters.history import SqliteHistory
from core.adapters.store import SqliteStore
from core.domain.findings import Finding, Kind, Severity

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)


def finding(session="cs_1", kind=Kind.MISSING_PASS):
    return Finding(kind=kind, severity=Severity.CRITICAL, summary="s", session=session)


def test_a_run_is_claimed_once_even_after_a_restart(tmp_path):
    path = tmp_path / "passbot.db"
    first = SqliteHistory(path, owner="a")
    assert first.claim_run("summary", "2026-11-28", at=NOW)
    assert not first.claim_run("summary", "2026-11-28", at=NOW)
    first.finish_run("summary", "2026-11-28", at=NOW, status="done")
    first.close()
    second = SqliteHistory(path, owner="b")  # a restarted process, or a second one
    assert not second.claim_run("summary", "2026-11-28", at=NOW)
    assert second.has_run("summary", "2026-11-28")
    assert second.claim_run("summary", "2026-11-29", at=NOW)
    second.close()


def test_two_open_connections_race_for_one_claim(tmp_path):
    a = SqliteHistory(tmp_path / "passbot.db", owner="a")
    b = SqliteHistory(tmp_path / "passbot.db", owner="b")
    wins = [h.claim_run("early_warning", "2026-11-28T09:15", at=NOW) for h in (a, b, a, b)]
    assert wins == [True, False, False, False]
    a.close()
    b.close()


def test_a_failed_run_may_be_claimed_again_a_done_one_not(tmp_path):
    history = SqliteHistory(tmp_path / "passbot.db")
    assert history.claim_run("health", "2026-11", at=NOW)
    history.finish_run("health", "2026-11", at=NOW, status="failed")
    assert not history.has_run("health", "2026-11")
    assert history.claim_run("health", "2026-11", at=NOW)
    history.finish_run("health", "2026-11", at=NOW, status="done")
    assert not history.claim_run("health", "2026-11", at=NOW)
    assert history.runs("health") == [("health", "2026-11", "done", 2)]
    history.close()


def test_the_history_shares_the_audit_log_file(tmp_path):
    path = tmp_path / "passbot.db"
    store = SqliteStore(path)
    history = SqliteHistory(path)
    assert history.claim_run("summary", "2026-11-28", at=NOW)
    assert store.recent() == []
    store.close()
    history.close()


def test_finding_history_first_seen_last_seen_fixed_reopened(tmp_path):
    history = SqliteHistory(tmp_path / "passbot.db")
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


def test_dismissed_stays_dismissed_and_ages_out_only_when_open(tmp_path):
    history = SqliteHistory(tmp_path / "passbot.db")
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


def test_customer_reports_are_counted_never_stored_in_clear(tmp_path):
    path = tmp_path / "passbot.db"
    history = SqliteHistory(path)
    history.record_report(at=NOW, subject="Kari.Nordmann@example.com", source="slack")
    history.record_report(at=NOW - timedelta(days=40), subject="x@example.com", source="cli")
    assert history.reports(since=NOW - timedelta(days=28)) == [NOW]
    history.close()
    raw = sqlite3.connect(path)
    dumped = "\n".join(raw.iterdump())
    raw.close()
    assert "kari" not in dumped.lower()
