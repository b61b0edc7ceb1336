"""A real PostgreSQL server for tests and benchmarks, started in a temporary folder on a free
loopback port and removed afterwards: `initdb` and `pg_ctl` from the machine's PostgreSQL
(`pg_config --bindir`, or /usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` user (`runuser`), owning the folder.

    with local_postgres() as server:
        url = server.create_database("t1")   # postgresql://postgres@127.0.0.1:PORT/t1
        url = server.create_schema()          # …/postgres?options=-csearch_path%3Dpassbot_2

It is tuned for throwaway data (no fsync), trusts loopback logins and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

#: Where Debian installs each major version's server binaries.
DEBIAN_ROOT = Path("/usr/lib/postgresql")


class PostgresUnavailableError(RuntimeError):
    """The server binaries are missing, or the server would not start (the reason is said)."""


def find_bindir() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, newest version first; None if not installed."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(  # noqa: S603 - the machine's pg_config, no shell
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))

    def major(path: Path) -> int:
        name = path.parent.name
        return int(name) if name.isdigit() else 0

    candidates += sorted(DEBIAN_ROOT.glob("*/bin"), key=major, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalPostgres:
    """A running server: `url(dbname)` connects to it as the `postgres` superuser."""

    root: Path
    port: int
    bindir: Path
    prefix: tuple[str, ...]
    _databases: int = 0

    def url(self, dbname: str = "postgres") -> str:
        """A connection URL for one of its databases."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its URL."""
        self._databases += 1
        name = name or f"passbot_{self._databases}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name}")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a checked name, not input
        return self.url(name)

    def create_schema(self, name: str | None = None) -> str:
        """A new, empty schema in the `postgres` database (instant, where a database takes half
        a second); returns a URL whose connections use it (`search_path`)."""
        self._databases += 1
        name = name or f"passbot_{self._databases}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain schema name: {name}")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')  # a checked name, not input
        return f"{self.url()}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self._pg_ctl("stop", "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args]
        return subprocess.run(  # noqa: S603 - the server's own pg_ctl, no shell
            command, cwd=self.root, capture_output=True, text=True, timeout=60, check=False
        )


def start_postgres(bindir: Path | None = None) -> LocalPostgres:
    """initdb into a new temporary folder and start the server on a free loopback port.

    Raises:
        PostgresUnavailableError: no binaries, or initdb or the start failed (with its output).
    """
    bindir = bindir or find_bindir()
    if bindir is None:
        raise PostgresUnavailableError(
            "PostgreSQL's server is not installed (no initdb: apt-get install postgresql)"
        )
    root = Path(tempfile.mkdtemp(prefix="passbot-pg-"))
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # the server refuses to run as root
        prefix = ("runuser", "-u", "postgres", "--")
        shutil.chown(root, "postgres", "postgres")
    server = LocalPostgres(root, 0, bindir, prefix)
    try:
        init = subprocess.run(  # noqa: S603 - the server's own initdb, no shell
            [*prefix, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
            cwd=root, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailableError(f"initdb failed: {(init.stderr or init.stdout).strip()}")
        for _ in range(3):  # a free port may be taken between the probe and the start
            server.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {server.port} "
                f"-c unix_socket_directories={root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=300"
            )
            started = server._pg_ctl(
                "-l", str(root / "server.log"), "-o", options, "-w", "-t", "60", "start"
            )
            if started.returncode == 0:
                return server
        log = (root / "server.log").read_text(errors="replace")[-2000:]
        raise PostgresUnavailableError(f"pg_ctl start failed: {started.stderr.strip()} {log}")
    except (OSError, subprocess.SubprocessError) as err:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailableError(f"cannot start PostgreSQL: {err}") from err
    except PostgresUnavailableError:
        shutil.rmtree(root, ignore_errors=True)
        raise


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    """A server for the block's duration."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
