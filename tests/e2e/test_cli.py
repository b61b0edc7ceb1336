"""The command line end to end: `passbot … --sandbox WORLD` starts the sandbox on loopback and
the real adapters talk to it through the real SDKs; we read stdout, stderr, the exit status and
the dumped world, as the acceptance checks do."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

TINY = json.loads((Path(__file__).parent.parent / "sandbox" / "tiny-world.json").read_text())
EMIL_SESSION = "cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
OLA_SESSION = "cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb"
EMIL_SUB = "IduYcRrnmFs6kWP4vTWWUm"

CHECK_KEYS = {"window", "mode", "accounts", "sessions_checked", "findings", "metrics"}
FINDING_KEYS = {
    "kind", "severity", "session", "account", "tenant", "user", "email",
    "subscriptions", "pass", "summary", "fix",
}  # fmt: skip
FIX_KEYS = {"session", "applied", "already_fixed", "created", "patched", "deactivated", "document"}


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, world: dict[str, Any], name: str = "world.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(world))
    return str(path)


def docs(world: dict[str, Any], doc_type: str) -> list[dict[str, Any]]:
    return [d for d in world["sanity"]["documents"] if d.get("_type") == doc_type]


def doc(world: dict[str, Any], doc_id: str) -> dict[str, Any]:
    return next(d for d in world["sanity"]["documents"] if d.get("_id") == doc_id)


def session(world: dict[str, Any], session_id: str) -> dict[str, Any]:
    return next(s for s in world["stripe"]["checkout_sessions"] if s["id"] == session_id)


# ------------------------------------------------------------------------- one world per kind


def w_missing_pass(w):
    return OLA_SESSION


def w_missing_upgrade(w):
    w["sanity"]["documents"].append(
        {**doc(w, "pass-a-drop"), "_id": "pass-a-month", "name": "Monthly", "type": "unlimited",
         "price": 990, "validityDays": 30}
    )  # fmt: skip
    upgrade = copy.deepcopy(session(w, OLA_SESSION))
    upgrade.update(id="cs_test_upgrade00000000000000000001", payment_intent=None)
    upgrade["metadata"] = {
        **session(w, EMIL_SESSION)["metadata"],
        "type": "pass_upgrade",
        "passId": "pass-a-month",
        "upgradeFromSubscriptionId": EMIL_SUB,
        "newPassPrice": "990",
    }
    w["stripe"]["checkout_sessions"].append(upgrade)
    return upgrade["id"]


def w_duplicate_pass(w):
    w["sanity"]["documents"].append({**doc(w, EMIL_SUB), "_id": "copy-of-emil"})
    return EMIL_SESSION


def w_mistyped_pass(w):
    doc(w, EMIL_SUB).update(type="single", remainingClips=1)
    return EMIL_SESSION


def w_wrong_expiry(w):
    doc(w, EMIL_SUB)["endDate"] = "2026-11-05T09:55:03.000Z"
    return EMIL_SESSION


def w_hidden_pass(w):
    doc(w, EMIL_SUB)["isActive"] = False
    return EMIL_SESSION


def w_unpaid_pass(w):
    w["sanity"]["documents"].append(
        {"_id": "guessed", "_type": "subscription", "user": {"_type": "reference",
         "_ref": "NayMiNahGmbbkfRy5m98S9"}, "tenant": {"_type": "reference",
         "_ref": "tenant-aurora"}, "type": "clipcard", "startDate": "2026-11-20T00:00:00Z",
         "endDate": "2027-02-01T00:00:00Z", "passId": "pass-a-10clip", "remainingClips": 10,
         "purchasePrice": 2000, "isActive": True, "manuallyCreated": True}
    )  # fmt: skip
    return


def w_refunded_pass(w):
    charge = next(c for c in w["stripe"]["charges"] if c["payment_intent"].endswith("B3rO72T"))
    charge.update(refunded=True, amount_refunded=charge["amount"])
    return EMIL_SESSION


def w_broken_reference(w):
    w["sanity"]["documents"].append(
        {**doc(w, EMIL_SUB), "_id": "orphan", "passId": "pass-deleted",
         "stripeSessionId": "cs_test_b1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rZZZZ",
         "stripePaymentId": "pi_test_b1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rZZZZ"}
    )  # fmt: skip
    return


def w_pass_config(w):
    doc(w, "pass-a-drop")["validityDays"] = None
    return


def w_unresolvable_purchase(w):
    session(w, OLA_SESSION)["metadata"]["tenantId"] = "tenant-elsewhere"
    w["sanity"]["documents"] = [d for d in w["sanity"]["documents"] if d["_id"] != "ola-ok"]
    return OLA_SESSION


def w_account_unreachable(w):
    w["sanity"]["documents"].append(
        {**doc(w, "tenant-aurora"), "_id": "tenant-cadenza",
         "stripeConnect": {"accountId": "acct_notOurs0001", "chargesEnabled": True}}
    )  # fmt: skip
    return


KINDS = {
    "missing_pass": w_missing_pass,
    "missing_upgrade": w_missing_upgrade,
    "duplicate_pass": w_duplicate_pass,
    "mistyped_pass": w_mistyped_pass,
    "wrong_expiry": w_wrong_expiry,
    "hidden_pass": w_hidden_pass,
    "unpaid_pass": w_unpaid_pass,
    "refunded_pass": w_refunded_pass,
    "broken_reference": w_broken_reference,
    "pass_config": w_pass_config,
    "unresolvable_purchase": w_unresolvable_purchase,
    "account_unreachable": w_account_unreachable,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_check_finds_each_kind_in_a_world_made_for_it(kind, tmp_path, capsys):
    world = copy.deepcopy(TINY)
    if kind != "missing_pass":  # every other world starts with Ola's pass in place
        world["sanity"]["documents"].append(
            {**doc(world, EMIL_SUB), "_id": "ola-ok", "user": {"_type": "reference",
             "_ref": "NayMiNahGmbbkfRy5m98S9"}, "type": "single", "remainingClips": 1,
             "passId": "pass-a-drop", "stripeSessionId": OLA_SESSION,
             "stripePaymentId": "pi_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb",
             "startDate": "2026-10-30T21:54:26.000Z", "endDate": "2026-11-29T21:54:30.000Z"}
        )  # fmt: skip
    expected_session = KINDS[kind](world)
    code, out, err = run(capsys, "check", "--sandbox", write(tmp_path, world), "--json")
    report = json.loads(out)
    kinds = {f["kind"] for f in report["findings"]}
    assert kind in kinds, (kinds, err)
    found = next(f for f in report["findings"] if f["kind"] == kind)
    if expected_session:
        assert found["session"] == expected_session
    assert code == (1 if any(f["severity"] == "critical" for f in report["findings"]) else 0)


def test_check_json_follows_the_contract(tmp_path, capsys):
    code, out, _ = run(capsys, "--json", "check", "--sandbox", write(tmp_path, TINY))
    report = json.loads(out)
    assert code == 1
    assert set(report) >= CHECK_KEYS
    assert report["mode"] == "test"
    assert report["window"] == {"from": "2026-10-24T08:00:00Z", "to": "2026-11-28T08:00:00Z"}
    assert report["accounts"][0] == {
        "account": "acct_auroraAAA", "tenant": "tenant-aurora", "ok": True, "error": None
    }  # fmt: skip
    assert report["sessions_checked"] == 2
    assert report["metrics"]["paid_pass_sessions"] == 2
    assert report["metrics"]["with_pass"] == 1
    assert report["metrics"]["fulfilment_rate"] == 0.5
    (finding,) = report["findings"]
    assert set(finding) >= FINDING_KEYS
    assert finding["kind"] == "missing_pass"
    assert finding["fix"]["document_id"] == f"subscription-{OLA_SESSION}"
    assert finding["fix"]["action"] == "create_subscription"


def test_check_of_a_healthy_world_exits_zero(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    world["stripe"]["checkout_sessions"] = [session(world, EMIL_SESSION)]
    code, out, _ = run(capsys, "check", "--sandbox", write(tmp_path, world))
    assert code == 0
    assert "No findings" in out


def test_diagnose_json_follows_the_contract(tmp_path, capsys):
    code, out, _ = run(
        capsys, "diagnose", "  OLA.Hansen177@Example.com ", "--sandbox", write(tmp_path, TINY),
        "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 1
    assert set(data) >= {"email", "users", "clerk_users", "purchases", "passes", "findings"}
    assert [u["_id"] for u in data["users"]] == ["NayMiNahGmbbkfRy5m98S9"]
    assert data["clerk_users"] == [  # no PASSBOT_CLERK_DASHBOARD_URL: no Clerk link
        {"id": "user_206X9A8RsDNN0ht9UqEYKDj1j", "emails": ["ola.hansen177@example.com"],
         "links": {}}
    ]  # fmt: skip
    (purchase,) = data["purchases"]
    assert purchase["session"] == OLA_SESSION
    assert purchase["status"] == "missing_pass"
    assert purchase["amount"] == 25000
    assert purchase["currency"] == "nok"
    assert data["passes"] == []


def test_diagnose_lists_every_pass_with_why_it_shows(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    w_hidden_pass(world)
    code, out, _ = run(
        capsys, "diagnose", "emil.lund117@example.com", "--sandbox", write(tmp_path, world),
        "--json",
    )  # fmt: skip
    data = json.loads(out)
    (view,) = data["passes"]
    assert (view["_id"], view["visible"], view["usable"], view["reason"]) == (
        EMIL_SUB, False, False, "inactive"
    )  # fmt: skip
    assert data["purchases"][0]["status"] == "hidden_pass"
    assert code == 1


def test_fix_previews_then_applies_once(tmp_path, capsys):
    world_path = write(tmp_path, TINY)
    after_preview = str(tmp_path / "after-preview.json")
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--sandbox", world_path, "--json", "--dump-world",
        after_preview,
    )  # fmt: skip
    preview = json.loads(out)
    assert code == 0
    assert set(preview) >= FIX_KEYS
    assert preview["applied"] is False
    assert preview["already_fixed"] is False
    assert preview["document"]["_id"] == f"subscription-{OLA_SESSION}"
    dumped = json.loads(Path(after_preview).read_text())
    assert len(docs(dumped, "subscription")) == 1  # nothing written
    assert "POST /data/mutate" not in dumped["requests"]["sanity"]

    after_fix = str(tmp_path / "after-fix.json")
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--yes", "--as", "U0APPROVER", "--sandbox", world_path,
        "--json", "--dump-world", after_fix,
    )  # fmt: skip
    applied = json.loads(out)
    assert code == 0
    assert applied["applied"] is True
    assert applied["created"] == [f"subscription-{OLA_SESSION}"]
    written = doc(json.loads(Path(after_fix).read_text()), f"subscription-{OLA_SESSION}")
    assert written["type"] == "single"
    assert written["remainingClips"] == 1
    assert written["startDate"] == "2026-10-30T21:54:26.000Z"
    assert written["approvedBy"] == "U0APPROVER"
    assert written["createdVia"] == "passbot"
    assert written["user"]["_ref"] == "NayMiNahGmbbkfRy5m98S9"
    assert written["tenant"]["_ref"] == "tenant-aurora"

    again = str(tmp_path / "again.json")
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--yes", "--sandbox", after_fix, "--json", "--dump-world",
        again,
    )  # fmt: skip
    second = json.loads(out)
    assert code == 0
    assert second["applied"] is False
    assert second["already_fixed"] is True
    final = json.loads(Path(again).read_text())
    assert len(docs(final, "subscription")) == 2
    assert "POST /data/mutate" not in final["requests"]["sanity"]

    code, out, _ = run(capsys, "audit", "--json")
    entries = json.loads(out)
    assert len(entries) == 1
    assert entries[0]["session"] == OLA_SESSION
    assert entries[0]["actor"] == "U0APPROVER"


def test_fix_start_today_counts_validity_from_now_and_stays_fixed(tmp_path, capsys):
    out_path = str(tmp_path / "out.json")
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--yes", "--start-today", "--sandbox", write(tmp_path, TINY),
        "--json", "--dump-world", out_path,
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["created"] == [f"subscription-{OLA_SESSION}"]
    written = doc(json.loads(Path(out_path).read_text()), f"subscription-{OLA_SESSION}")
    assert written["startDate"] == "2026-11-28T08:00:00.000Z"
    assert written["endDate"] == "2026-12-28T08:00:00.000Z"
    code, out, _ = run(capsys, "check", "--sandbox", out_path, "--json")
    assert code == 0, out  # the approved dates are not "wrong" on the next run
    assert json.loads(out)["findings"] == []


def test_fix_with_no_safe_fix_is_refused_and_writes_nothing(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    w_unresolvable_purchase(world)
    out_path = str(tmp_path / "out.json")
    code, out, _ = run(
        capsys, "fix", OLA_SESSION, "--yes", "--sandbox", write(tmp_path, world), "--json",
        "--dump-world", out_path,
    )  # fmt: skip
    assert code == 1
    assert "tenant mismatch" in json.loads(out)["refused"]
    assert "POST /data/mutate" not in json.loads(Path(out_path).read_text())["requests"]["sanity"]


@pytest.mark.parametrize(
    ("session_id", "message"),
    [
        ("cs_test_doesnotexist0000000000000", "no Checkout Session"),
        ("not-a-session", "not a Checkout Session id"),
        ("cs_test_x; drop", "not a Checkout Session id"),
    ],
)
def test_fix_of_an_unknown_session_is_bad_input(session_id, message, tmp_path, capsys):
    code, out, err = run(capsys, "fix", session_id, "--yes", "--sandbox", write(tmp_path, TINY))
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert out == ""


def test_fix_of_an_unpaid_session_is_bad_input(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    session(world, OLA_SESSION).update(payment_status="unpaid", status="expired")
    code, _, err = run(capsys, "fix", OLA_SESSION, "--yes", "--sandbox", write(tmp_path, world))
    assert code == 2
    assert "not paid" in err


def test_a_failing_service_is_named_and_exits_three(tmp_path, capsys):
    world = copy.deepcopy(TINY)
    world["faults"] = [{"service": "sanity", "path": "/data/query", "status": 500}]
    dump = str(tmp_path / "out.json")
    code, _, err = run(capsys, "check", "--sandbox", write(tmp_path, world), "--dump-world", dump)
    assert code == 3
    assert "Sanity" in err
    assert err.count("\n") == 1
    assert Path(dump).exists()  # dumped whatever the exit status


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--days", "0"],
        ["diagnose", "not-an-email"],
        ["diagnose", "a@b.no c@d.no"],
        ["frobnicate"],
        ["check", "--tenant", "no-such-school"],
    ],
)
def test_bad_usage_exits_two_with_one_line(args, tmp_path, capsys):
    code, out, err = run(capsys, *args, "--sandbox", write(tmp_path, TINY))
    assert code == 2
    assert err.startswith("passbot: ")
    assert err.count("\n") == 1
    assert out == ""


def test_no_secret_reaches_the_output(tmp_path, capsys):
    from sandbox.app import Sandbox  # noqa: F401  (the sandbox is what hands out the tokens)

    world_path = write(tmp_path, TINY)
    outputs = []
    for args in (
        ["check", "--sandbox", world_path],
        ["check", "--sandbox", world_path, "--json"],
        ["diagnose", "ola.hansen177@example.com", "--sandbox", world_path, "--json"],
        ["fix", OLA_SESSION, "--yes", "--sandbox", world_path, "--json"],
    ):
        outputs.append("".join(run(capsys, *args)[1:]))
    secrets = _sandbox_secrets()
    assert secrets
    for text in outputs:
        for secret in secrets:
            assert secret not in text


def _sandbox_secrets() -> list[str]:
    import asyncio

    from sandbox import start_sandbox

    async def grab() -> list[str]:
        box = await start_sandbox(copy.deepcopy(TINY))
        try:
            env = box.settings()
        finally:
            await box.close()
        names = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "STRIPE_API_KEY",
                 "SANITY_API_TOKEN", "CLERK_SECRET_KEY")  # fmt: skip
        return [env[n] for n in names if env.get(n)]

    return asyncio.run(grab())
