"""passbot's own state in SQLite (the embedded default, PASSBOT_DB): the append-only audit log.

Rows are only ever inserted; there is no update or delete statement in this module.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

from core.ports import AuditEntry

_SCHEMA = """
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


class SqliteStore:
    """The audit log (AuditLog port) in one SQLite file."""

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
