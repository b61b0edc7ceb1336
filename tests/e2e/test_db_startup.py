"""A bad PASSBOT_DB stops the command line before it does anything: one line on stderr, exit 2,
no traceback, nothing written — a directory, a file that is not SQLite, a corrupt one, a place
that cannot be written, a bad URL. An unreachable PostgreSQL is exit 3, naming the database
without its password. Run as a person runs it: `passbot check --sandbox WORLD` in a child
process, PASSBOT_DB in its environment."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.adapters.store import open_store

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "sandbox" / "tiny-world.json"
RELEASE0 = ROOT / "tests" / "adapters" / "fixtures" / "passbot-release0.db"
PASSWORD = "s3cret-Pa55word"


def passbot(db: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`passbot ARGS` (default: check --sandbox the tiny world) with PASSBOT_DB=db."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PASSBOT_", "SLACK_"))}
    command = [sys.executable, "-m", "bot", *(args or ("check", "--sandbox", str(TINY)))]
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=cwd, env={**env, "PASSBOT_DB": db}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a digest of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _directory(tmp: Path) -> str:
    (tmp / "state").mkdir()
    return str(tmp / "state")


def _text_file(tmp: Path) -> str:
    (tmp / "notes.txt").write_text("these are my notes, not a database\n" * 50)
    return str(tmp / "notes.txt")


def _corrupt(tmp: Path) -> str:
    damaged = bytearray(RELEASE0.read_bytes())  # a real passbot file, its pages overwritten
    damaged[8192:24576] = b"\xff" * 16384
    (tmp / "passbot.db").write_bytes(bytes(damaged))
    return str(tmp / "passbot.db")


def _truncated_header(tmp: Path) -> str:
    (tmp / "passbot.db").write_bytes(RELEASE0.read_bytes()[:50])
    return str(tmp / "passbot.db")


def _parent_is_a_file(tmp: Path) -> str:
    (tmp / "plain").write_text("a file where a folder should be")
    return str(tmp / "plain" / "passbot.db")


def _unwritable(tmp: Path) -> str:
    return "/proc/passbot/passbot.db"  # not even root can create anything under /proc


def _unwritable_file(tmp: Path) -> str:
    return "/proc/passbot.db"


BAD: dict[str, tuple[Callable[[Path], str], str]] = {
    "a directory": (_directory, "is a directory"),
    "a text file": (_text_file, "is not a SQLite database"),
    "a corrupt database": (_corrupt, "is corrupt"),
    "a cut-off database": (_truncated_header, "is corrupt"),
    "a folder that is a file": (_parent_is_a_file, "is not a folder"),
    "an unwritable folder": (_unwritable, "cannot create its folder"),
    "an unwritable file": (_unwritable_file, "cannot be opened"),
    "a bad URL": (lambda _tmp: f"postgresql://passbot:{PASSWORD}@[::::/x", "not a valid"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_passbot_db_is_one_line_exit_two_and_nothing_written(case, tmp_path):
    make, says = BAD[case]
    db = make(tmp_path)
    before = snapshot(tmp_path)
    result = passbot(db, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("passbot: ")
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr
    assert snapshot(tmp_path) == before


def test_the_audit_command_refuses_a_bad_passbot_db_the_same_way(tmp_path):
    result = passbot(_text_file(tmp_path), tmp_path, "audit")
    assert (result.returncode, result.stdout) == (2, "")
    assert "is not a SQLite database" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_postgresql_is_exit_three_named_without_its_password(tmp_path):
    url = f"postgresql://passbot:{PASSWORD}@127.0.0.1:1/passbot"  # nothing listens on port 1
    result = passbot(url, tmp_path)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "postgresql://passbot@127.0.0.1:1/passbot" in result.stderr
    assert PASSWORD not in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == {}


def test_a_missing_postgresql_database_is_exit_three_named(postgres, tmp_path):
    url = postgres.url("no_such_db").replace("postgres@", f"postgres:{PASSWORD}@")
    result = passbot(url, tmp_path)
    assert result.returncode == 3, result.stderr
    assert f"postgresql://postgres@127.0.0.1:{postgres.port}/no_such_db" in result.stderr
    assert 'database "no_such_db" does not exist' in result.stderr
    assert PASSWORD not in result.stderr


def test_a_good_passbot_db_on_either_backend_runs_the_check(db_url, tmp_path):
    result = passbot(db_url, tmp_path)
    assert result.returncode == 1, result.stderr  # the tiny world has a missing pass
    assert "missing_pass" in result.stdout
    store = open_store(db_url)  # and the database was created and migrated
    assert store.recent() == []
    store.close()


def test_a_release0_file_given_to_the_command_line_is_upgraded_and_kept(tmp_path):
    db = tmp_path / "passbot.db"
    shutil.copy(RELEASE0, db)
    result = passbot(str(db), tmp_path, "audit", "--json")
    assert result.returncode == 0, result.stderr
    assert [e["session"] for e in json.loads(result.stdout)][:3] == [
        "cs_test_release0_2", "cs_test_release0_1", "cs_test_release0_0",
    ]  # fmt: skip
