"""The slices of Slack payloads passbot reads, as pydantic models, and what its buttons carry.

Slack's payloads are parsed here and nowhere else: handlers get typed values, and anything
malformed becomes a `UsageError` (a safe sentence) rather than a KeyError deep in a handler.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import UsageError

#: Slack's limit on a button's value.
MAX_VALUE = 2000


class _Slice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Carried(_Slice):
    """A value passbot put into a message (a button's value, a modal's metadata) and reads back:
    anything that does not parse is not one of passbot's."""

    not_ours: ClassVar[str] = "this button's value is not one passbot made"

    @classmethod
    def decode(cls, raw: str | None) -> Self:
        """Parse what Slack sent back.

        Raises:
            UsageError: it is not one of passbot's.
        """
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError:
            raise UsageError(cls.not_ours) from None


class FixButtonValue(_Carried):
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


class FixAllValue(_Carried):
    """What a "Fix all N" button carries: the proposals it approves, in order. Each names a
    stored proposal; what is written is re-derived from the server's state, item by item."""

    proposals: tuple[str, ...] = Field(alias="p", min_length=1)

    def encode(self) -> str:
        """The compact JSON a button's `value` holds."""
        text = json.dumps({"p": list(self.proposals)}, separators=(",", ":"))
        assert len(text) <= MAX_VALUE
        return text

    @classmethod
    def make(cls, proposals: Sequence[str]) -> FixAllValue:
        """Build a value from the proposal ids."""
        return cls.model_validate({"p": list(proposals)})

    @classmethod
    def decode(cls, raw: str | None) -> Self:
        """Parse a button's value; every proposal id must be one passbot could have made.

        Raises:
            UsageError: the value is not one of passbot's.
        """
        value = super().decode(raw)
        if not all(0 < len(p) <= 64 for p in value.proposals):
            raise UsageError(cls.not_ours)
        return value


class DismissValue(_Carried):
    """What a "Not a problem" button carries: the finding's key, and the proposal id of the fix
    offered beside it (whose buttons go when the finding is dismissed), if any."""

    key: str = Field(alias="k", min_length=1, max_length=600)
    fix: str | None = Field(default=None, alias="f", max_length=64)

    def encode(self) -> str:
        """The compact JSON a button's `value` holds."""
        text = json.dumps({"k": self.key, "f": self.fix}, separators=(",", ":"))
        assert len(text) <= MAX_VALUE
        return text

    @classmethod
    def make(cls, key: str, *, fix: str | None) -> DismissValue:
        """Build a value from its parts."""
        return cls.model_validate({"k": key, "f": fix})


class AuditNextValue(_Carried):
    """What "Next 20" on /passaudit carries: the filter typed, and where the next page starts."""

    query: str = Field(alias="q", max_length=200)
    offset: int = Field(alias="o", ge=0, le=1_000_000)

    def encode(self) -> str:
        """The compact JSON a button's `value` holds."""
        return json.dumps({"q": self.query, "o": self.offset}, separators=(",", ":"))

    @classmethod
    def make(cls, query: str, offset: int) -> AuditNextValue:
        """Build a value from its parts."""
        return cls.model_validate({"q": query[:200], "o": offset})


class DismissMeta(_Carried):
    """The "why is this not a problem?" modal's private_metadata: which finding, and where its
    card is (channel, ts, the finding's block, the fix beside it)."""

    not_ours: ClassVar[str] = "this form is not one passbot made"

    key: str = Field(alias="k", min_length=1, max_length=600)
    fix: str | None = Field(default=None, alias="f", max_length=64)
    channel: str | None = Field(default=None, alias="c", max_length=64)
    ts: str | None = Field(default=None, alias="t", max_length=64)
    block_id: str = Field(default="", alias="b", max_length=255)

    def encode(self) -> str:
        """As private_metadata (Slack keeps up to 3,000 characters)."""
        return json.dumps(
            {"k": self.key, "f": self.fix, "c": self.channel, "t": self.ts, "b": self.block_id},
            separators=(",", ":"),
        )

    @classmethod
    def make(
        cls,
        value: DismissValue,
        *,
        channel: str | None,
        ts: str | None,
        block_id: str,
    ) -> DismissMeta:
        """The metadata of the modal opened from a press of `value`'s button."""
        return cls.model_validate(
            {"k": value.key, "f": value.fix, "c": channel, "t": ts, "b": block_id}
        )


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
    """Where the pressed button's message is (`type` `view`: on the App Home, no message)."""

    type: str = "message"
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
    trigger_id: str | None = None

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


class ViewState(_Slice):
    """A submitted modal: its callback id, metadata and the inputs' values."""

    id: str = ""
    callback_id: str = ""
    private_metadata: str = ""
    state: dict[str, Any] = Field(default_factory=dict)

    def text(self, block_id: str, action_id: str) -> str:
        """The value of a plain-text input ("" when empty or absent)."""
        values = self.state.get("values") or {}
        element = (values.get(block_id) or {}).get(action_id) or {}
        value = element.get("value") if isinstance(element, dict) else None
        return str(value) if value is not None else ""


class ViewSubmission(_Slice):
    """A `view_submission` payload."""

    user: SlackUser
    view: ViewState
    trigger_id: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ViewSubmission:
        """Parse a view_submission body.

        Raises:
            UsageError: the body is not a submission passbot can read.
        """
        try:
            return cls.model_validate(body)
        except ValidationError:
            raise UsageError("this form could not be read") from None


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
