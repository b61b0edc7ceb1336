"""passbot's own state (PASSBOT_DB): a SQLite file by default, or PostgreSQL for replicas."""

from __future__ import annotations

from core.adapters.db.base import Database, Result, Tx
from core.adapters.db.migrations import LATEST, migrate, schema_version
from core.adapters.db.sqlite import SqliteDatabase
from core.errors import UpstreamError, UsageError

__all__ = [
    "LATEST",
    "Database",
    "Result",
    "SqliteDatabase",
    "Tx",
    "is_postgres",
    "open_database",
    "schema_version",
]


def is_postgres(url: str) -> bool:
    """Whether PASSBOT_DB names a PostgreSQL database rather than a SQLite file."""
    return url.startswith(("postgresql://", "postgres://"))


def open_database(url: str) -> Database:
    """PASSBOT_DB opened and migrated to the latest schema.

    Raises:
        UsageError: a bad PASSBOT_DB (not a SQLite file, corrupt, not writable, a bad URL, a
            database from a newer passbot) — nothing was written.
        UpstreamError: PostgreSQL could not be reached (named without its password).
    """
    db: Database
    if is_postgres(url):
        from core.adapters.db.postgres import PostgresDatabase  # psycopg only when it is used

        db = PostgresDatabase(url)
    else:
        db = SqliteDatabase(url)
    try:
        migrate(db)
    except UpstreamError as err:
        db.close()
        if db.dialect == "sqlite":  # a file that cannot be written is a bad setting
            raise UsageError(f"PASSBOT_DB {str(err).removeprefix('Database: ')}") from None
        raise
    except BaseException:
        db.close()
        raise
    return db
