"""The Stripe objects of one Checkout purchase, as the platform's checkout leaves them: the
session, its PaymentIntent and Charge (when paid), and its `checkout.session.completed` event.

The world generator (worlds.py) and the checkout simulator (checkout.py) both make purchases
through here, so a generated world and a purchase made while the sandbox runs have one shape.
`account` is the sandbox-only key naming the connected account that owns each object (None: the
platform's own account, which the world leaves unnamed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ids:
    """The ids of one purchase's objects."""

    session: str
    payment_intent: str
    charge: str
    event: str


@dataclass(frozen=True, slots=True)
class PurchaseObjects:
    """One purchase's objects; `intent` and `charge` are None for an unpaid session."""

    session: Item
    intent: Item | None
    charge: Item | None
    event: Item | None


def purchase_objects(
    ids: Ids,
    *,
    amount: int,
    created: int,
    livemode: bool,
    metadata: Item,
    email: Any,
    name: Any,
    slug: str,
    account: str | None,
    paid: bool = True,
    refunded: bool = False,
    delivered: bool = True,
    event_delay_s: int = 0,
) -> PurchaseObjects:
    """The session (complete and paid, or expired unpaid) and, when paid, its PaymentIntent,
    Charge (refunded in full with `refunded`) and completion event (`delivered`: whether the
    platform's webhook received it)."""
    owner = {} if account is None else {"account": account}
    session: Item = {
        "id": ids.session,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "created": created,
        "expires_at": created + 86400,
        "currency": "nok",
        "customer": None,
        "customer_email": None,
        "client_reference_id": None,
        "customer_details": {"email": email, "name": name, "phone": None},
        "livemode": livemode,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": ids.payment_intent if paid else None,
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete" if paid else "expired",
        "success_url": f"https://dance.example/{slug}/payment/success",
        "url": None,
        **owner,
    }
    if not paid:
        return PurchaseObjects(session, None, None, None)
    intent: Item = {
        "id": ids.payment_intent,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "nok",
        "status": "succeeded",
        "latest_charge": ids.charge,
        "created": created,
        "livemode": livemode,
        "metadata": {},
        **owner,
    }
    charge: Item = {
        "id": ids.charge,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount if refunded else 0,
        "refunded": refunded,
        "disputed": False,
        "paid": True,
        "captured": True,
        "status": "succeeded",
        "payment_intent": ids.payment_intent,
        "currency": "nok",
        "created": created,
        "livemode": livemode,
        **owner,
    }
    event: Item = {
        "id": ids.event,
        "object": "event",
        "type": "checkout.session.completed",
        "created": created + event_delay_s,
        "livemode": livemode,
        "pending_webhooks": 0 if delivered else 1,
        "api_version": "2025-06-30.basil",
        "data": {"object": {k: v for k, v in session.items() if k != "account"}},
        "request": {"id": None, "idempotency_key": None},
        "delivery_success": delivered,
        **owner,
    }
    return PurchaseObjects(session, intent, charge, event)
