"""Running the real `passbot` command line in a child process, with exactly the environment a
test gives it (no inherited settings, no `.env` but the test's own): what an operator runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def environment(settings: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A clean environment: PATH, HOME and the given settings only."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env["PYTHONPATH"] = str(REPO)
    env.update(settings or {})
    env.update(extra)
    return env


@dataclass
class Ran:
    """A finished command: exit status and outputs."""

    code: int
    out: str
    err: str


def run(*args: str, env: Mapping[str, str], cwd: Path, timeout: float = 120) -> Ran:
    """Run `passbot ARGS…` to the end."""
    done = subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "bot", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def start(*args: str, env: Mapping[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start `passbot ARGS…` in the background, its stderr (the log) going to `log`."""
    with log.open("wb") as sink:
        return subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "bot", *args],
            env=dict(env),
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_until_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 90) -> None:
    """Poll `url` (a /readyz) until it answers 200; fails if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} was not ready within {timeout} s")


def one_line(err: str) -> str:
    """The single line a refused start writes; fails on anything more (a traceback, say)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]
