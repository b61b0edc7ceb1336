"""Offered fixes on a card: what will be written, the approve buttons and their confirm dialogs,
and the card's life after a press (applying, applied, changed, failed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from core.domain.approval import PROVENANCE_FIELDS, Claim
from core.domain.findings import Action, CreateDoc, Operation, PatchDoc
from core.domain.fixes import FixPlan
from core.domain.models import parse_instant
from core.usecases.approvals import Applied
from core.usecases.proposals import Offer
from handlers.blocks.kit import (
    MAX_BUTTON_TEXT,
    Block,
    Message,
    actions,
    button,
    code,
    confirm,
    context,
    escape,
    message,
    section,
    truncate,
)
from handlers.ids import ActionId, fix_block_id, fix_note_block_id
from handlers.payloads import FixButtonValue

VERBS = {
    Action.CREATE_SUBSCRIPTION: ("create pass", "Pass created"),
    Action.UPGRADE_SUBSCRIPTION: ("apply upgrade", "Upgrade applied"),
    Action.PATCH_SUBSCRIPTION: ("fix pass", "Pass fixed"),
    Action.LINK_SUBSCRIPTION: ("link pass", "Pass linked"),
    Action.DEACTIVATE_DUPLICATES: ("deactivate duplicates", "Duplicates deactivated"),
}


def plan_action(plan: FixPlan) -> Action:
    """The main thing a plan does (its first resolved finding's fix; a link otherwise)."""
    for finding in plan.resolves:
        if finding.fix is not None:
            return finding.fix.action
    return Action.LINK_SUBSCRIPTION


def plural(count: object, noun: str) -> str:
    """ "1 clip", "10 clips"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _day(value: object) -> str:
    moment = parse_instant(value)
    if moment is None:
        return escape(value)
    return moment.strftime("%a %Y-%m-%d")


def _ref(value: object) -> object:
    if isinstance(value, Mapping) and "_ref" in value:
        return value["_ref"]
    return value


def _shown(key: str, value: object, schools: Mapping[str, str]) -> str:
    value = _ref(value)
    if key in ("startDate", "endDate", "upgradedAt") and isinstance(value, str):
        return _day(value)
    if key == "tenant" and isinstance(value, str):
        return escape(schools.get(value, value))
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(value)


def describe_create(doc: Mapping[str, Any], schools: Mapping[str, str]) -> str:
    """A created pass in one line: name, type, clips, dates (weekday, length), school (FM-33)."""
    clips = doc.get("remainingClips")
    kind = escape(doc.get("type") or "?") + (
        f", {plural(clips, 'clip')}" if clips is not None else ""
    )
    start, end = parse_instant(doc.get("startDate")), parse_instant(doc.get("endDate"))
    span = f" ({(end - start).days} days)" if start and end else ""
    school = _shown("tenant", doc.get("tenant"), schools)
    user = _ref(doc.get("user"))
    return (
        f"*{escape(doc.get('passName') or '?')}* ({kind}) · {_day(doc.get('startDate'))} → "
        f"{_day(doc.get('endDate'))}{span} · {school}" + (f" · user {code(user)}" if user else "")
    )


#: Fields a patch writes that say who, when and why — recorded, not worth a line on the card.
_UNSHOWN = PROVENANCE_FIELDS | {"fixReason"}


def _change(key: str, before: object, after: object, schools: Mapping[str, str]) -> str:
    old, new = _shown(key, before, schools), _shown(key, after, schools)
    if old == new and before != after:  # the same day, another time: show the times
        old, new = escape(before), escape(after)
    return f"{escape(key)} {old} → {new}"


def describe_patch(op: PatchDoc, schools: Mapping[str, str]) -> str:
    """A patch in one line: each field's before → after (provenance fields left out)."""
    changes = [
        _change(k, op.before.get(k), v, schools) for k, v in op.set.items() if k not in _UNSHOWN
    ]
    return f"{code(op.id)}: " + "; ".join(changes)


def describe(operations: Sequence[Operation], schools: Mapping[str, str]) -> list[str]:
    """Every write of a plan, one line each, exactly as it will be written."""
    lines = []
    for op in operations:
        if isinstance(op, CreateDoc):
            lines.append(f"Create {code(op.id)}: {describe_create(op.document, schools)}")
        else:
            lines.append(f"Update {describe_patch(op, schools)}")
    return lines


def _confirm_text(offer: Offer, schools: Mapping[str, str]) -> str:
    ops = offer.preview.plan.operations
    parts = []
    for op in ops:
        if isinstance(op, CreateDoc):
            parts.append("Creates " + describe_create(op.document, schools))
        else:
            parts.append("Updates " + describe_patch(op, schools))
    return " · ".join(parts) + ". Re-checked against the live data when you approve."


def offer_button(offer: Offer, schools: Mapping[str, str], *, first: bool) -> dict[str, Any]:
    """The approve button of one offer, with a confirm dialog stating what will be written."""
    proposal = offer.proposal
    verb = VERBS[plan_action(offer.preview.plan)][0]
    label = f"Approve: {offer.label}" if offer.label else f"Approve: {verb}"
    value = FixButtonValue.make(
        proposal=proposal.id,
        session=proposal.session,
        alternative=proposal.alternative,
        plan_hash=proposal.plan_hash,
    )
    return button(
        truncate(label, MAX_BUTTON_TEXT),
        action_id=ActionId.FIX_APPLY if first else ActionId.FIX_APPLY_ALTERNATIVE,
        value=value.encode(),
        style="primary" if first else None,
        confirm_dialog=confirm(
            title=f"{verb[0].upper()}{verb[1:]}?",
            text=_confirm_text(offer, schools),
            ok="Approve",
        ),
    )


def build_offer(offers: Sequence[Offer], schools: Mapping[str, str]) -> list[Block]:
    """The blocks of one purchase's offers: what each writes, then one actions block."""
    if not offers:
        return []
    default = offers[0]
    lines = describe(default.preview.plan.operations, schools)
    for alt in offers[1:]:
        lines.append(f"_or {escape(alt.label or alt.proposal.alternative)}:_")
        lines.extend(describe(alt.preview.plan.operations, schools))
    note = next((f.fix.note for f in default.preview.plan.resolves if f.fix and f.fix.note), None)
    text = "*Will write:*\n" + "\n".join(lines)
    if note:
        text += f"\n_Note: {escape(note)}_"
    buttons = [offer_button(o, schools, first=i == 0) for i, o in enumerate(offers)]
    return [section(text), actions(*buttons, block_id=fix_block_id(default.proposal.id))]


# ----------------------------------------------------------------------------- after a press


def _hhmm(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def _proposal_of(block_id: str) -> str:
    return block_id.split(":", 1)[1] if ":" in block_id else block_id


def with_status(
    blocks: Sequence[Block], block_id: str, status: Block, *, keep_buttons: bool
) -> list[Block]:
    """The card with a status line for the pressed fix: replacing its buttons, or under them.

    `block_id` is the pressed button's actions block; a status from an earlier press of the same
    fix is replaced. A card whose blocks are unknown (ephemeral) becomes the status alone.
    """
    note_id = fix_note_block_id(_proposal_of(block_id))
    status = {**status, "block_id": note_id}
    out: list[Block] = []
    placed = False
    for block in blocks:
        if block.get("block_id") == note_id:
            continue
        if block.get("block_id") == block_id:
            if keep_buttons:
                out.append(block)
            out.append(status)
            placed = True
            continue
        out.append(block)
    if not placed:
        out.append(status)
    return out


def build_card_applying(blocks: Sequence[Block], block_id: str, *, approver: str) -> Message:
    """The card the moment a fix is approved: its buttons gone, "applying"."""
    status = context(f"⏳ applying… — approved by <@{escape(approver)}>")
    return message("⏳ applying…", with_status(blocks, block_id, status, keep_buttons=False))


def result_line(applied: Applied, tz: tzinfo) -> str:
    """ "✅ Pass created — approved by <@U…> at 09:14"."""
    outcome = applied.outcome
    when = _hhmm(applied.at, tz)
    if outcome.already_fixed:
        return (
            f"☑️ Already fixed — nothing written (checked for <@{escape(applied.approver)}> "
            f"at {when})"
        )
    done = VERBS[plan_action(outcome.plan)][1]
    return f"✅ {done} — approved by <@{escape(applied.approver)}> at {when}"


def build_card_result(
    blocks: Sequence[Block], block_id: str, applied: Applied, *, tz: tzinfo
) -> Message:
    """The card once the fix is applied (or found already applied)."""
    line = result_line(applied, tz)
    outcome = applied.outcome
    data = outcome.to_json()
    written = [*data["created"], *data["patched"], *data["deactivated"]]
    details = []
    if written:
        details.append("wrote " + ", ".join(code(d) for d in written))
    if outcome.audit_id is not None:
        details.append(f"audit #{outcome.audit_id}")
    if data.get("transaction_id"):
        details.append(f"transaction {code(data['transaction_id'])}")
    text = line + (f"\n{' · '.join(details)}" if details else "")
    status = context(text)
    return message(line, with_status(blocks, block_id, status, keep_buttons=False))


def build_card_note(
    blocks: Sequence[Block], block_id: str, text: str, *, keep_buttons: bool
) -> Message:
    """The card with a note on the pressed fix: an error (buttons kept, to retry) or a change
    since the proposal (buttons gone)."""
    return message(text, with_status(blocks, block_id, context(text), keep_buttons=keep_buttons))


def build_claim_lost(claim: Claim, *, tz: tzinfo) -> Message:
    """Private answer to a press that lost the claim: someone is applying, or has applied."""
    who = f"<@{escape(claim.holder)}>"
    if claim.state == "applying":
        text = f"⏳ {who} is applying this fix right now; nothing more to do."
    else:
        text = f"✅ Already applied by {who} at {_hhmm(claim.at, tz)}; nothing more to do."
    return message(text, [section(text)])
