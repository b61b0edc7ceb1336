"""Only approvers dismiss (issue 11): "Not a problem" strips a finding from the summaries and
its Approve button from the card, so it is held to the approve buttons' rules — an approver
(`PASSBOT_APPROVERS`, user groups included) and, with `PASSBOT_TWO_PERSON`, not the person who
asked for the card. Checked on the press (no form opens) and again on the form's submission
(nothing is recorded)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.middleware import is_approver
from bot.refusals import answer_refusal
from core.errors import UsageError
from core.usecases.approvals import Approvals
from handlers.blocks.errors import build_forbidden_dismissal
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.payloads import DismissMeta, DismissValue

Next = Callable[[], Awaitable[None]]


def _requester(approvals: Approvals, fix: str | None, carried: str | None) -> str | None:
    """Who asked for the card: the fix proposal's requester, else what the button carries."""
    if fix:
        stored = approvals.requester(fix)
        if stored is not None:
            return stored
    return carried


async def refusal(
    client: AsyncWebClient,
    approvals: Approvals,
    approvers: frozenset[str],
    *,
    two_person: bool,
    user: str,
    fix: str | None,
    requester: str | None,
) -> str | None:
    """Why `user` may not dismiss, or None when they may."""
    if not await is_approver(client, approvers, user):
        who = ", ".join(
            f"<@{a}>" if a.startswith(("U", "W")) else f"<!subteam^{a}>" for a in sorted(approvers)
        )
        return "🔒 Only approvers can dismiss a finding" + (
            f" — ask {who}." if who else "; none are configured (PASSBOT_APPROVERS)."
        )
    if two_person and _requester(approvals, fix, requester) == user:
        return (
            "🔒 Two-person approval is on: you asked for this card, so someone else must "
            "dismiss its findings."
        )
    return None


def require_approvers_to_dismiss(approvers: frozenset[str], *, two_person: bool) -> Any:
    """Middleware refusing "Not a problem" (press and form) to anyone who may not approve."""

    async def require_dismisser(
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
        respond: AsyncRespond,
        next: Next,
    ) -> BoltResponse | None:
        kind = body.get("type")
        user = str((body.get("user") or {}).get("id") or "")
        approvals: Approvals = context["approvals"]
        if kind == "block_actions":
            actions = body.get("actions")
            action = actions[0] if isinstance(actions, list) and actions else {}
            if not isinstance(action, dict) or action.get("action_id") != ActionId.FINDING_DISMISS:
                await next()
                return None
            try:
                value = DismissValue.decode(action.get("value"))
            except UsageError:
                await next()  # the listener says what is wrong
                return None
            why = await refusal(
                client, approvals, approvers, two_person=two_person, user=user,
                fix=value.fix, requester=value.requester,
            )  # fmt: skip
            if why is None:
                await next()
                return None
            await answer_refusal(body, client, context, respond, build_forbidden_dismissal(why))
            return BoltResponse(status=200, body="")
        view = body.get("view") if kind == "view_submission" else None
        if not isinstance(view, dict) or view.get("callback_id") != CallbackId.DISMISS:
            await next()
            return None
        try:
            meta = DismissMeta.decode(view.get("private_metadata"))
        except UsageError:
            await next()
            return None
        why = await refusal(
            client, approvals, approvers, two_person=two_person, user=user,
            fix=meta.fix, requester=meta.requester,
        )  # fmt: skip
        if why is None:
            await next()
            return None
        answer = {"response_action": "errors", "errors": {BlockId.DISMISS_REASON: why}}
        return BoltResponse(
            status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
        )

    return require_dismisser
