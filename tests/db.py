"""Reaching passbot's database past its adapters, as an operator with a SQL client would: to
show what the database itself refuses, and what it holds."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from core.adapters.db import is_postgres

#: What either driver raises when the database refuses a statement.
REFUSED = (sqlite3.DatabaseError, psycopg.Error)


def raw(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on its own connection, committed; the driver's error if refused."""
    if is_postgres(url):
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(statement)  # a test's own SQL
            return cursor.fetchall() if cursor.description else []
    db = sqlite3.connect(url)
    try:
        rows = db.execute(statement).fetchall()
        db.commit()
        return rows
    finally:
        db.close()


def dump(url: str, tables: tuple[str, ...]) -> str:
    """Every row of these tables, as text."""
    return "\n".join(repr(row) for table in tables for row in raw(url, f"SELECT * FROM {table}"))  # noqa: S608
