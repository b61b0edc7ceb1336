"""The watch's memory in passbot's database (PASSBOT_DB: SQLite, or PostgreSQL for replicas;
migration 3 in core/adapters/db/migrations.py): a cursor per Stripe account, and the purchases
followed until their grace period ends.

    watch_cursor(account PRIMARY KEY, event_id, event_created, updated_at)
    watch_purchase(session PRIMARY KEY, account, event_id, paid_at, due_at, first_seen,
                   outcome NULL, settled_at NULL)      -- index on due_at WHERE outcome IS NULL

Replicas share it: a cursor only moves forward (`… WHERE excluded.event_created >= …`), a
purchase is followed once (`ON CONFLICT DO NOTHING`), settled once (`WHERE outcome IS NULL`).
Who posts a purchase is decided by the run ledger's claim (core/adapters/history.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.adapters.db import Database, open_database
from core.domain.watch import Seen

#: The outcome of a purchase whose grace period ended without a pass and that was posted.
ALERTED = "alerted"


def _t(value: datetime) -> str:
    """Instants as UTC ISO text (sorts as time does)."""
    return value.astimezone(UTC).isoformat()


class SqlWatchState:
    """The `WatchState` port in passbot's database."""

    def __init__(self, db: Database) -> None:
        """Args:
        db: PASSBOT_DB, opened and migrated; this state closes it.
        """
        self._db = db

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def cursor(self, account: str) -> tuple[str, int] | None:
        """The last event seen on the account."""
        row = self._db.execute(
            "SELECT event_id, event_created FROM watch_cursor WHERE account = ?", (account,)
        ).one()
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
        new = 0
        with self._db.transaction() as tx:
            for p in purchases:
                new += tx.execute(
                    "INSERT INTO watch_purchase (session, account, event_id, paid_at, due_at,"
                    " first_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session) DO NOTHING",
                    (p.session, p.account, p.event, _t(p.paid_at), _t(p.due_at), _t(at)),
                ).rowcount
        return new

    def due(self, now: datetime, *, limit: int = 100) -> list[Seen]:
        """Unsettled purchases whose grace period has ended, oldest first."""
        rows = self._db.execute(
            "SELECT session, account, event_id, paid_at, due_at FROM watch_purchase"
            " WHERE outcome IS NULL AND due_at <= ? ORDER BY due_at, session LIMIT ?",
            (_t(now), limit),
        )
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
        row = self._db.execute("SELECT MIN(due_at) FROM watch_purchase WHERE outcome IS NULL").one()
        return datetime.fromisoformat(str(row[0])) if row and row[0] else None

    def settle(self, sessions: Sequence[str], *, outcome: str, at: datetime) -> None:
        """Stop following these purchases, recording why."""
        if not sessions:
            return
        with self._db.transaction() as tx:
            tx.executemany(
                "UPDATE watch_purchase SET outcome = ?, settled_at = ? WHERE session = ?"
                " AND outcome IS NULL",
                [(outcome, _t(at), s) for s in sessions],
            )

    def alerted_since(self, since: datetime) -> int:
        """Purchases alerted without a pass, paid at or after `since`."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM watch_purchase WHERE outcome = ? AND paid_at >= ?",
            (ALERTED, _t(since)),
        ).one()
        return int(row[0]) if row else 0

    def outcomes(self) -> dict[str, str | None]:
        """Every followed purchase's outcome (None: still followed), for tests and benchmarks."""
        rows = self._db.execute("SELECT session, outcome FROM watch_purchase")
        return {str(r[0]): (str(r[1]) if r[1] is not None else None) for r in rows}


def open_watch_state(url: str) -> SqlWatchState:
    """The watch's state in PASSBOT_DB: a SQLite path or a `postgresql://` URL."""
    return SqlWatchState(open_database(url))
