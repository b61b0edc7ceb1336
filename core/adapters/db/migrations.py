"""The schema of passbot's state, versioned: numbered migrations for each dialect, applied in
order on open, each recorded in `schema_version` (one row per migration applied).

Migration 1 is the schema passbot wrote before it had versions. On SQLite it is written with
`IF NOT EXISTS`, so a file written by that release (tables, no `schema_version`) upgrades in
place and keeps its rows. Add a migration by appending the next number to both dialects; never
edit one that was released.

The audit log and the press log are append-only in the database itself: triggers refuse
UPDATE and DELETE (and, on PostgreSQL, TRUNCATE).
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.adapters.db.base import Database
from core.errors import UsageError

_SQLITE_1 = (
    """CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    actor_email TEXT, source TEXT NOT NULL, action TEXT NOT NULL, session TEXT,
    documents TEXT NOT NULL, transaction_id TEXT, finding_kinds TEXT NOT NULL,
    changes TEXT NOT NULL)""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY, session TEXT NOT NULL, alternative TEXT, plan_hash TEXT NOT NULL,
    requested_by TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, token TEXT NOT NULL, proposal TEXT NOT NULL, holder TEXT NOT NULL,
    state TEXT NOT NULL, at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS presses (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user_id TEXT NOT NULL,
    user_email TEXT, outcome TEXT NOT NULL, proposal TEXT, session TEXT)""",
    """CREATE TRIGGER IF NOT EXISTS presses_no_update BEFORE UPDATE ON presses
    BEGIN SELECT RAISE(ABORT, 'the press log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS presses_no_delete BEFORE DELETE ON presses
    BEGIN SELECT RAISE(ABORT, 'the press log is append-only'); END""",
    """CREATE TABLE IF NOT EXISTS finding_history (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, severity TEXT NOT NULL, session TEXT,
    account TEXT, tenant TEXT, summary TEXT NOT NULL, occurred_at TEXT, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, seen_count INTEGER NOT NULL DEFAULT 1, fixed_at TEXT,
    fixed_by TEXT, reopened INTEGER NOT NULL DEFAULT 0, dismissed_at TEXT, dismissed_by TEXT,
    dismiss_reason TEXT, aged_out_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS job_runs (
    job TEXT NOT NULL, period TEXT NOT NULL, status TEXT NOT NULL, claimed_at TEXT NOT NULL,
    finished_at TEXT, owner TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job, period))""",
    """CREATE TABLE IF NOT EXISTS customer_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, subject TEXT NOT NULL,
    source TEXT NOT NULL)""",
)

# Instants are ISO-8601 text in UTC on both engines (they sort as time does); on PostgreSQL
# keys and instants compare bytewise (COLLATE "C"), as SQLite compares them, whatever the
# database's locale.
_C = 'TEXT COLLATE "C"'
_PG_1 = (
    f"""CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at {_C} NOT NULL, actor TEXT NOT NULL,
    actor_email TEXT, source TEXT NOT NULL, action TEXT NOT NULL, session TEXT,
    documents TEXT NOT NULL, transaction_id TEXT, finding_kinds TEXT NOT NULL,
    changes TEXT NOT NULL)""",
    """CREATE FUNCTION passbot_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the % log is append-only', TG_ARGV[0]; END $$""",
    """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION passbot_append_only('audit')""",
    """CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION passbot_append_only('audit')""",
    f"""CREATE TABLE proposals (
    id TEXT PRIMARY KEY, session TEXT NOT NULL, alternative TEXT, plan_hash TEXT NOT NULL,
    requested_by TEXT NOT NULL, created_at {_C} NOT NULL)""",
    f"""CREATE TABLE claims (
    key TEXT PRIMARY KEY, token TEXT NOT NULL, proposal TEXT NOT NULL, holder TEXT NOT NULL,
    state TEXT NOT NULL, at {_C} NOT NULL)""",
    f"""CREATE TABLE presses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at {_C} NOT NULL,
    user_id TEXT NOT NULL, user_email TEXT, outcome TEXT NOT NULL, proposal TEXT, session TEXT)""",
    """CREATE TRIGGER presses_append_only BEFORE UPDATE OR DELETE ON presses
    FOR EACH ROW EXECUTE FUNCTION passbot_append_only('press')""",
    """CREATE TRIGGER presses_no_truncate BEFORE TRUNCATE ON presses
    FOR EACH STATEMENT EXECUTE FUNCTION passbot_append_only('press')""",
    f"""CREATE TABLE finding_history (
    key {_C} PRIMARY KEY, kind TEXT NOT NULL, severity TEXT NOT NULL, session TEXT,
    account TEXT, tenant TEXT, summary TEXT NOT NULL, occurred_at {_C},
    first_seen {_C} NOT NULL, last_seen {_C} NOT NULL, seen_count INTEGER NOT NULL DEFAULT 1,
    fixed_at {_C}, fixed_by TEXT, reopened INTEGER NOT NULL DEFAULT 0, dismissed_at {_C},
    dismissed_by TEXT, dismiss_reason TEXT, aged_out_at {_C})""",
    f"""CREATE TABLE job_runs (
    job {_C} NOT NULL, period {_C} NOT NULL, status TEXT NOT NULL, claimed_at {_C} NOT NULL,
    finished_at {_C}, owner TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job, period))""",
    f"""CREATE TABLE customer_reports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at {_C} NOT NULL,
    subject TEXT NOT NULL, source TEXT NOT NULL)""",
)

