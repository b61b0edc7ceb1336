"""The audit log is append-only and survives a restart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from core.adapters.store import SqliteStore
from core.ports import AuditEntry


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        at=datetime(2026, 11, 28, 9, n, tzinfo=UTC),
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


def test_entries_come_back_newest_first_after_a_restart(tmp_path):
    path = tmp_path / "state" / "passbot.db"
    store = SqliteStore(path)
    ids = [store.record(_entry(n)) for n in range(3)]
    store.close()
    reopened = SqliteStore(path)
    entries = reopened.recent(2)
    reopened.close()
    assert [e.id for e in entries] == [ids[2], ids[1]]
    assert entries[0].actor_email == "ada@dance.example"
    assert entries[0].changes == {"subscription-x": {"created": {"type": "single"}}}
    assert entries[0].finding_kinds == ("missing_pass",)


@pytest.mark.parametrize("statement", ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"])
def test_rows_can_never_be_changed_or_removed(tmp_path, statement):
    store = SqliteStore(tmp_path / "passbot.db")
    store.record(_entry(1))
    store.close()
    raw = sqlite3.connect(tmp_path / "passbot.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute(statement)
    raw.close()
