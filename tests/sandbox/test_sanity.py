"""The sandbox's Sanity (Node: groq-js + @sanity/mutator) over its HTTP API, with httpx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sandbox import Sandbox, WorldError
from tests.sandbox.conftest import make_world

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Lake:
    """A tiny Sanity client: what the bot's httpx adapter does, nothing more."""

    def __init__(self, http: httpx.AsyncClient, env: dict[str, str]) -> None:
        self.http = http
        self.base = f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data"
        self.dataset = env["SANITY_DATASET"]
        self.headers = {"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"}

    async def query(self, query: str, **params: Any) -> httpx.Response:
        args = {"query": query} | {f"${k}": json.dumps(v) for k, v in params.items()}
        return await self.http.get(
            f"{self.base}/query/{self.dataset}", params=args, headers=self.headers
        )

    async def result(self, query: str, **params: Any) -> Any:
        answer = await self.query(query, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    async def mutate(self, *mutations: dict[str, Any], **options: str) -> httpx.Response:
        return await self.http.post(
            f"{self.base}/mutate/{self.dataset}",
            params=options,
            json={"mutations": list(mutations)},
            headers=self.headers,
        )


@pytest.fixture
def lake(http: httpx.AsyncClient, env: dict[str, str]) -> Lake:
    return Lake(http, env)


async def test_query_get_and_post(fresh: Sandbox, lake: Lake) -> None:
    answer = await lake.query("*[_type == $t] | order(price desc){_id, price}", t="pass")
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["ms", "query", "result"]
    assert body["result"] == [
        {"_id": "pass-a-10clip", "price": 2000},
        {"_id": "pass-a-drop", "price": 250},
    ]
    posted = await lake.http.post(
        f"{lake.base}/query/{lake.dataset}",
        params={"returnQuery": "false"},
        json={
            "query": "*[email == $email][0].name",
            "params": {"email": "ola.hansen177@example.com"},
        },
        headers=lake.headers,
    )
    assert posted.status_code == 200
    assert posted.json()["result"] == "Ola Hansen"
    assert "query" not in posted.json()
    assert await lake.result("*[_id == 'nope'][0]") is None
    # now() is the world's clock.
    assert await lake.result("now()") == "2026-11-28T08:00:00.000Z"
    # References resolve with ->.
    sub = await lake.result(
        '*[_type == "subscription"][0]{"who": user->name, "school": tenant->schoolName}'
    )
    assert sub == {"who": "Emil Lund", "school": "Aurora Dance"}


async def test_query_errors(fresh: Sandbox, lake: Lake, env: dict[str, str]) -> None:
    bad = await lake.query('*[_type == "pass"')
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["type"] == "queryParseError"
    assert {"description", "query", "start", "end"} <= set(error)
    unknown_function = await lake.query("*[nosuchfunction(_id)]")
    assert unknown_function.status_code == 400
    missing = await lake.query("*[_id == $id]")
    assert missing.status_code == 400
    assert "$id" in missing.json()["error"]["description"]
    unquoted = await lake.http.get(
        f"{lake.base}/query/{lake.dataset}",
        params={"query": "*[_id == $id]", "$id": "unquoted"},
        headers=lake.headers,
    )
    assert unquoted.status_code == 400
    no_token = await lake.http.get(f"{lake.base}/query/{lake.dataset}", params={"query": "*"})
    assert no_token.status_code == 401
    assert no_token.json()["statusCode"] == 401
    wrong_token = await lake.http.get(
        f"{lake.base}/query/{lake.dataset}",
        params={"query": "*"},
        headers={"Authorization": "Bearer sk-wrong"},
    )
    assert wrong_token.status_code == 401
    other = await lake.http.get(
        f"{lake.base}/query/production", params={"query": "*"}, headers=lake.headers
    )
    assert other.status_code == 404
    assert "production" in other.json()["message"]


async def test_create_if_not_exists_twice_is_one_document(fresh: Sandbox, lake: Lake) -> None:
    doc = {"_id": "subscription-cs_1", "_type": "subscription", "isActive": True}
    first = await lake.mutate({"createIfNotExists": doc}, returnIds="true")
    assert first.status_code == 200
    assert first.json()["results"] == [{"id": "subscription-cs_1", "operation": "create"}]
    second = await lake.mutate({"createIfNotExists": {**doc, "isActive": False}})
    assert second.status_code == 200
    assert await lake.result('count(*[_id == "subscription-cs_1"])') == 1
    stored = await lake.result('*[_id == "subscription-cs_1"][0]')
    assert stored["isActive"] is True
    assert stored["_rev"] == first.json()["transactionId"]
    assert stored["_createdAt"] == stored["_updatedAt"] == "2026-11-28T08:00:00Z"
    again = await lake.mutate({"create": doc})
    assert again.status_code == 409
    item = again.json()["error"]["items"][0]
    assert item["error"]["type"] == "documentAlreadyExistsError"


async def test_patch_operations_and_revisions(fresh: Sandbox, lake: Lake) -> None:
    pass_doc = await lake.result('*[_id == "pass-a-drop"][0]')
    answer = await lake.mutate(
        {
            "patch": {
                "id": "pass-a-drop",
                "ifRevisionID": pass_doc["_rev"],
                "set": {"name": "Drop-in", "meta.note": "x"},
                "setIfMissing": {"tags": []},
                "unset": ["classesLimit"],
                "inc": {"price": 50},
                "dec": {"validityDays": 10},
            }
        },
        {"patch": {"id": "pass-a-drop", "insert": {"after": "tags[-1]", "items": ["new"]}}},
        returnDocuments="true",
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["operation"] for r in body["results"]] == ["update", "update"]
    doc = body["results"][-1]["document"]
    assert (doc["name"], doc["price"], doc["validityDays"]) == ("Drop-in", 300, 20)
    assert doc["meta"] == {"note": "x"}
    assert doc["tags"] == ["new"]
    assert "classesLimit" not in doc
    assert doc["_rev"] == body["transactionId"] != pass_doc["_rev"]
    assert doc["_createdAt"] == pass_doc["_createdAt"]
    assert doc["_updatedAt"] == "2026-11-28T08:00:00Z"
    stale = await lake.mutate(
        {"patch": {"id": "pass-a-drop", "ifRevisionID": pass_doc["_rev"], "set": {"price": 1}}}
    )
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["type"] == "mutationError"
    assert error["items"][0]["error"]["type"] == "documentRevisionIDDoesNotMatchError"
    assert await lake.result('*[_id == "pass-a-drop"][0].price') == 300
    missing = await lake.mutate({"patch": {"id": "nope", "set": {"a": 1}}})
    assert missing.status_code == 409


async def test_transaction_is_all_or_nothing(fresh: Sandbox, lake: Lake) -> None:
    answer = await lake.mutate(
        {"create": {"_id": "new-1", "_type": "thing"}},
        {"patch": {"id": "tenant-aurora", "set": {"status": "closed"}}},
        {"create": {"_id": "pass-a-drop", "_type": "pass"}},  # exists: the whole lot fails
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["items"][0]["index"] == 2
    assert await lake.result('count(*[_id == "new-1"])') == 0
    assert await lake.result('*[_id == "tenant-aurora"][0].status') == "active"


async def test_dry_run_writes_nothing(fresh: Sandbox, lake: Lake) -> None:
    answer = await lake.mutate(
        {"create": {"_id": "dry-1", "_type": "thing"}},
        {"delete": {"id": "pass-a-drop"}},
        dryRun="true",
        returnDocuments="true",
    )
    assert answer.status_code == 200
    assert [r["operation"] for r in answer.json()["results"]] == ["create", "delete"]
    assert await lake.result('count(*[_id in ["dry-1", "pass-a-drop"]])') == 1


async def test_ids_deletes_and_query_targets(fresh: Sandbox, lake: Lake) -> None:
    prefixed = await lake.mutate({"create": {"_id": "log.", "_type": "webhookLog"}})
    assert prefixed.status_code == 200
    new_id = prefixed.json()["results"][0]["id"]
    assert new_id.startswith("log.")
    assert len(new_id) > len("log.")
    generated = await lake.mutate({"create": {"_type": "webhookLog"}})
    assert generated.json()["results"][0]["id"]
    patched = await lake.mutate(
        {"patch": {"query": '*[_type == "pass"]', "set": {"isActive": False}}}
    )
    assert [r["id"] for r in patched.json()["results"]] == ["pass-a-10clip", "pass-a-drop"]
    assert await lake.result('*[_type == "pass"].isActive') == [False, False]
    deleted = await lake.mutate({"delete": {"query": '*[_type == "webhookLog"]'}})
    assert len(deleted.json()["results"]) == 4
    assert await lake.result('count(*[_type == "webhookLog"])') == 0
    replaced = await lake.mutate({"createOrReplace": {"_id": "pass-a-drop", "_type": "pass"}})
    assert replaced.json()["results"] == [{"id": "pass-a-drop", "operation": "update"}]
    assert await lake.result('*[_id == "pass-a-drop"][0].name') is None


async def test_viewer_token_cannot_write(
    sandbox: Sandbox, tiny: dict[str, Any], lake: Lake
) -> None:
    tiny["sanity"]["token_role"] = "viewer"
    await sandbox.replace_world(tiny)
    for options in ({}, {"dryRun": "true"}):
        answer = await lake.mutate(
            {"createIfNotExists": {"_id": "x", "_type": "t"}},
            {"delete": {"id": "pass-a-drop"}},
            **options,
        )
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["description"].endswith(
            'Insufficient permissions; permission "create" required'
        )
        assert [i["error"]["permission"] for i in error["items"]] == ["create", "delete"]
        assert error["items"][0]["error"]["type"] == "insufficientPermissionsError"
    assert await lake.result("count(*)") == 8


async def test_perspectives(sandbox: Sandbox, lake: Lake) -> None:
    docs = [
        {"_id": "a", "_type": "t", "v": 1},
        {"_id": "drafts.a", "_type": "t", "v": 2},
        {"_id": "drafts.b", "_type": "t", "v": 3},
        {"_id": "versions.r1.a", "_type": "t", "v": 4},
    ]
    await sandbox.replace_world(
        make_world(sanity={"project_id": "demo123", "dataset": "test", "documents": docs})
    )
    assert await lake.result("*.v") == [1]
    for perspective, expected in (("raw", [1, 2, 3, 4]), ("drafts", [2, 3]), ("published", [1])):
        answer = await lake.http.get(
            f"{lake.base}/query/{lake.dataset}",
            params={"query": "*.v", "perspective": perspective},
            headers=lake.headers,
        )
        assert answer.json()["result"] == expected, perspective
    old_api = await lake.http.get(
        f"{lake.base.replace('v2025-02-19', 'v2021-10-21')}/query/{lake.dataset}",
        params={"query": "count(*)"},
        headers=lake.headers,
    )
    assert old_api.json()["result"] == 4


async def test_doc_endpoint(fresh: Sandbox, lake: Lake) -> None:
    answer = await lake.http.get(
        f"{lake.base}/doc/{lake.dataset}/pass-a-drop,nope", headers=lake.headers
    )
    assert answer.status_code == 200
    body = answer.json()
    assert [d["_id"] for d in body["documents"]] == ["pass-a-drop"]
    assert body["omitted"] == [{"id": "nope", "reason": "existence"}]


QUERIES = [
    '_type == "subscription"',
    '_type == "subscription" && isActive == true',
    '_type == "subscription" && stripeSessionId == $session',
    "stripeSessionId == $session && amount > 10",
    '"webhookLog" == _type && status == "success"',
    "tenant._ref == $tenant",
    '_id in ["s-3", "s-5", "nope"]',
    "stripeSessionId in $sessions",
    "isActive == null",
    "amount == 20",
    '_type == "subscription" && (isActive == true || amount == 20)',
    "stripeSessionId == $session || tenant._ref == $tenant",
    '_type == "user" && (stripeSessionId in $sessions || (_id == "s-7" || amount == 10))',
    '_type == "subscription" && (stripeSessionId in $sessions'
    ' || tenant._ref in *[_type == "user" && stripeSessionId == $session].tenant._ref)',
    '_id in *[_type == "webhookLog" && status == "success"]._id || amount == "20"',
]


@pytest.mark.parametrize("condition", QUERIES)
async def test_planned_queries_answer_as_unplanned_ones(
    sandbox: Sandbox, lake: Lake, condition: str
) -> None:
    """Index-narrowed filters (server.mjs, query planning) give what a plain scan gives."""
    docs: list[dict[str, Any]] = []
    for n in range(40):
        doc: dict[str, Any] = {
            "_id": f"s-{n}",
            "_type": ["subscription", "webhookLog", "user"][n % 3],
            "stripeSessionId": f"cs_{n % 6}",
            "amount": [10, 20, 20.0, "20"][n % 4],
            "tenant": {"_ref": f"t{n % 2}"} if n % 5 else "broken",
        }
        if n % 4:
            doc["isActive"] = bool(n % 2)
        if n % 3 == 1:
            doc["status"] = "success" if n % 2 else "error"
        docs.append(doc)
    world = make_world(sanity={"project_id": "demo123", "dataset": "test", "documents": docs})
    await sandbox.replace_world(world)
    params = {"session": "cs_3", "tenant": "t1", "sessions": ["cs_1", "cs_2"]}
    # A write after the first query moves documents between index buckets.
    first = await lake.result(f"*[{condition}]._id", **params)
    assert first == await lake.result(f"*[({condition}) || false]._id", **params)
    moved = await lake.mutate(
        {"patch": {"id": "s-3", "set": {"_type": "subscription", "stripeSessionId": "cs_1"}}},
        {"delete": {"id": "s-5"}},
        {
            "create": {
                "_id": "s-99",
                "_type": "subscription",
                "stripeSessionId": "cs_3",
                "amount": 20,
            }
        },
    )
    assert moved.status_code == 200
    planned = await lake.result(f"*[{condition}]._id", **params)
    assert planned == await lake.result(f"*[({condition}) || false]._id", **params)


async def test_bad_documents_are_refused(sandbox: Sandbox, tiny: dict[str, Any]) -> None:
    tiny["sanity"]["documents"].append({"_id": "tenant-aurora", "_type": "tenant"})
    with pytest.raises(WorldError, match="duplicate _id"):
        await sandbox.replace_world(tiny)
    tiny["sanity"]["documents"][-1] = {"_type": "tenant"}
    with pytest.raises(WorldError, match="no string _id"):
        await sandbox.replace_world(tiny)
