"""`passbot diagnose QUERY` by anything support has — a Checkout Session, PaymentIntent or Charge
id, a Sanity subscription or user id, a Clerk id, a name — against the sandbox; links in the
text and the JSON; a pick-list when several customers match; one line for unknown input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.e2e.test_cli import EMIL_SUB, OLA_SESSION, TINY, run, write

OLA = "ola.hansen177@example.com"
OLA_USER = "NayMiNahGmbbkfRy5m98S9"
OLA_CLERK = "user_206X9A8RsDNN0ht9UqEYKDj1j"
STUDIO = "https://dance.sanity.studio"
CLERK = "https://dashboard.clerk.com/apps/app_1/instances/ins_1"


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.setenv("PASSBOT_STUDIO_URL", STUDIO)
    monkeypatch.setenv("PASSBOT_CLERK_DASHBOARD_URL", CLERK)
    monkeypatch.setenv("PASSBOT_TIMEZONE", "Europe/Oslo")
    monkeypatch.chdir(tmp_path)


def namesake_world() -> dict:
    """The tiny world, and a second customer called "Óla Hánsen" (another email)."""
    world = copy.deepcopy(TINY)
    world["sanity"]["documents"].append(
        {"_id": "OtherOla000000000000001", "_type": "user", "name": "Óla Hánsen",
         "email": "ola.other@example.com", "clerkId": "user_2otherOla0000000000000000",
         "tenant": {"_type": "reference", "_ref": "tenant-aurora"}, "role": "student",
         "isActive": True}
    )  # fmt: skip
    return world


@pytest.mark.parametrize(
    "query",
    [
        OLA_SESSION,  # a Checkout Session id
        OLA_SESSION.replace("cs_", "pi_"),  # its PaymentIntent
        OLA_SESSION.replace("cs_", "ch_"),  # its Charge
        OLA_USER,  # the Sanity user
        OLA_CLERK,  # the Clerk user
        "  OLA.Hansen177@Example.com ",  # the email, as before
    ],
)
def test_any_id_leads_to_the_customer(tmp_path, capsys, query) -> None:
    code, out, err = run(capsys, "diagnose", query, "--sandbox", write(tmp_path, TINY), "--json")
    assert code == 1, err  # Ola's purchase has no pass: critical
    data = json.loads(out)
    assert data["email"].lower() == OLA  # an email is shown as typed
    assert [p["session"] for p in data["purchases"]] == [OLA_SESSION]


def test_a_subscription_id_leads_to_its_owner(tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "diagnose", EMIL_SUB, "--sandbox", write(tmp_path, TINY), "--json")
    data = json.loads(out)
    assert (data["email"], data["query"]) == (
        "emil.lund117@example.com", {"kind": "sanity_id", "value": EMIL_SUB}
    )  # fmt: skip
    assert code == 0


def test_every_id_links_to_its_system_in_text_and_json(tmp_path, capsys) -> None:
    world = write(tmp_path, TINY)
    _, out, _ = run(capsys, "diagnose", OLA_SESSION, "--sandbox", world, "--json")
    data = json.loads(out)
    (purchase,) = data["purchases"]
    stripe = f"https://dashboard.stripe.com/acct_auroraAAA/test/payments/{purchase['session']}"
    assert purchase["links"]["stripe"] == stripe.replace("/cs_", "/pi_")
    (user,) = data["users"]
    assert user["links"] == {
        "studio": f"{STUDIO}/intent/edit/id={OLA_USER};type=user/",
        "clerk": f"{CLERK}/users/{OLA_CLERK}",
    }
    assert data["findings"][0]["links"]["stripe"] == purchase["links"]["stripe"]
    _, text, _ = run(capsys, "diagnose", OLA_SESSION, "--sandbox", world)
    assert purchase["links"]["stripe"] in text
    assert f"{CLERK}/users/{OLA_CLERK}" in text
    assert "(times in Europe/Oslo)" in text.splitlines()[0]  # the zone, named once
    assert "UTC" not in text
    assert "FM-" not in text


def test_a_name_ignores_case_and_diacritics_and_offers_a_pick_list(tmp_path, capsys) -> None:
    world = write(tmp_path, namesake_world())
    code, out, _ = run(capsys, "diagnose", "OLA", "hansen", "--sandbox", world, "--json")
    assert code == 1  # a choice to make
    data = json.loads(out)
    assert [m["email"] for m in data["matches"]] == [OLA, "ola.other@example.com"]
    assert data["query"] == {"kind": "name", "value": "OLA hansen"}
    code, out, _ = run(capsys, "diagnose", "Óla Hánsen", "--sandbox", world)
    assert "2 customers match 'Óla Hánsen'; pick one:" in out
    assert f"passbot diagnose {OLA}" in out
    code, out, _ = run(capsys, "diagnose", "Emil Lund", "--sandbox", world, "--json")
    assert json.loads(out)["email"] == "emil.lund117@example.com"  # one match: diagnosed


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("hello$$", "give an email, a Checkout Session (cs_…)"),
        ("cs_test_nosuchsession0000", "no customer has the Checkout Session"),
        ("Nobody Atall", "no customer has the name"),
    ],
)
def test_unknown_input_gets_one_line_and_exit_2(tmp_path, capsys, query, says) -> None:
    code, out, err = run(capsys, "diagnose", query, "--sandbox", write(tmp_path, TINY))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert says in err


def test_the_sweep_writes_its_chart(tmp_path, capsys) -> None:
    chart = tmp_path / "sweep.png"
    world = write(tmp_path, TINY)
    code, _, err = run(capsys, "job", "sweep", "--chart", str(chart), "--sandbox", world)
    assert code == 1  # Ola's missing pass is open
    assert f"chart: {chart}" in err
    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000  # axes, bars and text, not an empty image
    code, _, err = run(capsys, "job", "sweep", "--chart", str(chart), "--sandbox", world)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # claimed period: drawn all the same


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["job", "summary", "--chart", "x.png"], "--chart is for the sweep"),
        (["job", "sweep", "--chart", "x.txt"], "give a name ending in .png"),
        (["job", "sweep", "--chart", "/no/such/dir/x.png"], "no such folder"),
    ],
)
def test_a_bad_chart_request_changes_nothing(tmp_path, capsys, args, says) -> None:
    code = main([*args, "--sandbox", write(tmp_path, TINY)])
    _, err = capsys.readouterr()
    assert code == 2
    assert says in err
    assert not Path("x.png").exists()
