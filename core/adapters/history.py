"""passbot's memory for the metrics and the scheduler, in PASSBOT_DB (SQLite or PostgreSQL, the
same database as the audit log, its own tables): finding history, scheduled-run keys and
customer reports.

`claim_run` is one `INSERT … ON CONFLICT … DO UPDATE … WHERE` statement, so two processes (or a
restarted one, or replicas on PostgreSQL) never both claim a run: the database serialises the
conflicting inserts and the statement's row count tells the winner. Only a run that failed
before anything was posted may be claimed again.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.adapters.db import Database, open_database
from core.domain.findings import Finding
from core.domain.metrics import FindingRecord
from core.ports import RunRecord

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


def _record(row: Sequence[Any]) -> FindingRecord:
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


class SqlHistory:
    """The `FindingHistory` and `RunLedger` ports in passbot's database."""

    def __init__(self, db: Database, *, owner: str | None = None) -> None:
        """Args:
        db: PASSBOT_DB, opened and migrated (shared with the audit log; these tables are
            separate); this history closes it.
        owner: who claims runs (recorded); default host:pid.
        """
        self._db = db
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # ------------------------------------------------------------------------------ runs

    def claim_run(self, job: str, period_key: str, *, at: datetime) -> bool:
        """True for exactly one caller per (job, period); a `failed` run is claimable again."""
        result = self._db.execute(
            "INSERT INTO job_runs (job, period, status, claimed_at, owner) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (job, period) DO UPDATE SET status = excluded.status,"
            " claimed_at = excluded.claimed_at, owner = excluded.owner, finished_at = NULL,"
            " attempts = job_runs.attempts + 1 WHERE job_runs.status = ?",
            (job, period_key, CLAIMED, _t(at), self.owner, FAILED),
        )
        return result.rowcount == 1

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
        ).one()
        return row is not None and row[0] != FAILED

    def last_runs(self) -> list[RunRecord]:
        """The latest claimed run of each job (one query)."""
        rows = self._db.execute(
            "SELECT job, period, status, claimed_at, finished_at FROM job_runs r"
            " WHERE claimed_at = (SELECT MAX(claimed_at) FROM job_runs WHERE job = r.job)"
            " ORDER BY job"
        ).rows
        return [
            RunRecord(str(r[0]), str(r[1]), str(r[2]), datetime.fromisoformat(str(r[3])), _at(r[4]))
            for r in rows
        ]

    def runs(self, job: str | None = None) -> list[tuple[str, str, str, int]]:
        """(job, period, status, attempts) of every run, oldest claim first."""
        select = "SELECT job, period, status, attempts FROM job_runs"
        order = " ORDER BY claimed_at, job, period"
        rows = (
            self._db.execute(select + order)
            if job is None
            else self._db.execute(select + " WHERE job = ?" + order, (job,))
        ).rows
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
        with self._db.transaction() as tx:
            tx.executemany(
                "INSERT INTO finding_history (key, kind, severity, session, account, tenant,"
                " summary, occurred_at, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen,"
                " severity = excluded.severity, summary = excluded.summary,"
                " occurred_at = COALESCE(excluded.occurred_at, finding_history.occurred_at),"
                " seen_count = finding_history.seen_count + 1,"
                " reopened = finding_history.reopened + CASE WHEN finding_history.fixed_at IS NOT"
                " NULL OR finding_history.aged_out_at IS NOT NULL THEN 1 ELSE 0 END,"
                " fixed_at = NULL, fixed_by = NULL, aged_out_at = NULL",
                rows,
            )

    def resolve(self, keys: Sequence[str], *, at: datetime, by: str) -> None:
        """Mark open findings fixed."""
        with self._db.transaction() as tx:
            tx.executemany(
                "UPDATE finding_history SET fixed_at = ?, fixed_by = ? WHERE key = ?"
                " AND fixed_at IS NULL AND dismissed_at IS NULL AND aged_out_at IS NULL",
                [(_t(at), by, key) for key in keys],
            )

    def age_out(self, keys: Sequence[str], *, at: datetime) -> None:
        """Mark open findings whose purchase left the lookback."""
        with self._db.transaction() as tx:
            tx.executemany(
                "UPDATE finding_history SET aged_out_at = ? WHERE key = ?"
                " AND fixed_at IS NULL AND dismissed_at IS NULL AND aged_out_at IS NULL",
                [(_t(at), key) for key in keys],
            )

    def dismiss(self, key: str, *, reason: str, by: str, at: datetime) -> bool:
        """Dismiss a finding as not a problem; False when no such finding was ever seen."""
        result = self._db.execute(
            "UPDATE finding_history SET dismissed_at = ?, dismissed_by = ?, dismiss_reason = ?"
            " WHERE key = ?",
            (_t(at), by, reason.strip()[:500], key),
        )
        return result.rowcount == 1

    def records(self, *, since: datetime | None = None) -> list[FindingRecord]:
        """Findings last seen or dismissed at or after `since` (all without it)."""
        after = _t(since) if since is not None else ""
        rows = self._db.execute(
            _SELECT + " WHERE last_seen >= ? OR dismissed_at >= ? ORDER BY key", (after, after)
        )
        return [_record(r) for r in rows]

    def open_records(self) -> list[FindingRecord]:
        """Findings neither fixed, dismissed nor aged out."""
        rows = self._db.execute(
            _SELECT + " WHERE fixed_at IS NULL AND dismissed_at IS NULL AND aged_out_at IS NULL"
            " ORDER BY key"
        )
        return [_record(r) for r in rows]

    def dismissed_keys(self) -> frozenset[str]:
        """Keys of every dismissed finding."""
        rows = self._db.execute(
            "SELECT key FROM finding_history WHERE dismissed_at IS NOT NULL"
        ).rows
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
        ).rows
        return [datetime.fromisoformat(str(r[0])) for r in rows]


class SqliteHistory(SqlHistory):
    """The history in a SQLite file (the embedded default)."""

    def __init__(self, path: str | Path, *, owner: str | None = None) -> None:
        self.path = str(path)
        super().__init__(open_database(self.path), owner=owner)


def open_history(url: str, *, owner: str | None = None) -> SqlHistory:
    """The history in PASSBOT_DB: a SQLite path or a `postgresql://` URL."""
    return SqlHistory(open_database(url), owner=owner)
