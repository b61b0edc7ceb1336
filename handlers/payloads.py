"""The slices of Slack payloads passbot reads, as pydantic models, and what its buttons carry.

Slack's payloads are parsed here and nowhere else: handlers get typed values, and anything
malformed becomes a `UsageError` (a safe sentence) rather than a KeyError deep in a handler.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import UsageError

#: Slack's limit on a button's value.
MAX_VALUE = 2000


class _Slice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FixButtonValue(_Slice):
    """What an approval button carries: which proposal, purchase and alternative, and the hash
    of the plan the card showed. Only the session and the alternative are used to re-derive the
    fix; the hash is compared with the re-derived plan's."""

    proposal: str = Field(alias="p", min_length=1, max_length=64)
    session: str = Field(alias="s", min_length=1, max_length=255)
    alternative: str | None = Field(default=None, alias="a", max_length=64)
    plan_hash: str = Field(alias="h", min_length=1, max_length=64)

    def encode(self) -> str:
        """The compact JSON a button's `value` holds."""
        text = json.dumps(
            {"p": self.proposal, "s": self.session, "a": self.alternative, "h": self.plan_hash},
            separators=(",", ":"),
        )
        assert len(text) <= MAX_VALUE
        return text

    @classmethod
    def make(
        cls, *, proposal: str, session: str, alternative: str | None, plan_hash: str
    ) -> FixButtonValue:
        """Build a value from its parts."""
        return cls.model_validate({"p": proposal, "s": session, "a": alternative, "h": plan_hash})

    @classmethod
    def decode(cls, raw: str | None) -> FixButtonValue:
        """Parse a button's value.

        Raises:
            UsageError: the value is not one of passbot's.
        """
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError:
            raise UsageError("this button's value is not one passbot made") from None


class CommandPayload(_Slice):
    """A slash command, as Slack posts it."""

    command: str = ""
    text: str = ""
    user_id: str
    channel_id: str
    response_url: str | None = None
    trigger_id: str | None = None


class SlackUser(_Slice):
    """The user who acted."""

    id: str


class Container(_Slice):
    """Where the pressed button's message is."""

    channel_id: str | None = None
    message_ts: str | None = None
    is_ephemeral: bool = False


class MessageSlice(_Slice):
    """The message a button was on, as Slack stored it (our own blocks)."""

    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)


class ActionSlice(_Slice):
    """One pressed element."""

    action_id: str
    block_id: str = ""
    value: str | None = None


class ActionPayload(_Slice):
    """A `block_actions` payload."""

    user: SlackUser
    container: Container = Field(default_factory=Container)
    message: MessageSlice | None = None
    actions: list[ActionSlice] = Field(min_length=1)
    response_url: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ActionPayload:
        """Parse a block_actions body.

        Raises:
            UsageError: the body is not a block_actions payload passbot can read.
        """
        try:
            return cls.model_validate(body)
        except ValidationError:
            raise UsageError("this button press could not be read") from None

    @property
    def action(self) -> ActionSlice:
        """The pressed element."""
        return self.actions[0]

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The card's blocks as they were when pressed (empty for an ephemeral card)."""
        return list(self.message.blocks) if self.message else []

    @property
    def channel(self) -> str | None:
        """The channel of a message that can be updated with chat.update."""
        if self.container.is_ephemeral:
            return None
        return self.container.channel_id

    @property
    def ts(self) -> str | None:
        """The ts of that message."""
        if self.container.is_ephemeral:
            return None
        return self.container.message_ts or (self.message.ts if self.message else None)


def parse_days(text: str, *, command: str) -> int | None:
    """`/passcheck [days]`: nothing, or a whole number of days from 1 to 3660.

    Raises:
        UsageError: anything else.
    """
    value = (text or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 3660:
        raise UsageError(f"usage: {command} [days] — a whole number of days, got {value[:40]!r}")
    return int(value)
