"""bench/floor.py is the network floor of `passbot check` only if it sends what passbot sends:
the same Stripe expansions, the same GROQ, the same number of requests to each service."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bench import floor
from core.adapters import sanity_queries
from core.adapters.stripe import SESSION_EXPAND
from sandbox import Sandbox, start_sandbox
from sandbox.worlds import generate_world
from tests.e2e.process import REPO, environment, run


def test_the_floor_asks_stripe_and_sanity_what_passbot_asks():
    assert floor.EXPAND == SESSION_EXPAND
    assert floor.RELATED_QUERY is sanity_queries.RELATED_QUERY
    assert floor.CATALOGUE_QUERY is sanity_queries.CATALOGUE_QUERY
    assert floor.ACTIVE_PAGE_QUERY is sanity_queries.ACTIVE_PAGE_QUERY


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
    # In threads: the sandbox answers from this test's event loop, which must keep running.
    ran = await asyncio.to_thread(run, "check", "--json", env=env, cwd=tmp_path)
    assert ran.code in (0, 1), ran.err
    after_check = _totals(await box.requests())
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
    by_check = {k: after_check[k] - before[k] for k in before}
    by_floor = {k: after_floor[k] - after_check[k] for k in before}
    assert by_check["stripe"] > 6  # several pages on each school's account
    assert by_floor == by_check
    assert json.loads(done.stdout)["requests"] == by_check
    report = json.loads(ran.out)
    sessions = report["metrics"]["paid_pass_sessions"] + report["metrics"]["not_pass_sessions"]
    assert json.loads(done.stdout)["sessions"] == sessions


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
    related = {
        "result": {"users": [{"_id": "u1", "clerkId": "user_1", "email": "x"}, {"_id": "u2"}]}
    }
    assert floor.read_users(json.dumps(related).encode()) == [("u1", "user_1"), ("u2", None)]
    audit = {"result": [{"_id": "sub-a", "isActive": True}, {"_id": "sub-b"}], "ms": 3}
    assert floor.read_audit(json.dumps(audit).encode()) == (2, "sub-b")
    assert floor.read_audit(b'{"result": []}') == (0, "")
