"""The health checks as pure judgments: one table row per rule of cli-contract.md and per
failure mode (FM-01 to FM-12, FM-30)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.health import (
    AccountFacts,
    ConfigFacts,
    DeliveryFacts,
    ProbeAnswer,
    ScopeEvidence,
    judge_config,
    judge_connect_accounts,
    judge_deliveries,
    judge_probe,
    judge_stripe_access,
    judge_webhook_duplicates,
    judge_webhook_endpoint,
    judge_webhook_events,
    judge_webhook_logs,
    normalise_url,
    read_webhook_logs,
)
from core.domain.models import WebhookLog

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)
URL = "https://dance.example/api/stripe/webhook"
LOOKBACK = timedelta(days=35)


def endpoint(url=URL, status="enabled", events=("checkout.session.completed",), **kw):
    return {"id": kw.pop("id", "we_1"), "url": url, "status": status,
            "enabled_events": list(events), **kw}  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.dance.example/api/stripe/webhook/", URL),
        ("http://dance.example/api/stripe/webhook", URL),
        ("https://DANCE.example:443/api/stripe/webhook", URL),
        ("dance.example/api/stripe/webhook", URL),
    ],
)
def test_urls_are_the_same_once_normalised(a, b):
    assert normalise_url(a) == normalise_url(b)


def test_other_paths_and_hosts_stay_different():
    assert normalise_url("https://dance.example/api/webhook") != normalise_url(URL)
    assert normalise_url("https://dance.vercel.app/api/stripe/webhook") != normalise_url(URL)


# ------------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize(
    ("endpoints", "ok", "words"),
    [
        ([endpoint()], True, "is enabled"),
        ([], False, "no webhook endpoint is registered"),  # FM-05
        ([endpoint(url="https://other.example/hook")], False, "no webhook endpoint"),
        ([endpoint(status="disabled")], False, "not enabled"),  # FM-08
        ([endpoint(url="https://www.dance.example/api/stripe/webhook")], False, "FM-07"),
        ([endpoint(connect=False)], False, "platform account only"),  # FM-06
        ([endpoint(connect=True)], True, "listens to connected accounts"),
        ([endpoint(status="disabled", id="we_0"), endpoint(id="we_2")], True, "we_2"),
    ],
)
def test_webhook_endpoint(endpoints, ok, words):
    check = judge_webhook_endpoint(endpoints, URL)
    assert check.ok is ok, check.detail
    assert words in check.detail
    assert check.name == "webhook_endpoint"
    assert check.severity == ("info" if ok else "critical")


def test_endpoint_scope_that_cannot_be_read_is_said_so():
    check = judge_webhook_endpoint([endpoint()], URL, scope=ScopeEvidence(10, 9))
    assert check.ok
    assert "does not say whether it listens to connected accounts" in check.detail


def test_connected_purchases_never_logged_mean_the_endpoint_misses_them():
    check = judge_webhook_endpoint([endpoint()], URL, scope=ScopeEvidence(5, 0))
    assert not check.ok
    assert "FM-06" in check.detail
    # two unlogged purchases are too little to say so
    assert judge_webhook_endpoint([endpoint()], URL, scope=ScopeEvidence(2, 0)).ok
    # signature failures explain the silence better: not blamed on the scope
    assert judge_webhook_endpoint([endpoint()], URL, scope=ScopeEvidence(5, 0, 3)).ok


def test_endpoints_that_cannot_be_listed_fail_with_the_reason():
    check = judge_webhook_endpoint(None, URL, error="Stripe: permission denied")
    assert not check.ok
    assert "permission denied" in check.detail


@pytest.mark.parametrize(
    ("events", "ok"),
    [
        (["checkout.session.completed"], True),
        (["*"], True),  # the scripts mis-reported `*` (FM-08)
        (["checkout.session.expired", "charge.refunded"], False),
        ([], False),
    ],
)
def test_webhook_events_enabled(events, ok):
    check = judge_webhook_events([endpoint(events=events)], URL)
    assert check.ok is ok
    if not ok:
        assert "add checkout.session.completed" in check.detail


def test_events_check_fails_without_an_endpoint():
    assert not judge_webhook_events([], URL).ok


@pytest.mark.parametrize(
    ("urls", "ok"),
    [
        ([URL], True),
        ([URL, "https://www.dance.example/api/stripe/webhook/"], False),  # FM-04
        ([URL, "http://dance.example/api/stripe/webhook"], False),
        ([URL, "https://other.example/elsewhere"], True),
    ],
)
def test_webhook_duplicates(urls, ok):
    eps = [endpoint(url=u, id=f"we_{i}") for i, u in enumerate(urls)]
    check = judge_webhook_duplicates(eps, URL)
    assert check.ok is ok, check.detail
    if not ok:
        assert "we_0" in check.detail
        assert "we_1" in check.detail


def test_a_disabled_copy_is_not_a_duplicate():
    eps = [endpoint(id="we_0"), endpoint(id="we_1", status="disabled")]
    assert judge_webhook_duplicates(eps, URL).ok


# ----------------------------------------------------------------------------------- probe


@pytest.mark.parametrize(
    ("answer", "ok", "words"),
    [
        (ProbeAnswer(URL, 400, body="No signature header"), True, "reachable, secret set"),
        (ProbeAnswer(URL, 500, body="Webhook secret not configured"), False, "FM-02"),
        (
            ProbeAnswer(URL, 307, location="https://dance.example/x"),
            False,
            "redirects to https://dance.example/x",
        ),
        (ProbeAnswer(URL, 301), False, "redirects to nowhere"),
        (ProbeAnswer(URL, 404), False, "no webhook handler"),
        (ProbeAnswer(URL, 405), False, "no webhook handler"),
        (ProbeAnswer(URL, 200), False, "does not verify"),
        (ProbeAnswer(URL, 401), False, "expected 400"),
        (ProbeAnswer(URL, None, error="connection refused"), False, "could not be reached"),
    ],
)
def test_webhook_probe(answer, ok, words):
    check = judge_probe(answer, webhook_url=URL)
    assert check.ok is ok
    assert words in check.detail


def test_probe_without_a_url_is_not_checked():
    check = judge_probe(None)
    assert not check.ok
    assert check.skipped


# ------------------------------------------------------------------------------ deliveries


def test_undelivered_events_fail_per_account():
    check = judge_deliveries(
        [DeliveryFacts("acct_a", "Aurora", ("evt_1", "evt_2")), DeliveryFacts("acct_b")], days=35
    )
    assert not check.ok
    assert "Aurora (acct_a): 2 (evt_1, evt_2)" in check.detail
    assert judge_deliveries([DeliveryFacts("acct_a"), DeliveryFacts("acct_b")], days=35).ok


def test_events_that_cannot_be_read_fail():
    check = judge_deliveries([DeliveryFacts("acct_a", error="Stripe: no access")], days=35)
    assert not check.ok
    assert "no access" in check.detail


# ------------------------------------------------------------------------------ webhookLog


def log(minutes_ago, status="success", event="evt_1", kind="checkout.session.completed", err=None):
    return WebhookLog(
        id=f"{event}-{status}-{minutes_ago}",
        event_type=kind,
        event_id=event,
        status=status,
        timestamp=NOW - timedelta(minutes=minutes_ago),
        session_id=None,
        error=err,
        raw={},
    )


DAY = 24 * 60


def healthy_logs(n: int) -> list[WebhookLog]:
    out = []
    for i in range(n):
        out += [log(600 + i, "processing", f"evt_{i}"), log(599 + i, "success", f"evt_{i}")]
    return out


@pytest.mark.parametrize(
    ("extra", "ok", "words"),
    [
        ([], True, "none stuck"),
        (
            [log(DAY, "error", "unknown", "signature_verification_failed")],
            False,
            "signature_verification_failed",
        ),
        ([log(3 * DAY, "error", "unknown", "configuration_error")], False, "FM-02"),
        ([log(8 * DAY, "error", "unknown", "signature_verification_failed")], True, ""),
        ([log(16, "processing", "evt_stuck")], False, "stuck in 'processing'"),
        ([log(14, "processing", "evt_young")], True, ""),  # not yet 15 minutes
        ([log(60, "processing", "evt_done"), log(59, "error", "evt_done", err="x")], True, ""),
        # an outcome before the processing log does not close it
        ([log(61, "success", "evt_re"), log(60, "processing", "evt_re")], False, "stuck"),
    ],
)
def test_webhook_log_rules(extra, ok, words):
    check = judge_webhook_logs(healthy_logs(100) + extra, now=NOW, lookback=LOOKBACK)
    assert check.ok is ok, check.detail
    assert words in check.detail


@pytest.mark.parametrize(
    ("errors", "ok"),
    [(2, True), (3, False)],  # 2 of 100 is 2 % (not more than 2 %); 3 of 100 fails
)
def test_error_ratio_threshold(errors, ok):
    logs = healthy_logs(100 - errors)
    logs += [log(30, "error", f"evt_bad{i}", err="Pass not found") for i in range(errors)]
    check = judge_webhook_logs(logs, now=NOW, lookback=LOOKBACK)
    assert check.ok is ok, check.detail
    if not ok:
        assert "'Pass not found' ×3" in check.detail


def test_latest_outcome_counts_and_unknown_ids_do_not():
    logs = healthy_logs(10)
    logs += [log(50, "error", "evt_retried", err="timeout"), log(20, "success", "evt_retried")]
    logs += [log(50, "error", "unknown", "signature_missing")] * 5
    verdict = read_webhook_logs(logs, now=NOW, lookback=LOOKBACK)
    assert verdict.judged == 11
    assert verdict.errored == ()
    logs.append(log(10, "error", "evt_retried", err="again"))
    assert read_webhook_logs(logs, now=NOW, lookback=LOOKBACK).errored == ("evt_retried",)


def test_outcomes_outside_the_lookback_are_not_counted():
    logs = [log(40 * DAY, "error", f"evt_{i}") for i in range(10)] + healthy_logs(5)
    assert judge_webhook_logs(logs, now=NOW, lookback=LOOKBACK).ok


# ----------------------------------------------------------------- config, stripe, accounts


def test_config_fails_only_on_what_the_command_needs():
    optional = ConfigFacts(missing_optional=("SLACK_BOT_TOKEN", "PASSBOT_CHANNEL"))
    check = judge_config(optional)
    assert check.ok
    assert "SLACK_BOT_TOKEN" in check.detail
    assert "PASSBOT_CHANNEL" in check.detail
    missing = judge_config(ConfigFacts(missing_required=("STRIPE_API_KEY",)))
    assert not missing.ok
    assert "STRIPE_API_KEY is not set" in missing.detail
    bad = judge_config(ConfigFacts(malformed=(("PASSBOT_WEBHOOK_URL", "is not an http(s) URL"),)))
    assert not bad.ok


@pytest.mark.parametrize(
    ("mode", "dataset", "error", "ok"),
    [
        ("test", "test", None, True),
        ("live", "production", None, True),
        ("test", "production", None, False),  # FM-09
        ("live", "staging", None, False),
        ("live", "production", "the API key was rejected", False),
    ],
)
def test_stripe_access(mode, dataset, error, ok):
    assert judge_stripe_access(mode=mode, dataset=dataset, error=error).ok is ok


def acct(**kw):
    base = {
        "account": "acct_a",
        "tenant": "t-a",
        "tenant_name": "Aurora",
        "charges_enabled": True,
        "payouts_enabled": True,
        "sanity_charges_enabled": True,
        "sanity_payouts_enabled": True,
        "sanity_account_status": "active",
    }
    return AccountFacts(**{**base, **kw})


@pytest.mark.parametrize(
    ("facts", "ok", "words"),
    [
        (acct(), True, "readable"),
        (acct(error="cannot access account acct_a"), False, "FM-10"),
        (acct(charges_enabled=False), False, "chargesEnabled is true in Sanity but false"),
        (acct(payouts_enabled=False), False, "FM-30"),
        (acct(sanity_charges_enabled=None), False, "unset in Sanity"),
    ],
)
def test_connect_accounts(facts, ok, words):
    check = judge_connect_accounts([facts])
    assert check.ok is ok
    assert words in check.detail


def test_drift_is_a_warning_and_no_account_at_all_fails():
    assert judge_connect_accounts([acct(payouts_enabled=False)]).severity == "warning"
    assert not judge_connect_accounts([], without_account=("Cadenza",)).ok
