"""Fixtures for every test: passbot's database on both backends.

`db_url` parametrises a test over SQLite (a file in the test's folder) and PostgreSQL (a fresh
schema on a real server that the session starts itself: initdb and pg_ctl into a temporary
folder on a free loopback port, `sandbox/postgres.py`). Without PostgreSQL's binaries the
PostgreSQL cases are skipped, saying why, except in CI (CI=true), where that is a failure: CI
must test both backends (`.ci/run` installs the server when it is missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.postgres import LocalPostgres, PostgresUnavailableError, start_postgres

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server for the whole session, stopped and removed at its end."""
    try:
        server = start_postgres()
    except PostgresUnavailableError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL, and it could not be started: {err}")
        pytest.skip(f"PostgreSQL tests skipped: {err}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PASSBOT_DB for a fresh, empty database: a SQLite path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "passbot.db")
    server: LocalPostgres = request.getfixturevalue("postgres")
    return server.create_schema()
