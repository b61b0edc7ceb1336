"""passbot's own state (PASSBOT_DB, SQLite or PostgreSQL): the append-only audit log, and the
approvals' proposals, claims and presses.

Audit rows and press rows are only ever inserted (the database's triggers refuse updates and
deletes). Claims are the one mutable table: a claim is taken, finished or released as an
approval runs; deciding one is a transaction under the claim's lock (SQLite's write lock, a
PostgreSQL advisory lock), so one press wins whatever the number of processes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from core.adapters.db import Database, open_database
from core.domain.approval import Claim, Press, Proposal
from core.ports import AuditEntry


class SqlStore:
    """The audit log (AuditLog port) and the approvals' state (ApprovalStore) in one database."""

    def __init__(self, db: Database) -> None:
        """Over a database opened and migrated by `open_database` (this store closes it)."""
        self._db = db

    @property
    def database(self) -> Database:
        """The database underneath (for its name and dialect)."""
        return self._db

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def record(self, entry: AuditEntry) -> int:
        """Append one entry."""
        result = self._db.execute(
            "INSERT INTO audit (at, actor, actor_email, source, action, session, documents,"
            " transaction_id, finding_kinds, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
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
        row = result.one()
        return int(row[0]) if row else 0

    def recent(self, limit: int = 20) -> list[AuditEntry]:
        """The newest entries first."""
        rows = self._db.execute(
            "SELECT id, at, actor, actor_email, source, action, session, documents,"
            " transaction_id, finding_kinds, changes FROM audit ORDER BY id DESC LIMIT ?",
            (max(0, limit),),
        ).rows
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
            "INSERT INTO proposals (id, session, alternative, plan_hash, requested_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET session = excluded.session,"
            " alternative = excluded.alternative, plan_hash = excluded.plan_hash,"
            " requested_by = excluded.requested_by, created_at = excluded.created_at",
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
        ).one()
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
        """Take the claim on `key`, atomically (a transaction under the key's lock), unless a
        press holds it.

        A claim being applied blocks everyone until it is finished or released, or its lease
        runs out; a finished claim blocks presses of the same proposal (they are told it was
        done) but not of a newer one (a new card for a purchase that broke again).
        """
        with self._db.transaction(lock=f"claim:{key}") as tx:
            row = tx.execute(
                "SELECT proposal, holder, state, at FROM claims WHERE key = ?", (key,)
            ).one()
            if row is not None:
                held_proposal, held_by, state, held_at = row[0], row[1], row[2], row[3]
                at = datetime.fromisoformat(held_at)
                busy = state == "applying" and now - at < lease
                done = state == "done" and held_proposal == proposal
                if busy or done:
                    return Claim(key, "", False, held_by, state, at, held_proposal)
            tx.execute(
                "INSERT INTO claims (key, token, proposal, holder, state, at)"
                " VALUES (?, ?, ?, ?, 'applying', ?) ON CONFLICT (key) DO UPDATE SET"
                " token = excluded.token, proposal = excluded.proposal, holder = excluded.holder,"
                " state = excluded.state, at = excluded.at",
                (key, token, proposal, holder, now.isoformat()),
            )
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
        result = self._db.execute(
            "INSERT INTO presses (at, user_id, user_email, outcome, proposal, session)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (
                press.at.isoformat(),
                press.user_id,
                press.user_email,
                press.outcome,
                press.proposal,
                press.session,
            ),
        )
        row = result.one()
        return int(row[0]) if row else 0

    def presses(self, limit: int = 50) -> list[Press]:
        """The newest presses first."""
        rows = self._db.execute(
            "SELECT id, at, user_id, user_email, outcome, proposal, session FROM presses"
            " ORDER BY id DESC LIMIT ?",
            (max(0, limit),),
        ).rows
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


class SqliteStore(SqlStore):
    """The store in a SQLite file (the embedded default)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(open_database(self.path))


def open_store(url: str) -> SqlStore:
    """The store in PASSBOT_DB: a SQLite path or a `postgresql://` URL (see `open_database`)."""
    return SqlStore(open_database(url))
