"""`passbot shell`: the same app, driven from a terminal against the sandbox, fixes a customer."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.e2e.slackbot import OLA, OLA_DOC, slack_world


@pytest.fixture(autouse=True)
def _own_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.delenv("PASSBOT_APPROVERS", raising=False)
    monkeypatch.delenv("PASSBOT_TWO_PERSON", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def run_shell(tmp_path: Path, monkeypatch, capsys, script: str) -> tuple[int, str, dict]:
    world = tmp_path / "world.json"
    world.write_text(json.dumps(slack_world()))
    out = tmp_path / "out.json"
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    code = main(["shell", "--world", str(world), "--dump-world", str(out)])
    return code, capsys.readouterr().out, json.loads(out.read_text())


def test_the_shell_fixes_a_customer_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    code, out, world = run_shell(
        tmp_path, monkeypatch, capsys, f"/fixpass {OLA}\n2\ny\n/passaudit\nquit\n"
    )
    assert code == 0
    assert "you are U0APPROVER (ada) in #passes; approvers: S0APPROVERS" in out
    assert "== 🔎 ola.hansen177@example.com ==" in out
    assert "   [1] Not a problem" in out  # a section's own button is numbered too
    assert "[2] Approve: create pass   [3] Approve: Start from today" in out
    assert "┌─ Create pass?" in out  # the confirm dialog, before anything is sent
    assert "✅ Pass created — approved by @ada at 09:00" in out
    assert "via slack · create_subscription" in out  # /passaudit
    assert OLA_DOC in {d["_id"] for d in world["sanity"]["documents"]}
    methods = [e["method"] for e in world["slack"]["log"]]
    assert methods.count("chat.update") == 3  # the card, ⏳ applying…, ✅


def test_declining_the_confirm_dialog_sends_nothing(tmp_path, monkeypatch, capsys) -> None:
    code, out, world = run_shell(
        tmp_path, monkeypatch, capsys, f"/fixpass {OLA}\n2\nn\n7\nnot a command\n"
    )
    assert code == 0
    assert "(cancelled: nothing sent)" in out
    assert "(no button 7" in out
    assert OLA_DOC not in {d["_id"] for d in world["sanity"]["documents"]}


def test_the_shell_numbers_every_button_fills_forms_and_answers_privately(
    tmp_path, monkeypatch, capsys
) -> None:
    script = (
        "/fixpass Ola Hansen\n"  # one customer by name: the card at once
        "1\nthe school gave it by hand\n"  # Not a problem: the form asks why
        "in D0TWOHUMANS\n/fixpass ola.hansen177@example.com\n"  # passbot cannot post there
        "quit\n"
    )
    code, out, _ = run_shell(tmp_path, monkeypatch, capsys, script)
    assert code == 0
    assert "   [1] Not a problem" in out
    assert "┌─ form: Not a problem?" in out
    assert "🙈 Not a problem — dismissed by @ada" in out
    assert "passbot (only visible to you):" in out
    assert "Share to channel" in out  # the private card's own button, numbered
    assert "dashboard.stripe.com/acct_auroraAAA/test/payments/pi_test_" in out  # links shown
    assert "UTC" not in out


def test_tab_completes_commands() -> None:
    from bot.shell_input import complete

    assert complete("/fix", 0) == "/fixpass "
    assert [complete("/pass", n) for n in range(6)] == [
        "/passcheck ", "/passaudit ", "/passhealth", "/passstats", None, None
    ]  # fmt: skip
    assert complete("run sw", 0) == "run sweep"
    assert complete("nothing", 0) is None


def test_tab_completes_in_a_terminal(tmp_path) -> None:
    """On a real terminal (a pty), Tab completes `/passa` to `/passaudit ` and the command runs."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    world = tmp_path / "world.json"
    world.write_text(json.dumps(slack_world()))
    leader, follower = pty.openpty()
    env = {**os.environ, "PASSBOT_DB": str(tmp_path / "p.db"), "TERM": "dumb"}
    env.pop("PASSBOT_APPROVERS", None)
    proc = subprocess.Popen(  # noqa: S603 - passbot itself, on a pty
        [sys.executable, "-m", "bot", "shell", "--world", str(world)],
        stdin=follower, stdout=follower, stderr=follower, env=env, cwd=tmp_path,
    )  # fmt: skip
    os.close(follower)
    seen = b""

    def until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break

    try:
        until(b"ada> ")
        os.write(leader, b"/passa\t\r")
        until(b"No fixes applied yet.")
        os.write(leader, b"quit\r")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert b"/passaudit" in seen
