"""Contract: the sandbox's Stripe answers carry the fields the Stripe API reference gives.

The reference is read from stripe-python 16.1's typed objects, which are generated from Stripe's
OpenAPI description: every field they declare must be in the answer (except the few listed below,
which Stripe itself only returns for some integrations or on request), and every field they declare
non-nullable must be non-null. The tiny world's objects omit many fields on purpose, so this also
checks that the sandbox fills them in.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import httpx
import pytest
import stripe
from stripe.checkout import Session

from sandbox import Sandbox
from tests.sandbox.conftest import AURORA

pytestmark = pytest.mark.asyncio(loop_scope="session")

SESSION_ID = "cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
INTENT_ID = "pi_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
CHARGE_ID = "ch_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"

# Declared by the SDK but only returned by Stripe in some integrations or when expanded.
NOT_ALWAYS_RETURNED: dict[type, set[str]] = {
    Session: {
        "allowed_payment_method_types",
        "excluded_payment_method_types",
        "branding_settings",
        "integration_identifier",
        "line_items",  # expand only
        "managed_payments",
        "name_collection",
        "optional_items",
        "presentment_details",
        "redirect_on_completion",  # embedded and custom ui_mode only
        "return_url",  # embedded and custom ui_mode only
    },
    stripe.PaymentIntent: {
        "allowed_payment_method_types",
        "excluded_payment_method_types",
        "hooks",
        "managed_payments",
        "payment_details",
        "payment_record",
        "presentment_details",
    },
    stripe.Charge: {
        "authorization_code",
        "level3",
        "presentment_details",
        "radar_options",
        "refunds",  # expand only since 2022-11-15
        "transfer",  # destination charges only
    },
    stripe.Event: {"context"},
    stripe.WebhookEndpoint: {"deleted", "secret"},  # secret: on create only
    stripe.Account: {"company", "individual", "groups", "deleted"},
    stripe.LineItem: {"adjustable_quantity", "discounts", "taxes"},
}


def reference_fields(cls: type) -> tuple[set[str], set[str]]:
    """The fields an object declares, and those of them that are never null."""
    own = inspect.get_annotations(cls)
    annotations = {k: v for k, v in own.items() if k != "OBJECT_NAME"}
    non_null = {k for k, v in annotations.items() if types.NoneType not in typing.get_args(v)}
    return set(annotations) - NOT_ALWAYS_RETURNED.get(cls, set()), non_null


def check(cls: type, answer: dict[str, Any]) -> None:
    fields, non_null = reference_fields(cls)
    missing = sorted(fields - set(answer))
    assert not missing, f"{cls.__name__} lacks {missing}"
    nulls = sorted(k for k in non_null & fields if answer.get(k) is None)
    assert not nulls, f"{cls.__name__} has null {nulls}"
    assert answer["object"] == cls.OBJECT_NAME  # type: ignore[attr-defined]
    if "livemode" in fields:
        assert answer["livemode"] is False


async def get(http: httpx.AsyncClient, env: dict[str, str], path: str, account: str | None) -> Any:
    headers = {"Authorization": f"Bearer {env['STRIPE_API_KEY']}"}
    if account:
        headers["Stripe-Account"] = account
    answer = await http.get(f"{env['STRIPE_API_BASE']}{path}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(
    ("cls", "path", "account"),
    [
        (Session, f"/v1/checkout/sessions/{SESSION_ID}", AURORA),
        (stripe.PaymentIntent, f"/v1/payment_intents/{INTENT_ID}", AURORA),
        (stripe.Charge, f"/v1/charges/{CHARGE_ID}", AURORA),
        (stripe.Account, f"/v1/accounts/{AURORA}", None),
        (stripe.Account, "/v1/account", None),
    ],
)
async def test_retrieved_objects(
    fresh: Sandbox,
    http: httpx.AsyncClient,
    env: dict[str, str],
    cls: type,
    path: str,
    account: str | None,
) -> None:
    check(cls, await get(http, env, path, account))


@pytest.mark.parametrize(
    ("cls", "path", "account"),
    [
        (Session, "/v1/checkout/sessions", AURORA),
        (stripe.Event, "/v1/events", AURORA),
        (stripe.WebhookEndpoint, "/v1/webhook_endpoints", None),
        (stripe.Account, "/v1/accounts", None),
        (stripe.LineItem, f"/v1/checkout/sessions/{SESSION_ID}/line_items", AURORA),
    ],
)
async def test_listed_objects(
    fresh: Sandbox,
    http: httpx.AsyncClient,
    env: dict[str, str],
    cls: type,
    path: str,
    account: str | None,
) -> None:
    answer = await get(http, env, path, account)
    assert set(answer) == {"object", "data", "has_more", "url"}
    assert answer["object"] == "list"
    assert answer["data"]
    for item in answer["data"]:
        check(cls, item)


async def test_connect_events_keep_their_account(
    fresh: Sandbox, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    answer = await get(http, env, "/v1/events", AURORA)
    assert {e["account"] for e in answer["data"]} == {AURORA}
    assert all("delivery_success" not in e for e in answer["data"])


async def test_expanded_objects(
    fresh: Sandbox, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    path = (
        f"/v1/checkout/sessions/{SESSION_ID}?expand[0]=payment_intent.latest_charge"
        "&expand[1]=line_items"
    )
    answer = await get(http, env, path, AURORA)
    check(Session, answer)
    check(stripe.PaymentIntent, answer["payment_intent"])
    check(stripe.Charge, answer["payment_intent"]["latest_charge"])
    for item in answer["line_items"]["data"]:
        check(stripe.LineItem, item)
