"""The "Not a problem" button of a finding: it opens a form asking why (the submission is
handled in handlers/views)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UsageError
from handlers.blocks.errors import build_error
from handlers.blocks.finding import build_dismiss_modal, section_text
from handlers.blocks.kit import Block
from handlers.messages import open_view, tell
from handlers.payloads import ActionPayload, DismissMeta, DismissValue


class CardMemory:
    """The latest blocks this process knows of each card (bounded, oldest forgotten first).

    A form's submission carries no message, and a card is replaced whole: the blocks seen when
    "Not a problem" was pressed (or last written here) are what the dismissed card is made from.
    After a restart they are gone, and the dismissal is said in the card's thread instead.
    """

    def __init__(self, size: int = 500) -> None:
        self._cards: OrderedDict[tuple[str, str], list[Block]] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._size = size

    def lock(self, channel: str, ts: str) -> asyncio.Lock:
        """One card's lock: its updates are made one at a time, each from the latest blocks,
        so that two presses of different fixes never overwrite each other's status lines."""
        key = (channel, ts)
        if key not in self._locks:
            if len(self._locks) >= self._size:
                for old in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[old]
            self._locks[key] = asyncio.Lock()
        return self._locks[key]

    def remember(self, channel: str, ts: str, blocks: Sequence[Block]) -> None:
        """Keep a card's blocks."""
        self._cards[(channel, ts)] = list(blocks)
        self._cards.move_to_end((channel, ts))
        while len(self._cards) > self._size:
            self._cards.popitem(last=False)

    def recall(self, channel: str, ts: str) -> list[Block] | None:
        """A card's latest known blocks."""
        found = self._cards.get((channel, ts))
        return list(found) if found is not None else None


async def handle_finding_dismiss_button(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    cards: CardMemory,
) -> None:
    """Open "why is this not a problem?" for the finding the button is beside."""
    try:  # read before the ack: Bolt loses an ack followed at once by an error
        press = ActionPayload.from_body(body)
        value = DismissValue.decode(press.action.value)
    except UsageError as err:
        await ack()
        await tell(respond, build_error(str(err)))
        return
    await ack()
    if press.channel and press.ts and press.blocks:
        cards.remember(press.channel, press.ts, press.blocks)
    block_id = press.action.block_id
    meta = DismissMeta.make(value, channel=press.channel, ts=press.ts, block_id=block_id)
    about = section_text(press.blocks, block_id) or f"`{value.key}`"
    await open_view(client, press.trigger_id, build_dismiss_modal(meta, about=about))
