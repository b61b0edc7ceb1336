"""The audit log is append-only (the database refuses changes) and survives a restart, on SQLite
and on PostgreSQL; concurrent writers lose no row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from core.adapters.store import open_store
from core.ports import AuditEntry
from tests.db import REFUSED, raw


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        at=datetime(2026, 11, 28, 9, n % 60, tzinfo=UTC),
        actor="U0APPROVER",
        actor_email="ada@dance.example",
        action="create_subscription",
        session=f"cs_test_{n:024d}",
        documents=(f"subscription-cs_test_{n:024d}",),
        transaction_id=f"passbot-{n}",
        changes={"subscription-x": {"created": {"type": "single"}}},
        source="cli",
        finding_kinds=("missing_pass",),
    )


def test_entries_come_back_newest_first_after_a_restart(db_url):
    store = open_store(db_url)
    ids = [store.record(_entry(n)) for n in range(3)]
    store.close()
    reopened = open_store(db_url)
    entries = reopened.recent(2)
    reopened.close()
    assert [e.id for e in entries] == [ids[2], ids[1]]
    assert entries[0].actor_email == "ada@dance.example"
    assert entries[0].changes == {"subscription-x": {"created": {"type": "single"}}}
    assert entries[0].finding_kinds == ("missing_pass",)
    assert entries[0].at == datetime(2026, 11, 28, 9, 2, tzinfo=UTC)


def test_a_sqlite_path_gets_its_folder(tmp_path):
    store = open_store(str(tmp_path / "state" / "passbot.db"))
    store.record(_entry(1))
    store.close()
    assert (tmp_path / "state" / "passbot.db").is_file()


@pytest.mark.parametrize("statement", ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"])
def test_rows_can_never_be_changed_or_removed(db_url, statement):
    store = open_store(db_url)
    store.record(_entry(1))
    store.close()
    with pytest.raises(REFUSED, match="append-only"):
        raw(db_url, statement)
    assert raw(db_url, "SELECT actor FROM audit") == [("U0APPROVER",)]


@pytest.mark.parametrize("table", ["audit", "presses"])
def test_postgresql_refuses_truncate_too(postgres, table):
    url = postgres.create_schema()
    open_store(url).close()
    with pytest.raises(REFUSED, match="append-only"):
        raw(url, f"TRUNCATE {table}")


def test_concurrent_writers_in_separate_connections_lose_no_row(db_url):
    open_store(db_url).close()
    ids: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        own = open_store(db_url)  # a replica of its own
        try:
            written = [own.record(_entry(n * 100 + i)) for i in range(25)]
        finally:
            own.close()
        with lock:
            ids.extend(written)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 200
    store = open_store(db_url)
    sessions = {e.session for e in store.recent(1000)}
    store.close()
    assert len(sessions) == 200
