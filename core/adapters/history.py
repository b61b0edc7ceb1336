"""passbot's memory for the metrics and the scheduler, in SQLite (the same PASSBOT_DB file as
the audit log, its own tables): finding history, scheduled-run keys and customer reports.

`claim_run` is one `INSERT … ON CONFLICT` statement, so two processes (or a restarted one)
never both claim a run: SQLite serialises writers and the statement's row count tells the
winner. Only a run that failed before anything was posted may be claimed again.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.domain.findings import Finding
from core.domain.metrics import FindingRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS finding_history (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    session TEXT,
    account TEXT,
    tenant TEXT,
    summary TEXT NOT NULL,
    occurred_at TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    seen_count INTEGER NOT NULL DEFAULT 1,
    fixed_at TEXT,
    fixed_by TEXT,
    reopened INTEGER NOT NULL DEFAULT 0,
    dismissed_at TEXT,
    dismissed_by TEXT,
    dismiss_reason TEXT,
    aged_out_at TEXT
);
CREATE TABLE IF NOT EXISTS job_runs (
    job TEXT NOT NULL,
    period TEXT NOT NULL,
    status TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    finished_at TEXT,
    owner TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job, period)
);
CREATE TABLE IF NOT EXISTS customer_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    subject TEXT NOT NULL,
    source TEXT NOT NULL
);
"""

_SELECT = (
    "SELECT key, kind, severity, session, account, tenant, summary, occurred_at, first_seen,"
    " last_seen, fixed_at, fixed_by, dismissed_at, dismissed_by, dismiss_reason, aged_out_at"
    " FROM finding_history"
)

#: Statuses of a run; a `failed` run (nothing was posted) may be claimed again.
CLAIMED, DONE, FAILED = "claimed", "done", "failed"


def _t(value: datetime) -> str:
    """Instants are stored as UTC ISO text, which sorts as time does."""
    return value.astimezone(UTC).isoformat()


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _record(row: Sequence[str | None]) -> FindingRecord:
    first_seen = _at(row[8])
    last_seen = _at(row[9])
    assert first_seen is not None
    assert last_seen is not None
    return FindingRecord(
        key=str(row[0]),
        kind=str(row[1]),
        severity=str(row[2]),
        session=row[3],
        account=row[4],
        tenant=row[5],
        summary=str(row[6]),
        occurred_at=_at(row[7]),
        first_seen=first_seen,
        last_seen=last_seen,
        fixed_at=_at(row[10]),
        fixed_by=row[11],
        dismissed_at=_at(row[12]),
        dismissed_by=row[13],
        dismiss_reason=row[14],
        aged_out_at=_at(row[15]),
    )


