"""Issue 11 §3 through the real command line against the sandbox: the platform webhook's edge
cases (cli-contract.md, "Rules that decide between readings") — a buyer with no Sanity user, an
upgrade from an already inactive pass, a late fix, duplicate users — and the new findings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import (
    EMIL_SESSION,
    EMIL_SUB,
    OLA_SESSION,
    TINY,
    doc,
    docs,
    run,
    session,
    w_missing_upgrade,
    write,
)

OLA_USER = "NayMiNahGmbbkfRy5m98S9"
OLA_CLERK = "user_206X9A8RsDNN0ht9UqEYKDj1j"
NOW = 1795852800  # the tiny world's now, 2026-11-28T08:00:00Z


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)


def _dumped(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _mutations(world: dict[str, Any]) -> int:
    return int(world["requests"].get("sanity", {}).get("POST /data/mutate", 0))


# ------------------------------------------------------------------ a buyer with no Sanity user


def _without_olas_user() -> dict[str, Any]:
    world = copy.deepcopy(TINY)
    world["sanity"]["documents"] = [d for d in world["sanity"]["documents"] if d["_id"] != OLA_USER]
    return world


def test_a_buyer_clerk_knows_but_sanity_does_not_gets_the_user_and_the_pass_in_one_transaction(
    tmp_path, capsys
):
    path = write(tmp_path, _without_olas_user())
    code, out, err = run(capsys, "fix", OLA_SESSION, "--sandbox", path, "--json")
    assert code == 0, err
    preview = json.loads(out)
    assert preview["would_create"] == [f"user-{OLA_CLERK}", f"subscription-{OLA_SESSION}"]

    after = str(tmp_path / "after.json")
    code, out, err = run(
        capsys, "fix", OLA_SESSION, "--yes", "--json", "--sandbox", path, "--dump-world", after
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["created"] == [f"user-{OLA_CLERK}", f"subscription-{OLA_SESSION}"]
    world = _dumped(after)
    assert _mutations(world) == 1  # one transaction: never a pass without its user
    user = doc(world, f"user-{OLA_CLERK}")
    assert {k: user[k] for k in ("_type", "clerkId", "name", "email", "role", "isActive")} == {
        "_type": "user",
        "clerkId": OLA_CLERK,
        "name": "Ola Hansen",
        "email": "ola.hansen177@example.com",
        "role": "student",
        "isActive": True,
    }
    assert user["createdAt"] == user["updatedAt"] == "2026-11-28T08:00:00.000Z"
    assert doc(world, f"subscription-{OLA_SESSION}")["user"]["_ref"] == f"user-{OLA_CLERK}"

    code, out, err = run(capsys, "check", "--json", "--sandbox", after)
    assert code == 0, err
    assert json.loads(out)["findings"] == []
    code, out, _ = run(capsys, "fix", OLA_SESSION, "--yes", "--json", "--sandbox", after)
    assert json.loads(out)["already_fixed"] is True


def test_the_check_offers_the_user_sync_as_the_fix(tmp_path, capsys):
    code, out, _ = run(
        capsys, "check", "--json", "--sandbox", write(tmp_path, _without_olas_user())
    )
    assert code == 1
    (finding,) = [f for f in json.loads(out)["findings"] if f["session"] == OLA_SESSION]
    assert finding["kind"] == "missing_pass"
    assert f"creates user-{OLA_CLERK}" in finding["summary"]
    assert finding["fix"]["action"] == "create_subscription"


def test_a_clerk_id_clerk_does_not_know_stays_unresolvable(tmp_path, capsys):
    world = _without_olas_user()
    world["clerk"]["users"] = [u for u in world["clerk"]["users"] if u["id"] != OLA_CLERK]
    after = str(tmp_path / "after.json")
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--yes", "--json",
        "--sandbox", write(tmp_path, world), "--dump-world", after,
    )  # fmt: skip
    assert code == 1
    assert "Clerk does not know it" in json.loads(out)["refused"]
    assert _mutations(_dumped(after)) == 0


# --------------------------------------------------------------------------------- upgrades


def test_an_upgrade_from_an_inactive_pass_still_writes_the_upgrade_stamps(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    upgrade = w_missing_upgrade(world)
    doc(world, EMIL_SUB).update(isActive=False)
    after = str(tmp_path / "after.json")
    code, out, err = run(
        capsys, "fix", upgrade, "--yes", "--json", "--sandbox", write(tmp_path, world),
        "--dump-world", after,
    )  # fmt: skip
    assert code == 0, err
    assert EMIL_SUB in json.loads(out)["patched"]
    old = doc(_dumped(after), EMIL_SUB)
    assert old["isActive"] is False
    assert old["upgradedToPassId"] == "pass-a-month"
    assert old["upgradedToPassName"] == "Monthly"
    assert old["upgradedAt"].startswith("2026-")
    assert _mutations(_dumped(after)) == 1


# ------------------------------------------------------------------------------ a late fix


def _late() -> dict[str, Any]:
    world = copy.deepcopy(TINY)
    session(world, OLA_SESSION)["created"] = NOW - 40 * 86400  # a 30-day drop-in, 40 days ago
    return world


def test_a_late_fix_is_refused_on_yes_alone_naming_the_two_choices(tmp_path, capsys):
    after = str(tmp_path / "after.json")
    path = write(tmp_path, _late())
    code, out, _ = run(capsys, "fix", OLA_SESSION, "--json", "--sandbox", path)
    assert code == 0  # the preview says a choice is needed
    assert "--start-today" in json.loads(out)["choose"]
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--yes", "--json", "--sandbox", path, "--dump-world", after
    )
    assert code == 1
    refused = json.loads(out)["refused"]
    assert "already have ended" in refused
    assert "--start-today" in refused
    assert "--keep-dates" in refused
    assert _mutations(_dumped(after)) == 0
    code, out, _ = run(capsys, "fix", OLA_SESSION, "--yes", "--sandbox", path)
    assert code == 1
    assert out.startswith("Refused:")
    assert "--keep-dates" in out


@pytest.mark.parametrize(
    ("flag", "start", "basis"),
    [
        ("--start-today", "2026-11-28T08:00:00.000Z", "approval"),
        ("--keep-dates", "2026-10-19T08:00:00.000Z", None),
    ],
)
def test_a_late_fix_is_written_with_the_chosen_dates(tmp_path, capsys, flag, start, basis):
    after = str(tmp_path / "after.json")
    code, out, err = run(
        capsys, "fix", OLA_SESSION, "--yes", flag, "--json",
        "--sandbox", write(tmp_path, _late()), "--dump-world", after,
    )  # fmt: skip
    assert code == 0, err
    written = doc(_dumped(after), f"subscription-{OLA_SESSION}")
    assert written["startDate"] == start
    assert written.get("startBasis") == basis
    code, out, _ = run(capsys, "check", "--json", "--sandbox", after)
    assert [f for f in json.loads(out)["findings"] if f["session"] == OLA_SESSION] == []


def test_start_today_and_keep_dates_exclude_each_other(tmp_path, capsys):
    code, _, err = run(
        capsys, "fix", OLA_SESSION, "--start-today", "--keep-dates", "--sandbox",
        write(tmp_path, _late()),
    )  # fmt: skip
    assert code == 2
    assert "not allowed with" in err


# ----------------------------------------------------------------- users and the new findings


def test_duplicate_users_the_oldest_is_referenced_and_the_check_counts_them(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    twin = {**doc(world, OLA_USER), "_id": "olaOlderTwin", "_createdAt": "2025-01-01T00:00:00Z"}
    world["sanity"]["documents"].append(twin)
    path = write(tmp_path, world)
    code, out, _ = run(capsys, "check", "--json", "--sandbox", path)
    data = json.loads(out)
    (dup,) = [f for f in data["findings"] if f["kind"] == "duplicate_user"]
    assert (dup["severity"], dup["user"]) == ("info", "olaOlderTwin")
    assert "references the oldest, olaOlderTwin" in dup["summary"]
    assert data["metrics"]["findings_by_kind"]["duplicate_user"] == 1
    (missing,) = [f for f in data["findings"] if f["kind"] == "missing_pass"]
    assert "the oldest (olaOlderTwin) is referenced" in missing["summary"]

    after = str(tmp_path / "after.json")
    code, _, err = run(
        capsys, "fix", OLA_SESSION, "--yes", "--sandbox", path, "--dump-world", after
    )
    assert code == 0, err
    assert doc(_dumped(after), f"subscription-{OLA_SESSION}")["user"]["_ref"] == "olaOlderTwin"


def test_placeholder_clerk_ids_and_wrong_prices_are_found(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    doc(world, EMIL_SUB)["purchasePrice"] = 250  # Emil paid 2,000 NOK
    world["sanity"]["documents"].append(
        {**doc(world, OLA_USER), "_id": "manualUser", "clerkId": "manual_1754321000"}
    )
    world["sanity"]["documents"].append(
        {**doc(world, EMIL_SUB), "_id": "handMade", "user": {"_type": "reference",
         "_ref": "manualUser"}, "stripeSessionId": None, "stripePaymentId": None,
         "purchasePrice": 0}
    )  # fmt: skip
    _, out, _ = run(capsys, "check", "--json", "--sandbox", write(tmp_path, world))
    findings = json.loads(out)["findings"]
    (price,) = [f for f in findings if f["kind"] == "price_mismatch"]
    assert (price["severity"], price["session"], price["fix"]) == ("warning", EMIL_SESSION, None)
    assert "purchasePrice 250" in price["summary"]
    assert "2000" in price["summary"]
    (placeholder,) = [f for f in findings if f["kind"] == "placeholder_clerk_id"]
    assert (placeholder["severity"], placeholder["user"]) == ("info", "manualUser")
    assert len(docs(world, "user")) == 3


def test_a_purchase_whose_pass_is_gone_names_its_line_item(tmp_path, capsys):
    """passbot expands `line_items` (it used to read them unexpanded, so always empty): a pass
    deleted after the purchase is named from what Stripe says was bought (FM-43)."""
    world = copy.deepcopy(TINY)
    world["sanity"]["documents"] = [
        d for d in world["sanity"]["documents"] if d["_id"] != "pass-a-drop"
    ]
    ola = session(world, OLA_SESSION)
    ola["line_items"] = [
        {"id": "li_ola1", "object": "item", "description": "Drop-in Class", "quantity": 1,
         "amount_subtotal": 25000, "amount_total": 25000, "amount_discount": 0,
         "currency": "nok"}
    ]  # fmt: skip
    for command in (["check", "--json"], ["fix", OLA_SESSION, "--json"]):
        _, out, _ = run(capsys, *command, "--sandbox", write(tmp_path, world))
        data = json.loads(out)
        findings = data["findings"]
        (gone,) = [f for f in findings if f["session"] == OLA_SESSION]
        assert gone["kind"] == "unresolvable_purchase"
        assert "pass pass-a-drop no longer exists (line item: 'Drop-in Class')" in gone["summary"]
