"""Posting and updating passbot's messages through the Web API, with Slack's failures named.

Every Slack call a handler makes goes through here, so a failure reaches the global error handler
as an `UpstreamError` naming Slack (a safe sentence) instead of a raw SDK exception.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UpstreamError, UsageError
from handlers.blocks.kit import Message, View
from handlers.blocks.wording import for_slack
from handlers.payloads import ActionPayload

logger = logging.getLogger(__name__)

#: Answers meaning the bot cannot post where the command was typed.
_NOT_THERE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
#: Answers to chat.update meaning the message was not posted by passbot's token (a card shared
#: through a response_url): it is replaced through the press's response_url instead.
_NOT_OURS = frozenset({"message_not_found", "cant_update_message"})

Respond = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Card:
    """A message passbot posted and may update."""

    channel: str
    ts: str


class CannotPostHereError(UpstreamError):
    """Slack will not let passbot post in this conversation (a DM between people, a channel
    passbot is not a member of): answer privately through the response_url instead."""


def _failed(method: str, err: Exception) -> UpstreamError:
    if isinstance(err, SlackApiError):
        code = str(err.response.get("error", "error"))
        if code in _NOT_THERE or (method == "chat.update" and code in _NOT_OURS):
            return CannotPostHereError(
                "slack",
                "I can't post in this conversation — invite me (/invite @passbot) or use me "
                "in the support channel",
            )
        return UpstreamError("slack", f"{method} answered {code}", retryable=code == "ratelimited")
    return UpstreamError("slack", f"{method} failed: {type(err).__name__}", retryable=True)


async def _call(method: str, call: Awaitable[Any]) -> Any:
    try:
        return await call
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as err:
        raise _failed(method, err) from err


async def post(
    client: AsyncWebClient, channel: str, msg: Message, *, thread_ts: str | None = None
) -> Card:
    """Post a message (a thread reply with `thread_ts`)."""
    msg = for_slack(msg)
    kwargs: dict[str, Any] = {"channel": channel, "text": msg["text"], "blocks": msg["blocks"]}
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    answer = await _call("chat.postMessage", client.chat_postMessage(**kwargs))
    return Card(str(answer["channel"]), str(answer["ts"]))


async def update(client: AsyncWebClient, card: Card, msg: Message) -> None:
    """Replace a posted message."""
    msg = for_slack(msg)
    await _call(
        "chat.update",
        client.chat_update(
            channel=card.channel, ts=card.ts, text=msg["text"], blocks=msg["blocks"]
        ),
    )


async def replace_card(
    client: AsyncWebClient, respond: Respond, press: ActionPayload, msg: Message
) -> None:
    """Replace the message a button was pressed on: chat.update, or its response_url when the
    message was ephemeral."""
    msg = for_slack(msg)
    if press.channel and press.ts:
        try:
            await update(client, Card(press.channel, press.ts), msg)
            return
        except CannotPostHereError:  # a card shared through a response_url: not ours to update
            pass
    await _call("response_url", respond(replace_original=True, **msg))


async def replace_private(respond: Respond, msg: Message) -> None:
    """Replace the private answer a response_url gave (the command's placeholder)."""
    msg = for_slack(msg)
    await _call("response_url", respond(replace_original=True, response_type="ephemeral", **msg))


async def share(respond: Respond, msg: Message) -> None:
    """Show a message to everyone in the conversation, through the response_url (works where
    passbot is not a member)."""
    msg = for_slack(msg)
    await _call("response_url", respond(response_type="in_channel", replace_original=False, **msg))


async def tell(respond: Respond, msg: Message) -> None:
    """A private answer to the person who acted (through the response_url)."""
    msg = for_slack(msg)
    await _call("response_url", respond(response_type="ephemeral", replace_original=False, **msg))


async def open_dm(client: AsyncWebClient, user: str) -> str:
    """The id of passbot's DM with a person (conversations.open)."""
    answer = await _call("conversations.open", client.conversations_open(users=user))
    return str((answer.get("channel") or {}).get("id", ""))


async def publish_home(client: AsyncWebClient, user: str, view: View) -> None:
    """Publish a person's App Home tab (views.publish)."""
    await _call("views.publish", client.views_publish(user_id=user, view=for_slack(view)))


async def upload_png(
    client: AsyncWebClient,
    channel: str,
    png: bytes,
    *,
    filename: str,
    title: str,
    comment: str | None = None,
    thread_ts: str | None = None,
) -> str:
    """Upload an image to a channel (or a thread) with files_upload_v2: Slack's upload URL, the
    bytes, then completeUploadExternal. Returns the file id."""
    kwargs: dict[str, Any] = {
        "channel": channel,
        "content": png,
        "filename": filename,
        "title": title,
    }
    if comment:
        kwargs["initial_comment"] = comment
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    answer = await _call("files_upload_v2", client.files_upload_v2(**kwargs))
    found = answer.get("file") or {}
    return str(found.get("id", ""))


async def user_email(client: AsyncWebClient, user_id: str) -> str | None:
    """The person's email from users.info (users:read.email), for the audit; None if unknown."""
    try:
        answer = await client.users_info(user=user_id)
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as err:
        logger.warning("users.info for %s failed: %s", user_id, err)
        return None
    profile = (answer.get("user") or {}).get("profile") or {}
    email = profile.get("email")
    return str(email) if email else None


async def group_members(client: AsyncWebClient, group_id: str) -> frozenset[str]:
    """The members of a user group (usergroups:read)."""
    answer = await _call("usergroups.users.list", client.usergroups_users_list(usergroup=group_id))
    return frozenset(str(u) for u in answer.get("users") or [])


#: Where a command handler leaves the card it posted, for the error handler to replace.
CARD_KEY = "passbot_card"


async def show_on_card(
    client: AsyncWebClient, respond: Respond, press: ActionPayload, msg: Message
) -> None:
    """Best effort `replace_card`: a failure is logged, and the work goes on."""
    try:
        await replace_card(client, respond, press, msg)
    except UpstreamError as err:
        logger.warning("could not update the card: %s", err)


async def open_view(client: AsyncWebClient, trigger_id: str | None, view: View) -> None:
    """Open a modal for the person who pressed (views.open needs the press's trigger id)."""
    if not trigger_id:
        raise UsageError("this press carries no trigger id, so no form can be opened")
    await _call("views.open", client.views_open(trigger_id=trigger_id, view=for_slack(view)))
