"""Global middleware: what listeners are given, Slack's redeliveries dropped, approvers checked.

* `inject` puts `services`, `approvals` and the display time zone `tz` in the context (and the
  app's other use cases: `jobs`, `feedback`, `fix_all`, `cards`), whence Bolt hands them to
  listeners by name.
* `drop_redeliveries` answers 200 and does nothing for a request already seen: Slack's retries
  (`X-Slack-Retry-Num` over HTTP; in Socket Mode Bolt copies an envelope's `retry_attempt` into
  the same header) and Socket Mode redeliveries carry the same trigger or event id. The claim in
  passbot's store makes an approval apply once even when this middleware cannot tell (another
  process, a restart); this only spares the work.
* `RejectMalformed` answers 400 for a signed body that is not a readable slash command or
  button press (see `malformed`).
* `keep_acks` gives each request an `ack` whose response cannot be unset (see `KeptAck`).
* `require_approvers` lets an approve button through only for the people in `PASSBOT_APPROVERS`
  (user ids, or user-group ids resolved with usergroups.users.list) and, with
  `PASSBOT_TWO_PERSON`, not for the person who asked for the card. Everyone else gets a private
  explanation (on their Home tab for a Home press, `bot.refusals`); the press is audited, and
  nothing is written.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

from pydantic import ValidationError
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.refusals import answer_refusal
from core.domain.approval import Approval
from core.errors import UsageError
from core.usecases.approvals import Approvals
from core.usecases.services import Services
from handlers.blocks.errors import build_forbidden, build_unknown_requester
from handlers.blocks.kit import Message
from handlers.ids import APPROVAL_ACTIONS
from handlers.messages import group_members, user_email
from handlers.payloads import CommandPayload, FixButtonValue

Next = Callable[[], Awaitable[None]]
Middleware = Callable[..., Awaitable[BoltResponse | None]]

logger = logging.getLogger(__name__)


def inject(*, services: Services, approvals: Approvals, tz: tzinfo, **extra: object) -> Middleware:
    """Middleware putting the use cases and the time zone (and anything `extra` names) in every
    request's context."""

    async def inject_services(context: AsyncBoltContext, next: Next) -> None:
        context["services"] = services
        context["approvals"] = approvals
        context["tz"] = tz
        for name, value in extra.items():
            context[name] = value
        await next()

    return inject_services


class Deliveries:
    """The keys of recently handled requests (bounded, oldest forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first_time(self, key: str) -> bool:
        """Record `key`; False when it was seen already."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """What identifies one delivery: the Events API event id, or the interaction's trigger id
    (and, for a button, its action_ts). None when the body carries neither."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    trigger = body.get("trigger_id")
    if not trigger:
        return None
    found = body.get("actions")
    first = found[0] if isinstance(found, list) and found and isinstance(found[0], dict) else {}
    kind = body.get("type") or body.get("command") or "request"
    return f"{kind}:{trigger}:{first.get('action_ts', '')}"


def retry_number(headers: Mapping[str, Sequence[str]]) -> int:
    """`X-Slack-Retry-Num` (0 on a first delivery)."""
    values = headers.get("x-slack-retry-num") or ()
    value = values[0] if values else "0"
    return int(value) if value.isascii() and value.isdigit() else 0


def drop_redeliveries(deliveries: Deliveries) -> Middleware:
    """Middleware answering 200, doing nothing, for a delivery already seen."""

    async def drop_slack_redeliveries(
        request: AsyncBoltRequest,
        body: dict[str, Any],
        next: Next,
    ) -> BoltResponse | None:
        key = delivery_key(body)
        if key is not None and not deliveries.first_time(key):
            logger.info(
                "dropped a redelivery of %s (X-Slack-Retry-Num %d)",
                key,
                retry_number(request.headers),
            )
            return BoltResponse(status=200, body="")
        await next()
        return None

    return drop_slack_redeliveries


