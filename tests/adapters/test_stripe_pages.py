"""Checkout Session pages through msgspec (core.adapters.stripe_pages): the sessions are those
of the tolerant path (`wire.loads` and `CheckoutSession.from_json`) field by field, and a page
msgspec refuses is read by the tolerant path.

The pages are the sandbox's, read by `StripePayments.session_pages` through stripe-python, whose
HTTP client keeps each body so the same bytes can be read the tolerant way beside it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import stripe

from core.adapters import wire
from core.adapters.stripe import StripePayments, make_stripe_client, stripe_mode
from core.adapters.stripe_pages import SessionPage, decode_page, read_page, tolerant_page
from core.domain.models import CheckoutSession
from core.errors import UpstreamError
from sandbox import Sandbox, start_sandbox
from sandbox.purchase_objects import Ids, purchase_objects
from sandbox.worlds import generate_world
from tests.adapters.conftest import FakeStripeHTTP

#: The tests that share the module's sandbox run in its event loop.
in_sandbox_loop = pytest.mark.asyncio(loop_scope="module")

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)
SINCE = NOW - timedelta(days=40)
SCHOOL = "acct_variations01"


class Recording(stripe.HTTPXClient):
    """stripe-python's own HTTP client, keeping the body of every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    async def request_with_retries_async(self, *args: Any, **kwargs: Any) -> tuple[Any, int, Any]:
        rbody, rcode, rheaders = await super().request_with_retries_async(*args, **kwargs)
        self.bodies.append(rbody)
        return rbody, rcode, rheaders


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(generate_world(seed=1, schools=1, purchases=10))
    try:
        yield sandbox
    finally:
        await sandbox.close()


async def read_pages(
    box: Sandbox, world: dict[str, Any], account: str | None
) -> list[tuple[list[CheckoutSession], bytes]]:
    """Every page `session_pages` yields for `account` of `world`, with the body it came from."""
    await box.replace_world(world)
    env = box.settings()
    async with AsyncExitStack() as stack:
        http = Recording()
        stack.push_async_callback(http.close_async)
        client = make_stripe_client(
            env["STRIPE_API_KEY"], api_base=env["STRIPE_API_BASE"], http_client=http
        )
        payments = StripePayments(client, mode=stripe_mode(env["STRIPE_API_KEY"]))
        pages = [p async for p in payments.session_pages(account, since=SINCE, until=NOW)]
    bodies = [b for b in http.bodies if wire.loads(b)["data"]]  # an empty page is not yielded
    return list(zip(pages, bodies, strict=True))


def assert_same(got: list[CheckoutSession], expected: list[CheckoutSession], account: Any) -> None:
    """The sessions are equal field by field and of the same types; each one's `raw` gives the
    same session again through `from_json`."""
    assert [s.id for s in got] == [s.id for s in expected]
    for one, other in zip(got, expected, strict=True):
        for f in fields(CheckoutSession):
            if f.name == "raw":
                continue
            mine, theirs = getattr(one, f.name), getattr(other, f.name)
            assert mine == theirs, (other.id, f.name)
            assert type(mine) is type(theirs), (other.id, f.name)
        assert one.created.tzinfo is other.created.tzinfo
        again = CheckoutSession.from_json(one.raw, account=account)
        assert [getattr(again, f.name) for f in fields(CheckoutSession) if f.name != "raw"] == [
            getattr(one, f.name) for f in fields(CheckoutSession) if f.name != "raw"
        ]


def tolerant(body: bytes | str, account: str | None) -> SessionPage:
    return tolerant_page(wire.loads(body), account)


def accounts_of(world: dict[str, Any]) -> list[str | None]:
    return [None, *(a["id"] for a in world["stripe"]["accounts"])]


# ---------------------------------------------------------------------------- sandbox pages


