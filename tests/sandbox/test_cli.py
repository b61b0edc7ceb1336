"""``python -m sandbox`` (what ``passbot sandbox`` runs): settings on stdout, dump on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.sandbox.conftest import TINY_WORLD

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("entry", "stop"),
    [
        (["sandbox"], "SIGTERM"),
        (["sandbox"], "Ctrl-C"),
        (["bot", "sandbox"], "SIGTERM"),  # `passbot sandbox`
    ],
)
def test_command_line(tmp_path: Path, entry: list[str], stop: str) -> None:
    world_file = tmp_path / "world.json"
    world_file.write_text(json.dumps(TINY_WORLD), encoding="utf-8")
    dump_file = tmp_path / "out.json"
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            *entry,
            "--world",
            str(world_file),
            "--dump-world",
            str(dump_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("SANDBOX_URL="):
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
        lines.append(line.rstrip("\n"))
    settings = dict(line.split("=", 1) for line in lines)
    assert next(iter(settings)) == "SLACK_BOT_TOKEN"
    answer = httpx.get(
        f"{settings['STRIPE_API_BASE']}/v1/events",
        headers={"Authorization": f"Bearer {settings['STRIPE_API_KEY']}"},
    )
    assert answer.status_code == 200
    if stop == "SIGTERM":
        process.send_signal(signal.SIGTERM)
    else:  # the terminal sends SIGINT to the whole foreground process group
        os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out == ""
    dumped = json.loads(dump_file.read_text(encoding="utf-8"))
    assert dumped["requests"]["stripe"] == {"GET /v1/events": 1}
    assert dumped["sanity"]["documents"] == TINY_WORLD["sanity"]["documents"]


def test_command_line_bad_world(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "sandbox", "--world", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not JSON" in result.stderr