async def is_approver(client: AsyncWebClient, approvers: frozenset[str], user: str) -> bool:
    """Whether `user` is listed, or is in a listed user group (ids starting with S)."""
    if not user:
        return False
    if user in approvers:
        return True
    for group in sorted(a for a in approvers if a.startswith("S")):
        if user in await group_members(client, group):
            return True
    return False


def _is_approval(body: Mapping[str, Any]) -> bool:
    found = body.get("actions")
    return (
        body.get("type") == "block_actions"
        and isinstance(found, list)
        and any(isinstance(a, dict) and a.get("action_id") in APPROVAL_ACTIONS for a in found)
    )


def require_approvers(approvers: frozenset[str], *, two_person: bool) -> Middleware:
    """Middleware refusing approve-button presses from anyone who may not approve."""

    async def require_approver(
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
        respond: AsyncRespond,
        next: Next,
    ) -> BoltResponse | None:
        if not _is_approval(body):
            await next()
            return None
        user = str((body.get("user") or {}).get("id") or "")
        approvals: Approvals = context["approvals"]
        try:
            value: FixButtonValue | None = FixButtonValue.decode(body["actions"][0].get("value"))
        except UsageError:
            value = None  # the listener says so
        refusal: Message | None = None
        if not await is_approver(client, approvers, user):
            refusal = build_forbidden(approvers)
        elif two_person and value is not None:
            requester = approvals.requester(value.proposal)
            if requester is None:
                refusal = build_unknown_requester()
            elif requester == user:
                refusal = build_forbidden(approvers, two_person=True)
        if refusal is None:
            await next()
            return None
        approval = Approval(
            proposal=value.proposal if value else "",
            session=value.session if value else "",
            alternative=value.alternative if value else None,
            plan_hash=value.plan_hash if value else "",
            approver=user,
            approver_email=await user_email(client, user),
        )
        approvals.record(approval, "forbidden")
        await answer_refusal(body, client, context, respond, refusal)
        return BoltResponse(status=200, body="")

    return require_approver


class KeptAck(AsyncAck):
    """An `ack` whose response, once set, stays set.

    When a listener fails after acknowledging, Bolt's asyncio runner (slack_bolt 1.30,
    `listener/asyncio_runner.py`) sets `ack.response = None` before running the error handler's
    aftermath; if that happens within its 10 ms poll for the ack, the request that *was*
    acknowledged is answered 404 ("unhandled request", "didn't call ack()") three seconds later —
    e.g. when Slack refuses the "looking…" post at once. Keeping the response fixes that.
    """

    _kept: BoltResponse | None = None

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # untyped in bolt

    @property
    def response(self) -> BoltResponse | None:
        return self._kept

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None:
            self._kept = value


async def keep_acks(context: AsyncBoltContext, next: Next) -> None:
    """Middleware giving every request a `KeptAck` (before any listener asks for `ack`)."""
    context["ack"] = KeptAck()
    await next()


def malformed(body: object) -> str | None:
    """Why a signed request's body cannot be handled (None when it can): a slash command without
    its user or channel, a button press without a readable user or pressed element. Slack never
    sends these; answering 400 beats a traceback deep in Bolt or a listener."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if "command" in body:
        try:
            CommandPayload.model_validate(body)
        except ValidationError:
            return "a slash command without a user_id or channel_id"
        return None
    if body.get("type") == "block_actions":
        user = body.get("user")
        found = body.get("actions")
        first = found[0] if isinstance(found, list) and found else None
        if not (isinstance(user, dict) and isinstance(user.get("id"), str)):
            return "a button press without a user"
        if not (isinstance(first, dict) and isinstance(first.get("action_id"), str)):
            return "a button press without the element pressed"
    return None


class RejectMalformed(AsyncMiddleware):
    """Middleware answering 400 (and logging one line) for a body `malformed` refuses.

    Class-based on purpose: Bolt builds a function middleware's arguments from the body first
    (`action`, from `actions[0]`), which fails on exactly these bodies.
    """

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        del resp
        problem = malformed(req.body)
        if problem is None:
            return await next()
        logger.warning("refused a malformed request: %s", problem)
        return BoltResponse(status=400, body=problem)
