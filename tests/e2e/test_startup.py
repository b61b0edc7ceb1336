"""A start-up that refuses bad settings, through the real command line in a child process: each
bad setting or argument is one line on stderr and exit 2, with no traceback, and nothing is
written — not PASSBOT_DB, not the dumped world, and nothing in the sandbox (cli-contract.md,
Settings). `serve` asks Slack about its app-level token once and stops if Slack refuses it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.process import REPO, environment, one_line, run
from tests.e2e.slackbot import slack_world

SANDBOX_ONLY = ("SANDBOX_URL",)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`passbot sandbox` in its own process; yields the settings it printed."""
    folder = tmp_path_factory.mktemp("sandbox")
    world = folder / "world.json"
    world.write_text(json.dumps(slack_world()), encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sandbox", "--world", str(world)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("SANDBOX_URL="):
        line = process.stdout.readline()
        assert line, "the sandbox did not start"
        lines.append(line.rstrip("\n"))
    try:
        yield dict(line.split("=", 1) for line in lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def service_settings(sandbox: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sandbox.items() if k not in SANDBOX_ONLY}


def slack_calls(sandbox: dict[str, str]) -> list[str]:
    world = httpx.get(sandbox["SANDBOX_URL"] + "/world", timeout=30).json()
    return [entry["method"] for entry in world["slack"]["log"]]


def requests_seen(sandbox: dict[str, str]) -> dict[str, Any]:
    return dict(httpx.get(sandbox["SANDBOX_URL"] + "/_sandbox/requests", timeout=30).json())


def refused(result: Any) -> str:
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    return one_line(result.err)


# Settings that are malformed, each with a command that must refuse it before doing anything.
BAD_SETTINGS = [
    ({"SANITY_API_HOST": "::::"}, "SANITY_API_HOST", "check"),
    ({"SANITY_API_HOST": "::::"}, "SANITY_API_HOST", "serve"),
    ({"STRIPE_API_BASE": "http://127.0.0.1:99999"}, "STRIPE_API_BASE", "diagnose"),
    ({"PASSBOT_TIMEZONE": "Mars/Olympus_Mons"}, "PASSBOT_TIMEZONE", "health"),
    ({"PASSBOT_TIMEZONE": "../../etc/passwd"}, "PASSBOT_TIMEZONE", "serve"),
    ({"PASSBOT_TIMEZONE": "Mars/Olympus_Mons"}, "PASSBOT_TIMEZONE", "job"),
    ({"PASSBOT_LOOKBACK_DAYS": "99999999"}, "PASSBOT_LOOKBACK_DAYS", "check"),
    ({"PASSBOT_NOW": "yesterday"}, "PASSBOT_NOW", "audit"),
    ({"SLACK_APP_TOKEN": "xoxb-a-bot-token-by-mistake"}, "SLACK_APP_TOKEN", "serve"),
    ({"PASSBOT_LOG_FORMAT": "xml"}, "PASSBOT_LOG_FORMAT", "serve"),
    ({"PASSBOT_HEALTH_PORT": "70000"}, "PASSBOT_HEALTH_PORT", "serve"),
]
ARGS = {"diagnose": ["diagnose", "ola@example.com"], "job": ["job", "summary", "--force"]}


@pytest.mark.parametrize(
    ("bad", "name", "command"), BAD_SETTINGS, ids=[f"{n}-{c}" for _, n, c in BAD_SETTINGS]
)
def test_a_malformed_setting_is_one_line_and_exit_2(
    sandbox: dict[str, str], tmp_path: Path, bad: dict[str, str], name: str, command: str
) -> None:
    db = tmp_path / "passbot.db"
    env = environment(service_settings(sandbox), PASSBOT_DB=str(db), **bad)
    before = requests_seen(sandbox)
    line = refused(run(*ARGS.get(command, [command]), env=env, cwd=tmp_path))
    assert line.startswith(f"passbot: bad setting {name}:"), line
    assert not db.exists()
    assert requests_seen(sandbox) == before  # no service was asked anything


def test_a_secret_in_a_refused_setting_is_not_echoed(tmp_path: Path) -> None:
    env = environment(SLACK_APP_TOKEN="xoxb-secret-value-123")
    line = refused(run("serve", env=env, cwd=tmp_path))
    assert "secret-value-123" not in line


def test_an_empty_value_counts_as_missing(sandbox: dict[str, str], tmp_path: Path) -> None:
    empty = "STRIPE_API_KEY"
    env = environment(service_settings(sandbox), PASSBOT_DB=str(tmp_path / "db"), **{empty: ""})
    line = refused(run("check", env=env, cwd=tmp_path))
    assert line == f"passbot: missing settings: {empty}"
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize("http", [False, True])
def test_serve_with_an_empty_slack_token_is_missing(
    sandbox: dict[str, str], tmp_path: Path, http: bool
) -> None:
    token = "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN"
    env = environment(service_settings(sandbox), PASSBOT_DB=str(tmp_path / "db"), **{token: ""})
    calls = slack_calls(sandbox)
    line = refused(run("serve", *(["--http"] if http else []), env=env, cwd=tmp_path))
    assert line == f"passbot: missing settings: {token}"
    assert slack_calls(sandbox) == calls
    assert not (tmp_path / "db").exists()


def test_serve_asks_slack_once_and_stops_when_it_refuses_the_app_token(
    sandbox: dict[str, str], tmp_path: Path
) -> None:
    env = environment(
        service_settings(sandbox),
        PASSBOT_DB=str(tmp_path / "db"),
        SLACK_APP_TOKEN="xapp-1-A0PASSBOT-revoked-long-ago",
    )
    calls = slack_calls(sandbox)
    line = refused(run("serve", env=env, cwd=tmp_path, timeout=60))
    assert line == "passbot: bad setting SLACK_APP_TOKEN: Slack refused it (invalid_auth)"
    assert slack_calls(sandbox)[len(calls) :] == ["auth.test", "apps.connections.open"]
    assert not (tmp_path / "db").exists()


def test_a_dotenv_with_binary_bytes_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"PASSBOT_DB=x.db\n\xff\xfe\x00\x9c\n")
    for command in (["audit"], ["check", "--sandbox", "w.json"]):
        line = refused(run(*command, env=environment(), cwd=tmp_path))
        assert line == "passbot: .env is not text (UTF-8): fix or remove it"
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--days", "99999999"], "argument --days: must be 1 to 3650 days"),
        (["diagnose", "a@b.no", "--days", "-5"], "argument --days: must be 1 to 3650 days"),
        (["serve", "--http", "--port", "99999"], "argument --port: 99999 is not a TCP port"),
    ],
)
def test_bad_arguments_are_refused(
    sandbox: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    env = environment(service_settings(sandbox), PASSBOT_DB=str(tmp_path / "db"))
    line = refused(run(*args, env=env, cwd=tmp_path))
    assert line.startswith(f"passbot: {message}"), line
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize("http", [True, False])
def test_a_taken_port_is_refused_before_anything_is_written(
    sandbox: dict[str, str], tmp_path: Path, http: bool
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = environment(service_settings(sandbox), PASSBOT_DB=str(tmp_path / "db"))
        if http:
            result = run("serve", "--http", "--port", port, env=env, cwd=tmp_path)
        else:
            env["PASSBOT_HEALTH_PORT"] = port
            result = run("serve", env=env, cwd=tmp_path)
    line = refused(result)
    assert line.startswith(f"passbot: cannot listen on 127.0.0.1:{port}:"), line
    assert not (tmp_path / "db").exists()


def test_http_mode_takes_its_port_from_port(sandbox: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = environment(service_settings(sandbox), PASSBOT_DB=str(tmp_path / "db"), PORT=port)
        line = refused(run("serve", "--http", env=env, cwd=tmp_path))
    assert line.startswith(f"passbot: cannot listen on 127.0.0.1:{port}:"), line


WORLD_PROBLEMS = [
    (["check", "--sandbox"], "{", "is not JSON"),
    (["check", "--sandbox"], '{"stripe": 5, "sanity": {}}', "stripe must be an object"),
    (["fix", "cs_x", "--yes", "--sandbox"], '{"stripe": {}, "sanity": {"project_id": "p"}}',
     "sanity.dataset"),
    (["check", "--sandbox"], '{"stripe": {"checkout_sessions": [{"id": "cs_1"}]}, "sanity": {}}',
     "integer created"),
    (["shell", "--world"], "[]", "world"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "text", "message"), WORLD_PROBLEMS)
def test_a_malformed_world_file_is_refused(
    tmp_path: Path, command: list[str], text: str, message: str
) -> None:
    world = tmp_path / "world.json"
    world.write_text(text, encoding="utf-8")
    dump = tmp_path / "out.json"
    env = environment(PASSBOT_DB=str(tmp_path / "db"))
    line = refused(run(*command, str(world), "--dump-world", str(dump), env=env, cwd=tmp_path))
    assert message in line, line
    assert not dump.exists()
    assert not (tmp_path / "db").exists()


def test_a_missing_world_file_is_refused(tmp_path: Path) -> None:
    line = refused(run("check", "--sandbox", "nowhere.json", env=environment(), cwd=tmp_path))
    assert "nowhere.json" in line


def test_dump_world_into_a_missing_folder_is_refused_before_the_fix(tmp_path: Path) -> None:
    world = tmp_path / "world.json"
    world.write_text(json.dumps(slack_world()), encoding="utf-8")
    env = environment(PASSBOT_DB=str(tmp_path / "db"))
    result = run(
        "fix", "cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb", "--yes",
        "--sandbox", str(world), "--dump-world", str(tmp_path / "missing" / "out.json"),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    line = refused(result)
    assert line == f"passbot: --dump-world {tmp_path}/missing/out.json: no such folder " + str(
        tmp_path / "missing"
    )
    assert not (tmp_path / "db").exists()  # no fix was applied, so nothing was audited


def test_version(tmp_path: Path) -> None:
    result = run("--version", env=environment(), cwd=tmp_path)
    assert result.code == 0
    assert result.out.startswith("passbot 0.")
    assert result.err == ""
