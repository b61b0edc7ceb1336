"""The latest blocks of each card and one update at a time: in this process (an asyncio lock,
the fast path, and a bounded memory), and across replicas through passbot's database when a
`CardStore` is given (a lease taken with short asyncio sleeps between tries, bounded)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from core.errors import UpstreamError
from core.ports import CardStore
from handlers.blocks.kit import Block

logger = logging.getLogger(__name__)

#: How long a press may hold a card across replicas (a killed replica's lease lapses after it).
LEASE = 15.0
#: How long a press waits for another replica's press before it updates the card anyway.
WAIT = LEASE + 1.0
#: The pause between two tries for the lease.
TRY_EVERY = 0.05


class CardMemory:
    """The latest blocks passbot knows of each card (bounded, oldest forgotten first).

    A form's submission carries no message, and a card is replaced whole: the blocks seen when
    "Not a problem" was pressed (or last written) are what the dismissed card is made from.
    With `shared` (PASSBOT_DB), replicas see each other's blocks and take turns on a card;
    without it they are this process's only, and after a restart the dismissal is said in the
    card's thread instead. A failure of the database falls back to this process's memory.
    """

    def __init__(self, shared: CardStore | None = None, size: int = 500) -> None:
        self._shared = shared
        self._cards: OrderedDict[tuple[str, str], list[Block]] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._size = size

    def _local(self, channel: str, ts: str) -> asyncio.Lock:
        key = (channel, ts)
        if key not in self._locks:
            if len(self._locks) >= self._size:
                for old in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[old]
            self._locks[key] = asyncio.Lock()
        return self._locks[key]

    @asynccontextmanager
    async def lock(self, channel: str, ts: str) -> AsyncIterator[None]:
        """One card's updates one at a time, each from the latest blocks, so that two presses
        of different fixes never overwrite each other's status lines (across replicas too)."""
        async with self._local(channel, ts):
            if self._shared is None:
                yield
                return
            holder = uuid.uuid4().hex
            held = await self._take(self._shared, channel, ts, holder)
            try:
                yield
            finally:
                if held:
                    try:
                        self._shared.unlock(channel, ts, holder)
                    except UpstreamError as err:  # the lease lapses by itself
                        logger.warning("card lease not returned: %s", err)

    async def _take(self, shared: CardStore, channel: str, ts: str, holder: str) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while True:
            try:
                if shared.try_lock(channel, ts, holder, lease=LEASE):
                    return True
            except UpstreamError as err:
                logger.warning("card lease unavailable, updating from this process: %s", err)
                return False
            if loop.time() >= deadline:
                logger.warning("card still busy after %.0f s: updating it anyway", WAIT)
                return False
            await asyncio.sleep(TRY_EVERY)

    def remember(self, channel: str, ts: str, blocks: Sequence[Block]) -> None:
        """Keep a card's blocks."""
        self._cards[(channel, ts)] = list(blocks)
        self._cards.move_to_end((channel, ts))
        while len(self._cards) > self._size:
            self._cards.popitem(last=False)
        if self._shared is not None:
            try:
                self._shared.remember(channel, ts, blocks)
            except UpstreamError as err:
                logger.warning("card blocks kept in this process only: %s", err)

    def recall(self, channel: str, ts: str) -> list[Block] | None:
        """A card's latest known blocks (the database's, when shared)."""
        if self._shared is not None:
            try:
                found = self._shared.recall(channel, ts)
            except UpstreamError as err:
                logger.warning("card blocks read from this process only: %s", err)
            else:
                if found is not None:
                    return found
        kept = self._cards.get((channel, ts))
        return list(kept) if kept is not None else None
