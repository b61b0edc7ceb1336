"""Each buyer asked for once per run (core/usecases/buyers.py), against the sandbox's real
Sanity: every page still gets exactly what a query of its own would return, concurrently too,
with one query per page and fewer documents sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.container import build_services
from bot.settings import Settings
from core.domain.models import CheckoutSession
from core.errors import UpstreamError
from core.ports import Related
from core.usecases.buyers import BuyerMemory
from core.usecases.services import Services
from sandbox import Sandbox, start_sandbox
from sandbox.worlds import generate_world

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    # 3 schools, 600 purchases: each school's buyers come back on several pages.
    sandbox = await start_sandbox(generate_world(seed=11, schools=3, purchases=600, days=35))
    try:
        yield sandbox
    finally:
        await sandbox.close()


@pytest_asyncio.fixture(loop_scope="module")
async def services(box: Sandbox, tmp_path: Path) -> AsyncIterator[Services]:
    env = {k.lower(): v for k, v in box.settings().items() if k.lower() in Settings.model_fields}
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{**env, "passbot_db": str(tmp_path / "passbot.db")},
    )
    async with build_services(settings) as built:
        yield built


async def _pages(services: Services) -> list[list[CheckoutSession]]:
    reader = services.reader
    catalogue = await reader.catalogue()
    pages: list[list[CheckoutSession]] = []
    await reader.scan(
        reader.accounts_of(catalogue), reader.window(None), on_page=pages.append, collect=False
    )
    return pages


def _ids(related: Related) -> tuple[set[str], set[str]]:
    return {s.id for s in related.subscriptions}, {u.id for u in related.users}


async def _queries(box: Sandbox) -> int:
    counts: dict[str, Any] = (await box.requests())["sanity"]
    return sum(n for route, n in counts.items() if "/data/query" in route)


async def test_every_page_gets_what_its_own_query_returns(box: Sandbox, services: Services):
    pages = await _pages(services)
    assert len(pages) >= 6
    alone = [await services.reader.related_to(page) for page in pages]
    memory = BuyerMemory()
    before = await _queries(box)
    remembered = [await services.reader.related_to(page, memory) for page in pages]
    assert await _queries(box) - before == len(pages)  # still one query a page
    assert memory.remembered > 0  # buyers did come back on later pages
    for own, merged in zip(alone, remembered, strict=True):
        assert _ids(merged) == _ids(own)
    # The same documents: the models built from a remembered answer equal the page's own.
    for own, merged in zip(alone, remembered, strict=True):
        mine = {s.id: s for s in own.subscriptions}
        assert all(mine[s.id] == s for s in merged.subscriptions)


async def test_pages_read_at_once_wait_for_the_query_naming_their_buyers(services: Services):
    pages = await _pages(services)
    alone = [await services.reader.related_to(page) for page in pages]
    memory = BuyerMemory()
    # Every page at once, twice over: the second copy of each page names no buyer itself.
    together = await asyncio.gather(
        *(services.reader.related_to(page, memory) for page in [*pages, *pages])
    )
    assert memory.asked == len({s.user_id for page in pages for s in page if s.user_id})
    for own, merged in zip([*alone, *alone], together, strict=True):
        assert _ids(merged) == _ids(own)


async def test_a_failed_query_leaves_its_buyers_to_be_asked_again(services: Services):
    """The first query naming the buyers fails: the page waiting on it asks for them itself,
    and the failure still reaches the page that made it."""
    pages = await _pages(services)
    page = pages[0]
    reader = services.reader
    own = await reader.related_to(page)
    memory = BuyerMemory()
    started = asyncio.Event()
    asked: list[Sequence[str]] = []

    async def failing(
        sessions: Sequence[str],
        payments: Sequence[str],
        clerk_ids: Sequence[str],
        known_refs: Sequence[str],
    ) -> Related:
        asked.append(clerk_ids)
        started.set()
        await asyncio.sleep(0.05)
        raise UpstreamError("sanity", "Sanity is failing")

    async def working(
        sessions: Sequence[str],
        payments: Sequence[str],
        clerk_ids: Sequence[str],
        known_refs: Sequence[str],
    ) -> Related:
        asked.append(clerk_ids)
        return await services.passes.related(
            session_ids=sessions, payment_ids=payments, clerk_ids=clerk_ids, known_refs=known_refs
        )

    session_ids = [s.id for s in page]
    payment_ids = sorted({p for s in page for p in (s.payment_intent, s.charge_id) if p})
    buyers = sorted({s.user_id for s in page if s.user_id})

    async def first() -> Related:
        return await memory.related(
            failing, session_ids=session_ids, payment_ids=payment_ids, clerk_ids=buyers
        )

    async def second() -> Related:
        await started.wait()
        return await memory.related(
            working, session_ids=session_ids, payment_ids=payment_ids, clerk_ids=buyers
        )

    failed, merged = await asyncio.gather(first(), second(), return_exceptions=True)
    assert isinstance(failed, UpstreamError)
    assert isinstance(merged, Related)
    assert asked == [buyers, [], buyers]  # named, waited on, then asked again
    assert _ids(merged) == _ids(own)


def _asked_of(page: Sequence[CheckoutSession]) -> dict[str, list[str]]:
    return {
        "session_ids": [s.id for s in page],
        "payment_ids": sorted({p for s in page for p in (s.payment_intent, s.charge_id) if p}),
        "clerk_ids": sorted({s.user_id for s in page if s.user_id}),
    }


async def test_a_run_brings_each_subscription_back_about_once(services: Services):
    """The earlier buyers' subscriptions linked to a page's purchases are left out of its
    answer: Sanity sends far fewer documents than the pages asking alone."""
    pages = await _pages(services)
    answers: list[Related] = []

    async def recording(
        sessions: Sequence[str],
        payments: Sequence[str],
        clerk_ids: Sequence[str],
        known_refs: Sequence[str],
    ) -> Related:
        answer = await services.passes.related(
            session_ids=sessions, payment_ids=payments, clerk_ids=clerk_ids, known_refs=known_refs
        )
        answers.append(answer)
        return answer

    memory = BuyerMemory()
    for page in pages:
        await memory.related(recording, **_asked_of(page))
    sent = sum(len(a.subscriptions) for a in answers)
    distinct = len({s.id for a in answers for s in a.subscriptions})
    alone = 0
    for page in pages:
        alone += len((await services.reader.related_to(page)).subscriptions)
    assert sent < alone * 0.6, (sent, alone)
    assert sent - distinct <= len(pages)  # a pass linked to another's purchase may come twice