class SqliteHistory:
    """The `FindingHistory` and `RunLedger` ports in one SQLite file."""

    def __init__(self, path: str | Path, *, owner: str | None = None) -> None:
        """Args:
        path: PASSBOT_DB (shared with the audit log; these tables are separate).
        owner: who claims runs (recorded); default host:pid.
        """
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # ------------------------------------------------------------------------------ runs

    def claim_run(self, job: str, period_key: str, *, at: datetime) -> bool:
        """True for exactly one caller per (job, period); a `failed` run is claimable again."""
        cursor = self._db.execute(
            "INSERT INTO job_runs (job, period, status, claimed_at, owner) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (job, period) DO UPDATE SET status = excluded.status,"
            " claimed_at = excluded.claimed_at, owner = excluded.owner, finished_at = NULL,"
            " attempts = attempts + 1 WHERE job_runs.status = ?",
            (job, period_key, CLAIMED, _t(at), self.owner, FAILED),
        )
        return cursor.rowcount == 1

    def finish_run(self, job: str, period_key: str, *, at: datetime, status: str) -> None:
        """Record how the run ended."""
        self._db.execute(
            "UPDATE job_runs SET status = ?, finished_at = ? WHERE job = ? AND period = ?",
            (status, _t(at), job, period_key),
        )

    def has_run(self, job: str, period_key: str) -> bool:
        """Claimed and not released by a failure."""
        row = self._db.execute(
            "SELECT status FROM job_runs WHERE job = ? AND period = ?", (job, period_key)
        ).fetchone()
        return row is not None and row[0] != FAILED

    def runs(self, job: str | None = None) -> list[tuple[str, str, str, int]]:
        """(job, period, status, attempts) of every run, oldest claim first."""
        rows = self._db.execute(
            "SELECT job, period, status, attempts FROM job_runs"
            " WHERE ? IS NULL OR job = ? ORDER BY claimed_at, job, period",
            (job, job),
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    # --------------------------------------------------------------------------- findings

    def observe(
        self, findings: Sequence[Finding], *, at: datetime, occurred: dict[str, datetime]
    ) -> None:
        """Upsert each finding: first seen stays, last seen moves; a fixed or aged-out one
        found again is open again (a dismissed one stays dismissed)."""
        now = _t(at)
        rows = [
            (
                f.key,
                f.kind.value,
                f.severity.value,
                f.session,
                f.account,
                f.tenant,
                f.summary,
                _t(occurred[f.key]) if f.key in occurred else None,
                now,
                now,
            )
            for f in {f.key: f for f in findings}.values()
        ]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO finding_history (key, kind, severity, session, account, tenant,"
                " summary, occurred_at, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen,"
                " severity = excluded.severity, summary = excluded.summary,"
                " occurred_at = COALESCE(excluded.occurred_at, finding_history.occurred_at),"
                " seen_count = seen_count + 1,"
                " reopened = reopened + (fixed_at IS NOT NULL OR aged_out_at IS NOT NULL),"
                " fixed_at = NULL, fixed_by = NULL, aged_out_at = NULL",
                rows,
            )

    def resolve(self, keys: Sequence[str], *, at: datetime, by: str) -> None:
        """Mark open findings fixed."""
        self._db.executemany(
            "UPDATE finding_history SET fixed_at = ?, fixed_by = ? WHERE key = ?"
            " AND fixed_at IS NULL AND dismissed_at IS NULL AND aged_out_at IS NULL",
            [(_t(at), by, key) for key in keys],
        )

    def age_out(self, keys: Sequence[str], *, at: datetime) -> None:
        """Mark open findings whose purchase left the lookback."""
        self._db.executemany(
            "UPDATE finding_history SET aged_out_at = ? WHERE key = ?"
            " AND fixed_at IS NULL AND dismissed_at IS NULL AND aged_out_at IS NULL",
            [(_t(at), key) for key in keys],
        )

    def dismiss(self, key: str, *, reason: str, by: str, at: datetime) -> bool:
        """Dismiss a finding as not a problem; False when no such finding was ever seen."""
        cursor = self._db.execute(
            "UPDATE finding_history SET dismissed_at = ?, dismissed_by = ?, dismiss_reason = ?"
            " WHERE key = ?",
            (_t(at), by, reason.strip()[:500], key),
        )
        return cursor.rowcount == 1

    def records(self, *, since: datetime | None = None) -> list[FindingRecord]:
        """Findings last seen or dismissed at or after `since` (all without it)."""
        after = _t(since) if since is not None else ""
        rows = self._db.execute(
            _SELECT + " WHERE last_seen >= ? OR dismissed_at >= ? ORDER BY key", (after, after)
        )
        return [_record(r) for r in rows.fetchall()]

    def open_records(self) -> list[FindingRecord]:
        """Findings neither fixed, dismissed nor aged out."""
        rows = self._db.execute(
            _SELECT + " WHERE fixed_at IS NULL AND dismissed_at IS NULL AND aged_out_at IS NULL"
            " ORDER BY key"
        )
        return [_record(r) for r in rows.fetchall()]

    def dismissed_keys(self) -> frozenset[str]:
        """Keys of every dismissed finding."""
        rows = self._db.execute(
            "SELECT key FROM finding_history WHERE dismissed_at IS NOT NULL"
        ).fetchall()
        return frozenset(str(r[0]) for r in rows)

    # --------------------------------------------------------------------------- reports

    def record_report(self, *, at: datetime, subject: str, source: str) -> None:
        """A customer report; the subject (an email) is stored as a hash, never in clear."""
        digest = hashlib.sha256(subject.strip().casefold().encode()).hexdigest()[:16]
        self._db.execute(
            "INSERT INTO customer_reports (at, subject, source) VALUES (?, ?, ?)",
            (_t(at), digest, source),
        )

    def reports(self, *, since: datetime) -> list[datetime]:
        """When customer reports came in, since `since`."""
        rows = self._db.execute(
            "SELECT at FROM customer_reports WHERE at >= ? ORDER BY at", (_t(since),)
        ).fetchall()
        return [datetime.fromisoformat(str(r[0])) for r in rows]
