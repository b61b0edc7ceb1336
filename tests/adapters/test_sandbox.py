"""The adapters end to end against the sandbox: real stripe-python, Sanity's own GROQ and
mutation engines (groq-js, @sanity/mutator), the Clerk stand-in, and injected faults."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import stripe

from core.adapters import sanity as sanity_adapter
from core.adapters.clerk import ClerkUsers, make_clerk_client
from core.adapters.retry import RetryPolicy
from core.adapters.sanity import SanityPasses, make_sanity_client
from core.adapters.stripe import StripePayments, make_stripe_client, stripe_mode
from core.domain.findings import CreateDoc, PatchDoc
from core.errors import StaleFixError, UpstreamError
from sandbox import Sandbox, start_sandbox
from tests.adapters.conftest import Sleeps

pytestmark = pytest.mark.asyncio(loop_scope="module")

TINY = json.loads((Path(__file__).parent / "tiny-world.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)
SINCE = NOW - timedelta(days=35)
AURORA = "acct_auroraAAA"
BOLERO = "acct_boleroBBB"
EMIL = "user_2hwMPTQOqvZNfomiFUJifmBSE"
OLA = "user_206X9A8RsDNN0ht9UqEYKDj1j"
EMIL_SESSION = "cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
OLA_SESSION = "cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb"


def tiny() -> dict[str, Any]:
    return copy.deepcopy(TINY)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(tiny())
    try:
        yield sandbox
    finally:
        await sandbox.close()


@dataclass
class Wired:
    """The three adapters pointed at the sandbox, as bot/container.py builds them."""

    box: Sandbox
    payments: StripePayments
    passes: SanityPasses
    users: ClerkUsers

    async def requests(self, service: str) -> dict[str, int]:
        counts: dict[str, int] = (await self.box.dump_world())["requests"].get(service, {})
        return counts

    async def documents(self) -> dict[str, dict[str, Any]]:
        world = await self.box.dump_world()
        return {d["_id"]: d for d in world["sanity"]["documents"]}


Load = Callable[[dict[str, Any]], Awaitable[Wired]]


@pytest_asyncio.fixture(loop_scope="module")
async def load(box: Sandbox, sleeps: Sleeps) -> AsyncIterator[Load]:
    """Load a world into the sandbox and wire fresh adapters to it."""
    stack = AsyncExitStack()
    retry = RetryPolicy(
        attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5, sleep=sleeps
    )

    async def wire(world: dict[str, Any]) -> Wired:
        await box.replace_world(world)
        env = box.settings()
        http = stripe.HTTPXClient()
        stack.push_async_callback(http.close_async)
        client = make_stripe_client(
            env["STRIPE_API_KEY"],
            api_base=env["STRIPE_API_BASE"],
            max_network_retries=0,
            http_client=http,
        )
        sanity_http = make_sanity_client(env["SANITY_API_HOST"], env["SANITY_API_TOKEN"])
        stack.push_async_callback(sanity_http.aclose)
        clerk_http = make_clerk_client(env["CLERK_API_URL"], env["CLERK_SECRET_KEY"])
        stack.push_async_callback(clerk_http.aclose)
        return Wired(
            box=box,
            payments=StripePayments(client, mode=stripe_mode(env["STRIPE_API_KEY"])),
            passes=SanityPasses(
                sanity_http,
                dataset=env["SANITY_DATASET"],
                api_version=env["SANITY_API_VERSION"],
                retry=retry,
            ),
            users=ClerkUsers(clerk_http, retry=retry),
        )

    try:
        yield wire
    finally:
        await stack.aclose()


# ----------------------------------------------------------------------------------- worlds


def add_sessions(world: dict[str, Any], account: str | None, count: int) -> list[str]:
    """`count` paid sessions (with PaymentIntent and Charge) on `account`, inside the window."""
    stripe_state = world["stripe"]
    ids = []
    for n in range(count):
        suffix = f"{account or 'platform'}{n:05d}".replace("_", "")
        created = int((NOW - timedelta(hours=1 + n)).timestamp())
        owner = {"account": account} if account else {}
        session_id, intent_id, charge_id = (
            f"cs_test_{suffix}",
            f"pi_test_{suffix}",
            f"ch_test_{suffix}",
        )
        stripe_state["checkout_sessions"].append(
            {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": 25000,
                "created": created,
                "currency": "nok",
                "customer_details": {"email": f"buyer{n}@example.com", "name": "Buyer"},
                "livemode": False,
                "metadata": {
                    "type": "pass_purchase",
                    "passId": "pass-a-drop",
                    "userId": f"user_{n}",
                },
                "mode": "payment",
                "payment_intent": intent_id,
                "payment_status": "paid",
                "status": "complete",
                **owner,
            }
        )
        stripe_state["payment_intents"].append(
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": 25000,
                "currency": "nok",
                "status": "succeeded",
                "latest_charge": charge_id,
                "created": created,
                **owner,
            }
        )
        stripe_state["charges"].append(
            {
                "id": charge_id,
                "object": "charge",
                "amount": 25000,
                "amount_refunded": 25000 if n == 0 else 0,
                "refunded": n == 0,
                "disputed": False,
                "payment_intent": intent_id,
                "created": created,
                **owner,
            }
        )
        ids.append(session_id)
    return ids


def with_documents(world: dict[str, Any], *docs: dict[str, Any]) -> dict[str, Any]:
    world["sanity"]["documents"].extend(copy.deepcopy(list(docs)))
    return world


def ref(target: str) -> dict[str, str]:
    return {"_type": "reference", "_ref": target}


EXTRA_DOCS: list[dict[str, Any]] = [
    # Emil's legacy user document (`_id` is the Clerk id) and a duplicate with the same clerkId.
    {"_id": EMIL, "_type": "user", "email": "emil.lund117@example.com"},
    {"_id": "emil-dup", "_type": "user", "clerkId": EMIL, "email": "EMIL.LUND117@example.com"},
    # Stub users with no clerkId and a blank email: must never match anything by null or "".
    {"_id": "stub-1", "_type": "user", "email": "", "name": "User"},
    {"_id": "stub-2", "_type": "user", "name": "Customer"},
    # Ola's purchase, linked only through legacy payment fields.
    {
        "_id": "ola-second-schema",
        "_type": "subscription",
        "status": "active",
        "user": ref("NayMiNahGmbbkfRy5m98S9"),
        "stripePaymentIntentId": "pi_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb",
    },
    {
        "_id": "by-payment-id",
        "_type": "subscription",
        "user": ref("someone-else"),
        "paymentId": "pi_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T",
    },
    # Emil's hand-made passes: one referencing his Clerk id, one his duplicate user document.
    {
        "_id": "emil-legacy-ref",
        "_type": "subscription",
        "user": ref(EMIL),
        "isActive": True,
        "endDate": "2027-02-01T00:00:00.000Z",
        "stripePaymentId": "manual_creation_1",
    },
    {
        "_id": "emil-dup-sub",
        "_type": "subscription",
        "user": ref("emil-dup"),
        "isActive": False,
        "endDate": "2026-01-01T00:00:00.000Z",
    },
    # Someone else's manual pass with no Stripe ids at all (FM-47: never matched by a null).
    {
        "_id": "stranger-manual",
        "_type": "subscription",
        "user": ref("stub-1"),
        "isActive": True,
        "endDate": "2027-03-01T00:00:00.000Z",
    },
    {
        "_id": "stranger-expired",
        "_type": "subscription",
        "user": ref("stub-2"),
        "isActive": True,
        "endDate": "2026-11-27T00:00:00.000Z",
    },
    # A Studio draft of the webhook's subscription: not a second subscription.
    {
        "_id": "drafts.IduYcRrnmFs6kWP4vTWWUm",
        "_type": "subscription",
        "user": ref("VQJlV6YZdD5Vg6GfGaqOYH"),
        "stripeSessionId": EMIL_SESSION,
        "isActive": True,
        "endDate": "2027-01-30T09:55:03.000Z",
    },
    {
        "_id": "class-1",
        "_type": "classInstance",
        "date": "2026-11-10T18:00:00Z",
        "tenant": ref("tenant-aurora"),
        "bookings": [
            {"_key": "a", "student": ref("VQJlV6YZdD5Vg6GfGaqOYH"), "bookingType": "clipcard"},
            {"_key": "b", "student": ref("stub-1"), "bookingType": "single"},
        ],
    },
]


# ------------------------------------------------------------------------------------ Stripe


async def test_pages_across_accounts_cost_one_request_each(load: Load) -> None:
    world = tiny()
    world["stripe"]["accounts"].append({"id": BOLERO, "object": "account", "charges_enabled": True})
    aurora = [*add_sessions(world, AURORA, 248), EMIL_SESSION, OLA_SESSION]
    platform = add_sessions(world, None, 30)
    bolero = add_sessions(world, BOLERO, 100)
    wired = await load(world)

    seen: dict[str | None, list[str]] = {}
    for account in (AURORA, None, BOLERO):
        pages = [p async for p in wired.payments.session_pages(account, since=SINCE, until=NOW)]
        assert all(0 < len(p) <= 100 for p in pages)
        sessions = [s for p in pages for s in p]
        seen[account] = [s.id for s in sessions]
        assert all(s.account == account for s in sessions)
        created = [s.created for s in sessions]
        assert created == sorted(created, reverse=True)  # newest first, across pages
    assert sorted(seen[AURORA]) == sorted(aurora)
    assert sorted(seen[None]) == sorted(platform)
    assert sorted(seen[BOLERO]) == sorted(bolero)
    assert len(seen[AURORA]) == len(set(seen[AURORA]))

    requests = await wired.requests("stripe")
    assert requests["GET /v1/checkout/sessions"] == 3 + 1 + 1  # ⌈250/100⌉ + ⌈30/100⌉ + ⌈100/100⌉


async def test_pages_carry_refunds_from_the_expanded_charge(load: Load) -> None:
    world = tiny()
    add_sessions(world, AURORA, 2)
    wired = await load(world)
    sessions = {
        s.id: s
        async for page in wired.payments.session_pages(AURORA, since=SINCE, until=NOW)
        for s in page
    }
    refunded = sessions[f"cs_test_{AURORA.replace('_', '')}00000"]
    assert refunded.refunded
    assert refunded.fully_refunded
    emil = sessions[EMIL_SESSION]
    assert emil.payment_intent == "pi_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
    assert emil.charge_id == "ch_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T"
    assert not emil.refunded
    assert emil.is_paid
    assert emil.user_id == EMIL
    assert (await wired.requests("stripe")).get("GET /v1/payment_intents/{id}") is None


async def test_an_inaccessible_account_is_an_upstream_error_naming_it(load: Load) -> None:
    wired = await load(tiny())
    with pytest.raises(UpstreamError) as caught:
        async for _ in wired.payments.session_pages("acct_gone", since=SINCE, until=NOW):
            pass
    assert "cannot access account acct_gone" in str(caught.value)
    assert "rk_test" not in str(caught.value)
    assert not caught.value.retryable


async def test_find_session_on_whichever_account_holds_it(load: Load) -> None:
    wired = await load(tiny())
    found = await wired.payments.find_session(OLA_SESSION, accounts=[None, AURORA])
    assert found is not None
    assert found.account == AURORA
    assert found.charge_id == "ch_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb"
    assert await wired.payments.find_session("cs_test_nowhere1234", accounts=[None, AURORA]) is None
    with pytest.raises(UpstreamError, match="acct_gone"):
        await wired.payments.find_session("cs_test_nowhere1234", accounts=[AURORA, "acct_gone"])


async def test_events_endpoints_and_account(load: Load) -> None:
    world = tiny()
    world["stripe"]["events"][1]["delivery_success"] = False
    wired = await load(world)
    events = await wired.payments.events(AURORA, type_pattern="checkout.session.*", since=SINCE)
    assert {e["id"] for e in events} == {
        "evt_u1s0ejiepAMSERUAb8o1QAqT",
        "evt_rvEMoENR8dc0EncLuGu4vwB7",
    }
    failed = await wired.payments.events(
        AURORA, type_pattern="checkout.session.completed", since=SINCE, delivery_success=False
    )
    assert [e["id"] for e in failed] == ["evt_rvEMoENR8dc0EncLuGu4vwB7"]
    assert await wired.payments.events(None, type_pattern="checkout.session.*", since=SINCE) == []
    endpoints = await wired.payments.webhook_endpoints()
    assert [e["url"] for e in endpoints] == ["https://dance.example/api/stripe/webhook"]
    account = await wired.payments.account(AURORA)
    assert account["charges_enabled"] is True
    assert wired.payments.mode == "test"


# ------------------------------------------------------------------------------------ Sanity


async def test_related_for_a_page_is_one_query_on_the_real_engine(load: Load) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    (page,) = [p async for p in wired.payments.session_pages(AURORA, since=SINCE, until=NOW)]
    related = await wired.passes.related(
        session_ids=[s.id for s in page],
        payment_ids=[s.payment_intent for s in page if s.payment_intent],
        clerk_ids=[s.user_id for s in page if s.user_id],
    )
    assert {s.id for s in related.subscriptions} == {
        "IduYcRrnmFs6kWP4vTWWUm",  # by session id
        "ola-second-schema",  # by stripePaymentIntentId
        "by-payment-id",  # by paymentId
        "emil-legacy-ref",  # user._ref is Emil's Clerk id
        "emil-dup-sub",  # user._ref is a duplicate user with Emil's clerkId
    }
    assert {u.id for u in related.users} == {
        "VQJlV6YZdD5Vg6GfGaqOYH",
        "NayMiNahGmbbkfRy5m98S9",
        EMIL,
        "emil-dup",
    }
    assert (await wired.requests("sanity")) == {"POST /data/query": 1}


async def test_catalogue_active_customer_bookings_and_logs(load: Load) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    catalogue = await wired.passes.catalogue()
    assert [t.account_id for t in catalogue.tenants] == [AURORA]
    assert {p.id for p in catalogue.passes} == {"pass-a-10clip", "pass-a-drop"}

    active = await wired.passes.active_subscriptions(now=NOW)
    assert {s.id for s in active.subscriptions} == {
        "IduYcRrnmFs6kWP4vTWWUm",
        "emil-legacy-ref",
        "stranger-manual",
    }
    # The users the active passes reference by _id (a legacy Clerk-id reference is not
    # dereferenced: the audit recognises it by its user_ prefix).
    assert {u.id for u in active.users} == {"VQJlV6YZdD5Vg6GfGaqOYH", EMIL, "stub-1"}

    customer = await wired.passes.customer("Emil.Lund117@EXAMPLE.com", clerk_ids=[])
    assert {u.id for u in customer.users} == {"VQJlV6YZdD5Vg6GfGaqOYH", EMIL, "emil-dup"}
    assert {s.id for s in customer.subscriptions} == {
        "IduYcRrnmFs6kWP4vTWWUm",
        "emil-legacy-ref",
        "emil-dup-sub",
    }
    by_clerk_id = await wired.passes.customer("", clerk_ids=[OLA])
    assert {u.id for u in by_clerk_id.users} == {"NayMiNahGmbbkfRy5m98S9"}
    assert {s.id for s in by_clerk_id.subscriptions} == {"ola-second-schema"}
    nobody = await wired.passes.customer("", clerk_ids=[])
    assert nobody.users == ()
    assert nobody.subscriptions == ()

    bookings = await wired.passes.bookings(["VQJlV6YZdD5Vg6GfGaqOYH", EMIL])
    assert [(b.student_ref, b.booking_type, b.tenant_ref) for b in bookings] == [
        ("VQJlV6YZdD5Vg6GfGaqOYH", "clipcard", "tenant-aurora")
    ]

    logs = await wired.passes.webhook_logs(since=datetime(2026, 11, 1, 9, 55, 4, tzinfo=UTC))
    assert [entry.status for entry in logs] == ["success"]
    assert len(await wired.passes.webhook_logs(since=SINCE)) == 2

    assert sum((await wired.requests("sanity")).values()) == 8  # one request per call


async def test_a_query_the_engine_rejects_fails_loudly(load: Load) -> None:
    wired = await load(tiny())
    with pytest.raises(UpstreamError) as caught:
        await wired.passes._query('*[_type == "pass" &&]', {}, action="reading passes")
    assert "queryParseError" in str(caught.value)
    assert not caught.value.retryable
    with pytest.raises(UpstreamError, match=r"param \$ids referenced, but not provided"):
        await wired.passes._query("*[_id in $ids]", {}, action="reading")


async def test_apply_twice_writes_one_document(load: Load) -> None:
    wired = await load(tiny())
    create = CreateDoc(
        {
            "_id": "subscription-" + OLA_SESSION,
            "_type": "subscription",
            "user": ref("NayMiNahGmbbkfRy5m98S9"),
            "stripeSessionId": OLA_SESSION,
            "isActive": True,
        }
    )
    first = await wired.passes.apply([create], transaction_id="passbot-tx-a")
    assert first.created == (create.id,)
    assert first.documents[create.id]["_rev"] == "passbot-tx-a"
    assert first.documents[create.id]["stripeSessionId"] == OLA_SESSION

    second = await wired.passes.apply([create], transaction_id="passbot-tx-b")
    assert second.created == ()
    assert second.unchanged == (create.id,)
    assert second.documents[create.id]["_rev"] == "passbot-tx-a"

    # The same transaction id again: Sanity refuses it; the documents show it was applied.
    again = await wired.passes.apply([create], transaction_id="passbot-tx-a")
    assert again.created == (create.id,)

    documents = [d for d in (await wired.documents()) if d.endswith(OLA_SESSION)]
    assert documents == [create.id]
    assert (await wired.requests("sanity")) == {"POST /data/mutate": 3, "POST /data/query": 3}


async def test_a_stale_revision_writes_nothing(load: Load) -> None:
    wired = await load(tiny())
    create = CreateDoc({"_id": "subscription-new", "_type": "subscription"})
    stale = PatchDoc(
        id="IduYcRrnmFs6kWP4vTWWUm",
        set={"isActive": False},
        before={"isActive": True},
        if_revision="not-the-revision",
    )
    with pytest.raises(StaleFixError, match="IduYcRrnmFs6kWP4vTWWUm changed"):
        await wired.passes.apply([create, stale], transaction_id="passbot-tx-stale")
    documents = await wired.documents()
    assert "subscription-new" not in documents
    assert documents["IduYcRrnmFs6kWP4vTWWUm"]["isActive"] is True
    assert documents["IduYcRrnmFs6kWP4vTWWUm"]["_rev"] == "rnhUIiVQa"

    fresh = PatchDoc(
        id="IduYcRrnmFs6kWP4vTWWUm",
        set={"isActive": False},
        before={"isActive": True},
        if_revision="rnhUIiVQa",
    )
    applied = await wired.passes.apply([create, fresh], transaction_id="passbot-tx-fresh")
    assert applied.created == ("subscription-new",)
    assert applied.patched == ("IduYcRrnmFs6kWP4vTWWUm",)
    assert applied.documents["IduYcRrnmFs6kWP4vTWWUm"]["isActive"] is False
    assert applied.documents["IduYcRrnmFs6kWP4vTWWUm"]["_rev"] == "passbot-tx-fresh"


async def test_a_viewer_token_cannot_write(load: Load) -> None:
    world = tiny()
    world["sanity"]["token_role"] = "viewer"
    wired = await load(world)
    assert await wired.passes.can_write() is False
    with pytest.raises(UpstreamError) as caught:
        await wired.passes.apply(
            [CreateDoc({"_id": "x", "_type": "subscription"})], transaction_id="passbot-tx-v"
        )
    assert 'lacks the "create" permission' in str(caught.value)
    assert not caught.value.retryable
    assert "x" not in await wired.documents()


async def test_an_editor_token_can_write_and_the_probe_writes_nothing(load: Load) -> None:
    wired = await load(tiny())
    assert await wired.passes.can_write() is True
    assert "passbot-write-probe" not in await wired.documents()


async def test_a_rate_limited_query_is_retried(load: Load, sleeps: Sleeps) -> None:
    world = tiny()
    world["faults"] = [
        {"service": "sanity", "path": "/data/query", "status": 429, "count": 1, "retry_after": 1}
    ]
    wired = await load(world)
    catalogue = await wired.passes.catalogue()
    assert len(catalogue.passes) == 2
    assert sleeps.delays == [1.0]
    assert (await wired.requests("sanity")) == {"POST /data/query": 2}


@pytest.mark.parametrize("status", [0, 500])
async def test_a_failed_write_that_left_no_trace_is_retryable(load: Load, status: int) -> None:
    world = tiny()
    world["faults"] = [{"service": "sanity", "path": "/data/mutate", "status": status, "count": 1}]
    wired = await load(world)
    create = CreateDoc({"_id": "subscription-cs_x", "_type": "subscription"})
    with pytest.raises(UpstreamError) as caught:
        await wired.passes.apply([create], transaction_id="passbot-tx-f")
    assert caught.value.retryable
    assert "subscription-cs_x" not in await wired.documents()
    # Sent once, never retried blindly; then one re-read to learn the outcome.
    assert (await wired.requests("sanity")) == {"POST /data/mutate": 1, "POST /data/query": 1}

    applied = await wired.passes.apply([create], transaction_id="passbot-tx-f")
    assert applied.created == ("subscription-cs_x",)


# ------------------------------------------------------------------------------------- Clerk


async def test_clerk_email_lookup_is_case_insensitive(load: Load) -> None:
    wired = await load(tiny())
    users = await wired.users.users_by_email("EMIL.Lund117@Example.COM")
    assert [u.id for u in users] == [EMIL]
    assert users[0].primary_email == "emil.lund117@example.com"
    assert await wired.users.users_by_email("nobody@example.com") == []
    by_id = await wired.users.users_by_id([OLA, EMIL, "user_unknown"])
    assert {u.id for u in by_id} == {OLA, EMIL}
    assert (await wired.requests("clerk")) == {"GET /v1/users": 3}


async def test_clerk_is_retried_after_a_fault(load: Load, sleeps: Sleeps) -> None:
    world = tiny()
    world["faults"] = [
        {"service": "clerk", "path": "/v1/users", "status": 429, "count": 1, "retry_after": 2},
        {"service": "clerk", "path": "/v1/users", "status": 0, "count": 1},
    ]
    wired = await load(world)
    assert [u.id for u in await wired.users.users_by_id([OLA])] == [OLA]
    assert sleeps.delays[0] == 2.0
    assert len(sleeps.delays) == 2
    assert (await wired.requests("clerk")) == {"GET /v1/users": 3}


async def test_active_subscriptions_come_in_pages_that_add_up(load: Load) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    whole = await wired.passes.active_subscriptions(now=NOW)
    pages = [page async for page in wired.passes.active_subscription_pages(now=NOW, page_size=1)]
    assert [len(p.subscriptions) for p in pages] == [1] * len(whole.subscriptions)
    ids = [s.id for p in pages for s in p.subscriptions]
    assert ids == sorted(s.id for s in whole.subscriptions)
    assert {u.id for p in pages for u in p.users} == {u.id for u in whole.users}
    # one query per page, plus the one that found the end; and a page's pass the run has not
    # read at its revision (one without `_rev` cannot have been) is asked for by id
    unread = sum(1 for p in pages if any(s.rev is None for s in p.subscriptions))
    assert unread  # the world has such passes: the count below covers both kinds of query
    assert (await wired.requests("sanity"))["POST /data/query"] == 1 + len(pages) + 1 + unread


def _audited(pages: list[Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    subs = [(s.id, s.raw) for p in pages for s in p.subscriptions]
    users = [(u.id, u.raw) for p in pages for u in p.users]
    return subs, users


async def _audit_queries(wired: Wired, since: int) -> list[dict[str, Any]]:
    queries = (await wired.box.sanity_queries())[since:]
    return [q for q in queries if "isActive == true" in q["query"]]


async def test_the_audit_asks_whole_only_for_passes_the_run_has_not_read(load: Load) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    whole = await wired.passes.active_subscriptions(now=NOW)  # its own memo: another adapter
    fresh = await load(with_documents(tiny(), *EXTRA_DOCS))
    start = len(await wired.box.sanity_queries())

    # Nothing read yet: each page's passes are asked for whole, by id, in one query.
    cold = [p async for p in fresh.passes.active_subscription_pages(now=NOW, page_size=2)]
    assert _audited(cold)[0] == sorted((s.id, s.raw) for s in whole.subscriptions)
    assert {u for p in cold for u in p.users} == set(whole.users)
    asked = await _audit_queries(fresh, start)
    by_id = [q["params"]["ids"] for q in asked if "_id in $ids" in q["query"]]
    assert by_id == [[s.id for s in p.subscriptions] for p in cold]

    # Read once: the same passes again, and only those without a revision (a document Sanity
    # wrote always has one; this world's hand-made ones do not) are asked for whole again.
    no_rev = [s.id for p in cold for s in p.subscriptions if s.rev is None]
    assert no_rev
    assert len(no_rev) < len(whole.subscriptions)
    start = len(await fresh.box.sanity_queries())
    warm = [p async for p in fresh.passes.active_subscription_pages(now=NOW, page_size=2)]
    assert _audited(warm) == _audited(cold)
    asked = await _audit_queries(fresh, start)
    assert [i for q in asked if "_id in $ids" in q["query"] for i in q["params"]["ids"]] == no_rev

    # A pass written since it was read (a new `_rev`) is asked for again, and read as it is now.
    target = next(s for p in cold for s in p.subscriptions if s.rev is not None)
    await fresh.passes.apply(
        [
            PatchDoc(
                id=target.id,
                set={"passName": "Renamed"},
                before={"passName": target.raw.get("passName")},
                if_revision=target.rev,
            )
        ],
        transaction_id="passbot-tx-rename",
    )
    start = len(await fresh.box.sanity_queries())
    later = [p async for p in fresh.passes.active_subscription_pages(now=NOW, page_size=2)]
    asked = await _audit_queries(fresh, start)
    again = [i for q in asked if "_id in $ids" in q["query"] for i in q["params"]["ids"]]
    assert sorted(again) == sorted([target.id, *no_rev])
    renamed = next(s for p in later for s in p.subscriptions if s.id == target.id)
    assert renamed.pass_name == "Renamed"
    assert renamed.rev == "passbot-tx-rename"
    assert [i for i, _ in _audited(later)[0]] == [i for i, _ in _audited(cold)[0]]


async def test_the_audit_asks_for_many_passes_a_few_ids_a_query(
    load: Load, monkeypatch: pytest.MonkeyPatch
) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    whole = await wired.passes.active_subscriptions(now=NOW)  # its own memo: another adapter
    fresh = await load(with_documents(tiny(), *EXTRA_DOCS))
    monkeypatch.setattr(sanity_adapter, "ACTIVE_BY_ID_CHUNK", 2)
    start = len(await fresh.box.sanity_queries())
    pages = [p async for p in fresh.passes.active_subscription_pages(now=NOW)]
    assert _audited(pages)[0] == sorted((s.id, s.raw) for s in whole.subscriptions)
    asked = await _audit_queries(fresh, start)
    by_id = [q["params"]["ids"] for q in asked if "_id in $ids" in q["query"]]
    assert len(by_id) == -(-len(whole.subscriptions) // 2)  # one page, its ids two at a time
    assert [i for ids in by_id for i in ids] == sorted(s.id for s in whole.subscriptions)


async def test_a_pass_gone_or_ended_between_the_audits_two_reads_is_left_out(load: Load) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    active = (await wired.passes.active_subscriptions(now=NOW)).subscriptions
    fresh = await load(with_documents(tiny(), *EXTRA_DOCS))
    ended = NOW + timedelta(days=3650)  # by then every pass of the world has ended
    rows = [
        {"_id": "deleted-since", "_rev": "r1"},
        {"_id": active[0].id, "_rev": "an-older-revision"},
    ]
    page = await fresh.passes._active_page(rows, now=NOW)
    assert [s.id for s in page.subscriptions] == [active[0].id]
    assert page.subscriptions[0].raw == active[0].raw
    assert (await fresh.passes._active_page(rows, now=ended)).subscriptions == ()


async def test_the_audit_takes_a_buyers_passes_from_the_page_that_read_them(load: Load) -> None:
    wired = await load(with_documents(tiny(), *EXTRA_DOCS))
    related = await wired.passes.related(session_ids=[], payment_ids=[], clerk_ids=[EMIL, OLA])
    read = {s.id for s in related.subscriptions}
    start = len(await wired.box.sanity_queries())
    pages = [p async for p in wired.passes.active_subscription_pages(now=NOW)]
    active = {s.id for p in pages for s in p.subscriptions}
    asked = await _audit_queries(wired, start)
    by_id = [set(q["params"]["ids"]) for q in asked if "_id in $ids" in q["query"]]
    assert read & active  # the buyers own active passes
    no_rev = {s.id for p in pages for s in p.subscriptions if s.rev is None}
    assert by_id == [(active - read) | no_rev]
    kept = {s.id: s for s in related.subscriptions}
    assert all(s is kept[s.id] for p in pages for s in p.subscriptions if s.id in kept)
