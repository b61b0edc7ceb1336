"""StripePayments against a fake stripe-python HTTP client: wire params, pages, errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from core.adapters.stripe import StripePayments, make_stripe_client, stripe_error, stripe_mode
from core.errors import UpstreamError
from tests.adapters.conftest import FakeStripeHTTP, path_of, query_of

KEY = "rk_test_51Hsecretsecretsecret"
ACCOUNT = "acct_auroraAAA"


def session(n: int, *, refunded: bool = False) -> dict[str, Any]:
    return {
        "id": f"cs_test_{n:040d}",
        "object": "checkout.session",
        "created": 1793526900 - n,
        "livemode": False,
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 200000,
        "currency": "nok",
        "customer_details": {"email": "emil@example.com", "name": "Emil"},
        "metadata": {"type": "pass_purchase", "passId": "pass-a-10clip", "userId": "user_1"},
        "payment_intent": {
            "id": f"pi_test_{n:040d}",
            "object": "payment_intent",
            "latest_charge": {
                "id": f"ch_test_{n:040d}",
                "object": "charge",
                "refunded": refunded,
                "amount_refunded": 200000 if refunded else 0,
                "disputed": False,
            },
        },
    }


def listing(items: list[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": has_more, "url": url}


Route = Callable[[str, str, Mapping[str, str]], tuple[int, Any]]


def payments(route: Route, **kwargs: int) -> tuple[StripePayments, FakeStripeHTTP]:
    http = FakeStripeHTTP(route)
    client = make_stripe_client(
        KEY, api_base="http://127.0.0.1:9", max_network_retries=0, http_client=http
    )
    return StripePayments(client, mode=stripe_mode(KEY), **kwargs), http


def stripe_failure(status: int, message: str, code: str | None = None) -> tuple[int, Any]:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    return status, {"error": error}


SINCE = datetime(2026, 10, 24, 8, 0, 0, 500000, tzinfo=UTC)
UNTIL = datetime(2026, 11, 28, 8, 0, 0, 900000, tzinfo=UTC)


async def test_session_pages_one_request_per_page_with_expansions() -> None:
    pages = [
        listing([session(n) for n in range(3)], True, "/v1/checkout/sessions"),
        listing([session(n, refunded=True) for n in range(3, 5)], False, "/v1/checkout/sessions"),
    ]

    def route(method: str, url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        return 200, pages.pop(0)

    source, http = payments(route, page_size=3)
    got = [page async for page in source.session_pages(ACCOUNT, since=SINCE, until=UNTIL)]

    assert [len(page) for page in got] == [3, 2]
    first = got[0][0]
    assert first.account == ACCOUNT
    assert first.payment_intent == "pi_test_" + "0" * 40
    assert first.charge_id == "ch_test_" + "0" * 40
    assert not first.refunded
    assert got[1][0].refunded
    assert got[1][0].fully_refunded

    assert len(http.calls) == 2
    (method, url, headers), (_, next_url, _) = http.calls
    assert method == "get"
    assert path_of(url) == "/v1/checkout/sessions"
    params = query_of(url)
    assert ("created[gte]", str(int(SINCE.timestamp()) + 1)) in params  # rounded up
    assert ("created[lte]", str(int(UNTIL.timestamp()))) in params  # rounded down
    assert ("limit", "3") in params
    assert ("expand[0]", "data.payment_intent") in params
    assert ("expand[1]", "data.payment_intent.latest_charge") in params
    assert ("expand[2]", "data.line_items") in params
    assert not any(k == "starting_after" for k, _ in params)
    assert headers["Stripe-Account"] == ACCOUNT
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert ("starting_after", "cs_test_" + "2".rjust(40, "0")) in query_of(next_url)


async def test_platform_pages_send_no_account_header() -> None:
    source, http = payments(lambda m, u, h: (200, listing([], False, "/v1/checkout/sessions")))
    assert [page async for page in source.session_pages(None, since=SINCE, until=UNTIL)] == []
    assert len(http.calls) == 1
    assert "Stripe-Account" not in http.calls[0][2]


async def test_an_inaccessible_account_names_the_account_not_the_key() -> None:
    denied = stripe_failure(
        403,
        f"The provided key '{KEY[:8]}****cret' does not have access to account '{ACCOUNT}' "
        "(or that account does not exist). Application access may have been revoked.",
        "account_invalid",
    )
    source, _ = payments(lambda m, u, h: denied)
    with pytest.raises(UpstreamError) as caught:
        async for _ in source.session_pages(ACCOUNT, since=SINCE, until=UNTIL):
            pass
    message = str(caught.value)
    assert caught.value.service == "stripe"
    assert f"cannot access account {ACCOUNT}" in message
    assert "rk_test" not in message
    assert "****" not in message
    assert "\n" not in message
    assert not caught.value.retryable


async def test_find_session_asks_every_account_and_takes_the_one_that_has_it() -> None:
    wanted = session(7)

    def route(method: str, url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        if headers.get("Stripe-Account") == "acct_b":
            return 200, wanted
        return stripe_failure(
            404, f"No such checkout.session: '{wanted['id']}'", "resource_missing"
        )

    source, http = payments(route)
    found = await source.find_session(wanted["id"], accounts=[None, "acct_a", "acct_b", "acct_a"])
    assert found is not None
    assert found.id == wanted["id"]
    assert found.account == "acct_b"
    assert found.charge_id == "ch_test_" + "7".rjust(40, "0")
    assert len(http.calls) == 3  # duplicates asked once
    for _, url, _ in http.calls:
        assert path_of(url) == f"/v1/checkout/sessions/{wanted['id']}"
        assert query_of(url) == [
            ("expand[0]", "payment_intent"),
            ("expand[1]", "payment_intent.latest_charge"),
            ("expand[2]", "line_items"),  # what was bought, when the pass is gone (FM-43)
        ]


async def test_find_session_nowhere_is_none() -> None:
    source, _ = payments(lambda m, u, h: stripe_failure(404, "No such", "resource_missing"))
    assert await source.find_session("cs_test_x", accounts=[None, "acct_a"]) is None


async def test_find_session_not_found_but_an_account_failed_raises() -> None:
    def route(method: str, url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        if headers.get("Stripe-Account") == "acct_gone":
            return stripe_failure(403, "no access", "account_invalid")
        return stripe_failure(404, "No such", "resource_missing")

    source, _ = payments(route)
    with pytest.raises(UpstreamError, match="cannot access account acct_gone"):
        await source.find_session("cs_test_x", accounts=[None, "acct_gone"])


async def test_events_paginate_with_their_filters() -> None:
    pages = [
        listing([{"id": "evt_2", "object": "event"}], True, "/v1/events"),
        listing([{"id": "evt_1", "object": "event"}], False, "/v1/events"),
    ]
    source, http = payments(lambda m, u, h: (200, pages.pop(0)))
    events = await source.events(
        ACCOUNT, type_pattern="checkout.session.*", since=SINCE, delivery_success=False
    )
    assert [e["id"] for e in events] == ["evt_2", "evt_1"]
    params = query_of(http.calls[0][1])
    assert ("type", "checkout.session.*") in params
    assert ("delivery_success", "false") in params
    assert ("created[gte]", str(int(SINCE.timestamp()) + 1)) in params
    assert ("limit", "100") in params
    assert ("starting_after", "evt_2") in query_of(http.calls[1][1])
    assert http.calls[0][2]["Stripe-Account"] == ACCOUNT


async def test_webhook_endpoints_and_account() -> None:
    def route(method: str, url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        if path_of(url) == "/v1/webhook_endpoints":
            endpoint = {"id": "we_1", "object": "webhook_endpoint", "url": "https://x"}
            return 200, listing([endpoint], False, "/v1/webhook_endpoints")
        return 200, {"id": ACCOUNT, "object": "account", "charges_enabled": True}

    source, http = payments(route)
    assert [e["url"] for e in await source.webhook_endpoints()] == ["https://x"]
    assert (await source.account(ACCOUNT))["charges_enabled"] is True
    assert path_of(http.calls[1][1]) == f"/v1/accounts/{ACCOUNT}"
    assert all("Stripe-Account" not in headers for _, _, headers in http.calls)


def test_error_translation_is_retryable_where_a_retry_may_help() -> None:
    rate = stripe_error(
        stripe.RateLimitError("slow down", http_status=429), action="a", account=None
    )
    assert rate.retryable
    down = stripe_error(stripe.APIError("boom", http_status=500), action="a", account=None)
    assert down.retryable
    connection = stripe.APIConnectionError("Network error: ReadTimeout")  # type: ignore[no-untyped-call]
    lost = stripe_error(connection, action="a", account="acct_x")
    assert lost.retryable
    assert "acct_x" in str(lost)
    bad = stripe_error(
        stripe.InvalidRequestError(  # type: ignore[no-untyped-call]
            "Received unknown parameter: foo", param="foo", http_status=400
        ),
        action="listing events",
        account=None,
    )
    assert not bad.retryable
    assert "listing events on the platform account failed (400)" in str(bad)
    auth = stripe_error(
        stripe.AuthenticationError(f"Invalid API Key provided: {KEY}", http_status=401),
        action="listing events",
        account=None,
    )
    assert KEY not in str(auth)
    assert "rejected" in str(auth)


def test_stripe_mode_reads_the_key_prefix() -> None:
    assert stripe_mode("sk_live_x") == "live"
    assert stripe_mode("rk_live_x") == "live"
    assert stripe_mode("sk_test_x") == "test"
    assert stripe_mode("rk_test_x") == "test"
