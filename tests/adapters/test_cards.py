"""Slack cards shared by replicas, on SQLite and on PostgreSQL: a card's lease is held by one
holder at a time across connections (as across processes), given back, and lapses; the latest
blocks one connection keeps are what another recalls; and CardMemory over the store makes two
presses on two "replicas" take turns."""

from __future__ import annotations

import asyncio
import time

from core.adapters.cards import SqlCards
from core.adapters.db import open_database
from handlers.cards import CardMemory

BLOCKS = [{"type": "section", "block_id": "p1", "text": {"type": "mrkdwn", "text": "Ola ✅"}}]


def test_one_holder_at_a_time_across_connections(db_url):
    one, two = open_database(db_url), open_database(db_url)
    a, b = SqlCards(one), SqlCards(two)
    try:
        assert a.try_lock("C1", "1.0", "ha", lease=30)
        assert not b.try_lock("C1", "1.0", "hb", lease=30)  # another replica waits
        assert not a.try_lock("C1", "1.0", "hc", lease=30)
        assert b.try_lock("C1", "2.0", "hb", lease=30)  # another card is free
        b.unlock("C1", "1.0", "hb")  # not its lease: nothing given back
        assert not b.try_lock("C1", "1.0", "hb", lease=30)
        a.unlock("C1", "1.0", "ha")
        assert b.try_lock("C1", "1.0", "hb", lease=30)
    finally:
        one.close()
        two.close()


def test_an_unreturned_lease_lapses(db_url):
    db = open_database(db_url)
    cards = SqlCards(db)
    try:
        assert cards.try_lock("C1", "1.0", "killed", lease=0.2)
        assert not cards.try_lock("C1", "1.0", "next", lease=30)
        time.sleep(0.3)
        assert cards.try_lock("C1", "1.0", "next", lease=30)
    finally:
        db.close()


def test_blocks_kept_by_one_connection_are_recalled_by_another(db_url):
    one, two = open_database(db_url), open_database(db_url)
    try:
        assert SqlCards(two).recall("C1", "1.0") is None
        SqlCards(one).remember("C1", "1.0", BLOCKS)
        assert SqlCards(two).recall("C1", "1.0") == BLOCKS
        assert SqlCards(one).try_lock("C1", "1.0", "h", lease=30)  # a lease keeps the blocks
        SqlCards(one).remember("C1", "1.0", [*BLOCKS, {"type": "divider"}])
        assert SqlCards(two).recall("C1", "1.0") == [*BLOCKS, {"type": "divider"}]
        assert SqlCards(two).recall("C1", "9.9") is None
    finally:
        one.close()
        two.close()


async def test_two_memories_on_one_database_take_turns_on_a_card(db_url):
    one, two = open_database(db_url), open_database(db_url)
    replicas = [CardMemory(SqlCards(one)), CardMemory(SqlCards(two))]
    inside: list[int] = []
    overlapped = False

    async def press(n: int) -> None:
        nonlocal overlapped
        memory = replicas[n % 2]
        async with memory.lock("C1", "1.0"):
            overlapped = overlapped or bool(inside)
            inside.append(n)
            latest = memory.recall("C1", "1.0") or []
            await asyncio.sleep(0.05)  # the chat.update
            memory.remember("C1", "1.0", [*latest, {"type": "context", "block_id": str(n)}])
            inside.remove(n)

    try:
        await asyncio.gather(*(press(n) for n in range(6)))
        final = replicas[0].recall("C1", "1.0")
        assert not overlapped
        assert final is not None
        assert sorted(b["block_id"] for b in final) == [str(n) for n in range(6)]  # none lost
    finally:
        one.close()
        two.close()
