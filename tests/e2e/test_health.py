"""`passbot health --sandbox WORLD [--json]` end to end: every check passes on a healthy world
and fails on a world with its fault; the JSON contract and the exit statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from core.domain.health import CHECK_NAMES
from tests.health_worlds import NOW, healthy, outage, webhook_log

World = dict[str, Any]


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read


def health(capsys, tmp_path: Path, world: World, *extra: str) -> tuple[int, Any, str]:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    code = main(["health", "--sandbox", str(path), "--json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def doc(world: World, doc_id: str) -> dict[str, Any]:
    return next(d for d in world["sanity"]["documents"] if d["_id"] == doc_id)


def probe(answer: dict[str, Any]) -> Callable[[World], None]:
    def change(w: World) -> None:
        w["cms"]["probe"] = answer

    return change


def no_endpoint(w: World) -> None:
    w["stripe"]["webhook_endpoints"] = []


def disabled(w: World) -> None:
    w["stripe"]["webhook_endpoints"][0]["status"] = "disabled"


def duplicate(w: World) -> None:
    first = w["stripe"]["webhook_endpoints"][0]
    copy = {**first, "id": "we_2Copy", "url": "https://www.dance.example/api/stripe/webhook/"}
    w["stripe"]["webhook_endpoints"].append(copy)


def event_missing(w: World) -> None:
    w["stripe"]["webhook_endpoints"][0]["enabled_events"] = ["checkout.session.expired"]


def undelivered(w: World) -> None:
    w["stripe"]["events"][0]["delivery_success"] = False


def signature_failures(w: World) -> None:
    webhook_log(w, "sig-1", NOW.replace(hour=6), event_type="signature_verification_failed")


def configuration_error(w: World) -> None:
    webhook_log(w, "cfg-1", NOW.replace(day=25), event_type="configuration_error")


def stuck(w: World) -> None:
    webhook_log(w, "stuck-1", NOW.replace(hour=7), event_id="evt_stuck", status="processing")


def error_ratio(w: World) -> None:
    # Emil's event ends in error after its success: 1 of 1 event ids (100 %) in error
    webhook_log(w, "err-1", NOW.replace(day=2), event_id="evt_u1s0ejiepAMSERUAb8o1QAqT",
                error="Sanity request timed out")  # fmt: skip


def viewer_token(w: World) -> None:
    w["sanity"]["token_role"] = "viewer"


def inaccessible_account(w: World) -> None:
    w["sanity"]["documents"].append(
        {**doc(w, "tenant-aurora"), "_id": "tenant-cadenza", "schoolName": "Cadenza",
         "stripeConnect": {"accountId": "acct_notOurs0001", "chargesEnabled": True,
                           "payoutsEnabled": True}}
    )  # fmt: skip


def drift(w: World) -> None:
    w["stripe"]["accounts"][0]["charges_enabled"] = False


def broken_pass(w: World) -> None:
    doc(w, "pass-a-drop")["validityDays"] = None


def clerk_rejects(w: World) -> None:
    w["faults"] = [{"service": "clerk", "path": "/v1/users", "status": 401, "count": 5}]


FAULTS: dict[str, tuple[Callable[[World], None], str, str]] = {
    "probe 500": (probe({"status": 500, "body": "Webhook secret not configured"}),
                  "webhook_probe", "secret is missing"),
    "probe 307": (probe({"status": 307, "location": "https://www.dance.example/api/stripe/webhook"}),
                  "webhook_probe", "redirects to https://www.dance.example/api/stripe/webhook"),
    "probe unreachable": (probe({"unreachable": True}), "webhook_probe", "could not be reached"),
    "probe 404": (probe({"status": 404}), "webhook_probe", "no webhook handler"),
    "no endpoint": (no_endpoint, "webhook_endpoint", "no webhook endpoint is registered"),
    "disabled endpoint": (disabled, "webhook_endpoint", "not enabled"),
    "duplicate endpoints": (duplicate, "webhook_duplicates", "we_2Copy"),
    "event type missing": (event_missing, "webhook_events_enabled", "does not listen"),
    "undelivered events": (undelivered, "webhook_deliveries", "evt_u1s0ejiepAMSERUAb8o1QAqT"),
    "signature failures": (signature_failures, "webhook_log_errors",
                           "signature_verification_failed"),
    "configuration error": (configuration_error, "webhook_log_errors", "FM-02"),
    "stuck processing": (stuck, "webhook_log_errors", "evt_stuck"),
    "error ratio": (error_ratio, "webhook_log_errors", "'Sanity request timed out' ×1"),
    "viewer token": (viewer_token, "sanity_write", "Editor token"),
    "inaccessible account": (inaccessible_account, "connect_accounts", "acct_notOurs0001"),
    "drift": (drift, "connect_accounts", "chargesEnabled is true in Sanity but false in Stripe"),
    "broken pass": (broken_pass, "pass_config", "pass-a-drop"),
    "clerk rejects the key": (clerk_rejects, "clerk_access", "401"),
}  # fmt: skip


def test_every_check_passes_on_a_healthy_world(tmp_path, capsys):
    code, report, err = health(capsys, tmp_path, healthy())
    assert code == 0, err
    assert report["ok"] is True
    assert report["mode"] == "test"
    assert [c["name"] for c in report["checks"]] == list(CHECK_NAMES)
    for check in report["checks"]:
        assert set(check) >= {"name", "ok", "severity", "detail"}
        assert check["ok"] is True, check
    assert err == ""


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_check_fails_on_a_world_with_its_fault(fault, tmp_path, capsys):
    change, name, words = FAULTS[fault]
    world = healthy()
    change(world)
    code, report, _ = health(capsys, tmp_path, world)
    assert code == 1
    assert report["ok"] is False
    check = next(c for c in report["checks"] if c["name"] == name)
    assert check["ok"] is False, check
    assert words in check["detail"], check["detail"]
    assert check["severity"] in ("critical", "warning")


def test_the_outage_shows_with_its_cause(tmp_path, capsys):
    code, report, _ = health(capsys, tmp_path, outage())
    assert code == 1
    failing = {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}
    assert set(failing) == {"webhook_deliveries", "webhook_log_errors"}
    assert "3 checkout event(s) Stripe could not deliver" in failing["webhook_deliveries"]
    assert "3 signature_verification_failed" in failing["webhook_log_errors"]
    assert "FM-01" in failing["webhook_log_errors"]


def test_a_service_failing_outright_exits_three_and_still_reports(tmp_path, capsys):
    world = healthy()
    world["faults"] = [{"service": "sanity", "path": "/data/mutate", "status": 503, "count": 20}]
    code, report, err = health(capsys, tmp_path, world)
    assert code == 3
    assert "Sanity" in err
    sanity = next(c for c in report["checks"] if c["name"] == "sanity_write")
    assert not sanity["ok"]
    assert report["service_errors"]
    assert next(c for c in report["checks"] if c["name"] == "webhook_probe")["ok"]


def test_without_a_webhook_url_config_fails_and_webhook_checks_are_not_made(tmp_path, capsys):
    world = healthy()
    del world["cms"]["webhook_url"]
    code, report, _ = health(capsys, tmp_path, world)
    assert code == 1
    checks = {c["name"]: c for c in report["checks"]}
    assert not checks["config"]["ok"]
    assert "PASSBOT_WEBHOOK_URL is not set" in checks["config"]["detail"]
    assert checks["webhook_endpoint"]["skipped"] is True
    assert checks["sanity_write"]["ok"]


def test_missing_slack_settings_are_named_but_do_not_fail(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PASSBOT_CHANNEL", "C0PASSES")
    code, report, _ = health(capsys, tmp_path, healthy())
    assert code == 0
    config = report["checks"][0]
    assert config["ok"]
    assert "PASSBOT_APPROVERS" in config["detail"]
    assert "PASSBOT_CHANNEL" not in config["detail"]


def test_text_output_names_each_check(tmp_path, capsys):
    path = tmp_path / "world.json"
    world = healthy()
    undelivered(world)
    path.write_text(json.dumps(world))
    code = main(["health", "--sandbox", str(path)])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "XX  webhook_deliveries" in out
    assert "1 of 12 checks failed." in out


def test_without_the_services_settings_only_config_is_judged(tmp_path, capsys, monkeypatch):
    for name in ("STRIPE_API_KEY", "SANITY_PROJECT_ID", "SANITY_API_TOKEN", "CLERK_SECRET_KEY",
                 "PASSBOT_WEBHOOK_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    code = main(["health", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    config, *rest = report["checks"]
    assert not config["ok"]
    assert "STRIPE_API_KEY is not set" in config["detail"]
    assert all(c["skipped"] for c in rest)
    assert report["mode"] == "unknown"
