"""The shapes of the Stripe objects the sandbox returns.

A world holds Stripe objects "exactly as the real API returns them", but a hand-written world often
leaves out the many fields nobody reads. So that clients see every field the API reference gives,
each answer is the world's object laid over a template of that object's fields with the values a
fresh object of that kind has (``null`` for nullable fields, empty lists and hashes, zero amounts).
The world's own values always win, sandbox-only keys (``account`` on sessions, payment intents and
charges; ``delivery_success`` on events; ``line_items`` on a session unless expanded) are removed,
and ``livemode`` is the world's.

The templates follow the Stripe API reference (and stripe-python 16.1's typed objects, which are
generated from it). Fields that are only there in some integrations (embedded Checkout, Custom
accounts, …) or only when expanded are left out.
"""

from __future__ import annotations

from typing import Any

SESSION_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "checkout.session",
    "adaptive_pricing": None,
    "after_expiration": None,
    "allow_promotion_codes": None,
    "amount_subtotal": None,
    "amount_total": None,
    "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
    "billing_address_collection": None,
    "cancel_url": None,
    "client_reference_id": None,
    "client_secret": None,
    "collected_information": None,
    "consent": None,
    "consent_collection": None,
    "created": None,
    "currency": None,
    "currency_conversion": None,
    "custom_fields": [],
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer": None,
    "customer_account": None,
    "customer_creation": "if_required",
    "customer_details": None,
    "customer_email": None,
    "discounts": [],
    "expires_at": None,
    "invoice": None,
    "invoice_creation": None,
    "livemode": False,
    "locale": None,
    "metadata": {},
    "mode": "payment",
    "origin_context": None,
    "payment_intent": None,
    "payment_link": None,
    "payment_method_collection": "if_required",
    "payment_method_configuration_details": None,
    "payment_method_options": {},
    "payment_method_types": ["card"],
    "payment_status": "unpaid",
    "permissions": None,
    "phone_number_collection": {"enabled": False},
    "recovered_from": None,
    "saved_payment_method_options": None,
    "setup_intent": None,
    "shipping_address_collection": None,
    "shipping_cost": None,
    "shipping_options": [],
    "status": None,
    "submit_type": None,
    "subscription": None,
    "success_url": None,
    "tax_id_collection": {"enabled": False, "required": "never"},
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    "ui_mode": "hosted",
    "url": None,
    "wallet_options": None,
}

PAYMENT_INTENT_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "payment_intent",
    "amount": 0,
    "amount_capturable": 0,
    "amount_details": {"tip": {}},
    "amount_received": 0,
    "application": None,
    "application_fee_amount": None,
    "automatic_payment_methods": None,
    "canceled_at": None,
    "cancellation_reason": None,
    "capture_method": "automatic_async",
    "client_secret": None,
    "confirmation_method": "automatic",
    "created": None,
    "currency": None,
    "customer": None,
    "customer_account": None,
    "description": None,
    "last_payment_error": None,
    "latest_charge": None,
    "livemode": False,
    "metadata": {},
    "next_action": None,
    "on_behalf_of": None,
    "payment_method": None,
    "payment_method_configuration_details": None,
    "payment_method_options": {},
    "payment_method_types": ["card"],
    "processing": None,
    "receipt_email": None,
    "review": None,
    "setup_future_usage": None,
    "shipping": None,
    "source": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
    "status": "requires_payment_method",
    "transfer_data": None,
    "transfer_group": None,
}

CHARGE_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "charge",
    "amount": 0,
    "amount_captured": 0,
    "amount_refunded": 0,
    "application": None,
    "application_fee": None,
    "application_fee_amount": None,
    "balance_transaction": None,
    "billing_details": {
        "address": {
            "city": None,
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "email": None,
        "name": None,
        "phone": None,
        "tax_id": None,
    },
    "calculated_statement_descriptor": None,
    "captured": True,
    "created": None,
    "currency": None,
    "customer": None,
    "description": None,
    "disputed": False,
    "failure_balance_transaction": None,
    "failure_code": None,
    "failure_message": None,
    "fraud_details": {},
    "livemode": False,
    "metadata": {},
    "on_behalf_of": None,
    "outcome": None,
    "paid": True,
    "payment_intent": None,
    "payment_method": None,
    "payment_method_details": None,
    "receipt_email": None,
    "receipt_number": None,
    "receipt_url": None,
    "refunded": False,
    "review": None,
    "shipping": None,
    "source": None,
    "source_transfer": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
    "status": "succeeded",
    "transfer_data": None,
    "transfer_group": None,
}

