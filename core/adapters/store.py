"""passbot's own state in SQLite (the embedded default, PASSBOT_DB): the append-only audit log,
and the approvals' proposals, claims and presses.

Audit rows and press rows are only ever inserted (triggers refuse updates and deletes). Claims are
the one mutable table: a claim is taken, finished or released as an approval runs.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from core.domain.approval import Claim, Press, Proposal
from core.ports import AuditEntry

_APPROVALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    alternative TEXT,
    plan_hash TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    proposal TEXT NOT NULL,
    holder TEXT NOT NULL,
    state TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS presses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_email TEXT,
    outcome TEXT NOT NULL,
    proposal TEXT,
    session TEXT
);
CREATE TRIGGER IF NOT EXISTS presses_no_update BEFORE UPDATE ON presses
BEGIN SELECT RAISE(ABORT, 'the press log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS presses_no_delete BEFORE DELETE ON presses
BEGIN SELECT RAISE(ABORT, 'the press log is append-only'); END;
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_email TEXT,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    session TEXT,
    documents TEXT NOT NULL,
    transaction_id TEXT,
    finding_kinds TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
    + _APPROVALS_SCHEMA
)


class SqliteStore:
    """The audit log (AuditLog port) and the approvals' state (ApprovalStore) in one file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def record(self, entry: AuditEntry) -> int:
        """Append one entry."""
        cursor = self._db.execute(
            "INSERT INTO audit (at, actor, actor_email, source, action, session, documents,"
            " transaction_id, finding_kinds, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.at.isoformat(),
                entry.actor,
                entry.actor_email,
                entry.source,
                entry.action,
                entry.session,
                json.dumps(list(entry.documents)),
                entry.transaction_id,
                json.dumps(list(entry.finding_kinds)),
                json.dumps(entry.changes, sort_keys=True, default=str),
            ),
        )
        return int(cursor.lastrowid or 0)

    def recent(self, limit: int = 20) -> list[AuditEntry]:
        """The newest entries first."""
        rows = self._db.execute(
            "SELECT id, at, actor, actor_email, source, action, session, documents,"
            " transaction_id, finding_kinds, changes FROM audit ORDER BY id DESC LIMIT ?",
            (max(0, limit),),
        ).fetchall()
        return [
            AuditEntry(
                id=row[0],
                at=datetime.fromisoformat(row[1]),
                actor=row[2],
                actor_email=row[3],
                source=row[4],
                action=row[5],
                session=row[6],
                documents=tuple(json.loads(row[7])),
                transaction_id=row[8],
                finding_kinds=tuple(json.loads(row[9])),
                changes=json.loads(row[10]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ approvals

    def save_proposal(self, proposal: Proposal) -> None:
        """Keep a proposal shown on a card."""
        self._db.execute(
            "INSERT OR REPLACE INTO proposals (id, session, alternative, plan_hash, requested_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                proposal.id,
                proposal.session,
                proposal.alternative,
                proposal.plan_hash,
                proposal.requested_by,
                proposal.created_at.isoformat(),
            ),
        )

    def proposal(self, proposal_id: str) -> Proposal | None:
        """A stored proposal, if this store has it."""
        row = self._db.execute(
            "SELECT id, session, alternative, plan_hash, requested_by, created_at"
            " FROM proposals WHERE id = ?",
            (proposal_id,),
        ).fetchone()
        if row is None:
            return None
        return Proposal(row[0], row[1], row[2], row[3], row[4], datetime.fromisoformat(row[5]))

    def claim(
        self,
        key: str,
        *,
        proposal: str,
        holder: str,
        token: str,
        now: datetime,
        lease: timedelta,
    ) -> Claim:
        """Take the claim on `key`, atomically (BEGIN IMMEDIATE), unless a press holds it.

        A claim being applied blocks everyone until it is finished or released, or its lease
        runs out; a finished claim blocks presses of the same proposal (they are told it was
        done) but not of a newer one (a new card for a purchase that broke again).
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute(
                "SELECT proposal, holder, state, at FROM claims WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                held_proposal, held_by, state, held_at = row[0], row[1], row[2], row[3]
                at = datetime.fromisoformat(held_at)
                busy = state == "applying" and now - at < lease
                done = state == "done" and held_proposal == proposal
                if busy or done:
                    self._db.execute("COMMIT")
                    return Claim(key, "", False, held_by, state, at, held_proposal)
            self._db.execute(
                "INSERT OR REPLACE INTO claims (key, token, proposal, holder, state, at)"
                " VALUES (?, ?, ?, ?, 'applying', ?)",
                (key, token, proposal, holder, now.isoformat()),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return Claim(key, token, True, holder, "applying", now, proposal)

    def finish(self, key: str, *, token: str, now: datetime) -> None:
        """Mark the claim done, if this token still holds it."""
        self._db.execute(
            "UPDATE claims SET state = 'done', at = ? WHERE key = ? AND token = ?",
            (now.isoformat(), key, token),
        )

    def release(self, key: str, *, token: str) -> None:
        """Give the claim up, if this token still holds it."""
        self._db.execute("DELETE FROM claims WHERE key = ? AND token = ?", (key, token))

    def record_press(self, press: Press) -> int:
        """Append one press of an approval button."""
        cursor = self._db.execute(
            "INSERT INTO presses (at, user_id, user_email, outcome, proposal, session)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                press.at.isoformat(),
                press.user_id,
                press.user_email,
                press.outcome,
                press.proposal,
                press.session,
            ),
        )
        return int(cursor.lastrowid or 0)

    def presses(self, limit: int = 50) -> list[Press]:
        """The newest presses first."""
        rows = self._db.execute(
            "SELECT id, at, user_id, user_email, outcome, proposal, session FROM presses"
            " ORDER BY id DESC LIMIT ?",
            (max(0, limit),),
        ).fetchall()
        return [
            Press(
                id=row[0],
                at=datetime.fromisoformat(row[1]),
                user_id=row[2],
                user_email=row[3],
                outcome=row[4],
                proposal=row[5],
                session=row[6],
            )
            for row in rows
        ]
