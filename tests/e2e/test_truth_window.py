"""Issue 11 §1: answers that agree. "The window selects purchases, never a pass's payment"
(cli-contract.md): whether a pass is paid is decided over its whole life, so `check --days N`,
the daily summary, the sweep and `diagnose` say the same about the same pass.

A property test over generated worlds (hypothesis), through the real services against the
sandbox; and the demo world's hand-made pass through the command line."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.container import build_services
from bot.settings import Settings
from core.domain.findings import Finding
from sandbox import start_sandbox
from sandbox.worlds import generate_world
from tests.e2e.test_cli import run, write

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _hand_made(world: dict[str, Any], session: dict[str, Any], offset_hours: float) -> str:
    """Replace the webhook's pass for `session` by a hand-made copy: placeholder Stripe ids,
    started `offset_hours` from the purchase, still running (FM-41)."""
    docs = world["sanity"]["documents"]
    sub = next(d for d in docs if d.get("stripeSessionId") == session["id"])
    start = datetime.fromtimestamp(session["created"], tz=UTC) + timedelta(hours=offset_hours)
    sub.update(
        stripeSessionId=f"manual_session_{sub['_id']}",
        stripePaymentId=f"manual_creation_{sub['_id']}",
        startDate=_iso(start),
        endDate=_iso(NOW + timedelta(days=60)),
        _createdAt=_iso(start),
        manuallyCreated=True,
        isActive=True,
    )
    sub.pop("createdViaWebhook", None)
    sub.pop("webhookEventId", None)
    return str(sub["_id"])


def _orphan(world: dict[str, Any], like: dict[str, Any], days_ago: float) -> str:
    """A hand-made pass no purchase is behind (placeholder ids), started `days_ago`."""
    start = NOW - timedelta(days=days_ago)
    doc = {
        **like,
        "_id": f"orphan{len(world['sanity']['documents'])}",
        "stripeSessionId": "manual_session_x",
        "stripePaymentId": "manual_creation_x",
        "startDate": _iso(start),
        "_createdAt": _iso(start),
        "endDate": _iso(NOW + timedelta(days=60)),
        "isActive": True,
    }
    world["sanity"]["documents"].append(doc)
    return str(doc["_id"])


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    world = generate_world(
        seed=draw(st.integers(0, 10_000)),
        schools=draw(st.integers(1, 2)),
        purchases=draw(st.integers(12, 30)),
        days=35,
        now=NOW,
        broken=draw(st.booleans()),
    )
    docs = world["sanity"]["documents"]
    fulfilled = [
        s
        for s in world["stripe"]["checkout_sessions"]
        if s["metadata"].get("type") == "pass_purchase"
        and s["payment_status"] == "paid"
        and sum(1 for d in docs if d.get("stripeSessionId") == s["id"]) == 1
    ]
    picks = draw(st.lists(st.sampled_from(fulfilled), max_size=4, unique_by=lambda s: s["id"]))
    for session in picks:
        _hand_made(world, session, draw(st.floats(-72, 72)))
    template = next(d for d in docs if d.get("_type") == "subscription")
    for days_ago in draw(st.lists(st.floats(0.5, 34), max_size=2)):
        _orphan(world, template, days_ago)
    return world, draw(st.integers(1, 34))


def _about_passes(findings: Iterable[Finding], *, inside: set[str]) -> set[tuple[str, str, str]]:
    """Findings about passes (no purchase named), and about purchases both windows judge."""
    return {
        (f.kind.value, f.key, f.summary)
        for f in findings
        if (f.session is None and f.subscriptions) or (f.session in inside)
    }


async def _check_both(world: dict[str, Any], days: int) -> tuple[Any, Any, set[str]]:
    box = await start_sandbox(world)
    try:
        env = {
            k.lower(): v for k, v in box.settings().items() if k.lower() in Settings.model_fields
        }
        config = Settings(_env_file=None, **env)  # type: ignore[call-arg]
        async with build_services(config) as services:
            short = await services.check(days=days, keep_purchases=True)
            long = await services.check(days=60, keep_purchases=True)
    finally:
        await box.close()
    inside = {p.session.id for p in short.purchases}
    return short, long, inside


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(worlds())
def test_findings_about_a_pass_never_depend_on_the_window(case):
    world, days = case
    short, long, inside = asyncio.run(_check_both(world, days))
    assert _about_passes(short.findings, inside=inside) == _about_passes(
        long.findings, inside=inside
    )
    # Sanity: the short window judged fewer (or as many) purchases, and the counts are exact.
    assert short.paid_pass_sessions <= long.paid_pass_sessions


# ----------------------------------------------------------------- the demo world's sofie


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)


def test_check_summary_sweep_and_diagnose_agree_on_a_hand_made_pass(tmp_path, capsys):
    """The demo world's hand-made clip card matches a purchase 15 days old; a 14-day check (what
    the daily summary covers) once called it unpaid while the 35-day check called it fine."""
    from sandbox.worlds import demo_world

    world = copy.deepcopy(demo_world())
    session_id = world["_demo"]["manual_match_ok"]
    session = next(s for s in world["stripe"]["checkout_sessions"] if s["id"] == session_id)
    email = session["customer_details"]["email"]
    path = write(tmp_path, world)

    def about(findings: list[dict[str, Any]]) -> list[str]:
        return sorted(f["kind"] for f in findings if f.get("email") == email)

    verdicts = {}
    for days in ("10", "14", "35"):
        _, out, _ = run(capsys, "check", "--days", days, "--json", "--sandbox", path)
        verdicts[f"check --days {days}"] = about(json.loads(out)["findings"])
    _, out, _ = run(capsys, "diagnose", email, "--days", "14", "--json", "--sandbox", path)
    diagnosis = json.loads(out)
    verdicts["diagnose --days 14"] = about(diagnosis["findings"])
    for job in ("summary", "sweep"):
        _, out, _ = run(capsys, "job", job, "--json", "--sandbox", path)
        data = json.loads(out)["data"]
        findings = [f for school in data["schools"] for f in school["open_findings"]]
        findings += data.get("other_findings") or []
        verdicts[f"job {job}"] = about(findings)
    assert set(map(tuple, verdicts.values())) == {()}, verdicts
    # Fulfilment as counts on the command line, never a rounded percentage.
    _, out, _ = run(capsys, "check", "--sandbox", path)
    assert " of " in out.splitlines()[2]
    assert "missing" in out.splitlines()[2]
    assert "%" not in out.splitlines()[2]
    (mine,) = [p for p in diagnosis["passes"] if p["visible"]]
    assert mine["usable"] is True
