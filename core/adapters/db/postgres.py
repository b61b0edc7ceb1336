"""passbot's state in PostgreSQL (PASSBOT_DB=postgresql://…), shared by replicas: a pool of
psycopg 3 connections in autocommit, explicit transactions where several statements decide one
thing, and an advisory lock per decision (a claim's key) so that replicas take turns.

An unreachable server is an `UpstreamError` naming the database by its URL without the password
(exit 3); a URL that cannot be parsed is a `UsageError` (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from core.adapters.db.base import Params, Result, Tx
from core.errors import UpstreamError, UsageError

#: Seconds to wait for the server (connecting, or a free connection of the pool).
CONNECT_TIMEOUT = 5
#: Connections per process: the app's requests and the scheduler share them.
POOL_SIZE = 8


def redact(url: str) -> str:
    """`postgresql://user@host:port/dbname`: the URL as safe to print (never the password)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def _sql(sql: str) -> str:
    return sql.replace("?", "%s")


class _PgTx:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> Result:
        if not params:  # a statement without parameters is sent as is (`%` in a DDL body)
            cursor = self._conn.execute(sql.encode())
        else:
            cursor = self._conn.execute(_sql(sql), tuple(params))
        rows = cursor.fetchall() if cursor.description else []
        return Result(rows, cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(_sql(sql), [tuple(r) for r in rows])


class PostgresDatabase:
    """A PostgreSQL database behind the `Database` interface."""

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        """Connect (once, to fail early and clearly), then open the pool.

        Raises:
            UsageError: the URL cannot be parsed.
            UpstreamError: the server cannot be reached or refused the login.
        """
        try:
            parts = conninfo_to_dict(url)
        except psycopg.Error:
            raise UsageError("PASSBOT_DB is not a valid postgresql:// URL") from None
        self._name = redact(url)
        self._secret = str(parts.get("password") or "")
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True).close()
        except psycopg.Error as err:
            raise self._failed(err) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            check=ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT * 2,
            open=False,
            name="passbot",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
        except PoolTimeout as err:
            self._pool.close()
            raise self._failed(err) from None

    @property
    def name(self) -> str:
        """The URL without its password."""
        return self._name

    def _failed(self, err: BaseException) -> UpstreamError:
        text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        if self._secret:
            text = text.replace(self._secret, "***")
        return UpstreamError("database", f"cannot use {self._name}: {text or type(err).__name__}")

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement (autocommit)."""
        with self._connection() as conn:
            return _PgTx(conn).execute(sql, params)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Tx]:
        """A transaction; with `lock`, first a transaction-scoped advisory lock on its name."""
        with self._connection() as conn, conn.transaction():
            if lock is not None:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            yield _PgTx(conn)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as err:
            raise self._failed(err) from err

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