@in_sandbox_loop
@pytest.mark.parametrize("seed", [3, 11])
async def test_generated_worlds_decode_as_the_tolerant_path_does(box: Sandbox, seed: int) -> None:
    world = generate_world(seed=seed, schools=3, purchases=400, days=35, now=NOW)
    read = 0
    for account in accounts_of(world):
        for sessions, body in await read_pages(box, world, account):
            fast = decode_page(body, account)
            assert fast is not None  # msgspec read it: the fast path is the one compared
            assert_same(sessions, tolerant(body, account).sessions, account)
            assert fast.last_id == tolerant(body, account).last_id == sessions[-1].id
            assert fast.has_more == tolerant(body, account).has_more
            read += len(sessions)
    assert read == len(world["stripe"]["checkout_sessions"])


def _purchase(
    world: dict[str, Any], n: int, *, paid: bool = True, refunded: bool = False
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """A purchase on SCHOOL added to `world` (session, intent, charge), n hours before NOW."""
    suffix = f"variation{n:04d}"
    objects = purchase_objects(
        Ids(f"cs_test_{suffix}", f"pi_test_{suffix}", f"ch_test_{suffix}", f"evt_{suffix}"),
        amount=120000,
        created=int((NOW - timedelta(hours=n + 1)).timestamp()),
        livemode=False,
        metadata={"type": "pass_purchase", "passId": "pass-10-clip", "userId": f"user_{n}"},
        email=f"buyer{n}@example.com",
        name="Kåri Nordmann",
        slug="variations",
        account=SCHOOL,
        paid=paid,
        refunded=refunded,
    )
    state = world["stripe"]
    state["checkout_sessions"].append(objects.session)
    if objects.intent is not None:
        state["payment_intents"].append(objects.intent)
    if objects.charge is not None:
        state["charges"].append(objects.charge)
    return objects.session, objects.intent, objects.charge


def variations_world() -> tuple[dict[str, Any], dict[str, str]]:
    """A world whose school has the shapes Stripe sends, one per session; `ids` names them."""
    world = generate_world(seed=5, schools=1, purchases=20, days=35, now=NOW)
    world["stripe"]["accounts"].append({"id": SCHOOL, "object": "account", "charges_enabled": True})
    ids: dict[str, str] = {}
    n = iter(range(1000))

    def add(name: str, **kwargs: Any) -> tuple[Any, Any, Any]:
        session, intent, charge = _purchase(world, next(n), **kwargs)
        ids[name] = session["id"]
        return session, intent, charge

    add("plain")
    add("unpaid", paid=False)  # no payment_intent
    add("refunded", refunded=True)
    _, _, charge = add("disputed")
    charge.update(disputed=True, amount_refunded=5000)
    session, intent, charge = add("intent_not_expanded")
    world["stripe"]["payment_intents"].remove(intent)  # the sandbox leaves the id as it is
    session, intent, charge = add("charge_not_expanded")
    world["stripe"]["charges"].remove(charge)
    session, _, _ = add("odd_metadata")
    session["metadata"] = {
        "type": "pass_purchase",
        "passId": "   ",
        "userId": "",
        "tenantId": "\t",
        "note": 'Kåri 💃 "quoted" \\ back\nslash \u2028',
        "key with spaces.and.dots": "x",
        "": "empty key",
    }
    session, _, _ = add("null_metadata")
    session["metadata"] = None
    session, _, _ = add("empty_metadata")
    session["metadata"] = {}
    session, _, _ = add("no_customer_details")
    session["customer_details"] = None
    session["customer_email"] = "fallback@example.com"
    session, _, _ = add("blank_customer_details")
    session["customer_details"] = {"email": "   ", "name": "", "phone": None}
    session["customer_email"] = "  "
    session, _, _ = add("nameless")
    session["customer_details"] = {"email": None, "name": None}
    session["client_reference_id"] = "user_from_reference"
    session, _, _ = add("line_items")
    session["line_items"] = [
        {"id": "li_1", "object": "item", "description": "10 klipp", "quantity": 1},
        {"id": "li_2", "object": "item", "description": "   ", "quantity": 1},
        {"id": "li_3", "object": "item", "description": None, "quantity": 1},
        {"id": "li_4", "object": "item", "description": "Drop-in", "quantity": 2},
    ]
    session, _, _ = add("no_line_items")
    session["line_items"] = []
    session, _, _ = add("blank_and_null_text")
    session.update(status=" ", currency="", payment_status=None, amount_total=None)
    session, _, _ = add("large_amount")
    session["amount_total"] = 2**53  # the largest from_json still reads exactly
    session, _, _ = add("zero_amount")
    session["amount_total"] = 0
    return world, ids


@in_sandbox_loop
async def test_the_shapes_stripe_sends_decode_as_the_tolerant_path_does(box: Sandbox) -> None:
    world, ids = variations_world()
    pages = await read_pages(box, world, SCHOOL)
    for sessions, body in pages:
        assert decode_page(body, SCHOOL) is not None
        assert_same(sessions, tolerant(body, SCHOOL).sessions, SCHOOL)

    by_id = {s.id: s for sessions, _ in pages for s in sessions}
    got = {name: by_id[session_id] for name, session_id in ids.items()}
    # the variations were really on the pages, as intended
    assert got["plain"].charge_id == "ch_test_variation0000"
    assert got["unpaid"].payment_intent is None
    assert got["refunded"].refunded
    assert got["disputed"].disputed
    assert got["disputed"].amount_refunded == 5000
    assert got["intent_not_expanded"].payment_intent == "pi_test_variation0004"
    assert got["intent_not_expanded"].charge_id is None
    assert got["charge_not_expanded"].charge_id == "ch_test_variation0005"
    assert got["odd_metadata"].metadata["note"].startswith("Kåri 💃")
    assert got["odd_metadata"].user_id is None
    assert got["null_metadata"].metadata == {}
    assert got["no_customer_details"].email == "fallback@example.com"
    assert got["blank_customer_details"].email is None
    assert got["blank_customer_details"].customer_name is None
    assert got["nameless"].client_reference_id == "user_from_reference"
    assert got["nameless"].email is None
    assert got["line_items"].line_item_names == ("10 klipp", "Drop-in")
    assert got["no_line_items"].line_item_names == ()
    assert got["blank_and_null_text"].status is None
    assert got["blank_and_null_text"].currency is None
    assert got["large_amount"].amount_total == 2**53
    assert got["zero_amount"].amount_total == 0


@in_sandbox_loop
async def test_a_page_msgspec_refuses_is_read_by_the_tolerant_path(box: Sandbox) -> None:
    world, ids = variations_world()
    for n in range(120):  # two pages: the wrong type is on one of them
        _purchase(world, 100 + n)
    odd = next(s for s in world["stripe"]["checkout_sessions"] if s["id"] == ids["plain"])
    odd["metadata"] = {**odd["metadata"], "finalPrice": 250, "note": None}
    odd["customer_details"] = {**odd["customer_details"], "email": 5}

    pages = await read_pages(box, world, SCHOOL)
    assert len(pages) == 2
    refused = [body for _, body in pages if decode_page(body, SCHOOL) is None]
    assert len(refused) == 1
    for sessions, body in pages:
        assert_same(sessions, tolerant(body, SCHOOL).sessions, SCHOOL)
    (plain,) = [s for sessions, _ in pages for s in sessions if s.id == ids["plain"]]
    assert plain.metadata["finalPrice"] == "250"  # from_json's reading of a number
    assert "note" not in plain.metadata
    assert plain.email is None


# ------------------------------------------------------------------------------ page bodies


def _body(**changes: Any) -> dict[str, Any]:
    """A list page of two expanded sessions, with `changes` applied to the first."""
    first: dict[str, Any] = {
        "id": "cs_test_first0000000001",
        "object": "checkout.session",
        "created": 1795839359,
        "livemode": False,
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 25000,
        "currency": "nok",
        "customer_details": {"email": "emil@example.com", "name": "Emil"},
        "customer_email": None,
        "client_reference_id": None,
        "metadata": {"type": "pass_purchase", "passId": "pass-a", "userId": "user_1"},
        "payment_intent": {
            "id": "pi_test_first0000000001",
            "latest_charge": {
                "id": "ch_test_first0000000001",
                "refunded": False,
                "amount_refunded": 0,
                "disputed": False,
            },
        },
        "line_items": {"object": "list", "data": [{"description": "Pass A"}], "has_more": False},
    }
    second = copy.deepcopy(first)
    second["id"] = "cs_test_second000000002"
    for key, value in changes.items():
        path = key.split("__")
        target = first
        for part in path[:-1]:
            target = target[part]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return {"object": "list", "data": [first, second], "has_more": True, "url": "/v1/x"}


_DELETE = object()


def _encode(page: dict[str, Any]) -> bytes:
    """The JSON of `page`, with each string `<raw:TEXT>` written as TEXT itself."""
    return re.sub(rb'"<raw:([^>"]*)>"', rb"\1", json.dumps(page).encode())


#: Shapes msgspec refuses; the tolerant path reads them (and must be the one to).
REFUSED = {
    "amount as text": {"amount_total": "25000"},
    "amount as float": {"amount_total": 25000.0},
    "amount as bool": {"amount_total": True},
    "created as bool": {"created": True},
    "amount beyond a double": {"amount_total": 2**53 + 1},
    "created as text": {"created": "2026-11-01T10:00:00Z"},
    "created before 1970": {"created": -5},
    "created out of range": {"created": 10**20},
    "metadata number": {"metadata__finalPrice": 250},
    "metadata null value": {"metadata__note": None},
    "metadata as list": {"metadata": ["a"]},
    "customer details as text": {"customer_details": "emil@example.com"},
    "email as number": {"customer_details__email": 5},
    "payment intent as number": {"payment_intent": 12345},
    "latest charge as list": {"payment_intent__latest_charge": ["ch_1"]},
    "refund as text": {"payment_intent__latest_charge__amount_refunded": "100"},
    "id null": {"id": None},
    "id number": {"id": 123},
    "no id": {"id": _DELETE},
    "status as number": {"status": 1},
    "line items as text": {"line_items": "Pass A"},
    "line item null": {"line_items__data": [None, {"description": "Pass A"}]},
    "line item description as number": {"line_items__data": [{"description": 7}]},
}


@pytest.mark.parametrize("changes", REFUSED.values(), ids=REFUSED.keys())
def test_what_msgspec_refuses_is_read_by_the_tolerant_path(changes: dict[str, Any]) -> None:
    body = _encode(_body(**changes))
    assert decode_page(body, None) is None
    page = read_page(body, None)
    assert page is not None
    expected = tolerant(body, None)
    assert_same(page.sessions, expected.sessions, None)
    assert (page.has_more, page.last_id) == (expected.has_more, expected.last_id)


#: Shapes msgspec reads, as the tolerant path does.
READ = {
    "as Stripe sends it": {},
    "livemode as text": {"livemode": "true"},
    "livemode true": {"livemode": True},
    "refunded as text": {"payment_intent__latest_charge__refunded": "yes"},
    "disputed as number": {"payment_intent__latest_charge__disputed": 1},
    "refunded in part": {"payment_intent__latest_charge__amount_refunded": 1000},
    "refunded": {
        "payment_intent__latest_charge__refunded": True,
        "payment_intent__latest_charge__amount_refunded": 25000,
    },
    "charge id only": {"payment_intent__latest_charge": "ch_test_only"},
    "charge null": {"payment_intent__latest_charge": None},
    "charge without id": {"payment_intent__latest_charge__id": _DELETE},
    "intent id only": {"payment_intent": "pi_test_only"},
    "intent blank": {"payment_intent": "  "},
    "intent null": {"payment_intent": None},
    "no created": {"created": _DELETE},
    "created null": {"created": None},
    "no metadata": {"metadata": _DELETE},
    "no customer details": {"customer_details": _DELETE, "customer_email": "e@example.com"},
    "line items null": {"line_items": None},
    "line items without data": {"line_items__data": _DELETE},
    "numbers beyond orjson": {"unread": "<raw:1e400>", "also_unread": 10**30},
    "unread wrong types": {"mode": 5, "total_details": "x", "payment_intent__amount": "1"},
    "the account on the session": {"account": "acct_named"},
    "a blank account on the session": {"account": " "},
}


@pytest.mark.parametrize("changes", READ.values(), ids=READ.keys())
@pytest.mark.parametrize("account", [None, "acct_page"])
def test_what_msgspec_reads_is_what_the_tolerant_path_reads(
    changes: dict[str, Any], account: str | None
) -> None:
    body = _encode(_body(**changes))
    fast = decode_page(body, account)
    assert fast is not None
    expected = tolerant(body, account)
    assert_same(fast.sessions, expected.sessions, account)
    assert (fast.has_more, fast.last_id) == (expected.has_more, expected.last_id)
    assert read_page(body, account) == fast


@pytest.mark.parametrize(
    ("page", "has_more"),
    [
        ({"object": "list", "data": [], "has_more": False}, False),
        ({"object": "list", "data": None, "has_more": True}, True),
        ({"object": "list"}, False),
        ({"data": [], "has_more": "yes"}, True),
        ({"data": [], "has_more": None}, False),
    ],
)
def test_empty_pages(page: Mapping[str, Any], has_more: bool) -> None:
    body = json.dumps(page).encode()
    fast = decode_page(body, None)
    assert fast == SessionPage([], has_more, None)
    assert tolerant(body, None) == fast


def test_an_item_that_is_no_object_sends_the_page_the_tolerant_way() -> None:
    page = _body()
    page["data"].insert(1, None)
    page["data"].append("cs_test_not_an_object")
    body = json.dumps(page).encode()
    assert decode_page(body, None) is None
    read = read_page(body, None)
    assert read is not None
    assert [s.id for s in read.sessions] == ["cs_test_first0000000001", "cs_test_second000000002"]
    assert read.last_id == "cs_test_second000000002"


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "list", "data": [], "has_more": NaN}',  # only the standard library reads it
        b'\xef\xbb\xbf{"object": "list", "data": [], "has_more": false}',  # a byte-order mark
    ],
)
def test_json_only_the_standard_library_reads_goes_the_tolerant_way(body: bytes) -> None:
    assert decode_page(body, None) is None
    assert read_page(body, None) == tolerant(body, None)


