"""`passbot demo` — the README's first command — runs the real app against the sandbox and
shows the summary, a /fixpass card, an approval and the audit trail."""

from __future__ import annotations

from bot.cli import main


def test_the_demo_walks_summary_fixpass_approval_and_audit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PASSBOT_DB", raising=False)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    steps = [
        "ada> run summary",
        "Daily summary",
        "ada> /fixpass kari.nordmann@example.com",
        "→ 🔴 missing_pass",
        "Create `subscription-cs_test_qCNWVlO3OWXX7HJpHwGdC2Pu`",
        "⏳ applying… — approved by @ada",
        "✅ Pass created — approved by @ada",
        "ada> /passaudit",
        "create_subscription `cs_test_qCNWVlO3OWXX7HJpHwGdC2Pu`",
    ]
    at = 0
    for step in steps:  # each, in this order
        found = out.find(step, at)
        assert found >= 0, f"{step!r} not found after position {at}"
        at = found + len(step)
    assert not list(tmp_path.iterdir())  # the demo's state lives in a temporary directory
