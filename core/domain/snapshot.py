"""Facts from a world document (world-format.md): a snapshot of Stripe, Sanity and Clerk.

Used by the offline demo and by tests; the live path reads the same shapes through the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.domain.facts import Facts
from core.domain.models import (
    AccountScan,
    Booking,
    CheckoutSession,
    ClerkUser,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    WebhookLog,
    parse_instant,
    ref_of,
)


def bookings_from_instances(docs: list[Mapping[str, Any]]) -> list[Booking]:
    """The bookings inside `classInstance` documents (domain.md §1.7)."""
    out: list[Booking] = []
    for doc in docs:
        entries = doc.get("bookings")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            out.append(
                Booking(
                    student_ref=ref_of(entry.get("student")),
                    booking_type=entry.get("bookingType")
                    if isinstance(entry.get("bookingType"), str)
                    else None,
                    booked_at=parse_instant(entry.get("bookingTime")),
                    class_date=parse_instant(doc.get("date")),
                    tenant_ref=ref_of(entry.get("tenant")) or ref_of(doc.get("tenant")),
                )
            )
    return out


def facts_from_world(world: Mapping[str, Any]) -> tuple[Facts, list[ClerkUser]]:
    """Every fact a world holds, as a reconciliation would read it."""
    stripe = world.get("stripe") or {}
    sanity = world.get("sanity") or {}
    docs = [d for d in sanity.get("documents") or [] if isinstance(d, Mapping)]
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for doc in docs:
        by_type.setdefault(str(doc.get("_type")), []).append(doc)
    intents = {p.get("id"): p for p in stripe.get("payment_intents") or []}
    charges = {c.get("id"): c for c in stripe.get("charges") or []}
    sessions = []
    for raw in stripe.get("checkout_sessions") or []:
        obj = dict(raw)
        intent_id = obj.get("payment_intent")
        # An id to expand from the lists; a session stored already expanded is kept as it is.
        intent = intents.get(intent_id) if isinstance(intent_id, str) else None
        if intent is not None:
            intent = dict(intent)
            intent["latest_charge"] = charges.get(
                intent.get("latest_charge"), intent.get("latest_charge")
            )
            obj["payment_intent"] = intent
        sessions.append(CheckoutSession.from_json(obj, account=raw.get("account")))
    tenants = [Tenant.from_json(d) for d in by_type.get("tenant", [])]
    accounts = [
        AccountScan(
            account=str(a.get("id")),
            tenant=next((t.id for t in tenants if t.account_id == a.get("id")), None),
        )
        for a in stripe.get("accounts") or []
    ]
    accounts += [
        AccountScan(account=acct, tenant=t.id, error="the key cannot access this account")
        for t in tenants
        if (acct := t.account_id) and acct not in {a.account for a in accounts}
    ]
    facts = Facts(
        tenants=tenants,
        passes=[Pass.from_json(d) for d in by_type.get("pass", [])],
        users=[SanityUser.from_json(d) for d in by_type.get("user", [])],
        subscriptions=[Subscription.from_json(d) for d in by_type.get("subscription", [])],
        sessions=sessions,
        accounts=accounts,
        webhook_logs=[WebhookLog.from_json(d) for d in by_type.get("webhookLog", [])],
        bookings=bookings_from_instances(by_type.get("classInstance", [])),
    )
    clerk = [ClerkUser.from_json(u) for u in (world.get("clerk") or {}).get("users") or []]
    return facts, clerk
