"""What a `passbot check` process loads: run as an operator runs it (a child process, the
sandbox in another), the command does its work without the Slack app, the scheduler, PostgreSQL,
the chart or the metrics server's libraries (bench/startup.py measures what that is worth)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.worlds import generate_world
from tests.e2e.process import REPO, environment

#: Libraries only `serve`, `job … --chart`, a PostgreSQL PASSBOT_DB or `/metrics` need.
NOT_FOR_CHECK = (
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "apscheduler",
    "psycopg",
    "psycopg_pool",
    "matplotlib",
    "prometheus_client",
)

#: Modules no one-shot command uses, which libraries would load anyway (bot/cli.py,
#: UNUSED_ALWAYS and UNUSED_ONE_SHOT): httpx's own command line with the libraries it draws in
#: (installed here by the dev tools), and requests with its own.
UNUSED_BY_ONE_SHOT = ("httpx._main", "click", "rich", "pygments", "requests", "urllib3")

#: Runs the command line's main as the console script does (or, with PASSBOT_TEST_ARGV set, as
#: a caller passing its own argv), then writes the modules loaded (not the ones kept out).
CHILD = """
import json, os, sys
from bot.cli import main
path = sys.argv.pop()
code = main(sys.argv[1:] if os.environ.get("PASSBOT_TEST_ARGV") else None)
with open(path, "w") as out:
    json.dump(sorted(name for name, module in sys.modules.items() if module is not None), out)
raise SystemExit(code)
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    world = tmp_path_factory.mktemp("world") / "world.json"
    world.write_text(json.dumps(generate_world(seed=1, schools=2, purchases=10, days=35)))
    box = subprocess.Popen(  # noqa: S603 - our own sandbox
        [sys.executable, "-m", "sandbox", "--world", str(world)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    try:
        assert box.stdout is not None
        settings: dict[str, str] = {}
        while "SANDBOX_URL" not in settings:
            line = box.stdout.readline()
            assert line, "the sandbox did not start"
            key, _, value = line.rstrip("\n").partition("=")
            settings[key] = value
        yield settings
    finally:
        box.terminate()
        box.communicate(timeout=30)


def loaded_by(
    args: list[str], settings: dict[str, str], tmp_path: Path, **extra: str
) -> tuple[int, str, set[str]]:
    modules = tmp_path / "modules.json"
    env = environment(settings, PASSBOT_DB=str(tmp_path / "passbot.db"), **extra)
    done = subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-c", CHILD, *args, str(modules)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, done.stdout, set(json.loads(modules.read_text()))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


def test_check_does_its_work_without_the_bot_s_other_libraries(sandbox, tmp_path):
    code, out, modules = loaded_by(["check", "--json"], sandbox, tmp_path)
    report = json.loads(out)
    # It did the work: every account read through the real SDKs, the world's findings found.
    assert code == 1
    assert report["findings"]
    assert all(account["ok"] for account in report["accounts"])
    assert {"stripe", "httpx", "core.adapters.stripe", "core.adapters.sanity"} <= modules
    assert sorted(top_level(modules) & set(NOT_FOR_CHECK)) == []


def test_check_in_text_loads_none_of_them_either(sandbox, tmp_path):
    code, out, modules = loaded_by(["check"], sandbox, tmp_path)
    assert code == 1
    assert out.startswith("passbot check — ")
    assert "Findings (" in out
    assert sorted(top_level(modules) & set(NOT_FOR_CHECK)) == []


def test_the_same_child_sees_them_when_the_command_needs_them(sandbox, tmp_path):
    """The inspection is not blind: a command that serves Slack's job (a sweep with its chart)
    loads the chart's library and the bot's own, in the same kind of child process."""
    chart = tmp_path / "sweep.png"
    _, _, modules = loaded_by(["job", "sweep", "--chart", str(chart)], sandbox, tmp_path)
    assert chart.exists()
    assert "matplotlib" in top_level(modules)


@pytest.mark.parametrize(
    "args",
    [["diagnose", "kari.nordmann@example.com"], ["health", "--json"]],
    ids=["diagnose", "health"],
)
def test_diagnose_and_health_load_none_of_them_either(sandbox, tmp_path, args):
    _, out, modules = loaded_by(args, sandbox, tmp_path)
    assert out.strip()
    assert "stripe" in modules
    assert sorted(top_level(modules) & set(NOT_FOR_CHECK)) == []


def test_one_shot_commands_leave_out_what_no_one_uses(sandbox, tmp_path):
    code, out, modules = loaded_by(["check", "--json"], sandbox, tmp_path)
    assert code == 1
    assert json.loads(out)["findings"]
    assert sorted(modules & set(UNUSED_BY_ONE_SHOT)) == []


def test_a_caller_s_own_process_is_left_as_it_is(sandbox, tmp_path):
    """main(argv) from a caller (the tests, an embedding program) keeps out nothing: the same
    check then loads what the console script leaves out, so the test above is not blind."""
    code, _, modules = loaded_by(["check", "--json"], sandbox, tmp_path, PASSBOT_TEST_ARGV="1")
    assert code == 1
    assert "requests" in modules
    if importlib.util.find_spec("click") is not None:  # httpx loads its CLI only then
        assert "httpx._main" in modules
