"""bench/floor.py is the network floor of `passbot check` only if it sends what passbot sends:
the same Stripe expansions, the same GROQ, the same number of requests to each service."""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bench import floor
from core.adapters import sanity_queries
from core.adapters.memo import ModelMemo
from core.adapters.sanity import _raw_subscription as _raw
from core.adapters.stripe import SESSION_EXPAND
from core.domain.models import Subscription
from sandbox import Sandbox, start_sandbox
from sandbox.worlds import generate_world
from tests.e2e.process import REPO, environment, run


def test_the_floor_asks_stripe_and_sanity_what_passbot_asks():
    assert floor.EXPAND == SESSION_EXPAND
    assert floor.RELATED_QUERY is sanity_queries.RELATED_QUERY
    assert floor.CATALOGUE_QUERY is sanity_queries.CATALOGUE_QUERY
    assert floor.ACTIVE_REVISIONS_QUERY is sanity_queries.ACTIVE_REVISIONS_QUERY
    assert floor.ACTIVE_BY_ID_QUERY is sanity_queries.ACTIVE_BY_ID_QUERY
    assert inspect.signature(ModelMemo).parameters["limit"].default == floor.MEMO_LIMIT


def test_the_floors_revisions_are_passbots_memo():
    """Which passes the audit asks for again is decided by passbot's memo: the floor's reduced
    copy gives the same answers for the same reads, evictions included."""
    memo: ModelMemo[Subscription] = ModelMemo(Subscription.from_json, limit=3, json_of=_raw)
    revisions = floor.Revisions(limit=3)
    steps: list[tuple[str, str, str | None]] = [
        ("read", "a", "1"),
        ("read", "b", "1"),
        ("read", "c", None),
        ("known", "a", "1"),  # a is the most recent again: b goes first
        ("read", "d", "1"),
        ("known", "b", "1"),
        ("known", "c", None),
        ("read", "a", "2"),
        ("known", "a", "1"),
        ("known", "a", "2"),
        ("read", "e", "1"),
        ("known", "d", "1"),
        ("known", "c", None),
        ("read", "d", "1"),
        ("known", "d", "1"),
    ]
    for step, key, rev in steps:
        doc: dict[str, object] = {"_id": key, "_type": "subscription"}
        if rev is not None:
            doc["_rev"] = rev
        if step == "read":
            memo(doc)
            revisions.read(key, rev)
        else:
            in_memo = rev is not None and memo.known(key, rev) is not None
            assert revisions.known(key, rev) is in_memo, (step, key, rev)
    assert list(revisions.items) == list(memo._items)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(generate_world(seed=5, schools=3, purchases=500, days=35))
    try:
        yield sandbox
    finally:
        await sandbox.close()


def _totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {service: sum(counts.get(service, {}).values()) for service in ("stripe", "sanity")}


@pytest.mark.asyncio(loop_scope="module")
async def test_the_floor_sends_as_many_requests_as_check(box: Sandbox, tmp_path: Path):
    env = environment(box.settings(), PASSBOT_DB=str(tmp_path / "p.db"), PASSBOT_CONCURRENCY="8")
    before = _totals(await box.requests())
    first = len(await box.sanity_queries())
    # In threads: the sandbox answers from this test's event loop, which must keep running.
    ran = await asyncio.to_thread(run, "check", "--json", env=env, cwd=tmp_path)
    assert ran.code in (0, 1), ran.err
    after_check = _totals(await box.requests())
    middle = len(await box.sanity_queries())
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bench.floor"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after_floor = _totals(await box.requests())
    queries = await box.sanity_queries()
    by_check = {k: after_check[k] - before[k] for k in before}
    by_floor = {k: after_floor[k] - after_check[k] for k in before}
    assert by_check["stripe"] > 6  # several pages on each school's account
    assert by_floor == by_check
    assert json.loads(done.stdout)["requests"] == by_check
    report = json.loads(ran.out)
    sessions = report["metrics"]["paid_pass_sessions"] + report["metrics"]["not_pass_sessions"]
    assert json.loads(done.stdout)["sessions"] == sessions
    # The audit's queries, those that depend on what the run read before, are the same ones.
    audit = (sanity_queries.ACTIVE_REVISIONS_QUERY, sanity_queries.ACTIVE_BY_ID_QUERY)
    by_check_audit = [q for q in queries[first:middle] if q["query"] in audit]
    assert any(q["query"] == audit[1] for q in by_check_audit)  # the world has unread passes
    assert [q for q in queries[middle:] if q["query"] in audit] == by_check_audit


def _session(sid: str, intent: object, user: object = "user_1", ref: object = None) -> dict:
    return {
        "id": sid,
        "object": "checkout.session",
        "payment_intent": intent,
        "metadata": {"userId": user, "passId": "p"},
        "client_reference_id": ref,
        "line_items": {"data": [{"id": "li_1", "price": {"id": "price_1"}}]},
    }


def test_the_floor_reads_each_shape_of_a_page_as_a_whole_reading_would():
    sessions = [
        _session("cs_1", {"id": "pi_1", "latest_charge": {"id": "ch_1", "amount": 100}}),
        _session("cs_2", {"id": "pi_2", "latest_charge": "ch_2"}),
        _session("cs_3", "pi_3", user=None, ref="user_ref"),
        _session("cs_4", None, user=""),
    ]
    body = json.dumps({"object": "list", "data": sessions, "has_more": True}).encode()
    narrow = floor.read_page(body)
    assert narrow == floor._read_page_whole(json.loads(body))
    assert narrow == (
        [
            floor.Purchase("cs_1", ("pi_1", "ch_1"), "user_1"),
            floor.Purchase("cs_2", ("pi_2", "ch_2"), "user_1"),
            floor.Purchase("cs_3", ("pi_3",), "user_ref"),
            floor.Purchase("cs_4", (), ""),
        ],
        True,
    )


def test_a_page_outside_the_narrow_shape_is_read_whole():
    odd = _session("cs_9", {"id": "pi_9", "latest_charge": None}, user=12345, ref="user_9")
    body = json.dumps({"data": [odd], "has_more": False}).encode()
    assert floor.read_page(body) == ([floor.Purchase("cs_9", ("pi_9", ""), 12345)], False)


def test_the_floor_reads_users_and_audit_pages():
    users = [{"_id": "u1", "clerkId": "user_1", "email": "x"}, {"_id": "u2"}]
    subs = [{"_id": "s1", "_rev": "r1", "type": "single"}, {"_id": "s2"}]
    related = {"result": {"users": users, "subscriptions": subs}}
    assert floor.read_related(json.dumps(related).encode()) == (
        [("u1", "user_1"), ("u2", None)],
        [("s1", "r1"), ("s2", None)],
    )
    odd = {"result": {"users": users, "subscriptions": [{"_id": "s1", "_rev": 7}]}}
    assert floor.read_related(json.dumps(odd).encode())[1] == [("s1", None)]
    audit = {"result": [{"_id": "sub-a", "_rev": "r", "isActive": True}, {"_id": "sub-b"}]}
    assert floor.read_revisions(json.dumps(audit).encode()) == [("sub-a", "r"), ("sub-b", None)]
    assert floor.read_revisions(b'{"result": []}') == []
