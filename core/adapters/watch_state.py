"""The watch's memory in SQLite (PASSBOT_DB, beside the audit log and the finding history):
a cursor per Stripe account, and the purchases followed until their grace period ends.

Two tables, kept simple so they port to another database as they are:

    watch_cursor(account TEXT PRIMARY KEY, event_id TEXT, event_created INTEGER, updated_at TEXT)
    watch_purchase(session TEXT PRIMARY KEY, account TEXT, event_id TEXT, paid_at TEXT,
                   due_at TEXT, first_seen TEXT, outcome TEXT NULL, settled_at TEXT NULL)

Replicas share the file: a cursor only moves forward (`WHERE excluded.event_created >= …`), a
purchase is followed once (`ON CONFLICT DO NOTHING`). Who posts a purchase is decided by the
run ledger's claim (core/adapters/history.py), not here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.domain.watch import Seen

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_cursor (
    account TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_created INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_purchase (
    session TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    event_id TEXT NOT NULL,
    paid_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    outcome TEXT,
    settled_at TEXT
);
CREATE INDEX IF NOT EXISTS watch_purchase_due ON watch_purchase (due_at) WHERE outcome IS NULL;
"""

#: The outcome of a purchase whose grace period ended without a pass and that was posted.
ALERTED = "alerted"


def _t(value: datetime) -> str:
    """Instants as UTC ISO text (sorts as time does)."""
    return value.astimezone(UTC).isoformat()


class SqliteWatchState:
    """The `WatchState` port in one SQLite file."""

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

    def cursor(self, account: str) -> tuple[str, int] | None:
        """The last event seen on the account."""
        row = self._db.execute(
            "SELECT event_id, event_created FROM watch_cursor WHERE account = ?", (account,)
        ).fetchone()
        return (str(row[0]), int(row[1])) if row else None

    def advance(self, account: str, event_id: str, created: int, *, at: datetime) -> None:
        """Move the cursor forward, never back."""
        self._db.execute(
            "INSERT INTO watch_cursor (account, event_id, event_created, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
            " event_id = excluded.event_id, event_created = excluded.event_created,"
            " updated_at = excluded.updated_at"
            " WHERE excluded.event_created >= watch_cursor.event_created",
            (account, event_id, created, _t(at)),
        )

    def follow(self, purchases: Sequence[Seen], *, at: datetime) -> int:
        """Follow new purchases; how many were new."""
        before = self._db.total_changes
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO watch_purchase (session, account, event_id, paid_at, due_at,"
                " first_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session) DO NOTHING",
                [
                    (p.session, p.account, p.event, _t(p.paid_at), _t(p.due_at), _t(at))
                    for p in purchases
                ],
            )
        return self._db.total_changes - before

    def due(self, now: datetime, *, limit: int = 100) -> list[Seen]:
        """Unsettled purchases whose grace period has ended, oldest first."""
        rows = self._db.execute(
            "SELECT session, account, event_id, paid_at, due_at FROM watch_purchase"
            " WHERE outcome IS NULL AND due_at <= ? ORDER BY due_at, session LIMIT ?",
            (_t(now), limit),
        ).fetchall()
        return [
            Seen(
                session=str(r[0]),
                account=str(r[1]),
                event=str(r[2]),
                paid_at=datetime.fromisoformat(str(r[3])),
                due_at=datetime.fromisoformat(str(r[4])),
            )
            for r in rows
        ]

    def next_due(self) -> datetime | None:
        """When the next unsettled purchase falls due."""
        row = self._db.execute(
            "SELECT MIN(due_at) FROM watch_purchase WHERE outcome IS NULL"
        ).fetchone()
        return datetime.fromisoformat(str(row[0])) if row and row[0] else None

    def settle(self, sessions: Sequence[str], *, outcome: str, at: datetime) -> None:
        """Stop following these purchases, recording why."""
        self._db.executemany(
            "UPDATE watch_purchase SET outcome = ?, settled_at = ? WHERE session = ?"
            " AND outcome IS NULL",
            [(outcome, _t(at), s) for s in sessions],
        )

    def alerted_since(self, since: datetime) -> int:
        """Purchases alerted without a pass, paid at or after `since`."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM watch_purchase WHERE outcome = ? AND paid_at >= ?",
            (ALERTED, _t(since)),
        ).fetchone()
        return int(row[0]) if row else 0

    def outcomes(self) -> dict[str, str | None]:
        """Every followed purchase's outcome (None: still followed), for tests and benchmarks."""
        rows = self._db.execute("SELECT session, outcome FROM watch_purchase").fetchall()
        return {str(r[0]): (str(r[1]) if r[1] is not None else None) for r in rows}