def test_a_body_that_is_not_utf8_is_refused_as_before() -> None:
    # msgspec would skip the unread string without looking; the old decoding refused the body
    good = json.dumps(_body()).encode()
    body = good.replace(b'"object": "list"', b'"object": "li\xffst"')
    assert decode_page(body, None) is None
    assert read_page(body, None) is None
    with pytest.raises(ValueError, match="utf-8"):
        wire.loads(body)
    # and text that is UTF-8 beyond ASCII is read
    body = good.replace(b'"Emil"', '"Émil ✓"'.encode())
    fast = decode_page(body, None)
    assert fast is not None
    assert fast.sessions[0].customer_name == "Émil ✓"


@pytest.mark.parametrize("body", [b"", b"<html>502</html>", b"[]", b"null", b'"list"', b"{"])
def test_what_is_no_json_object_is_left_to_stripe_python(body: bytes) -> None:
    assert decode_page(body, None) is None
    assert read_page(body, None) is None


# ------------------------------------------------------------------------- through the adapter


async def test_a_page_without_a_cursor_ends_as_before_after_its_sessions() -> None:
    page = _body()
    del page["data"][-1]["id"]  # the last item has no id: there is no next page to ask for

    def route(method: str, url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        return 200, page

    http = FakeStripeHTTP(route)
    client = make_stripe_client("rk_test_x", api_base="http://127.0.0.1:9", http_client=http)
    payments = StripePayments(client, mode="test")
    got: list[list[CheckoutSession]] = []

    async def read_all() -> None:
        async for sessions in payments.session_pages(None, since=SINCE, until=NOW):
            got.append(sessions)

    with pytest.raises(KeyError):
        await read_all()
    assert [[s.id for s in sessions] for sessions in got] == [["cs_test_first0000000001", ""]]
    assert len(http.calls) == 1


async def test_a_page_that_is_no_json_object_raises_as_before() -> None:
    http = FakeStripeHTTP(lambda m, u, h: (200, ["not", "a", "page"]))
    client = make_stripe_client("rk_test_x", api_base="http://127.0.0.1:9", http_client=http)
    payments = StripePayments(client, mode="test")
    with pytest.raises(UpstreamError, match="not a JSON object"):
        async for _ in payments.session_pages(None, since=SINCE, until=NOW):
            pass
