"""Issue 11 §4, through the real command line against the sandbox: a Stripe that fails on every
account is a service failure (exit 3, Stripe named, why said right), session ids are refused
before any request, valid addresses with apostrophes, plus signs and quotes are looked up, and
`--as` takes only a Slack user id."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import OLA_SESSION, TINY, run, write


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)


def _requests(dump: str) -> dict[str, Any]:
    return json.loads(Path(dump).read_text())["requests"]


@pytest.mark.parametrize(
    ("command", "status", "retry_after", "says"),
    [
        ("check", 500, None, "Stripe is failing"),
        ("check", 0, None, "Stripe is failing"),  # dropped connections
        ("check", 429, 3600, "Stripe is failing"),  # a Retry-After beyond the budget
        ("check", 401, None, "check the key's access"),
        ("check", 403, None, "check the key's access"),
        ("diagnose", 503, None, "Stripe is failing"),
        ("diagnose", 403, None, "check the key's access"),
    ],
)
def test_every_stripe_account_unreachable_is_a_stripe_failure(
    capsys, tmp_path, command, status, retry_after, says
):
    world = copy.deepcopy(TINY)
    fault: dict[str, Any] = {
        "service": "stripe",
        "path": "/v1/checkout/sessions",
        "status": status,
        "count": 1000,
    }
    if retry_after:
        fault["retry_after"] = retry_after
    world["faults"] = [fault]
    args = ["check"] if command == "check" else ["diagnose", "ola.hansen177@example.com"]
    code, out, err = run(capsys, *args, "--sandbox", write(tmp_path, world))
    assert code == 3, (out, err)
    line = err.strip()
    assert "\n" not in line
    assert line.startswith("passbot: Stripe:")
    assert says in line
    other = "check the key's access" if says == "Stripe is failing" else "Stripe is failing"
    assert other not in line
    assert "Traceback" not in err


BAD_SESSION_IDS = [
    "cs_" + "a" * 30,  # no mode
    "cs_prod_abc",
    "pi_test_abc",
    "cs_test_",
    "cs_test_" + "a" * 10_000,
    "cs_test_" + "a" * 243,  # 251 characters
    "cs_test_abc/../../v1/charges",
    "cs_test_abc?expand[]=x",
    "cs_test_ab c",
    "cs_test_ábc",
]


@pytest.mark.parametrize("session_id", BAD_SESSION_IDS, ids=[s[:20] for s in BAD_SESSION_IDS])
def test_a_malformed_session_id_is_refused_before_any_request(capsys, tmp_path, session_id):
    dump = str(tmp_path / "after.json")
    code, out, err = run(
        capsys, "fix", session_id, "--yes", "--sandbox", write(tmp_path, TINY), "--dump-world", dump
    )
    assert code == 2, (out, err)
    assert err.count("\n") == 1
    assert "not a Checkout Session id" in err
    assert len(err) < 300
    requests = _requests(dump)
    assert not requests.get("stripe"), requests
    assert not requests.get("sanity"), requests


def test_a_session_id_of_250_characters_is_asked_for(capsys, tmp_path):
    session_id = "cs_test_" + "a" * 242
    assert len(session_id) == 250
    dump = str(tmp_path / "after.json")
    code, _, err = run(
        capsys, "fix", session_id, "--sandbox", write(tmp_path, TINY), "--dump-world", dump
    )
    assert code == 2
    assert "no Checkout Session" in err
    assert _requests(dump)["stripe"]


@pytest.mark.parametrize(
    "email", ["o'brien@example.com", "ola+passes@example.com", '"ola hansen"@example.com']
)
def test_valid_addresses_with_apostrophes_plus_and_quotes_are_looked_up(capsys, tmp_path, email):
    world = copy.deepcopy(TINY)
    for s in world["stripe"]["checkout_sessions"]:
        if s["id"] == OLA_SESSION:
            s["customer_details"]["email"] = email
    code, out, err = run(capsys, "diagnose", email, "--json", "--sandbox", write(tmp_path, world))
    assert code in (0, 1), err
    data = json.loads(out)
    assert data["email"] == email
    assert [p["session"] for p in data["purchases"]] == [OLA_SESSION]


@pytest.mark.parametrize(
    "actor",
    ["U0APPROVER\nfixed by U0BOSS", "ada", "U0A B", "<@U0APPROVER>", "u0approver", "", "U" * 40],
)
def test_as_takes_only_a_slack_user_id(capsys, tmp_path, actor):
    dump = str(tmp_path / "after.json")
    code, out, err = run(
        capsys, "fix", OLA_SESSION, "--yes", "--as", actor,
        "--sandbox", write(tmp_path, TINY), "--dump-world", dump,
    )  # fmt: skip
    assert code == 2, (out, err)
    assert err.count("\n") == 1
    assert "--as takes a Slack user id" in err
    assert not Path(dump).exists() or not _requests(dump).get("sanity")
    code, out, _ = run(capsys, "audit", "--json")
    assert json.loads(out) == [] or "U0BOSS" not in out


def test_as_with_a_slack_user_id_is_recorded(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "fix",
        OLA_SESSION,
        "--yes",
        "--as",
        "U0APPROVER",
        "--sandbox",
        write(tmp_path, TINY),
    )
    assert code == 0, err
    _, out, _ = run(capsys, "audit", "--json")
    assert "U0APPROVER" in out
