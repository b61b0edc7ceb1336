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
