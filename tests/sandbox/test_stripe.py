"""The sandbox's Stripe, end to end with stripe-python (async, httpx) over loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from sandbox import Sandbox
from tests.sandbox.conftest import AURORA, make_world

pytestmark = pytest.mark.asyncio(loop_scope="session")

BOLERO = "acct_boleroBBB"
T0 = 1_793_000_000


def session(n: int, account: str | None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"cs_test_{account or 'plat'}_{n:04d}",
        "object": "checkout.session",
        "created": T0 + n * 60,
        "amount_subtotal": 25000,
        "amount_total": 25000,
        "currency": "nok",
        "customer_details": {"email": f"buyer{n % 7}@example.com", "name": "B", "phone": None},
        "livemode": False,
        "metadata": {"type": "pass_purchase", "passId": "pass-x"},
        "mode": "payment",
        "payment_intent": f"pi_test_{account or 'plat'}_{n:04d}",
        "payment_status": "paid" if n % 5 else "unpaid",
        "status": "complete" if n % 5 else "expired",
        "url": None,
    }
    if account:
        out["account"] = account
    out.update(fields)
    return out


def event(n: int, account: str | None, type_: str, delivered: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"evt_{account or 'plat'}_{n:04d}",
        "object": "event",
        "type": type_,
        "created": T0 + n * 60,
        "livemode": False,
        "pending_webhooks": 0 if delivered else 1,
        "api_version": "2025-06-30.basil",
        "data": {"object": {"id": f"cs_{n}"}},
        "request": {"id": None, "idempotency_key": None},
        "delivery_success": delivered,
    }
    if account:
        out["account"] = account
    return out


def paging_world() -> dict[str, Any]:
    accounts = [
        {"id": AURORA, "object": "account", "charges_enabled": True, "created": 100},
        {"id": BOLERO, "object": "account", "charges_enabled": False, "created": 200},
    ]
    sessions = [session(n, AURORA) for n in range(45)]
    sessions += [session(n, BOLERO) for n in range(12)]
    sessions += [session(n, None) for n in range(3)]
    sessions.append(session(99, AURORA, id="cs_test_same_time_a", created=T0 + 30 * 60))
    kinds = ["checkout.session.completed", "checkout.session.expired", "charge.refunded"]
    events = [event(n, AURORA, kinds[n % 3], delivered=n % 4 != 0) for n in range(30)]
    events += [event(n, None, "account.updated") for n in range(2)]
    return make_world(
        stripe={
            "platform_account": "acct_platform",
            "livemode": False,
            "accounts": accounts,
            "checkout_sessions": sessions,
            "payment_intents": [],
            "charges": [],
            "events": events,
            "webhook_endpoints": [],
        }
    )


def on(account: str | None) -> dict[str, Any]:
    return {"stripe_account": account} if account else {}


async def test_list_is_newest_first_and_pages_across_accounts(
    sandbox: Sandbox, stripe_client: stripe.StripeClient
) -> None:
    await sandbox.replace_world(paging_world())
    sessions = stripe_client.v1.checkout.sessions
    seen: dict[str, list[str]] = {}
    for account, expected in ((AURORA, 46), (BOLERO, 12), (None, 3)):
        page = await sessions.list_async(params={"limit": 7}, options=on(account))
        assert len(page.data) == min(7, expected)
        assert page.has_more is (expected > 7)
        assert page.url == "/v1/checkout/sessions"
        ids = [s.id async for s in page.auto_paging_iter()]
        assert len(ids) == len(set(ids)) == expected
        seen[str(account)] = ids
    aurora = seen[AURORA]
    assert aurora[0] == "cs_test_acct_auroraAAA_0044"
    # Same `created`: the one later in the world comes first.
    at = aurora.index("cs_test_same_time_a")
    assert aurora[at + 1] == "cs_test_acct_auroraAAA_0030"
    assert all(not s.startswith("cs_test_acct_boleroBBB") for s in aurora)
    # Pages are contiguous: starting_after the 7th gives the 8th onwards.
    page = await sessions.list_async(
        params={"limit": 3, "starting_after": aurora[6]}, options=on(AURORA)
    )
    assert [s.id for s in page.data] == aurora[7:10]
    back = await sessions.list_async(
        params={"limit": 3, "ending_before": aurora[10]}, options=on(AURORA)
    )
    assert [s.id for s in back.data] == aurora[7:10]
    assert back.has_more is True
    first = await sessions.list_async(
        params={"limit": 5, "ending_before": aurora[2]}, options=on(AURORA)
    )
    assert [s.id for s in first.data] == aurora[0:2]
    assert first.has_more is False


async def test_list_filters(sandbox: Sandbox, stripe_client: stripe.StripeClient) -> None:
    await sandbox.replace_world(paging_world())
    sessions = stripe_client.v1.checkout.sessions

    async def ids(**params: Any) -> list[str]:
        page = await sessions.list_async(params={"limit": 100, **params}, options=on(AURORA))
        return [s.id for s in page.data]

    window = await ids(created={"gte": T0 + 10 * 60, "lt": T0 + 20 * 60})
    assert window == [f"cs_test_acct_auroraAAA_{n:04d}" for n in range(19, 9, -1)]
    assert await ids(created={"gt": T0 + 43 * 60}) == ["cs_test_acct_auroraAAA_0044"]
    assert await ids(created={"lte": T0 + 60}) == [
        "cs_test_acct_auroraAAA_0001",
        "cs_test_acct_auroraAAA_0000",
    ]
    assert await ids(created=T0 + 5 * 60) == ["cs_test_acct_auroraAAA_0005"]
    expired = await ids(status="expired")
    assert expired == [f"cs_test_acct_auroraAAA_{n:04d}" for n in range(40, -1, -5)]
    by_email = await ids(customer_details={"email": "buyer3@example.com"})
    assert by_email == [f"cs_test_acct_auroraAAA_{n:04d}" for n in (38, 31, 24, 17, 10, 3)]
    both = await ids(customer_details={"email": "buyer3@example.com"}, status="expired")
    assert both == ["cs_test_acct_auroraAAA_0010"]
    assert await ids(payment_intent="pi_test_acct_auroraAAA_0012") == [
        "cs_test_acct_auroraAAA_0012"
    ]
    assert await ids(payment_intent="pi_test_acct_boleroBBB_0001") == []


async def test_retrieve_and_expand(fresh: Sandbox, stripe_client: stripe.StripeClient) -> None:
    sessions = stripe_client.v1.checkout.sessions
    page = await sessions.list_async(
        params={"expand": ["data.payment_intent.latest_charge", "data.line_items"]},
        options=on(AURORA),
    )
    first = page.data[0]
    assert first.id == "cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
    intent = first.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert isinstance(intent.latest_charge, stripe.Charge)
    assert intent.latest_charge.amount == 200000
    line_items = first.line_items
    assert line_items is not None
    assert line_items.data[0].amount_total == 200000
    assert line_items.data[0].description == "pass-a-10clip"

    plain = await sessions.retrieve_async(first.id, options=on(AURORA))
    assert plain.payment_intent == "pi_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
    assert "line_items" not in plain
    assert "account" not in plain
    expanded = await sessions.retrieve_async(
        first.id, params={"expand": ["payment_intent", "line_items"]}, options=on(AURORA)
    )
    assert isinstance(expanded.payment_intent, stripe.PaymentIntent)
    assert (
        expanded.payment_intent.latest_charge
        == "ch_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
    )

    items = await sessions.line_items.list_async(first.id, options=on(AURORA))
    assert [i.quantity for i in items.data] == [1]
    assert items.url == f"/v1/checkout/sessions/{first.id}/line_items"

    pi = await stripe_client.v1.payment_intents.retrieve_async(
        "pi_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb",
        params={"expand": ["latest_charge"]},
        options=on(AURORA),
    )
    assert pi.amount_received == 25000
    assert isinstance(pi.latest_charge, stripe.Charge)
    charge = await stripe_client.v1.charges.retrieve_async(
        "ch_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb", options=on(AURORA)
    )
    assert (charge.refunded, charge.amount_refunded, charge.disputed) == (False, 0, False)
    assert "account" not in charge


async def test_world_line_items_are_used(
    sandbox: Sandbox, stripe_client: stripe.StripeClient
) -> None:
    items = [
        {"id": "li_1", "object": "item", "amount_total": 100, "description": "A", "quantity": 2},
        {"id": "li_2", "object": "item", "amount_total": 50, "description": "B", "quantity": 1},
    ]
    world = make_world()
    world["stripe"]["checkout_sessions"] = [session(1, None, line_items={"data": items})]
    await sandbox.replace_world(world)
    page = await stripe_client.v1.checkout.sessions.line_items.list_async(
        "cs_test_plat_0001", params={"limit": 1}
    )
    assert [i.id for i in page.data] == ["li_1"]
    assert page.has_more is True
    rest = [i.description async for i in page.auto_paging_iter()]
    assert rest == ["A", "B"]


async def test_events(sandbox: Sandbox, stripe_client: stripe.StripeClient) -> None:
    await sandbox.replace_world(paging_world())
    events = stripe_client.v1.events

    async def ids(account: str | None = AURORA, **params: Any) -> list[str]:
        page = await events.list_async(params={"limit": 100, **params}, options=on(account))
        return [e.id for e in page.data]

    assert len(await ids()) == 30
    completed = await ids(type="checkout.session.completed")
    assert completed == [f"evt_acct_auroraAAA_{n:04d}" for n in range(27, -1, -3)]
    wildcard = await ids(type="checkout.session.*")
    assert len(wildcard) == 20
    assert all(int(e[-4:]) % 3 != 2 for e in wildcard)
    typed = await ids(types=["charge.refunded", "checkout.session.expired"])
    assert len(typed) == 20
    undelivered = await ids(delivery_success=False)
    assert undelivered == [f"evt_acct_auroraAAA_{n:04d}" for n in range(28, -1, -4)]
    recent = await ids(created={"gte": T0 + 25 * 60}, type="checkout.session.*")
    assert recent == [f"evt_acct_auroraAAA_{n:04d}" for n in (28, 27, 25)]
    assert await ids(None) == ["evt_plat_0001", "evt_plat_0000"]
    page = await events.list_async(params={"limit": 4}, options=on(AURORA))
    assert page.data[0].account == AURORA
    assert "delivery_success" not in page.data[0]
    assert len([e async for e in page.auto_paging_iter()]) == 30
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await events.list_async(params={"type": "a", "types": ["b"]})
    assert caught.value.http_status == 400


async def test_webhook_endpoints_and_accounts(
    fresh: Sandbox, stripe_client: stripe.StripeClient
) -> None:
    endpoints = await stripe_client.v1.webhook_endpoints.list_async()
    assert [e.url for e in endpoints.data] == ["https://dance.example/api/stripe/webhook"]
    assert endpoints.data[0].enabled_events == ["checkout.session.completed"]
    none_there = await stripe_client.v1.webhook_endpoints.list_async(options=on(AURORA))
    assert none_there.data == []

    accounts = await stripe_client.v1.accounts.list_async()
    assert [a.id for a in accounts.data] == [AURORA]
    aurora = await stripe_client.v1.accounts.retrieve_async(AURORA)
    assert (aurora.charges_enabled, aurora.default_currency) == (True, "nok")
    platform = await stripe_client.v1.accounts.retrieve_current_async()
    assert platform.id == "acct_platformXYZ"
    own = await stripe_client.v1.accounts.retrieve_current_async(options=on(AURORA))
    assert own.id == AURORA


async def test_livemode_comes_from_the_world(sandbox: Sandbox, tiny: dict[str, Any]) -> None:
    tiny["stripe"]["livemode"] = True
    await sandbox.replace_world(tiny)
    env = sandbox.settings()
    assert env["STRIPE_API_KEY"].startswith("rk_live_")
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        env["STRIPE_API_KEY"],
        base_addresses={"api": env["STRIPE_API_BASE"]},
        http_client=http_client,
        max_network_retries=0,
    )
    try:
        page = await client.v1.checkout.sessions.list_async(options=on(AURORA))
        assert {s.livemode for s in page.data} == {True}
        test_key = stripe.StripeClient(
            "sk_test_x123", base_addresses={"api": env["STRIPE_API_BASE"]}, http_client=http_client
        )
        with pytest.raises(stripe.AuthenticationError):
            await test_key.v1.events.list_async()
    finally:
        await http_client.close_async()
        http_client.close()


async def test_errors(fresh: Sandbox, stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await stripe_client.v1.checkout.sessions.retrieve_async("cs_nope", options=on(AURORA))
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    assert "No such checkout.session: 'cs_nope'" in str(missing.value)
    # The session exists, but on another account than the one asked.
    with pytest.raises(stripe.InvalidRequestError):
        await stripe_client.v1.checkout.sessions.retrieve_async(
            "cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
        )
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await stripe_client.v1.checkout.sessions.list_async(params={"customer": "cus_1"})
    assert (unknown.value.http_status, unknown.value.code) == (400, "parameter_unknown")
    assert unknown.value.param == "customer"
    assert "Received unknown parameter: customer" in str(unknown.value)
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        await stripe_client.v1.checkout.sessions.list_async(params={"expand": ["data.customer"]})
    with pytest.raises(stripe.InvalidRequestError, match="less than or equal to 100"):
        await stripe_client.v1.checkout.sessions.list_async(params={"limit": 101})
    with pytest.raises(stripe.PermissionError) as denied:
        await stripe_client.v1.checkout.sessions.list_async(options=on("acct_unknown"))
    assert denied.value.http_status == 403
    assert "does not have access to account 'acct_unknown'" in str(denied.value)
    assert denied.value.json_body["error"]["code"] == "account_invalid"
    with pytest.raises(stripe.PermissionError):
        await stripe_client.v1.accounts.retrieve_async("acct_unknown")


async def test_missing_or_bad_auth(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient
) -> None:
    base = env["STRIPE_API_BASE"]
    answer = await http.get(f"{base}/v1/events")
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in answer.json()["error"]["message"]
    bad = await http.get(f"{base}/v1/events", headers={"Authorization": "Bearer pk_test_1"})
    assert bad.status_code == 401
    basic = await http.get(f"{base}/v1/events", auth=(env["STRIPE_API_KEY"], ""))
    assert basic.status_code == 200
    route = await http.get(
        f"{base}/v1/customers", headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"}
    )
    assert route.status_code == 404
    assert "Unrecognized request URL (GET: /v1/customers)" in route.json()["error"]["message"]


async def test_large_world_lists_fast(sandbox: Sandbox, stripe_client: stripe.StripeClient) -> None:
    """20 accounts x 1000 sessions: filters bisect and walk, so pages stay fast (not timed)."""
    accounts = [{"id": f"acct_{n:02d}", "object": "account"} for n in range(20)]
    sessions = [session(n, f"acct_{n % 20:02d}") for n in range(20_000)]
    world = make_world()
    world["stripe"].update(accounts=accounts, checkout_sessions=sessions)
    await sandbox.replace_world(world)
    page = await stripe_client.v1.checkout.sessions.list_async(
        params={"limit": 100, "created": {"gte": T0 + 10_000 * 60, "lt": T0 + 13_000 * 60}},
        options=on("acct_07"),
    )
    assert len(page.data) == 100
    assert page.has_more is True
    assert all(T0 + 10_000 * 60 <= s.created < T0 + 13_000 * 60 for s in page.data)
