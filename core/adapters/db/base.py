"""The small dialect layer under passbot's state: one `Database` interface over SQLite (a file,
the embedded default) and PostgreSQL (a pool of psycopg connections, for replicas).

SQL is written once with `?` placeholders and the syntax both engines share (`INSERT … ON
CONFLICT`, `RETURNING`, `CASE`); the PostgreSQL side turns `?` into `%s`. What differs — the
schema's types and triggers, and how a transaction takes its lock — lives in the two backends
and in the numbered migrations (`migrations.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

Params = Sequence[Any]
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """What a statement gave back: its rows (a query, or `RETURNING`) and how many it changed."""

    rows: list[Row] = field(default_factory=list)
    rowcount: int = 0

    def one(self) -> Row | None:
        """The first row, if any."""
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class Tx(Protocol):
    """Statements inside one transaction."""

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement."""
        ...

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each row of parameters."""
        ...


class Database(Protocol):
    """passbot's state: a SQLite file or a PostgreSQL database."""

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        ...

    @property
    def name(self) -> str:
        """What to call the database in a message (a path, or a URL without its password)."""
        ...

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement on its own (committed at once)."""
        ...

    def transaction(self, lock: str | None = None) -> AbstractContextManager[Tx]:
        """A write transaction, committed when the block ends (rolled back if it raises).

        `lock` names what the transaction decides about (a claim's key): concurrent
        transactions with the same lock run one after another, across processes. SQLite takes
        its one write lock at BEGIN IMMEDIATE; PostgreSQL takes an advisory lock on the name.
        """
        ...

    def close(self) -> None:
        """Close every connection."""
        ...
