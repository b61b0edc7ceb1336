"""passbot's state in one SQLite file (PASSBOT_DB as a path, the embedded default).

Opening checks the file before anything is written: a directory, a file that is not SQLite, a
corrupt one or a place that cannot be written is a `UsageError` naming PASSBOT_DB (exit 2), and
the file is left as it was. One connection, used under a lock (the app calls it from the event
loop and from worker threads); writers in other processes wait up to `BUSY_MS`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.adapters.db.base import Params, Result, Tx
from core.errors import UpstreamError, UsageError

#: How long a statement waits for another process's write lock.
BUSY_MS = 5000

_PLAIN = {
    "file is not a database": "is not a SQLite database",
    "database disk image is malformed": "is corrupt",
    "unable to open database file": "cannot be opened",
    "attempt to write a readonly database": "is not writable",
    "readonly database": "is not writable",
}


def _say(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for known, plain in _PLAIN.items():
        if known in text:
            return f"{plain} ({text})"
    return text


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Params = ()) -> Result:
        cursor = self._db.execute(sql, tuple(params))
        rows = cursor.fetchall() if cursor.description else []
        return Result(rows, cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._db.executemany(sql, [tuple(r) for r in rows])


class SqliteDatabase:
    """A SQLite file (or `:memory:`) behind the `Database` interface."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        """Open the file, creating it (and its folder) if it does not exist.

        Raises:
            UsageError: the path is a directory, not a SQLite file, corrupt, or not writable.
        """
        self.path = str(path)
        self._lock = threading.RLock()
        where = f"PASSBOT_DB {self.path}"
        if self.path != ":memory:":
            file = Path(self.path)
            if file.is_dir():
                raise UsageError(f"{where} is a directory, not a database file")
            if any(p.exists() and not p.is_dir() for p in file.parents):
                raise UsageError(f"{where}: {file.parent} is not a folder")
            if not file.parent.is_dir():
                try:
                    file.parent.mkdir(parents=True, exist_ok=True)
                except OSError as err:
                    raise UsageError(
                        f"{where}: cannot create its folder ({err.strerror})"
                    ) from None
            if file.exists() and not file.is_file():
                raise UsageError(f"{where} is not a regular file")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as err:
            raise UsageError(f"{where} {_say(err)}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            # Read before writing anything: a file that is not SQLite, or a corrupt one, fails
            # here and is left untouched.
            (check,) = self._db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise UsageError(f"{where} is corrupt ({check})")
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as err:
            self._db.close()
            raise UsageError(f"{where} {_say(err)}") from None
        except UsageError:
            self._db.close()
            raise

    @property
    def name(self) -> str:
        """The file's path."""
        return self.path

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement (autocommit)."""
        with self._lock, self._failures():
            return _SqliteTx(self._db).execute(sql, params)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Tx]:
        """BEGIN IMMEDIATE (SQLite's one write lock serialises every writer; `lock` is moot)."""
        del lock
        with self._lock, self._failures():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as err:
            raise UpstreamError("database", f"{self.path} {_say(err)}") from err

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
