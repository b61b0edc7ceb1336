"""Where a command's answer goes: a message posted in the conversation (updated in place,
details in its thread), or — in a DM between people, or a channel passbot is not in — a
private answer through the command's response_url (details as further private messages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.kit import Message
from handlers.messages import (
    CARD_KEY,
    CannotPostHereError,
    Card,
    Respond,
    post,
    replace_private,
    tell,
    update,
)

#: A response_url takes five posts: the placeholder, the card, and at most this many details.
MAX_PRIVATE_DETAILS = 3


@dataclass
class Surface:
    """One answer's place; `card` is None when it is private."""

    client: AsyncWebClient
    respond: Respond
    card: Card | None

    @property
    def private(self) -> bool:
        """Whether only the person who asked sees it."""
        return self.card is None

    @classmethod
    async def open(
        cls,
        client: AsyncWebClient,
        respond: Respond,
        channel: str,
        placeholder: Message,
        context: AsyncBoltContext | None = None,
    ) -> Surface:
        """Post the placeholder where the command was typed, or privately if Slack refuses."""
        try:
            card = await post(client, channel, placeholder)
        except CannotPostHereError:
            await tell(respond, placeholder)
            return cls(client, respond, None)
        if context is not None:
            context[CARD_KEY] = card  # the error handler shows failures on it
        return cls(client, respond, card)

    async def show(self, msg: Message) -> None:
        """Replace the placeholder with the answer."""
        if self.card is not None:
            await update(self.client, self.card, msg)
        else:
            await replace_private(self.respond, msg)

    async def details(self, replies: Sequence[Message]) -> None:
        """Everything the answer summarised: in its thread, or privately (the first few)."""
        if self.card is not None:
            for reply in replies:
                await post(self.client, self.card.channel, reply, thread_ts=self.card.ts)
            return
        for reply in replies[:MAX_PRIVATE_DETAILS]:
            await tell(self.respond, reply)
