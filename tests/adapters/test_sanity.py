"""SanityPasses against httpx.MockTransport: request shapes, mapping, errors, write outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from core.adapters import sanity
from core.adapters.retry import RetryPolicy
from core.adapters.sanity import SanityPasses, make_sanity_client
from core.domain.findings import CreateDoc, PatchDoc
from core.errors import StaleFixError, UpstreamError
from tests.adapters.conftest import Recorder, Sleeps, answers, body_of

HOST = "https://demo123.api.sanity.io"
QUERY_PATH = "/v2025-02-19/data/query/test"
MUTATE_PATH = "/v2025-02-19/data/mutate/test"
TOKEN = "sk-very-secret-token"

SUB = {
    "_id": "sub-1",
    "_type": "subscription",
    "_rev": "r1",
    "user": {"_type": "reference", "_ref": "u-1"},
    "stripeSessionId": "cs_test_a1QGFi3r0QRq0dQFxUtEtFiIKLe1uNxZER0B3rO72T",
    "isActive": True,
    "startDate": "2026-11-01T09:55:00.000Z",
    "endDate": "2027-01-30T09:55:03.000Z",
    "type": "clipcard",
}
USER = {"_id": "u-1", "_type": "user", "clerkId": "user_abc", "email": "Emil@Example.com"}


def result(value: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"ms": 1, "result": value})


def store(recorder: Recorder, retry: RetryPolicy | None = None) -> SanityPasses:
    kwargs = {"retry": retry} if retry is not None else {}
    return SanityPasses(
        recorder.client(HOST, TOKEN), dataset="test", api_version="v2025-02-19", **kwargs
    )


def assert_query_request(request: httpx.Request) -> dict[str, Any]:
    assert request.method == "POST"
    assert request.url.host == "demo123.api.sanity.io"
    assert request.url.path == QUERY_PATH
    assert request.url.params["perspective"] == "published"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body: dict[str, Any] = body_of(request)
    assert set(body) == {"query", "params"}
    return body


async def test_catalogue_is_one_query_and_maps_models() -> None:
    recorder = Recorder(
        answers(
            result(
                {
                    "tenants": [{"_id": "tenant-a", "_type": "tenant", "schoolName": "A"}],
                    "passes": [{"_id": "pass-1", "_type": "pass", "name": "10 clips"}],
                }
            )
        )
    )
    catalogue = await store(recorder).catalogue()
    assert [t.name for t in catalogue.tenants] == ["A"]
    assert [p.id for p in catalogue.passes] == ["pass-1"]
    assert len(recorder.requests) == 1
    body = assert_query_request(recorder.requests[0])
    assert body["query"] == sanity.CATALOGUE_QUERY


async def test_related_sends_values_as_params_never_in_the_query() -> None:
    recorder = Recorder(answers(result({"users": [USER], "subscriptions": [SUB]})))
    related = await store(recorder).related(
        session_ids=["cs_test_one", "cs_test_one", ""],
        payment_ids=["pi_test_one", None, "  "],  # type: ignore[list-item]
        clerk_ids=["user_abc"],
        known_refs=["user_old", None, ""],  # type: ignore[list-item]
    )
    assert [s.id for s in related.subscriptions] == ["sub-1"]
    assert [u.clerk_id for u in related.users] == ["user_abc"]
    assert len(recorder.requests) == 1
    body = assert_query_request(recorder.requests[0])
    assert body["query"] == sanity.RELATED_QUERY
    for value in ("cs_test_one", "pi_test_one", "user_abc", "user_old"):
        assert value not in body["query"]
    # Deduplicated, and never a null or blank inside an `in` (FM-47).
    assert body["params"] == {
        "sessionIds": ["cs_test_one"],
        "paymentIds": ["pi_test_one"],
        "clerkIds": ["user_abc"],
        "knownRefs": ["user_old"],
    }
    for name in ("$sessionIds", "$paymentIds", "$clerkIds", "$knownRefs"):
        assert name in body["query"]
    assert "== null" not in body["query"]


async def test_related_with_nothing_to_ask_sends_nothing() -> None:
    recorder = Recorder(answers())
    related = await store(recorder).related(session_ids=[], payment_ids=[], clerk_ids=[])
    assert related.subscriptions == ()
    assert related.users == ()
    assert recorder.requests == []


async def test_active_customer_bookings_and_logs_send_their_params() -> None:
    instance = {
        "_id": "ci-1",
        "date": "2026-11-02T18:00:00Z",
        "tenant": {"_ref": "tenant-a"},
        "bookings": [{"student": {"_ref": "u-1"}, "bookingType": "clipcard"}],
    }
    log = {"_id": "log-1", "_type": "webhookLog", "status": "success", "eventId": "evt_1"}
    recorder = Recorder(
        answers(
            result([{**SUB, "passbotReferencedUser": USER}]),
            result({"subscriptions": [SUB], "users": [USER]}),
            result([instance]),
            result([log]),
        )
    )
    passes = store(recorder)
    now = datetime(2026, 11, 28, 8, tzinfo=UTC)
    active = await passes.active_subscriptions(now=now)
    customer = await passes.customer(" Emil@Example.com ", clerk_ids=["user_abc"])
    bookings = await passes.bookings(["u-1"])
    logs = await passes.webhook_logs(since=now)
    assert [s.id for s in active.subscriptions] == ["sub-1"]
    assert "passbotReferencedUser" not in active.subscriptions[0].raw
    assert [u.id for u in active.users] == ["u-1"]
    assert [u.id for u in customer.users] == ["u-1"]
    assert [(b.student_ref, b.booking_type, b.tenant_ref) for b in bookings] == [
        ("u-1", "clipcard", "tenant-a")
    ]
    assert [entry.event_id for entry in logs] == ["evt_1"]
    bodies = [assert_query_request(r) for r in recorder.requests]
    assert [b["query"] for b in bodies] == [
        sanity.ACTIVE_QUERY,
        sanity.CUSTOMER_QUERY,
        sanity.BOOKINGS_QUERY,
        sanity.WEBHOOK_LOGS_QUERY,
    ]
    assert [b["params"] for b in bodies] == [
        {"now": "2026-11-28T08:00:00.000Z"},
        {"email": "Emil@Example.com", "clerkIds": ["user_abc"]},
        {"refs": ["u-1"]},
        {"since": "2026-11-28T08:00:00.000Z"},
    ]


async def test_bookings_of_nobody_sends_nothing() -> None:
    recorder = Recorder(answers())
    assert await store(recorder).bookings([]) == []
    assert recorder.requests == []


# ------------------------------------------------------------------------------- errors


def test_make_sanity_client_refuses_the_cdn() -> None:
    with pytest.raises(ValueError, match="CDN"):
        make_sanity_client("https://demo123.apicdn.sanity.io", "t")


async def test_make_sanity_client_sets_base_and_token() -> None:
    async with make_sanity_client(HOST, TOKEN) as client:
        assert str(client.base_url).rstrip("/") == HOST
        assert client.headers["authorization"] == f"Bearer {TOKEN}"


async def test_401_says_the_token_was_rejected_without_the_token() -> None:
    recorder = Recorder(
        answers(
            httpx.Response(
                401,
                json={"error": "Unauthorized", "message": "Session not found", "statusCode": 401},
            )
        )
    )
    with pytest.raises(UpstreamError) as caught:
        await store(recorder).catalogue()
    message = str(caught.value)
    assert caught.value.service == "sanity"
    assert not caught.value.retryable
    assert "token was rejected" in message
    assert TOKEN not in message
    assert len(recorder.requests) == 1


async def test_400_query_error_carries_sanitys_description() -> None:
    recorder = Recorder(
        answers(
            httpx.Response(
                400,
                json={
                    "error": {
                        "type": "queryParseError",
                        "description": "expected ']' following expression",
                        "query": "*[",
                        "start": 2,
                        "end": 3,
                    }
                },
            )
        )
    )
    with pytest.raises(UpstreamError) as caught:
        await store(recorder).catalogue()
    assert "queryParseError: expected ']' following expression" in str(caught.value)
    assert not caught.value.retryable


async def test_403_names_the_missing_permission() -> None:
    recorder = Recorder(answers(httpx.Response(403, json=permission_error("read"))))
    with pytest.raises(UpstreamError) as caught:
        await store(recorder).webhook_logs(since=datetime(2026, 1, 1, tzinfo=UTC))
    assert 'lacks the "read" permission' in str(caught.value)


async def test_a_query_is_retried_after_429_with_retry_after(
    fast_retry: RetryPolicy, sleeps: Sleeps
) -> None:
    recorder = Recorder(
        answers(
            httpx.Response(
                429,
                headers={"Retry-After": "1"},
                json={"error": "Too Many Requests", "message": "API rate limit exceeded"},
            ),
            result({"tenants": [], "passes": []}),
        )
    )
    await store(recorder, fast_retry).catalogue()
    assert len(recorder.requests) == 2
    assert sleeps.delays == [1.0]


async def test_a_query_that_keeps_failing_is_a_retryable_upstream_error(
    fast_retry: RetryPolicy,
) -> None:
    recorder = Recorder(answers(*[httpx.Response(503, text="busy")] * 4))
    with pytest.raises(UpstreamError) as caught:
        await store(recorder, fast_retry).catalogue()
    assert caught.value.retryable
    assert "503" in str(caught.value)
    assert len(recorder.requests) == 4


# ------------------------------------------------------------------------------- writes

CREATE = CreateDoc(
    {"_id": "subscription-cs_test_x", "_type": "subscription", "isActive": True, "passId": "p"}
)
PATCH = PatchDoc(id="sub-1", set={"isActive": False}, before={"isActive": True}, if_revision="r1")
TX = "passbot-tx-1"


def permission_error(permission: str) -> dict[str, Any]:
    description = f'Insufficient permissions; permission "{permission}" required'
    return {
        "error": {
            "type": "mutationError",
            "description": description,
            "items": [
                {
                    "index": 0,
                    "error": {
                        "type": "insufficientPermissionsError",
                        "permission": permission,
                        "description": description,
                    },
                }
            ],
        }
    }


def mutated(*results: tuple[str, str]) -> httpx.Response:
    return httpx.Response(
        200,
        json={"transactionId": TX, "results": [{"id": i, "operation": o} for i, o in results]},
    )


async def test_apply_is_one_transaction_then_one_reread() -> None:
    written = {**CREATE.document, "_rev": TX}
    patched = {**SUB, "isActive": False, "_rev": TX}
    recorder = Recorder(
        answers(
            mutated(("subscription-cs_test_x", "create"), ("sub-1", "update")),
            result([written, patched]),
        )
    )
    applied = await store(recorder).apply([CREATE, PATCH], transaction_id=TX)
    assert applied.transaction_id == TX
    assert applied.created == ("subscription-cs_test_x",)
    assert applied.patched == ("sub-1",)
    assert applied.unchanged == ()
    assert applied.documents == {"subscription-cs_test_x": written, "sub-1": patched}

    mutate, reread = recorder.requests
    assert mutate.method == "POST"
    assert mutate.url.path == MUTATE_PATH
    assert dict(mutate.url.params) == {
        "returnIds": "true",
        "visibility": "sync",
        "transactionId": TX,
    }
    assert mutate.headers["authorization"] == f"Bearer {TOKEN}"
    assert body_of(mutate) == {
        "mutations": [
            {"createIfNotExists": CREATE.document},
            {"patch": {"id": "sub-1", "ifRevisionID": "r1", "set": {"isActive": False}}},
        ]
    }
    body = assert_query_request(reread)
    assert body == {
        "query": sanity.DOCUMENTS_QUERY,
        "params": {"ids": ["subscription-cs_test_x", "sub-1"]},
    }


async def test_a_patch_without_a_revision_is_unguarded() -> None:
    recorder = Recorder(answers(mutated(("sub-1", "update")), result([SUB])))
    unguarded = PatchDoc(id="sub-1", set={"isActive": False}, before={}, if_revision=None)
    await store(recorder).apply([unguarded], transaction_id=TX)
    assert body_of(recorder.requests[0])["mutations"] == [
        {"patch": {"id": "sub-1", "set": {"isActive": False}}}
    ]


async def test_create_that_found_the_document_is_unchanged() -> None:
    existing = {**CREATE.document, "_rev": "older"}
    recorder = Recorder(answers(mutated(("subscription-cs_test_x", "none")), result([existing])))
    applied = await store(recorder).apply([CREATE], transaction_id=TX)
    assert applied.created == ()
    assert applied.unchanged == ("subscription-cs_test_x",)
    assert applied.documents["subscription-cs_test_x"]["_rev"] == "older"


async def test_revision_mismatch_is_a_stale_fix_and_nothing_more_is_sent() -> None:
    conflict = {
        "error": {
            "type": "mutationError",
            "description": "Mutation failed: Document has unexpected revision ID",
            "items": [
                {
                    "index": 1,
                    "error": {
                        "type": "documentRevisionIDDoesNotMatchError",
                        "id": "sub-1",
                        "currentRevisionID": "r2",
                        "expectedRevisionID": "r1",
                        "description": "Document has unexpected revision ID",
                    },
                }
            ],
        }
    }
    recorder = Recorder(answers(httpx.Response(409, json=conflict)))
    with pytest.raises(StaleFixError, match="sub-1 changed"):
        await store(recorder).apply([CREATE, PATCH], transaction_id=TX)
    assert len(recorder.requests) == 1


async def test_500_that_left_no_trace_is_retryable_and_not_retried(
    fast_retry: RetryPolicy,
) -> None:
    recorder = Recorder(
        answers(
            httpx.Response(500, json={"error": "Internal Server Error", "message": "boom"}),
            result([{**SUB, "_rev": "r1"}]),  # the patch target, untouched
        )
    )
    with pytest.raises(UpstreamError) as caught:
        await store(recorder, fast_retry).apply([CREATE, PATCH], transaction_id=TX)
    assert caught.value.retryable
    methods = [(r.url.path, r.method) for r in recorder.requests]
    assert methods == [(MUTATE_PATH, "POST"), (QUERY_PATH, "POST")]  # one mutate, one re-read


async def test_500_after_the_transaction_was_applied_is_success() -> None:
    written = {**CREATE.document, "_rev": TX}
    patched = {**SUB, "isActive": False, "_rev": TX}
    recorder = Recorder(
        answers(
            httpx.Response(502, text="bad gateway"),
            result([written, patched]),
        )
    )
    applied = await store(recorder).apply([CREATE, PATCH], transaction_id=TX)
    assert applied.created == ("subscription-cs_test_x",)
    assert applied.patched == ("sub-1",)
    assert len(recorder.requests) == 2


async def test_dropped_connection_after_the_write_is_success() -> None:
    written = {**CREATE.document, "_rev": TX}
    request = httpx.Request("POST", HOST + MUTATE_PATH)
    recorder = Recorder(
        answers(
            httpx.RemoteProtocolError("Server disconnected", request=request), result([written])
        )
    )
    applied = await store(recorder).apply([CREATE], transaction_id=TX)
    assert applied.created == ("subscription-cs_test_x",)


async def test_timeout_with_creates_already_in_place_is_unchanged() -> None:
    existing = {**CREATE.document, "_rev": "someone-else"}
    request = httpx.Request("POST", HOST + MUTATE_PATH)
    recorder = Recorder(answers(httpx.ReadTimeout("slow", request=request), result([existing])))
    applied = await store(recorder).apply([CREATE], transaction_id=TX)
    assert applied.created == ()
    assert applied.unchanged == ("subscription-cs_test_x",)


async def test_timeout_that_left_no_trace_is_a_retryable_error() -> None:
    request = httpx.Request("POST", HOST + MUTATE_PATH)
    recorder = Recorder(answers(httpx.ReadTimeout("slow", request=request), result([])))
    with pytest.raises(UpstreamError) as caught:
        await store(recorder).apply([CREATE], transaction_id=TX)
    assert caught.value.retryable
    assert "timed out" in str(caught.value)


async def test_a_reused_transaction_id_is_checked_against_the_documents() -> None:
    reused = httpx.Response(
        409,
        json={
            "error": {
                "type": "transactionIdAlreadyExistsError",
                "description": f'Transaction ID "{TX}" already exists',
            }
        },
    )
    recorder = Recorder(answers(reused, result([{**CREATE.document, "_rev": TX}])))
    applied = await store(recorder).apply([CREATE], transaction_id=TX)
    assert applied.created == ("subscription-cs_test_x",)

    recorder = Recorder(answers(reused, result([])))
    with pytest.raises(UpstreamError, match="already used"):
        await store(recorder).apply([CREATE], transaction_id=TX)


async def test_a_write_without_permission_names_it_and_is_not_retried() -> None:
    recorder = Recorder(answers(httpx.Response(403, json=permission_error("create"))))
    with pytest.raises(UpstreamError) as caught:
        await store(recorder).apply([CREATE], transaction_id=TX)
    assert 'lacks the "create" permission' in str(caught.value)
    assert not caught.value.retryable
    assert len(recorder.requests) == 1


async def test_a_write_rate_limited_is_not_retried() -> None:
    recorder = Recorder(
        answers(httpx.Response(429, headers={"Retry-After": "1"}, json={"error": "x"}))
    )
    with pytest.raises(UpstreamError) as caught:
        await store(recorder).apply([CREATE], transaction_id=TX)
    assert caught.value.retryable
    assert len(recorder.requests) == 1


async def test_can_write_is_a_dry_run() -> None:
    recorder = Recorder(answers(mutated((sanity.PROBE_ID, "create"))))
    assert await store(recorder).can_write() is True
    request = recorder.requests[0]
    assert request.url.path == MUTATE_PATH
    assert request.url.params["dryRun"] == "true"
    assert "transactionId" not in request.url.params
    (mutation,) = body_of(request)["mutations"]
    assert mutation["createIfNotExists"]["_id"] == sanity.PROBE_ID


@pytest.mark.parametrize("status", [401, 403])
async def test_can_write_is_false_when_refused(status: int) -> None:
    recorder = Recorder(answers(httpx.Response(status, json=permission_error("create"))))
    assert await store(recorder).can_write() is False


async def test_can_write_raises_when_sanity_fails() -> None:
    recorder = Recorder(answers(httpx.Response(503, text="down")))
    with pytest.raises(UpstreamError):
        await store(recorder).can_write()


def test_queries_compare_no_field_with_null() -> None:
    for query in (
        sanity.RELATED_QUERY,
        sanity.ACTIVE_QUERY,
        sanity.CUSTOMER_QUERY,
        sanity.BOOKINGS_QUERY,
        sanity.WEBHOOK_LOGS_QUERY,
    ):
        assert "null" not in query
        json.dumps(query)  # plain text, no interpolation left behind
        assert "{}" not in query
        assert "%s" not in query


async def test_a_committed_write_whose_reread_fails_is_still_success(
    fast_retry: RetryPolicy,
) -> None:
    recorder = Recorder(
        answers(mutated(("subscription-cs_test_x", "create")), *[httpx.Response(503)] * 4)
    )
    applied = await store(recorder, fast_retry).apply([CREATE], transaction_id=TX)
    assert applied.created == ("subscription-cs_test_x",)
    assert applied.documents == {}