EVENT_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "event",
    "api_version": None,
    "created": None,
    "data": {"object": {}},
    "livemode": False,
    "pending_webhooks": 0,
    "request": {"id": None, "idempotency_key": None},
    "type": None,
}

WEBHOOK_ENDPOINT_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "webhook_endpoint",
    "api_version": None,
    "application": None,
    "created": None,
    "description": None,
    "enabled_events": [],
    "livemode": False,
    "metadata": {},
    "status": "enabled",
    "url": None,
}

ACCOUNT_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "account",
    "business_profile": None,
    "business_type": None,
    "capabilities": {},
    "charges_enabled": False,
    "controller": None,
    "country": None,
    "created": None,
    "default_currency": None,
    "details_submitted": False,
    "email": None,
    "external_accounts": None,
    "future_requirements": None,
    "metadata": {},
    "payouts_enabled": False,
    "requirements": None,
    "settings": None,
    "tos_acceptance": {"date": None},
    "type": "standard",
}

LINE_ITEM_FIELDS: dict[str, Any] = {
    "id": None,
    "object": "item",
    "amount_discount": 0,
    "amount_subtotal": 0,
    "amount_tax": 0,
    "amount_total": 0,
    "currency": None,
    "description": None,
    "metadata": {},
    "price": None,
    "quantity": 1,
}

SANDBOX_ONLY_KEYS = frozenset({"account", "delivery_success", "line_items"})
"""Keys a world may put on sessions, payment intents, charges and events that Stripe never sends."""


def shaped(fields: dict[str, Any], world_object: dict[str, Any], livemode: bool) -> dict[str, Any]:
    """``world_object`` over the ``fields`` template, without sandbox-only keys."""
    out = dict(fields)
    for key, value in world_object.items():
        if key not in SANDBOX_ONLY_KEYS:
            out[key] = value
    if "livemode" in fields:
        out["livemode"] = livemode
    return out


def synthesised_line_item(session: dict[str, Any], livemode: bool) -> dict[str, Any]:
    """The one line item of a session whose world object has no ``line_items``.

    It charges the session's whole amount once: ``amount_subtotal`` and ``amount_total`` are the
    session's (the difference is the discount), ``quantity`` 1, and the description comes from the
    metadata (the pass name when the metadata carries ``passName``, else ``passId``, else ``type``),
    because the sandbox's Stripe does not know the Sanity pass. The price is a one-time price of the
    subtotal with the metadata's ``passId`` as its product.
    """
    metadata = session.get("metadata") or {}
    total = session.get("amount_total") or 0
    subtotal = session.get("amount_subtotal")
    if subtotal is None:
        subtotal = total
    description = (
        metadata.get("passName") or metadata.get("passId") or metadata.get("type") or "Item"
    )
    suffix = str(session.get("id", "")).removeprefix("cs_")
    price: dict[str, Any] = {
        "id": f"price_sandbox_{suffix}",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": session.get("created"),
        "currency": session.get("currency"),
        "livemode": livemode,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": f"prod_sandbox_{metadata.get('passId') or suffix}",
        "recurring": None,
        "tax_behavior": "unspecified",
        "type": "one_time",
        "unit_amount": subtotal,
        "unit_amount_decimal": str(subtotal),
    }
    return shaped(
        LINE_ITEM_FIELDS,
        {
            "id": f"li_sandbox_{suffix}",
            "amount_discount": max(subtotal - total, 0),
            "amount_subtotal": subtotal,
            "amount_total": total,
            "currency": session.get("currency"),
            "description": description,
            "price": price,
            "quantity": 1,
        },
        livemode,
    )


def session_line_items(session: dict[str, Any], livemode: bool) -> list[dict[str, Any]]:
    """A session's line items: the world's (a list, or a list object), else one synthesised."""
    given = session.get("line_items")
    if isinstance(given, dict):
        given = given.get("data")
    if isinstance(given, list):
        return [shaped(LINE_ITEM_FIELDS, item, livemode) for item in given]
    return [synthesised_line_item(session, livemode)]
