"""Where the approvers' guards answer a refused press: privately through the press's
response_url, or — for a press on the App Home, which has no message and no response_url — on
the presser's Home tab, published again with the refusal on top."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.kit import Message
from handlers.events.home import Homes
from handlers.messages import tell


def pressed_on_home(body: Mapping[str, Any]) -> bool:
    """Whether a press came from a view (the Home tab) with no response_url to answer on."""
    container = body.get("container")
    return (
        isinstance(container, dict)
        and container.get("type") == "view"
        and not body.get("response_url")
    )


async def answer_refusal(
    body: Mapping[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    refusal: Message,
) -> None:
    """Tell the presser why nothing happened, where they pressed."""
    homes = context.get("homes")
    jobs = context.get("jobs")
    if pressed_on_home(body) and isinstance(homes, Homes) and jobs is not None:
        user = str((body.get("user") or {}).get("id") or "")
        homes.opened(user)
        await homes.show(
            client, user, jobs=jobs, approvers=context.get("approvers") or frozenset(),
            tz=context["tz"], approvals=context.get("approvals"), notice=refusal["text"],
        )  # fmt: skip
        return
    await tell(respond, refusal)
