"""Worlds for the health, early-warning, scheduler and metrics tests: the tiny world, plus
purchases made minutes ago (fulfilled by the webhook or not), plus a webhook outage."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TINY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "sandbox" / "tiny-world.json").read_text(encoding="utf-8")
)
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # the tiny world's now (a Saturday)
OLA_SESSION = "cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb"
EMIL_SUB = "IduYcRrnmFs6kWP4vTWWUm"
AURORA = "acct_auroraAAA"
OLA_EVENT = "evt_rvEMoENR8dc0EncLuGu4vwB7"
_OLA_DONE = "2026-10-30T21:54:30.000Z"


def tiny() -> dict[str, Any]:
    return copy.deepcopy(TINY)


def healthy() -> dict[str, Any]:
    """The tiny world with Ola's purchase fulfilled too: every health check passes."""
    world = tiny()
    emil = next(d for d in world["sanity"]["documents"] if d["_id"] == EMIL_SUB)
    world["sanity"]["documents"].append(
        {**emil, "_id": "ola-webhook-pass", "user": {"_type": "reference",
         "_ref": "NayMiNahGmbbkfRy5m98S9"}, "type": "single", "remainingClips": 1,
         "passId": "pass-a-drop", "passName": "Drop-in Class", "stripeSessionId": OLA_SESSION,
         "stripePaymentId": "pi_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb",
         "_createdAt": "2026-10-30T21:54:30.000Z",
         "startDate": "2026-10-30T21:54:26.000Z", "endDate": "2026-11-29T21:54:30.000Z"}
    )  # fmt: skip
    for status, at in (("processing", "2026-10-30T21:54:28.000Z"), ("success", _OLA_DONE)):
        world["sanity"]["documents"].append(
            {"_id": f"ola-log-{status}", "_type": "webhookLog",
             "eventType": "checkout.session.completed", "eventId": OLA_EVENT,
             "status": status, "timestamp": at, "details": {"sessionId": OLA_SESSION}}
        )  # fmt: skip
    return world


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def add_purchase(
    world: dict[str, Any],
    tag: str,
    created: datetime,
    *,
    fulfilled: bool,
    delivered: bool = True,
    webhook_delay: timedelta = timedelta(seconds=4),
) -> str:
    """A paid Drop-in purchase by Ola at `created`; with `fulfilled`, the webhook's pass and
    logs. Returns the session id."""
    stripe = world["stripe"]
    template = next(s for s in stripe["checkout_sessions"] if s["id"] == OLA_SESSION)
    suffix = f"{tag}{'x' * 12}"[:12]
    cs, pi, ch, evt = (f"{p}_test_{suffix}Zq9" for p in ("cs", "pi", "ch", "evt"))
    ts = int(created.timestamp())
    session = {**copy.deepcopy(template), "id": cs, "payment_intent": pi, "created": ts,
               "expires_at": ts + 86400}  # fmt: skip
    stripe["checkout_sessions"].append(session)
    intent = next(p for p in stripe["payment_intents"] if p["id"] == template["payment_intent"])
    stripe["payment_intents"].append({**intent, "id": pi, "latest_charge": ch, "created": ts})
    charge = next(c for c in stripe["charges"] if c["payment_intent"] == intent["id"])
    stripe["charges"].append({**charge, "id": ch, "payment_intent": pi, "created": ts})
    data = {k: v for k, v in session.items() if k != "account"}
    stripe["events"].append(
        {"id": evt, "object": "event", "type": "checkout.session.completed", "created": ts + 2,
         "livemode": False, "pending_webhooks": 0 if delivered else 1,
         "api_version": "2025-06-30.basil", "data": {"object": data},
         "request": {"id": None, "idempotency_key": None}, "delivery_success": delivered,
         "account": AURORA}
    )  # fmt: skip
    if fulfilled:
        written = created + webhook_delay
        docs = world["sanity"]["documents"]
        docs.append(
            {"_id": f"sub-{tag}", "_type": "subscription", "_createdAt": _iso(written),
             "_rev": "r1", "user": {"_type": "reference", "_ref": "NayMiNahGmbbkfRy5m98S9"},
             "tenant": {"_type": "reference", "_ref": "tenant-aurora"}, "type": "single",
             "startDate": _iso(created), "endDate": _iso(written + timedelta(days=30)),
             "passId": "pass-a-drop", "passName": "Drop-in Class", "purchasePrice": 250,
             "remainingClips": 1, "stripePaymentId": pi, "stripeSessionId": cs,
             "webhookEventId": evt, "isActive": True, "createdViaWebhook": True}
        )  # fmt: skip
        for status, at in (("processing", written - timedelta(seconds=2)), ("success", written)):
            docs.append(
                {"_id": f"log-{tag}-{status}", "_type": "webhookLog",
                 "eventType": "checkout.session.completed", "eventId": evt, "status": status,
                 "timestamp": _iso(at), "details": {"sessionId": cs}}
            )  # fmt: skip
    return cs


def webhook_log(
    world: dict[str, Any],
    doc_id: str,
    at: datetime,
    *,
    event_type: str = "checkout.session.completed",
    event_id: str = "unknown",
    status: str = "error",
    error: str | None = None,
) -> None:
    details: dict[str, Any] = {"error": error} if error else {}
    world["sanity"]["documents"].append(
        {"_id": doc_id, "_type": "webhookLog", "eventType": event_type, "eventId": event_id,
         "status": status, "timestamp": _iso(at), "details": details}
    )  # fmt: skip


def outage(world: dict[str, Any] | None = None, *, now: datetime = NOW) -> dict[str, Any]:
    """A webhook outage for the last hour: the signing secret stopped matching, so three
    purchases 20–60 minutes old have no pass, their events are undelivered, and the webhook
    logged only signature failures."""
    world = world if world is not None else healthy()
    for minutes in (20, 40, 60):
        at = now - timedelta(minutes=minutes)
        add_purchase(world, f"out{minutes}", at, fulfilled=False, delivered=False)
        webhook_log(
            world,
            f"sigfail-{minutes}",
            at + timedelta(seconds=3),
            event_type="signature_verification_failed",
            error="No signatures found matching the expected signature for payload",
        )
    return world