# The metrics read findings and reports by time, the audit by purchase: index them.
_BOTH_2 = (
    "CREATE INDEX IF NOT EXISTS finding_history_last_seen ON finding_history (last_seen)",
    "CREATE INDEX IF NOT EXISTS customer_reports_at ON customer_reports (at)",
    "CREATE INDEX IF NOT EXISTS audit_session ON audit (session)",
)

# The watch (issue 13): a cursor per Stripe account, and the purchases followed until their grace
# period ends (core/adapters/watch_state.py).
_SQLITE_3 = (
    """CREATE TABLE IF NOT EXISTS watch_cursor (
    account TEXT PRIMARY KEY, event_id TEXT NOT NULL, event_created INTEGER NOT NULL,
    updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS watch_purchase (
    session TEXT PRIMARY KEY, account TEXT NOT NULL, event_id TEXT NOT NULL,
    paid_at TEXT NOT NULL, due_at TEXT NOT NULL, first_seen TEXT NOT NULL, outcome TEXT,
    settled_at TEXT)""",
    "CREATE INDEX IF NOT EXISTS watch_purchase_due ON watch_purchase (due_at)"
    " WHERE outcome IS NULL",
)
_PG_3 = (
    f"""CREATE TABLE watch_cursor (
    account {_C} PRIMARY KEY, event_id TEXT NOT NULL, event_created BIGINT NOT NULL,
    updated_at {_C} NOT NULL)""",
    f"""CREATE TABLE watch_purchase (
    session {_C} PRIMARY KEY, account TEXT NOT NULL, event_id TEXT NOT NULL,
    paid_at {_C} NOT NULL, due_at {_C} NOT NULL, first_seen {_C} NOT NULL, outcome TEXT,
    settled_at {_C})""",
    "CREATE INDEX watch_purchase_due ON watch_purchase (due_at) WHERE outcome IS NULL",
)

# Slack cards shared by replicas (issue 11): each card's latest blocks (JSON) and the lease of the
# press updating it (core/adapters/cards.py).
_SQLITE_4 = (
    """CREATE TABLE IF NOT EXISTS card_state (
    channel TEXT NOT NULL, ts TEXT NOT NULL, blocks TEXT, holder TEXT, locked_until REAL,
    updated_at TEXT NOT NULL, PRIMARY KEY (channel, ts))""",
    "CREATE INDEX IF NOT EXISTS card_state_updated ON card_state (updated_at)",
)
_PG_4 = (
    f"""CREATE TABLE card_state (
    channel {_C} NOT NULL, ts {_C} NOT NULL, blocks TEXT, holder TEXT,
    locked_until DOUBLE PRECISION, updated_at {_C} NOT NULL, PRIMARY KEY (channel, ts))""",
    "CREATE INDEX card_state_updated ON card_state (updated_at)",
)

#: version → (what it does, SQLite statements, PostgreSQL statements)
MIGRATIONS: dict[int, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    1: ("audit, approvals, finding history, runs, reports", _SQLITE_1, _PG_1),
    2: ("indexes for the metrics and the audit by purchase", _BOTH_2, _BOTH_2),
    3: ("the watch: cursors per Stripe account, purchases followed", _SQLITE_3, _PG_3),
    4: ("Slack cards shared by replicas: latest blocks, one press at a time", _SQLITE_4, _PG_4),
}
LATEST = max(MIGRATIONS)

_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
    " applied_at TEXT NOT NULL, description TEXT NOT NULL)"
)


def migrate(db: Database, *, target: int = LATEST) -> int:
    """Bring the schema up to `target` (the latest by default) in one transaction (concurrent
    openers take turns); returns the version it found.

    Raises:
        UsageError: the database was written by a newer passbot (its version is above ours).
    """
    with db.transaction(lock="passbot:schema") as tx:
        tx.execute(_VERSIONS)
        row = tx.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").one()
        found = int(row[0]) if row else 0
        if found > LATEST:
            raise UsageError(
                f"PASSBOT_DB {db.name} has schema version {found}, newer than this passbot's "
                f"{LATEST}: upgrade passbot"
            )
        for version in range(found + 1, target + 1):
            description, sqlite, postgresql = MIGRATIONS[version]
            for statement in sqlite if db.dialect == "sqlite" else postgresql:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                (version, datetime.now(tz=UTC).isoformat(), description),
            )
    return found


def schema_version(db: Database) -> int:
    """The version the database is at."""
    row = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").one()
    return int(row[0]) if row else 0
