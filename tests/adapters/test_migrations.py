"""The schema is versioned on both backends: a database written by the release before versions
upgrades in place and keeps its rows; a partly migrated one is brought up to date; one from a
newer passbot is refused; replicas opening an empty database at once migrate it once."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.adapters.db import LATEST, SqliteDatabase, open_database, schema_version
from core.adapters.db.migrations import migrate
from core.adapters.history import open_history
from core.adapters.store import open_store
from core.errors import UsageError
from core.ports import AuditEntry
from tests.db import REFUSED, raw

#: Written by the release before schema versions (see fixtures/make_release0_db.py).
RELEASE0 = Path(__file__).parent / "fixtures" / "passbot-release0.db"
NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)


def _entry(session: str) -> AuditEntry:
    return AuditEntry(
        at=NOW, actor="U1", action="create_subscription", session=session,
        documents=(f"subscription-{session}",), transaction_id="t", changes={},
    )  # fmt: skip


def test_a_database_of_the_release_before_versions_upgrades_in_place(tmp_path):
    path = str(tmp_path / "passbot.db")
    shutil.copy(RELEASE0, path)
    assert raw(path, "SELECT name FROM sqlite_master WHERE name = 'schema_version'") == []
    store = open_store(path)
    history = open_history(path)
    versions = raw(path, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, LATEST + 1)]
    entries = store.recent()
    assert [e.session for e in entries] == [f"cs_test_release0_{n}" for n in (2, 1, 0)]
    assert entries[0].actor_email == "ada@dance.example"
    assert entries[0].changes == {
        "subscription-cs_test_release0_2": {"created": {"type": "single"}}
    }
    proposal = store.proposal("prop0")
    assert proposal is not None
    assert proposal.session == "cs_test_release0_0"
    again = store.claim("cs_test_release0_0", proposal="prop0", holder="U2", token="t2",
                        now=NOW + timedelta(minutes=1), lease=timedelta(minutes=5))  # fmt: skip
    assert (again.won, again.state, again.holder) == (False, "done", "U0APPROVER")
    assert [p.outcome for p in store.presses()] == ["applied"]
    assert history.runs() == [("early_warning", "2026-11-28T09:00", "claimed", 1),
                              ("summary", "2026-11-28", "done", 1)]  # fmt: skip
    assert not history.claim_run("summary", "2026-11-28", at=NOW)
    assert history.dismissed_keys() == {"missing_pass:cs_test_r0_9"}
    assert history.reports(since=NOW - timedelta(days=1)) == [NOW]
    assert store.record(_entry("cs_new")) == 4  # ids go on
    store.close()
    history.close()
    with pytest.raises(REFUSED, match="append-only"):
        raw(path, "DELETE FROM audit")
    indexes = raw(
        path, "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'audit_session'"
    )
    assert indexes == [("audit_session",)]


def test_the_release_fixture_itself_has_no_version(tmp_path):
    """The fixture stays what that release wrote (the test above would prove nothing else)."""
    copy = shutil.copy(RELEASE0, tmp_path / "release0.db")
    names = {r[0] for r in raw(str(copy), "SELECT name FROM sqlite_master")}
    assert "audit" in names
    assert "schema_version" not in names


def test_a_database_at_an_older_version_is_brought_up_to_date(db_url):
    if db_url.startswith("postgresql"):
        from core.adapters.db.postgres import PostgresDatabase

        first = PostgresDatabase(db_url)
    else:
        first = SqliteDatabase(db_url)
    assert migrate(first, target=1) == 0
    first.close()
    assert raw(db_url, "SELECT version FROM schema_version") == [(1,)]
    store = open_store(db_url)  # version 1 is enough to write…
    store.record(_entry("cs_1"))
    store.close()
    store = open_store(db_url)  # …and opening again migrates the rest
    assert [e.session for e in store.recent()] == ["cs_1"]
    assert schema_version(store.database) == LATEST
    store.close()
    versions = raw(db_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, LATEST + 1)]


def test_a_database_of_a_newer_passbot_is_refused_untouched(db_url):
    open_store(db_url).close()
    raw(db_url, "INSERT INTO schema_version (version, applied_at, description)"
                " VALUES (99, '2030-01-01', 'from the future')")  # fmt: skip
    with pytest.raises(UsageError, match="schema version 99, newer than this passbot"):
        open_database(db_url)
    assert raw(db_url, "SELECT MAX(version) FROM schema_version") == [(99,)]


def test_replicas_opening_an_empty_database_at_once_migrate_it_once(db_url):
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def replica() -> None:
        try:
            start.wait()
            open_store(db_url).close()
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = raw(db_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, LATEST + 1)]
